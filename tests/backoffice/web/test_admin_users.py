"""The administrators' pages of users and terminals: in the browser, a user created, given a
PIN, deactivated after confirmation (their open session ends, a new log-in fails), reset
and reactivated; a terminal registered with its credential and QR code shown once, revoked
after confirmation and then refused by the sync API; every page in English too; the other
roles get the 403 page. Without the browser: the services behind the pages (keyset pages
of users and terminals, role changes) and the forms' answers to bad input."""

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import Session

from backoffice.api.pages.admin.users import qr_data_uri
from backoffice.contracts.channel import StaffCreate
from backoffice.core.security import verify_password
from backoffice.domain.channel import TerminalStatus
from backoffice.domain.users import Role
from backoffice.models import User
from backoffice.services import users
from backoffice.services.channel import dealers
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.ids import new_id
from shared.sync import ShiftOpenEvent, ShiftOpenPayload
from tests.backoffice.channel.helpers import channel, push
from tests.backoffice.users.helpers import (
    ORIGIN,
    PASSWORD,
    audit_rows,
    bearer,
    csrf_of,
    make_user,
    web_log_in,
)
from tests.backoffice.web.conftest import CJK, Visitor, log_in
from tests.pos_terminal.office import OfficeServer

Visit = Callable[..., Visitor]
NEW_PASSWORD = "another-horse-7"


def _english_only(page: Page, *data: str) -> None:
    """No Chinese is left on the page but the data named (and the switch back to 中文)."""
    text = page.locator("body").inner_text()
    for value in ("中文", *data):
        text = text.replace(value, "")
    assert not CJK.search(text), CJK.findall(text)


def _unexpected(visitor: Visitor, *statuses: int) -> list[str]:
    """The console's errors but Chromium's note of each page answered with an expected
    status (a form sent back with its errors: 422; the 403 page)."""
    expected = tuple(f"the server responded with a status of {status} " for status in statuses)
    return [p for p in visitor.problems if not any(e in p for e in expected)]


