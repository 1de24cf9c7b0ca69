"""Managing users over the API: deactivation (tokens end at once, the clerk leaves the
terminals' pull), reactivation, password reset and change with the password rules, dealer
staff's counter PINs; each audited."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backoffice.contracts.channel import StaffCreate
from backoffice.core.security import verify_password
from backoffice.domain.users import Role
from backoffice.models import User
from backoffice.services.channel import dealers
from tests.backoffice.channel.helpers import Channel, channel
from tests.backoffice.users.helpers import PASSWORD, audit_rows, bearer, make_user, token_of

Login = Callable[[Role], dict[str, str]]
ME = "/api/v1/users/me"
NEW_PASSWORD = "another-horse-7"


def _clerk(session: Session, shop: Channel, username: str = "clerk01", dealer: str = "D1") -> str:
    dealers.create_staff(
        session,
        dealer,
        StaffCreate(username=username, password=PASSWORD, role=Role.clerk, pin="1357"),
        "sales1",
    )
    return username


def _pulled_clerks(client: TestClient, shop: Channel) -> dict[str, dict]:
    """The clerks a terminal of the shop gets at its next pull, by name."""
    reply = client.get("/api/v1/sync/pull", headers=bearer(shop.credential))
    assert reply.status_code == 200, reply.text
    return {c["username"]: c for c in reply.json()["clerks"]}


def _pin_is(session: Session, username: str, pin: str) -> bool:
    user = session.exec(select(User).where(User.username == username)).one()
    session.refresh(user)
    return user.pin_hash is not None and verify_password(user.pin_hash, pin)


def test_deactivation_ends_the_tokens_at_once_and_the_clerk_leaves_the_pull(
    client: TestClient, session: Session, login: Login
) -> None:
    shop = channel(session)
    clerk = _clerk(session, shop)
    token = token_of(client, clerk)
    assert client.get(ME, headers=bearer(token)).status_code == 200
    assert clerk in _pulled_clerks(client, shop)

    reply = client.post(
        f"/api/v1/users/{clerk}/deactivate", json={"reason": "left"}, headers=login(Role.admin)
    )
    assert reply.status_code == 200 and reply.json()["is_active"] is False
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert clerk not in _pulled_clerks(client, shop)
    refused = client.post("/api/v1/auth/token", data={"username": clerk, "password": PASSWORD})
    assert refused.status_code == 401

    again = client.post(f"/api/v1/users/{clerk}/deactivate", json={}, headers=login(Role.admin))
    assert (again.status_code, again.json()["code"]) == (409, "user_already_inactive")

    back = client.post(f"/api/v1/users/{clerk}/reactivate", json={}, headers=login(Role.admin))
    assert back.status_code == 200 and back.json()["is_active"] is True
    # Tokens from before the deactivation stay ended; a new log-in works.
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert client.get(ME, headers=bearer(token_of(client, clerk))).status_code == 200
    assert clerk in _pulled_clerks(client, shop)

    user_id = client.get(ME, headers=bearer(token_of(client, clerk))).json()["id"]
    rows = audit_rows(session, "user", user_id)
    assert [(r.action, r.from_status, r.to_status) for r in rows[1:]] == [
        ("deactivate", "active", "inactive"),
        ("reactivate", "inactive", "active"),
    ]
    assert rows[1].reason == "left" and rows[1].actor == "admin1"


def test_only_admins_deactivate_and_never_themselves(
    client: TestClient, session: Session, login: Login
) -> None:
    make_user(session, "wang01")
    refused = client.post("/api/v1/users/wang01/deactivate", json={}, headers=login(Role.manager))
    assert refused.status_code == 403
    admin = login(Role.admin)
    own = client.post("/api/v1/users/admin1/deactivate", json={}, headers=admin)
    assert (own.status_code, own.json()["code"]) == (409, "cannot_deactivate_self")
    missing = client.post("/api/v1/users/nobody/deactivate", json={}, headers=admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "user_not_found")


def test_admin_resets_a_password_and_the_old_tokens_end(
    client: TestClient, session: Session, login: Login
) -> None:
    user = make_user(session, "li02")
    token = token_of(client, "li02")
    admin = login(Role.admin)

    short = client.post(
        "/api/v1/users/li02/password", json={"new_password": "short"}, headers=admin
    )
    assert short.status_code == 422
    named = client.post(
        "/api/v1/users/li02/password", json={"new_password": "li02-li02-li02"}, headers=admin
    )
    assert (named.status_code, named.json()["code"]) == (422, "weak_password")
    assert "li02-li02-li02" not in named.text

    done = client.post(
        "/api/v1/users/li02/password", json={"new_password": NEW_PASSWORD}, headers=admin
    )
    assert done.status_code == 200
    assert client.get(ME, headers=bearer(token)).status_code == 401
    old = client.post("/api/v1/auth/token", data={"username": "li02", "password": PASSWORD})
    assert old.status_code == 401
    assert client.get(ME, headers=bearer(token_of(client, "li02", NEW_PASSWORD))).status_code == 200
    assert [r.action for r in audit_rows(session, "user", user.id)] == ["create", "password_reset"]


def test_a_user_changes_the_own_password_giving_the_old_one(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, "zhao03")
    token = token_of(client, "zhao03")
    change = "/api/v1/users/me/password"

    wrong = client.post(
        change,
        json={"old_password": "not-the-password", "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_password")
    weak = client.post(
        change,
        json={"old_password": PASSWORD, "new_password": "ZHAO03-is-me"},
        headers=bearer(token),
    )
    assert (weak.status_code, weak.json()["code"]) == (422, "weak_password")

    done = client.post(
        change, json={"old_password": PASSWORD, "new_password": NEW_PASSWORD}, headers=bearer(token)
    )
    assert done.status_code == 204
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert (
        client.get(ME, headers=bearer(token_of(client, "zhao03", NEW_PASSWORD))).status_code == 200
    )
    actions = [r.action for r in audit_rows(session, "user", user.id)]
    assert actions == ["create", "password_change"]


def test_guessing_the_old_password_is_held_to_the_log_in_limits(
    client: TestClient, session: Session
) -> None:
    make_user(session, "sun04")
    token = token_of(client, "sun04")
    codes = [
        client.post(
            "/api/v1/users/me/password",
            json={"old_password": f"guess-{n:04d}", "new_password": NEW_PASSWORD},
            headers=bearer(token),
        ).status_code
        for n in range(6)
    ]
    assert codes == [403] * 5 + [429]


def test_dealer_staff_pins_set_by_the_sales_centre_or_the_own_dealer_manager(
    client: TestClient, session: Session, login: Login
) -> None:
    shop = channel(session)
    clerk = _clerk(session, shop)
    channel(session, "D2")
    _clerk(session, shop, "clerk02", dealer="D2")
    before = _pulled_clerks(client, shop)[clerk]

    reply = client.put(
        f"/api/v1/users/{clerk}/pin", json={"pin": "2468"}, headers=login(Role.sales_centre)
    )
    assert reply.status_code == 200, reply.text
    assert _pin_is(session, clerk, "2468")
    # The terminals get the new PIN with their next pull.
    assert _pulled_clerks(client, shop)[clerk] != before

    bad = client.put(
        f"/api/v1/users/{clerk}/pin", json={"pin": "12ab"}, headers=login(Role.sales_centre)
    )
    assert bad.status_code == 422
    billing = login(Role.billing)
    office = client.put(
        "/api/v1/users/billing1/pin", json={"pin": "1234"}, headers=login(Role.admin)
    )
    assert (office.status_code, office.json()["code"]) == (422, "no_pin")
    assert (
        client.put(f"/api/v1/users/{clerk}/pin", json={"pin": "1234"}, headers=billing).status_code
        == 403
    )

    dealers.create_staff(
        session,
        "D1",
        StaffCreate(username="boss01", password=PASSWORD, role=Role.dealer_manager, pin="9999"),
        "sales1",
    )
    boss = bearer(token_of(client, "boss01"))
    assert (
        client.put(f"/api/v1/users/{clerk}/pin", json={"pin": "8642"}, headers=boss).status_code
        == 200
    )
    assert _pin_is(session, clerk, "8642")
    other_dealer = client.put("/api/v1/users/clerk02/pin", json={"pin": "8642"}, headers=boss)
    assert (other_dealer.status_code, other_dealer.json()["code"]) == (404, "user_not_found")
    own = client.put("/api/v1/users/boss01/pin", json={"pin": "1111"}, headers=boss)
    assert own.status_code == 403

    user_id = client.get(ME, headers=bearer(token_of(client, clerk))).json()["id"]
    rows = [(r.action, r.actor) for r in audit_rows(session, "user", user_id)]
    assert rows[1:] == [("pin_set", "sales_centre1"), ("pin_set", "boss01")]


def test_a_dealer_manager_sets_only_the_own_dealers_clerks_pins(
    client: TestClient, session: Session, login: Login
) -> None:
    """A manager's PIN signs override approvals: another manager of the same dealer must not
    be able to set it, and so approve in that manager's name. The sales centre and admins set
    any dealer staff's PIN."""
    shop = channel(session)
    clerk = _clerk(session, shop)
    for manager in ("boss01", "boss02"):
        dealers.create_staff(
            session,
            "D1",
            StaffCreate(username=manager, password=PASSWORD, role=Role.dealer_manager, pin="9999"),
            "sales1",
        )
    boss = bearer(token_of(client, "boss01"))
    other = client.put("/api/v1/users/boss02/pin", json={"pin": "8642"}, headers=boss)
    assert (other.status_code, other.json()["code"]) == (403, "not_a_clerk"), other.text
    assert _pin_is(session, "boss02", "9999") and not _pin_is(session, "boss02", "8642")
    own_clerk = client.put(f"/api/v1/users/{clerk}/pin", json={"pin": "8642"}, headers=boss)
    assert own_clerk.status_code == 200, own_clerk.text
    for setter, pin in ((Role.sales_centre, "2468"), (Role.admin, "1357")):
        reply = client.put("/api/v1/users/boss02/pin", json={"pin": pin}, headers=login(setter))
        assert reply.status_code == 200, reply.text
        assert _pin_is(session, "boss02", pin)
    user_id = session.exec(select(User.id).where(User.username == "boss02")).one()
    rows = [(r.action, r.actor) for r in audit_rows(session, "user", user_id)]
    assert rows[1:] == [("pin_set", "sales_centre1"), ("pin_set", "admin1")]


def test_a_clerk_changes_the_own_pin_giving_the_old_one(
    client: TestClient, session: Session
) -> None:
    shop = channel(session)
    clerk = _clerk(session, shop)
    token = bearer(token_of(client, clerk))
    wrong = client.post(
        "/api/v1/users/me/pin", json={"old_pin": "0000", "new_pin": "2468"}, headers=token
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong_pin")
    done = client.post(
        "/api/v1/users/me/pin", json={"old_pin": "1357", "new_pin": "2468"}, headers=token
    )
    assert done.status_code == 204
    assert _pin_is(session, clerk, "2468") and not _pin_is(session, clerk, "1357")
    # A PIN change does not end the back-office session.
    assert client.get(ME, headers=token).status_code == 200
