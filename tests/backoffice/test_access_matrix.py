"""Who may call what: every API route × every role, a dealer's staff on their own and on another
dealer's data, and terminals with their own, another outlet's and a revoked credential, checked
against one table. A route without an entry in the table fails the test, so a new route must
say who may call it."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backoffice.contracts.channel import StaffCreate
from backoffice.domain.users import Role
from backoffice.services.channel import dealers, movements, receipts
from tests.backoffice.channel.helpers import (
    allocate_numbers,
    channel,
    clerk_of,
    pool,
    push,
    sale_event,
    second_terminal,
)
from tests.conftest import PASSWORD


@dataclass(frozen=True)
class Access:
    """Who may call a route: user roles (admins too, unless `admin` is False), any logged-in
    user, terminals, or anyone; `path`/`query` name the own dealer's data (D1), `foreign` the
    same parameters naming the other dealer's (D2), which a dealer's staff must be refused."""

    roles: frozenset[Role] = frozenset()
    terminal: bool = False
    anyone: bool = False
    any_user: bool = False
    admin: bool = True
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    foreign: dict[str, str] = field(default_factory=dict)

    def allows(self, role: Role) -> bool:
        if self.terminal:
            return False
        if self.any_user or self.anyone:
            return True
        return (role is Role.admin and self.admin) or role in self.roles


def roles(*names: Role) -> frozenset[Role]:
    return frozenset(names)


B, S, M, DM = Role.billing, Role.sales_centre, Role.manager, Role.dealer_manager
BILLING = roles(B)
STOCK = roles(B, S, M)
CENTRE = roles(S)
READERS = roles(S, M, DM)
ADMIN = roles()
DEALER = {"key": "D1"}
OTHER_DEALER = {"key": "D2"}
ANY_USER = Access(any_user=True)
TERMINAL = Access(terminal=True)


def dealer_route(allowed: frozenset[Role]) -> Access:
    return Access(allowed, path=DEALER, foreign=OTHER_DEALER)


PERIOD = {"start": "2026-11-01", "end": "2026-11-30"}


def report(period: dict[str, str] = PERIOD) -> Access:
    """A statistics or shift report that dealer staff get for their own dealer only."""
    return Access(READERS, path={"fmt": "csv"}, query=period, foreign={"dealer": "D2"})


TABLE: dict[str, Access] = {
    "POST /api/v1/auth/token": Access(anyone=True),
    "GET /api/v1/jobs": ANY_USER,
    "GET /api/v1/jobs/{job_id}": Access(any_user=True, path={"job_id": "nojob"}),
    "POST /api/v1/numbers/{msisdn}/freeze": Access(BILLING, path={"msisdn": "13905750001"}),
    "POST /api/v1/numbers/{msisdn}/unfreeze": Access(BILLING, path={"msisdn": "13905750001"}),
    "POST /api/v1/numbers/{msisdn}/deactivate": Access(BILLING, path={"msisdn": "13905750001"}),
    "POST /api/v1/vouchers/{serial}/freeze": Access(BILLING, path={"serial": "10575000000000001"}),
    "POST /api/v1/vouchers/{serial}/unfreeze": Access(
        BILLING, path={"serial": "10575000000000001"}
    ),
    "POST /api/v1/vouchers/{serial}/void": Access(BILLING, path={"serial": "10575000000000001"}),
    "POST /api/v1/sims/{iccid}/damaged": Access(BILLING, path={"iccid": "89860000000000000000"}),
    "POST /api/v1/sims/{iccid}/lost": Access(BILLING, path={"iccid": "89860000000000000000"}),
    "POST /api/v1/auth/logout": ANY_USER,
    "GET /api/v1/users/me": ANY_USER,
    "POST /api/v1/users/me/password": ANY_USER,
    "POST /api/v1/users/me/pin": ANY_USER,
    "GET /api/v1/users": Access(ADMIN),
    "POST /api/v1/users": Access(ADMIN),
    "POST /api/v1/users/{username}/deactivate": Access(ADMIN, path={"username": "nobody"}),
    "POST /api/v1/users/{username}/reactivate": Access(ADMIN, path={"username": "nobody"}),
    "POST /api/v1/users/{username}/password": Access(ADMIN, path={"username": "nobody"}),
    "PUT /api/v1/users/{username}/pin": Access(roles(S, DM), path={"username": "nobody"}),
    # The billing centre.
    "GET /api/v1/grades": Access(STOCK),
    "PATCH /api/v1/grades/{code}": Access(ADMIN, path={"code": "G1"}),
    "GET /api/v1/grading-rules": Access(STOCK),
    "PUT /api/v1/grading-rules": Access(ADMIN),
    "POST /api/v1/grading-rules/regrade": Access(ADMIN),
    "GET /api/v1/number-batches": Access(STOCK),
    "GET /api/v1/number-batches/{key}": Access(STOCK, path={"key": "SEG-A"}),
    "POST /api/v1/number-batches/import": Access(BILLING),
    "POST /api/v1/number-batches/segment": Access(BILLING),
    "GET /api/v1/numbers": Access(STOCK),
    "GET /api/v1/numbers/{msisdn}": Access(STOCK, path={"msisdn": "13905750001"}),
    "GET /api/v1/sim-batches": Access(STOCK),
    "POST /api/v1/sim-batches/import": Access(BILLING),
    "POST /api/v1/sim-pairings/import": Access(BILLING),
    "POST /api/v1/sim-pairings/in-order": Access(BILLING),
    "GET /api/v1/sims/{iccid}": Access(STOCK, path={"iccid": "89860000000000000000"}),
    "GET /api/v1/voucher-batches": Access(STOCK),
    "POST /api/v1/voucher-batches/generate": Access(BILLING),
    "POST /api/v1/voucher-batches/import": Access(BILLING),
    "GET /api/v1/vouchers/{serial}": Access(STOCK, path={"serial": "10575000000000001"}),
    "POST /api/v1/releases": Access(BILLING),
    "GET /api/v1/releases/{number}": Access(STOCK, path={"number": "FH-1"}),
    "GET /api/v1/imports/{job_id}": Access(BILLING, path={"job_id": "1"}),
    "GET /api/v1/imports/{job_id}/rejected.csv": Access(BILLING, path={"job_id": "1"}),
    "POST /api/v1/revenue": Access(roles(B, Role.charging)),
    "GET /api/v1/audit": Access(roles(M)),
    # The dealer channel.
    "GET /api/v1/dealers": Access(READERS),
    "POST /api/v1/dealers": Access(CENTRE),
    "GET /api/v1/dealers/{key}": dealer_route(READERS),
    "PATCH /api/v1/dealers/{key}": dealer_route(CENTRE),
    "POST /api/v1/dealers/{key}/status": dealer_route(CENTRE),
    "POST /api/v1/dealers/{key}/staff": dealer_route(CENTRE),
    "GET /api/v1/dealers/{key}/ledger": dealer_route(CENTRE),
    "GET /api/v1/dealers/{key}/prices": dealer_route(CENTRE),
    "PUT /api/v1/dealers/{key}/prices": dealer_route(CENTRE),
    "GET /api/v1/dealers/{key}/override-caps": dealer_route(READERS),
    "PUT /api/v1/dealers/{key}/override-caps": dealer_route(CENTRE),
    "DELETE /api/v1/dealers/{key}/override-caps": dealer_route(CENTRE),
    "GET /api/v1/dealers/{key}/account": dealer_route(roles(S, M)),
    "POST /api/v1/dealers/{key}/account/entries": dealer_route(CENTRE),
    "POST /api/v1/dealers/{key}/payments": dealer_route(CENTRE),
    "PUT /api/v1/dealers/{key}/settlement-profile": dealer_route(CENTRE),
    "GET /api/v1/outlets": Access(READERS),
    "POST /api/v1/outlets": Access(CENTRE),
    "GET /api/v1/outlets/{key}/stock": Access(
        READERS, path={"key": "D1-O1"}, foreign={"key": "D2-O1"}
    ),
    "GET /api/v1/terminals": Access(ADMIN),
    "POST /api/v1/terminals": Access(ADMIN),
    "POST /api/v1/terminals/{terminal_id}/revoke": Access(ADMIN),
    "POST /api/v1/price-lists": Access(ADMIN),
    "GET /api/v1/price-lists/current": Access(READERS),
    "GET /api/v1/price-lists/{version}": Access(READERS, path={"version": "1"}),
    "POST /api/v1/allocations": Access(CENTRE),
    "POST /api/v1/receipts": Access(CENTRE),
    "POST /api/v1/returns-to-centre": Access(CENTRE),
    "POST /api/v1/transfers": Access(CENTRE),
    "POST /api/v1/stock-counts": Access(CENTRE),
    "GET /api/v1/stock-documents/{number}": Access(
        READERS, path={"number": "CK-1"}, foreign={"number": "@document"}
    ),
    "GET /api/v1/stock-documents/{number}/pdf": Access(
        READERS, path={"number": "CK-1"}, foreign={"number": "@document"}
    ),
    "GET /api/v1/discrepancies": Access(READERS),
    "POST /api/v1/discrepancies/{discrepancy_id}/resolve": Access(
        CENTRE, path={"discrepancy_id": "1"}
    ),
    "POST /api/v1/reservations/expire": Access(CENTRE),
    # The counter, seen from the office.
    "GET /api/v1/sales": Access(READERS),
    "GET /api/v1/sales/{receipt_no}": Access(
        READERS, path={"receipt_no": "R1"}, foreign={"receipt_no": "@receipt"}
    ),
    "GET /api/v1/reconciliation": Access(READERS),
    "POST /api/v1/reconciliation/{event_id}/resolve": Access(CENTRE),
    "GET /api/v1/activations": Access(CENTRE),
    "GET /api/v1/activations/summary": Access(CENTRE),
    "POST /api/v1/activations/deliver": Access(ADMIN),
    "POST /api/v1/activations/{entry_id}/retry": Access(ADMIN, path={"entry_id": "1"}),
    "POST /api/v1/activations/callback": Access(roles(Role.provisioning), admin=False),
    "POST /api/v1/vouchers/redeem": Access(roles(Role.charging), admin=False),
    # Terminals.
    "GET /api/v1/sync/pull": TERMINAL,
    "POST /api/v1/sync/push": TERMINAL,
    "POST /api/v1/sync/reservations": TERMINAL,
    "DELETE /api/v1/sync/reservations/{reservation_id}": TERMINAL,
    "POST /api/v1/sync/approvals": TERMINAL,
    # Settlement.
    "GET /api/v1/commission-plans": Access(roles(S, M)),
    "POST /api/v1/commission-plans": Access(CENTRE),
    "POST /api/v1/settlement/runs": Access(CENTRE),
    "GET /api/v1/settlement/statements": Access(READERS),
    "GET /api/v1/settlement/statements/{number}": Access(READERS, path={"number": "JS-1"}),
    "GET /api/v1/settlement/statements/{number}/{fmt}": Access(
        READERS, path={"number": "JS-1", "fmt": "csv"}
    ),
    "POST /api/v1/settlement/statements/{number}/confirm": Access(CENTRE),
    "POST /api/v1/settlement/statements/{number}/dispute": Access(CENTRE),
    "POST /api/v1/settlement/statements/{number}/paid": Access(CENTRE),
    "GET /api/v1/shifts/z-reports": report(),
    "GET /api/v1/shifts/z-reports/{fmt}": report(),
    # Statistics: dealer staff see their own dealer only (?dealer= of another is refused).
    **{
        f"GET /api/v1/statistics/{name}{suffix}": report({} if name == "dashboard" else PERIOD)
        for name in (
            "dashboard",
            "dealer-ranking",
            "sales",
            "sell-through",
            "shift-cash",
            "stock",
            "top-outlets",
            "vouchers",
        )
        for suffix in ("", "/{fmt}")
        if (name, suffix) != ("dashboard", "/{fmt}")
    },
}


@dataclass
class World:
    users: dict[Role, dict[str, str]]
    own_terminal: dict[str, str]
    other_terminal: dict[str, str]
    revoked_terminal: dict[str, str]
    own_clerk: str
    # The other dealer's records, for the `@name` values of the table's `foreign` parameters.
    other: dict[str, str]


@pytest.fixture
def world(client: TestClient, session: Session, login: Callable[[Role], dict[str, str]]) -> World:
    pool(session, end=99, cards=5)
    own = channel(session, "D1")
    other = channel(session, "D2")
    revoked = second_terminal(session, own)
    dealers.revoke_terminal(session, revoked.terminal_id, "stolen", "admin1")
    document = allocate_numbers(session, other.outlet_code, 2)
    sold = [i.item for i in movements.outlet_stock(session, other.outlet_code)]
    receipts.receive(session, document.number, sold, clerk_of(other.terminal_no))
    sale = sale_event(other.terminal_no, 1, [("number", sold[0], 5_000)])
    assert push(session, other, sale)[0].status.value == "accepted"
    users: dict[Role, dict[str, str]] = {}
    for role in Role:
        if role in (Role.dealer_manager, Role.clerk):
            continue
        users[role] = login(role)
    for role, code, name in (
        (Role.dealer_manager, "D1", "dm1"),
        (Role.clerk, "D1", "clerk1"),
        (Role.dealer_manager, "D2", "dm2"),
    ):
        dealers.create_staff(
            session,
            code,
            StaffCreate(username=name, password=PASSWORD, role=role, full_name=name, pin="2580"),
            "admin1",
        )
    tokens = {
        name: {
            "Authorization": "Bearer "
            + client.post(
                "/api/v1/auth/token", data={"username": name, "password": PASSWORD}
            ).json()["access_token"]
        }
        for name in ("dm1", "clerk1", "dm2")
    }
    users[Role.dealer_manager] = tokens["dm1"]
    users[Role.clerk] = tokens["clerk1"]
    return World(
        users=users,
        own_terminal={"Authorization": f"Bearer {own.credential}"},
        other_terminal={"Authorization": f"Bearer {other.credential}"},
        revoked_terminal={"Authorization": f"Bearer {revoked.credential}"},
        own_clerk=clerk_of(own.terminal_no),
        other={"document": document.number, "receipt": sale.payload.receipt_no},
    )


def _operations(client: TestClient) -> list[tuple[str, str]]:
    """Every API operation; log-out last, since it ends the session it is called with."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return sorted(
        (
            (method.upper(), path)
            for path, operations in paths.items()
            if path.startswith("/api/")
            for method in operations
        ),
        key=lambda operation: (operation[1] == "/api/v1/auth/logout", operation),
    )