def _refused_log_in(page: Page, office: OfficeServer, username: str, password: str) -> None:
    page.goto(f"{office.url}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("p.error[role=alert]")).to_be_visible()


# --- in the browser -------------------------------------------------------------------------


def test_admin_creates_deactivates_resets_and_sets_a_pin(
    visit: Visit, session: Session, office: OfficeServer
) -> None:
    shop = channel(session, outlet="D1-SHOP")
    channel(session, "D2", staff=False)
    admin = visit(Role.admin)
    page = admin.goto("/admin/users/new")

    # A clerk of dealer D1 at its outlet; first with a password too short and no PIN.
    page.locator("#f-username").fill("wang01")
    page.locator("#f-full_name").fill("王小明")
    page.locator("#f-role").select_option("clerk")
    page.locator("#f-password").fill("short")
    page.locator("#f-password2").fill("short")
    expect(page.locator("#f-outlet optgroup")).to_have_count(2)
    page.locator("#f-dealer").select_option("D1")
    # The outlet menu narrows to the dealer's outlets (htmx), without a reload.
    expect(page.locator("#f-outlet optgroup")).to_have_count(1)
    page.locator("#f-outlet").select_option("D1-SHOP")
    page.locator("form[action='/admin/users/new'] button[type=submit]").click()
    expect(page.locator("#e-password")).to_be_visible()
    expect(page.locator("#e-pin")).to_be_visible()
    # The form keeps what was typed but the secrets, and the dealer and outlet chosen.
    expect(page.locator("#f-username")).to_have_value("wang01")
    expect(page.locator("#f-password")).to_have_value("")
    expect(page.locator("#f-outlet")).to_have_value("D1-SHOP")
    page.locator("#f-password").fill(PASSWORD)
    page.locator("#f-password2").fill(PASSWORD)
    page.locator("#f-pin").fill("2468")
    page.locator("#f-pin2").fill("2468")
    admin.screenshot("admin-user-new")
    page.locator("form[action='/admin/users/new'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/users/wang01\?done=created$"))
    expect(page.locator("p.notice")).to_be_visible()
    created = users.find_user(session, "wang01")
    assert (created.role, created.dealer_id) == ("clerk", shop.dealer_id)
    assert verify_password(created.pin_hash or "", "2468")

    # The list finds the user by a part of the name as it is typed (htmx), filters in the URL.
    page = admin.goto("/admin/users?role=clerk")
    page.locator("input[name=q]").fill("小明")
    expect(page).to_have_url(re.compile(r"q=%E5%B0%8F%E6%98%8E"))
    expect(page.locator("#users tbody tr")).to_have_count(1)
    expect(page.locator("#users tbody")).to_contain_text("wang01")
    admin.screenshot("admin-users")

    # The clerk logs in on the web (an open session), and the admin deactivates them.
    clerk = visit(username="wang01", create=False)
    page = admin.goto("/admin/users/wang01")
    page.locator("#state #f-reason").fill("left the company")
    page.locator("#state button.danger").click()
    expect(page.locator("section.confirm p.warning")).to_contain_text("wang01")
    expect(page.locator("section.confirm")).to_contain_text("left the company")
    admin.screenshot("admin-user-deactivate")
    page.locator("section.confirm button.danger").click()
    expect(page).to_have_url(re.compile(r"/admin/users/wang01\?done=deactivated$"))
    expect(page.locator("#summary .badge")).to_have_class(re.compile("s-inactive"))
    # Their open session ended: the next page sends them to the log-in; log-in is refused.
    clerk.goto("/jobs")
    expect(clerk.page).to_have_url(re.compile(r"/login\?next=/jobs$"))
    _refused_log_in(clerk.page, office, "wang01", PASSWORD)
    assert [row.action for row in audit_rows(session, "user", created.id)] == [
        "create",
        "deactivate",
    ]

    # A new password (the rules shown, the repetition checked), then reactivation.
    page.locator("#f-password").fill(NEW_PASSWORD)
    page.locator("#f-password2").fill(NEW_PASSWORD + "x")
    page.locator("#password button[type=submit]").click()
    expect(page.locator("#password .error")).to_be_visible()
    page.locator("#f-password").fill(NEW_PASSWORD)
    page.locator("#f-password2").fill(NEW_PASSWORD)
    page.locator("#password button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"\?done=password$"))
    page.locator("#state #f-reason").fill("came back")
    page.locator("#state button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"\?done=reactivated$"))
    _refused_log_in(clerk.page, office, "wang01", PASSWORD)
    log_in(clerk.page, office, "wang01", NEW_PASSWORD)

    # A new counter PIN, never shown back; the terminals take it at their next pull.
    page = admin.goto("/admin/users/wang01")
    page.locator("#f-pin").fill("97531")
    page.locator("#f-pin2").fill("97531")
    page.locator("#pin button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"\?done=pin$"))
    assert "97531" not in page.content()
    session.expire_all()
    assert verify_password(users.find_user(session, "wang01").pin_hash or "", "97531")
    admin.screenshot("admin-user")

    # The same pages in English: nothing Chinese is left but the data.
    admin.english()
    _english_only(page, "王小明")
    expect(page.locator("#pin h2")).to_have_text("Counter PIN")
    page.locator("#state #f-reason").fill("")
    page.locator("#state button.danger").click()
    expect(page.locator("section.confirm")).to_contain_text("Deactivate wang01")
    _english_only(page, "王小明")
    for path in ("/admin/users", "/admin/users/new", "/admin/users?q=%E5%B0%8F%E6%98%8E"):
        admin.goto(path)
        _english_only(admin.page, "王小明", "小明")
    page = admin.goto("/admin/users/new")
    page.locator("#f-username").fill("two words")
    page.locator("#f-role").select_option("billing")
    page.locator("#f-password").fill("short")
    page.locator("#f-password2").fill("short")
    page.locator("form[action='/admin/users/new'] button[type=submit]").click()
    expect(page.locator("#e-username")).to_contain_text("letters, digits")
    expect(page.locator("#e-password")).to_have_text("At least 10 characters.")
    _english_only(page)
    assert _unexpected(admin, 422) == []
    # The clerk's refused log-ins (401) and the log-in page: nothing else.
    assert _unexpected(clerk, 401) == []


def test_admin_registers_a_terminal_sees_the_credential_once_and_revokes_it(
    visit: Visit, session: Session, office: OfficeServer
) -> None:
    shop = channel(session)
    admin = visit(Role.admin)
    page = admin.goto("/admin/terminals/new")
    page.locator("#f-outlet").select_option(shop.outlet_code)
    page.locator("#f-name").fill("counter 2")
    page.locator("form[action='/admin/terminals/new'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/terminals/[0-9a-f-]{36}/credential$"))
    credential = page.locator("#credential").inner_text().strip()
    terminal_id = credential.split(".", 1)[0]
    # The QR code holds the credential, what `haoka-pos register` reads at its prompt.
    assert page.locator("#credential-qr").get_attribute("src") == qr_data_uri(credential)
    expect(page.locator("#register-command")).to_have_text(
        f"haoka-pos register {office.url} --terminal-no {shop.terminal_no + 1}"
    )
    admin.screenshot("admin-terminal-credential")
    # Shown once: a reload finds it gone.
    page.reload()
    expect(page.locator("#credential-gone")).to_be_visible()
    assert credential not in page.content()
    assert credential.split(".", 1)[1] not in page.content()

    # The credential works: a pull, and a push the list then shows.
    pulled = httpx.get(f"{office.url}/api/v1/sync/pull", headers=bearer(credential))
    assert pulled.status_code == 200, pulled.text
    event = ShiftOpenEvent(
        id=new_id(),
        seq=7,
        occurred_at=datetime.now(UTC),
        payload=ShiftOpenPayload(shift_id=new_id(), clerk="clerk-t1", opening_float_fen=0),
    )
    pushed = httpx.post(
        f"{office.url}/api/v1/sync/push",
        headers=bearer(credential),
        json={"events": [event.model_dump(mode="json")]},
    )
    assert pushed.status_code == 200, pushed.text
    page = admin.goto("/admin/terminals?dealer=D1&state=active")
    row = page.locator("#terminals tbody tr", has_text="counter 2")
    expect(row).to_contain_text(shop.outlet_code)
    expect(row).to_contain_text("D1")
    expect(row.locator("td").last).to_have_text("7")
    admin.screenshot("admin-terminals")

    # Revoked after confirmation: the sync API refuses the credential from then on.
    row.locator("a").first.click()
    expect(page).to_have_url(f"{office.url}/admin/terminals/{terminal_id}")
    page.locator("#revoke #f-reason").fill("stolen")
    page.locator("#revoke button.danger").click()
    expect(page.locator("section.confirm p.warning")).to_contain_text("counter 2")
    page.locator("section.confirm button.danger").click()
    expect(page).to_have_url(re.compile(r"\?done=revoked$"))
    expect(page.locator("#summary .badge")).to_have_class(re.compile("s-revoked"))
    refused = httpx.get(f"{office.url}/api/v1/sync/pull", headers=bearer(credential))
    assert refused.status_code == 401
    assert refused.json()["code"] == "terminal_revoked"
    admin.screenshot("admin-terminal")

    # In English.
    admin.english()
    _english_only(page)
    for path in (
        "/admin/terminals",
        "/admin/terminals/new",
        f"/admin/terminals/{terminal_id}/credential",
    ):
        admin.goto(path)
        _english_only(admin.page)
    page = admin.goto(f"/admin/terminals/{shop.terminal_id}")
    page.locator("#revoke #f-reason").fill("retired")
    page.locator("#revoke button.danger").click()
    expect(page.locator("section.confirm")).to_contain_text("Revoke terminal")
    _english_only(page)
    assert admin.problems == []


def test_the_other_roles_get_the_403_page(visit: Visit) -> None:
    for role in (Role.clerk, Role.manager, Role.dealer_manager, Role.billing):
        visitor = visit(role)
        for path in ("/admin/users", "/admin/terminals"):
            reply = visitor.page.goto(visitor.url(path))
            assert reply is not None and reply.status == 403, (role, path)
            expect(visitor.page.locator("main h2")).to_be_visible()
        assert _unexpected(visitor, 403) == []


# --- the services behind the pages ----------------------------------------------------------


def _staff(session: Session, dealer: str, username: str, outlet: str | None = None) -> User:
    return dealers.create_staff(
        session,
        dealer,
        StaffCreate(
            username=username, password=PASSWORD, role=Role.clerk, pin="1357", outlet=outlet
        ),
        "admin1",
    )


def test_a_page_of_users_by_filters_and_keyset(session: Session) -> None:
    channel(session, "D1", staff=False)
    for name in ("b-1", "b-2", "a_b", "axb"):
        make_user(session, name, Role.billing)
    _staff(session, "D1", "clerk-1")
    users.set_active(session, "b-2", False, "admin1", "")
    named = users.find_user(session, "axb")
    named.full_name = "Zhang SAN"
    session.add(named)
    session.commit()

    seen, after = [], None
    while True:
        rows, after = users.page_of_users(session, after=after, limit=2)
        seen += [u.username for u in rows]
        if after is None:
            break
    assert seen == ["a_b", "axb", "b-1", "b-2", "clerk-1"]

    def names(**filters: object) -> list[str]:
        return [u.username for u in users.page_of_users(session, **filters)[0]]  # type: ignore[arg-type]

    assert names(role=Role.clerk) == ["clerk-1"]
    assert names(active=False) == ["b-2"]
    assert names(role=Role.billing, active=True) == ["a_b", "axb", "b-1"]
    assert names(dealer_id=dealers.find_dealer(session, "D1").id) == ["clerk-1"]
    # A part of the username or full name, in any case; % and _ are only themselves.
    assert names(search="_") == ["a_b"]
    assert names(search="%") == []
    assert names(search="zhang s") == ["axb"]
    assert names(search="B-") == ["b-1", "b-2"]


def test_assign_moves_staff_between_roles_and_dealers(session: Session) -> None:
    channel(session, "D1", outlet="D1-A", staff=False)
    other = channel(session, "D2", outlet="D2-A", staff=False)
    make_user(session, "root1", Role.admin)
    clerk = _staff(session, "D1", "clerk-1", outlet="D1-A")
    epoch = clerk.token_epoch

    moved = dealers.assign_user(session, "clerk-1", Role.dealer_manager, "D2", "D2-A", "root1")
    assert (moved.role, moved.dealer_id, moved.outlet_id) == (
        "dealer_manager",
        other.dealer_id,
        other.outlet_id,
    )
    assert moved.token_epoch == epoch + 1 and moved.pin_hash is not None
    # Another outlet of the same dealer and role: the sessions go on.
    moved = dealers.assign_user(session, "clerk-1", Role.dealer_manager, "D2", None, "root1")
    assert moved.outlet_id is None and moved.token_epoch == epoch + 1
    # Off the counter: no dealer, no PIN, sessions ended.
    moved = dealers.assign_user(session, "clerk-1", Role.billing, None, None, "root1")
    assert (moved.dealer_id, moved.outlet_id, moved.pin_hash) == (None, None, None)
    assert moved.token_epoch == epoch + 2
    rows = audit_rows(session, "user", clerk.id)
    assert [(r.action, r.from_status, r.to_status) for r in rows[1:]] == [
        ("assign", "clerk", "dealer_manager"),
        ("assign", "dealer_manager", "dealer_manager"),
        ("assign", "dealer_manager", "billing"),
    ]
    assert rows[1].reason == "role clerk → dealer_manager; dealer D1 → D2; outlet D1-A → D2-A"

    refusals = [
        (("clerk-1", Role.billing, "D1", None, "root1"), InvalidInput, "not_dealer_staff"),
        (("clerk-1", Role.clerk, None, None, "root1"), InvalidInput, "dealer_required"),
        (("clerk-1", Role.clerk, None, "D1-A", "root1"), InvalidInput, "dealer_required"),
        (("clerk-1", Role.clerk, "D1", "D2-A", "root1"), NotFound, "outlet_not_found"),
        (("clerk-1", Role.clerk, "D9", None, "root1"), NotFound, "dealer_not_found"),
        (("clerk-1", Role.billing, None, None, "root1"), InvalidInput, "unchanged"),
        (("root1", Role.billing, None, None, "root1"), Conflict, "cannot_change_own_role"),
        (("nobody", Role.billing, None, None, "root1"), NotFound, "user_not_found"),
    ]
    for args, kind, code in refusals:
        with pytest.raises(kind) as refused:
            dealers.assign_user(session, *args)
        assert refused.value.code == code, args
    assert len(audit_rows(session, "user", clerk.id)) == 4


def test_a_page_of_terminals_with_the_last_event_received(session: Session) -> None:
    first = channel(session, "D1")
    second = channel(session, "D2")
    dealers.revoke_terminal(session, second.terminal_id, "retired", "admin1")
    events = [
        ShiftOpenEvent(
            id=new_id(),
            seq=seq,
            occurred_at=datetime.now(UTC),
            payload=ShiftOpenPayload(shift_id=new_id(), clerk="clerk-t1", opening_float_fen=0),
        )
        for seq in (3, 5)
    ]
    push(session, first, *events)

    rows, after = dealers.page_of_terminals(session, limit=1)
    assert [r.terminal.id for r in rows] == [first.terminal_id] and after == first.terminal_no
    assert (rows[0].outlet_code, rows[0].dealer_code, rows[0].last_seq) == ("D1-O1", "D1", 5)
    assert rows[0].terminal.last_push_at is not None
    rows, after = dealers.page_of_terminals(session, after=after, limit=1)
    assert [r.terminal.id for r in rows] == [second.terminal_id] and after is None
    assert rows[0].last_seq is None and rows[0].terminal.last_push_at is None

    def ids(**filters: object) -> list[str]:
        return [r.terminal.id for r in dealers.page_of_terminals(session, **filters)[0]]  # type: ignore[arg-type]

    assert ids(status=TerminalStatus.revoked) == [second.terminal_id]
    assert ids(dealer_id=first.dealer_id) == [first.terminal_id]
    assert ids(outlet_id=second.outlet_id) == [second.terminal_id]
    assert dealers.terminal_row(session, second.terminal_id).dealer_code == "D2"
    with pytest.raises(NotFound):
        dealers.terminal_row(session, str(uuid.uuid4()))


# --- the forms' answers to bad input --------------------------------------------------------


def _admin_client(client: TestClient, session: Session) -> str:
    make_user(session, "root1", Role.admin)
    assert web_log_in(client, "root1").status_code == 303
    return csrf_of(client.get("/admin/users/new").text)


def test_the_forms_answer_bad_input_with_the_page_never_a_500(
    client: TestClient, session: Session
) -> None:
    shop = channel(session)
    _staff(session, "D1", "clerk-1")
    token = _admin_client(client, session)
    long = "x" * 5000
    bad = ["", " ", long, "a\x00b", "\u202e\ud7ff", "1; DROP TABLE app_user", "%", "../.."]
    posts = {
        "/admin/users/new": ("username", "full_name", "role", "password", "dealer", "pin"),
        "/admin/users/clerk-1/role": ("role", "dealer", "outlet"),
        "/admin/users/clerk-1/password": ("password", "password2"),
        "/admin/users/clerk-1/pin": ("pin", "pin2"),
        "/admin/users/clerk-1/deactivate": ("reason",),
        "/admin/terminals/new": ("outlet", "name"),
        f"/admin/terminals/{shop.terminal_id}/revoke": ("reason",),
    }
    for path, fields in posts.items():
        for value in bad:
            # Every field of the form at once, then each alone beside sensible others.
            for data in ({name: value for name in fields}, {fields[0]: value}):
                reply = client.post(
                    path,
                    data={"csrf_token": token, **data},
                    headers=ORIGIN,
                    follow_redirects=False,
                )
                assert reply.status_code in (200, 303, 404, 409, 422), (path, data)
                assert reply.status_code == 303 or "text/html" in reply.headers["content-type"]
    # Nothing irreversible happened without its confirmation.
    assert users.find_user(session, "clerk-1").is_active
    assert dealers.find_terminal(session, shop.terminal_id).status == "active"
    for path in (
        "/admin/users?role=nope&active=maybe&dealer=D9&q=%25%5C_&after=%E2%80%AE",
        "/admin/users?after=" + "z" * 64,
        "/admin/terminals?state=nope&dealer=D9&after=-1",
        "/admin/terminals?after=99999999999",
        "/admin/users/new/outlets?dealer=%1B",
    ):
        assert client.get(path).status_code == 200, path
    # A NUL anywhere: the frame's page asking to check the input.
    assert client.get("/admin/users?q=%00").status_code == 422
    for path in (
        "/admin/users/nobody",
        "/admin/users/" + "x" * 65,
        "/admin/users/a%1Bb",
        "/admin/terminals/nope",
        "/admin/terminals/x/credential",
        f"/admin/terminals/{uuid.uuid4()}",
    ):
        assert client.get(path).status_code == 404, path
    assert client.get("/admin/users?q=" + long).status_code == 200
    # Without the form's token, or from another site: refused.
    reply = client.post(
        "/admin/users/clerk-1/deactivate", data={"confirmed": "yes"}, headers=ORIGIN
    )
    assert reply.status_code == 403
    reply = client.post(
        "/admin/users/clerk-1/deactivate",
        data={"csrf_token": token, "confirmed": "yes"},
        headers={"Origin": "http://evil.example"},
    )
    assert reply.status_code == 403 and users.find_user(session, "clerk-1").is_active


def test_user_and_terminal_changes_through_the_forms(client: TestClient, session: Session) -> None:
    """The forms' happy paths and their refusals beside the fields, without a browser."""
    shop = channel(session)
    token = _admin_client(client, session)
    client.get("/language/en")  # the messages below as written in the code

    def post(path: str, **data: str):  # type: ignore[no-untyped-def]
        return client.post(
            path, data={"csrf_token": token, **data}, headers=ORIGIN, follow_redirects=False
        )

    staff = {"password": PASSWORD, "password2": PASSWORD, "pin": "1234", "pin2": "1234"}
    reply = post("/admin/users/new", username="clerk-1", role="clerk", dealer="D1", **staff)
    assert reply.status_code == 303
    reply = post("/admin/users/new", username="clerk-1", role="clerk", dealer="D1", **staff)
    assert reply.status_code == 422 and "This username is taken." in reply.text
    reply = post("/admin/users/new", username="new", role="billing", **staff | {"pin": ""})
    assert reply.status_code == 422 and "reserved" in reply.text
    reply = post(
        "/admin/users/new", username="clerk-2", role="clerk", dealer="D1", outlet="nope", **staff
    )
    assert reply.status_code == 422 and "The dealer has no such outlet." in reply.text
    # The password may not contain the username; the form never shows a password back.
    bad = "x-clerk-2-long-enough"
    reply = post(
        "/admin/users/new", username="clerk-2", role="billing", password=bad, password2=bad
    )
    assert reply.status_code == 422 and "may not contain the username" in reply.text
    assert bad not in reply.text

    # Role, dealer and outlet; the admin's own role stays.
    reply = post("/admin/users/clerk-1/role", role="billing", dealer="D1")
    assert reply.status_code == 422 and "Only dealer staff" in reply.text
    assert post("/admin/users/clerk-1/role", role="manager").status_code == 303
    assert users.find_user(session, "clerk-1").role == "manager"
    reply = post("/admin/users/root1/role", role="billing")
    assert reply.status_code == 422 and "You cannot change your own role." in reply.text
    # A manager has no PIN.
    reply = post("/admin/users/clerk-1/pin", pin="1234", pin2="1234")
    assert reply.status_code == 422 and "have a PIN" in reply.text
    # Deactivation: confirmation first, then done; not oneself; reactivation.
    reply = post("/admin/users/clerk-1/deactivate", reason="left")
    assert reply.status_code == 200 and 'name="confirmed" value="yes"' in reply.text
    assert users.find_user(session, "clerk-1").is_active
    assert (
        post("/admin/users/clerk-1/deactivate", reason="left", confirmed="yes").status_code == 303
    )
    assert not users.find_user(session, "clerk-1").is_active
    reply = post("/admin/users/clerk-1/deactivate", reason="left", confirmed="yes")
    assert reply.status_code == 409 and "inactive already" in reply.text
    reply = post("/admin/users/root1/deactivate", confirmed="yes")
    assert reply.status_code == 422 and "You cannot deactivate yourself." in reply.text
    assert post("/admin/users/clerk-1/reactivate").status_code == 303
    assert users.find_user(session, "clerk-1").is_active

    # A terminal: the credential reaches only the browser that registered it, once.
    reply = post("/admin/terminals/new", outlet=shop.outlet_code, name="counter 2")
    assert reply.status_code == 303
    page = reply.headers["location"]
    sealed = reply.cookies.get("haoka_terminal_credential")
    assert sealed
    # Another admin's browser, even with the cookie copied, does not get the credential.
    with TestClient(client.app) as other:
        make_user(session, "root2", Role.admin)
        web_log_in(other, "root2")
        other.cookies.set("haoka_terminal_credential", sealed)
        assert 'id="credential-gone"' in other.get(page).text
        other.cookies.set("haoka_terminal_credential", "garbage:%%%")
        assert 'id="credential-gone"' in other.get(page).text
        other.cookies.set("haoka_terminal_credential", "AAAA")
        assert 'id="credential-gone"' in other.get(page).text
    shown = client.get(page)
    credential = re.search(r'id="credential">([^<]+)<', shown.text)
    assert credential is not None
    assert credential.group(1).split(".")[1] not in sealed  # the cookie holds it encrypted
    assert dealers.authenticate_terminal(session, credential.group(1)).terminal.name == "counter 2"
    assert 'id="credential-gone"' in client.get(page).text
    # Revocation needs a reason, then its confirmation.
    terminal_id = page.split("/")[3]
    reply = post(f"/admin/terminals/{terminal_id}/revoke")
    assert reply.status_code == 422
    reply = post(f"/admin/terminals/{terminal_id}/revoke", reason="lost")
    assert reply.status_code == 200 and "Revoke terminal" in reply.text
    assert (
        post(f"/admin/terminals/{terminal_id}/revoke", reason="lost", confirmed="yes").status_code
        == 303
    )
    reply = post(f"/admin/terminals/{terminal_id}/revoke", reason="lost", confirmed="yes")
    assert reply.status_code == 409 and "revoked already" in reply.text
