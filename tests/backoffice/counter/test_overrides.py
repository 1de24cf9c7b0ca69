"""Price overrides: caps set per dealer and enforced on every sale, approvals the back office
signs online (PIN checked there, with a lock-out) and verifies on push, and offline approvals
limited to a smaller cap and queued for review."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backoffice.contracts.counter import ReconciliationResolve
from backoffice.domain.users import Role
from backoffice.models import AuditEntry, PinLockout, SaleLine, User
from backoffice.services.counter import approvals, pricing, reconciliation
from shared.ids import new_id
from shared.sync import EventStatus, PriceOverride, RejectReason, SaleEvent
from tests.backoffice.channel.helpers import (
    STAFF_PIN,
    Channel,
    add_staff,
    channel,
    clerk_of,
    pool,
    push,
    sale_event,
    second_terminal,
    stocked_numbers,
)

Login = Callable[[Role], dict[str, str]]
LIST = 5_000  # number:STD


def _device(shop: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.credential}"}


def _offline(reason: str = "regular customer", by: str = "boss1") -> PriceOverride:
    return PriceOverride(approved_by=by, reason=reason)


def _approve(
    client: TestClient,
    shop: Channel,
    sale_id: str,
    item: str,
    price_fen: int,
    *,
    manager: str = "boss1",
    pin: str = STAFF_PIN,
):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/sync/approvals",
        json={
            "sale_id": sale_id,
            "item_kind": "number",
            "item": item,
            "product": "number:STD",
            "price_list_version": 1,
            "price_fen": price_fen,
            "reason": "regular customer",
            "manager": manager,
            "pin": pin,
        },
        headers=_device(shop),
    )


def _with_approval(event: SaleEvent, sale_id: str, approval: str, by: str = "boss1") -> SaleEvent:
    """The sale as the terminal sends it after an online approval of its first line."""
    line = event.payload.lines[0].model_copy(
        update={
            "override": PriceOverride(approved_by=by, reason="regular customer", approval=approval)
        }
    )
    payload = event.payload.model_copy(update={"sale_id": sale_id, "lines": [line]})
    return event.model_copy(update={"payload": payload})


def _push_http(client: TestClient, shop: Channel, *events: SaleEvent) -> list[dict]:  # type: ignore[type-arg]
    reply = client.post(
        "/api/v1/sync/push",
        json={"events": [e.model_dump(mode="json") for e in events]},
        headers=_device(shop),
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["results"]  # type: ignore[no-any-return]


def test_offline_overrides_stay_within_the_offline_cap_and_wait_for_review(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    add_staff(session, shop.dealer_id, "boss1", role=Role.dealer_manager)
    a, b, c, d = stocked_numbers(session, shop.outlet_code, 4)
    events = [
        # The default caps: 20 % below the list, nothing above it, ¥20 either way offline.
        sale_event(shop.terminal_no, 1, [("number", a, 4_000)], override=_offline()),
        sale_event(shop.terminal_no, 2, [("number", b, 1)], override=_offline("boss")),
        sale_event(shop.terminal_no, 3, [("number", c, 5_100)], override=_offline("fee")),
        # An offline approval names a manager of the dealer, not just anyone.
        sale_event(
            shop.terminal_no,
            4,
            [("number", d, 4_500)],
            override=_offline(by=clerk_of(shop.terminal_no)),
        ),
    ]
    results = push(session, shop, *events)
    assert [(r.status, r.reason) for r in results] == [
        (EventStatus.accepted, None),
        (EventStatus.rejected, RejectReason.override_over_cap),
        (EventStatus.rejected, RejectReason.override_over_cap),
        (EventStatus.rejected, RejectReason.override_not_approved),
    ]
    assert "may go down to 4000 fen" in results[1].message
    line = session.exec(select(SaleLine).where(SaleLine.item_key == a)).one()
    assert (line.price_fen, line.list_price_fen, line.override_approved_by) == (
        4_000,
        5_000,
        "boss1",
    )
    queue = {q.event_id: q for q in reconciliation.reconciliation_queue(session)}
    flagged = queue[events[0].id]
    assert (flagged.result, flagged.reason) == ("accepted", "override_offline")
    assert "approved offline by boss1" in (flagged.message or "")
    # Its repeat is an accepted duplicate, not a rejection.
    (again,) = push(session, shop, events[0])
    assert (again.status, again.original, again.reason) == (
        EventStatus.duplicate,
        EventStatus.accepted,
        None,
    )
    reconciliation.resolve(session, events[0].id, ReconciliationResolve(note="checked"), "s1")
    assert events[0].id not in {q.event_id for q in reconciliation.reconciliation_queue(session)}


def test_caps_are_set_per_dealer_by_the_sales_centre_and_reach_the_terminal(
    client: TestClient, session: Session, login: Login
) -> None:
    pool(session)
    shop = channel(session)
    channel(session, "D2")
    add_staff(session, shop.dealer_id, "boss1", role=Role.dealer_manager)
    a, b = stocked_numbers(session, shop.outlet_code, 2)
    centre, manager = login(Role.sales_centre), login(Role.dealer_manager)
    own = client.get("/api/v1/dealers/D1/override-caps", headers=centre).json()
    assert own["own"] is False and own["override_caps"]["max_discount_percent"] == 20
    caps = {"max_discount_fen": 300, "max_markup_fen": 0, "offline_max_fen": 0}
    assert (
        client.put("/api/v1/dealers/D1/override-caps", json=caps, headers=manager).status_code
        == 403
    )
    bad = client.put(
        "/api/v1/dealers/D1/override-caps", json={"max_discount_fen": -1}, headers=centre
    )
    assert bad.status_code == 422 and "max_discount_fen" in bad.json()["message"]
    assert client.put("/api/v1/dealers/D1/override-caps", json=caps, headers=centre).json()["own"]
    pulled = client.get("/api/v1/sync/pull", headers=_device(shop)).json()
    assert pulled["override_caps"] == {**caps, "max_discount_percent": None}
    # Offline approvals are off for this dealer now; online ones go down to 4700 fen.
    (offline,) = push(
        session, shop, sale_event(shop.terminal_no, 1, [("number", a, 4_900)], override=_offline())
    )
    assert offline.reason is RejectReason.override_over_cap
    assert _approve(client, shop, new_id(), b, 4_600).json()["code"] == "override_over_cap"
    assert _approve(client, shop, new_id(), b, 4_700).status_code == 200
    cleared = client.delete("/api/v1/dealers/D1/override-caps", headers=centre).json()
    assert cleared["own"] is False
    # A new price list takes the previous list's caps unless it is given its own.
    prices = [{"product": "number:STD", "retail_fen": 5_000, "dealer_fen": 4_000}]
    admin = login(Role.admin)
    second = client.post("/api/v1/price-lists", json={"prices": prices}, headers=admin).json()
    assert second["override_caps"]["max_discount_percent"] == 20
    third = client.post(
        "/api/v1/price-lists",
        json={"prices": prices, "override_caps": {"max_discount_percent": 5}},
        headers=admin,
    ).json()
    assert third["override_caps"] == {
        "max_discount_fen": None,
        "max_discount_percent": 5,
        "max_markup_fen": 0,
        "offline_max_fen": 0,
    }


def test_an_online_approval_is_signed_for_one_line_and_verified_on_push(
    client: TestClient, session: Session
) -> None:
    pool(session)
    shop = channel(session)
    twin = second_terminal(session, shop)
    add_staff(session, shop.dealer_id, "boss1", role=Role.dealer_manager)
    a, b, c = stocked_numbers(session, shop.outlet_code, 3)
    sale_id = new_id()
    granted = _approve(client, shop, sale_id, a, 4_000)
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert (body["approved_by"], body["list_price_fen"], body["price_fen"]) == (
        "boss1",
        LIST,
        4_000,
    )
    token = body["approval"]
    sale = _with_approval(sale_event(shop.terminal_no, 1, [("number", a, 4_000)]), sale_id, token)

    # The token does not stretch to another sale, item, price or terminal, or past its time.
    other_sale = _with_approval(
        sale_event(shop.terminal_no, 2, [("number", b, 4_000)]), new_id(), token
    )
    other_price = _with_approval(
        sale_event(shop.terminal_no, 3, [("number", a, 3_900)]), sale_id, token
    )
    other_terminal = _with_approval(
        sale_event(twin.terminal_no, 1, [("number", a, 4_000)]), sale_id, token
    )
    late = _with_approval(
        sale_event(
            shop.terminal_no,
            4,
            [("number", a, 4_000)],
            occurred_at=datetime.now(UTC) + timedelta(minutes=pricing.APPROVAL_MINUTES + 10),
        ),
        sale_id,
        token,
    )
    forged = jwt.encode(jwt.decode(token, options={"verify_signature": False}), "k" * 32)
    forgery = _with_approval(
        sale_event(shop.terminal_no, 5, [("number", a, 4_000)]), sale_id, forged
    )
    refused = _push_http(client, shop, other_sale, other_price, late, forgery)
    refused += _push_http(client, twin, other_terminal)
    assert [r["reason"] for r in refused] == ["override_not_approved"] * 5
    assert "another sale" in refused[0]["message"]
    assert "another price" in refused[1]["message"]
    assert "not signed by this back office" in refused[3]["message"]
    assert "another terminal" in refused[4]["message"]

    (accepted,) = _push_http(client, shop, sale)
    assert accepted["status"] == "accepted"
    # Verified by the office: nothing to review.
    assert sale.id not in {q.event_id for q in reconciliation.reconciliation_queue(session)}
    # Above the online cap, or at the list price, there is nothing to sign.
    assert _approve(client, shop, new_id(), c, 3_999).json()["code"] == "override_over_cap"
    assert _approve(client, shop, new_id(), c, LIST).json()["code"] == "no_override"
    approvals = session.exec(
        select(AuditEntry).where(AuditEntry.action == "approve_override")
    ).all()
    assert [e.entity_id for e in approvals] == [sale_id]


def test_wrong_pins_lock_a_managers_online_approvals_out(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool(session)
    shop = channel(session)
    other = channel(session, "D2")
    add_staff(session, shop.dealer_id, "boss1", role=Role.dealer_manager)
    add_staff(session, other.dealer_id, "boss2", role=Role.dealer_manager)
    item = stocked_numbers(session, shop.outlet_code, 1)[0]
    # Only a manager of this dealer approves, with the right PIN; refusals say no more.
    clerk = clerk_of(shop.terminal_no)
    for manager, pin in ((clerk, STAFF_PIN), ("boss2", STAFF_PIN), ("nobody", STAFF_PIN)):
        refused = _approve(client, shop, new_id(), item, 4_500, manager=manager, pin=pin)
        assert (refused.status_code, refused.json()["code"]) == (403, "approval_refused")
    codes = [
        _approve(client, shop, new_id(), item, 4_500, pin="0000").json()["code"] for _ in range(5)
    ]
    assert codes == ["approval_refused"] * 4 + ["approvals_locked"]
    # Locked, the right PIN is refused as well (and so tells a guesser nothing), without being
    # checked: a guesser costs the office no argon2 work.
    checked: list[str] = []
    real_check = approvals.verify_password
    monkeypatch.setattr(
        approvals, "verify_password", lambda h, p: checked.append(p) or real_check(h, p)
    )
    locked = _approve(client, shop, new_id(), item, 4_500)
    assert (locked.status_code, locked.json()["code"]) == (403, "approvals_locked")
    assert checked == []
    monkeypatch.undo()
    boss = session.exec(select(User).where(User.username == "boss1")).one()
    failures = session.exec(
        select(AuditEntry)
        .where(AuditEntry.entity_id == boss.id)
        .where(AuditEntry.action == "approval_pin_failed")
    ).all()
    assert len(failures) == 5 and all("0000" not in (e.reason or "") for e in failures)
    # Once the lock-out has passed, the right PIN works and the count starts again.
    lock = session.get(PinLockout, boss.id)
    assert lock is not None
    lock.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    session.add(lock)
    session.commit()
    assert _approve(client, shop, new_id(), item, 4_500).status_code == 200
    session.refresh(lock)
    assert (lock.failures, lock.locked_until) == (0, None)