def _call(
    client: TestClient,
    method: str,
    template: str,
    access: Access,
    headers: dict[str, str],
    foreign: dict[str, str] | None = None,
) -> int:
    """Calls a route with the table's parameters (the other dealer's with `foreign`), any
    other path parameter filled with a value that names nothing, and an empty body."""
    path_values, query = dict(access.path), dict(access.query)
    if foreign is not None:
        for name, value in access.foreign.items():
            value = foreign[value[1:]] if value.startswith("@") else value
            (path_values if "{" + name + "}" in template else query)[name] = value
    path = template
    for name, value in path_values.items():
        path = path.replace("{" + name + "}", value)
    path = re.sub(r"\{[a-z_]+\}", "x", path)
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    return client.request(method, path, params=query, headers=headers, **body).status_code


def test_every_route_has_an_entry(client: TestClient) -> None:
    operations = {f"{m} {p}" for m, p in _operations(client)}
    missing = sorted(operations - set(TABLE))
    stale = sorted(set(TABLE) - operations)
    assert not missing, "routes without an access entry:\n" + "\n".join(missing)
    assert not stale, "entries for routes that no longer exist:\n" + "\n".join(stale)


def test_each_role_and_terminal_gets_what_the_table_says(client: TestClient, world: World) -> None:
    wrong: list[str] = []
    for method, template in _operations(client):
        access = TABLE[f"{method} {template}"]
        route = f"{method} {template}"
        who_gets_through = [("anonymous", {}, False)] if not access.anyone else []
        if not access.anyone:
            who_gets_through += [(r.value, h, access.allows(r)) for r, h in world.users.items()]
            who_gets_through += [
                ("terminal", world.own_terminal, access.terminal),
                ("revoked terminal", world.revoked_terminal, False),
            ]
        for who, headers, through in who_gets_through:
            status = _call(client, method, template, access, headers)
            if status >= 500:
                wrong.append(f"{route}: {who} answered {status}")
            elif through and status in (401, 403):
                wrong.append(f"{route}: {who} refused ({status})")
            elif not through and status not in (401, 403):
                wrong.append(f"{route}: {who} let through ({status})")
        if access.foreign:
            # Another dealer's data: a dealer's manager is refused, or finds nothing.
            status = _call(
                client, method, template, access, world.users[Role.dealer_manager], world.other
            )
            if status not in (403, 404):
                wrong.append(f"{route}: another dealer's data answered {status}")
    assert not wrong, "\n".join(wrong)


def test_a_terminal_cannot_touch_another_outlets_reservation(
    client: TestClient, world: World
) -> None:
    reserved = client.post(
        "/api/v1/sync/reservations",
        json={"msisdn": "13905750007", "clerk": world.own_clerk},
        headers=world.own_terminal,
    )
    assert reserved.status_code == 201, reserved.text
    path = f"/api/v1/sync/reservations/{reserved.json()['id']}"
    assert client.delete(path, headers=world.other_terminal).status_code in (403, 404)
    assert client.delete(path, headers=world.revoked_terminal).status_code == 401
    assert client.delete(path, headers=world.own_terminal).status_code in (200, 204)
