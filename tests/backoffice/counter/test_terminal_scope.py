"""One terminal can neither take nor shadow another's receipt numbers and event ids, and only
the dealer's active staff can be named as the clerk on an event."""

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from backoffice.contracts.counter import ReconciliationResolve
from backoffice.domain.users import Role
from backoffice.models import CashMovement, Sale, SyncEvent, User
from backoffice.services.counter import reconciliation
from backoffice.services.errors import Conflict
from shared.codes import format_receipt_number
from shared.ids import new_id
from shared.sync import (
    CashMovePayload,
    CashOutEvent,
    EventStatus,
    RejectReason,
    ReturnEvent,
    ReturnPayload,
    ShiftOpenEvent,
    ShiftOpenPayload,
)
from tests.backoffice.channel.helpers import (
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


def _shift_open(shop: Channel, seq: int, event_id: str | None = None, clerk: str = "") -> object:
    return ShiftOpenEvent(
        id=event_id or new_id(),
        seq=seq,
        occurred_at=datetime.now(UTC),
        payload=ShiftOpenPayload(
            shift_id=new_id(), clerk=clerk or clerk_of(shop.terminal_no), opening_float_fen=1_000
        ),
    )


def test_a_receipt_number_of_another_terminal_is_refused_and_never_shadows_it(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    other = second_terminal(session, shop)
    mine, theirs = stocked_numbers(session, shop.outlet_code, 2)
    # The other counter pushes first, numbering its sale with this terminal's next receipt.
    forged = sale_event(other.terminal_no, 1, [("number", theirs, 5_000)])
    forged = forged.model_copy(
        update={
            "payload": forged.payload.model_copy(
                update={"receipt_no": format_receipt_number(shop.terminal_no, 1)}
            )
        }
    )
    (refused,) = push(session, other, forged)
    assert (refused.status, refused.reason) == (
        EventStatus.rejected,
        RejectReason.receipt_not_this_terminal,
    )
    # The genuine sale with that receipt number goes through, on either push path.
    genuine = sale_event(shop.terminal_no, 1, [("number", mine, 5_000)])
    (accepted, again) = push(session, shop, genuine, genuine)
    assert accepted.status is EventStatus.accepted
    assert (again.status, again.original) == (EventStatus.duplicate, EventStatus.accepted)
    sale = session.exec(select(Sale)).one()
    assert (sale.receipt_no, sale.terminal_id) == (genuine.payload.receipt_no, shop.terminal_id)


def test_an_event_id_of_another_terminal_neither_answers_for_it_nor_blocks_it(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    other = channel(session, "D2")
    mine = stocked_numbers(session, shop.outlet_code, 1)[0]
    theirs = stocked_numbers(session, other.outlet_code, 1)[0]
    genuine = sale_event(shop.terminal_no, 1, [("number", mine, 5_000)])
    # Another dealer's terminal gets hold of the event id and uses it first.
    squatter = sale_event(other.terminal_no, 1, [("number", theirs, 5_000)])
    squatter = squatter.model_copy(update={"id": genuine.id})
    (first,) = push(session, other, squatter)
    assert first.status is EventStatus.accepted
    # The genuine event is applied, not answered with the squatter's result.
    (result,) = push(session, shop, genuine)
    assert (result.status, result.original, result.message) == (EventStatus.accepted, None, "")
    # Each terminal's repeat is its own event's duplicate.
    (again,) = push(session, shop, genuine)
    assert (again.status, again.original) == (EventStatus.duplicate, EventStatus.accepted)
    rows = session.exec(select(SyncEvent).where(SyncEvent.id == genuine.id)).all()
    assert {r.terminal_id for r in rows} == {shop.terminal_id, other.terminal_id}
    assert session.exec(select(func.count()).select_from(Sale)).one() == 2

    # The same on the one-by-one path (not a sale), where a cash movement is written too.
    opened = _shift_open(shop, 2)
    shift_id = opened.payload.shift_id  # type: ignore[attr-defined]
    cash = CashOutEvent(
        id=new_id(),
        seq=3,
        occurred_at=datetime.now(UTC),
        payload=CashMovePayload(shift_id=shift_id, amount_fen=100, reason="bank"),
    )
    theirs_opened = _shift_open(other, 2)
    theirs_cash = CashOutEvent(
        id=cash.id,
        seq=3,
        occurred_at=datetime.now(UTC),
        payload=CashMovePayload(
            shift_id=theirs_opened.payload.shift_id,  # type: ignore[attr-defined]
            amount_fen=200,
            reason="bank",
        ),
    )
    assert {r.status for r in push(session, other, theirs_opened, theirs_cash)} == {
        EventStatus.accepted
    }
    assert {r.status for r in push(session, shop, opened, cash)} == {EventStatus.accepted}
    moved = session.exec(select(CashMovement.amount_fen).order_by(CashMovement.amount_fen)).all()
    assert moved == [100, 200]


def test_two_terminals_with_one_event_id_in_the_queue_are_resolved_by_terminal(
    session: Session,
) -> None:
    shop = channel(session)
    other = channel(session, "D2")
    event_id = new_id()
    for at in (shop, other):
        # A clerk who is nobody's: both events are rejected and queued.
        (refused,) = push(session, at, _shift_open(at, 1, event_id, clerk="nobody"))
        assert refused.reason is RejectReason.unknown_clerk
    try:
        reconciliation.resolve(session, event_id, ReconciliationResolve(note="x"), "s1")
    except Conflict as conflict:
        assert conflict.code == "ambiguous_event"
    else:
        raise AssertionError("an ambiguous event id was resolved")
    resolved = reconciliation.resolve(
        session,
        event_id,
        ReconciliationResolve(note="trained the clerk", terminal_id=other.terminal_id),
        "s1",
    )
    assert (resolved.terminal_id, resolved.resolution) == (other.terminal_id, "resolved")
    (still_open,) = reconciliation.reconciliation_queue(session)
    assert still_open.terminal_id == shop.terminal_id


def test_events_name_only_active_staff_of_the_terminals_dealer(session: Session) -> None:
    pool(session)
    shop = channel(session)
    other = channel(session, "D2")
    add_staff(session, shop.dealer_id, "left-last-week")
    leaver = session.exec(select(User).where(User.username == "left-last-week")).one()
    leaver.is_active = False
    session.add(leaver)
    session.commit()
    first, second, third, fourth = stocked_numbers(session, shop.outlet_code, 4)
    strangers = [
        sale_event(shop.terminal_no, 1, [("number", first, 5_000)], clerk="made-up"),
        # Another dealer's clerk.
        sale_event(
            shop.terminal_no, 2, [("number", second, 5_000)], clerk=clerk_of(other.terminal_no)
        ),
        sale_event(shop.terminal_no, 3, [("number", third, 5_000)], clerk="left-last-week"),
    ]
    results = push(session, shop, *strangers)
    assert [r.reason for r in results] == [RejectReason.unknown_clerk] * 3
    assert "made-up is not active staff of dealer D1" in results[0].message
    # Non-sale events are checked too; a dealer manager may sell at the counter.
    (shift,) = push(session, shop, _shift_open(shop, 4, clerk="made-up"))
    assert shift.reason is RejectReason.unknown_clerk
    add_staff(session, shop.dealer_id, "boss1", role=Role.dealer_manager)
    sold = sale_event(shop.terminal_no, 5, [("number", fourth, 5_000)], clerk="boss1")
    back = ReturnEvent(
        id=new_id(),
        seq=6,
        occurred_at=datetime.now(UTC),
        payload=ReturnPayload(
            return_id=new_id(),
            original_receipt_no=sold.payload.receipt_no,
            clerk="made-up",
            items=[fourth],
            refund_fen=5_000,
        ),
    )
    accepted, returned = push(session, shop, sold, back)
    assert accepted.status is EventStatus.accepted
    assert returned.reason is RejectReason.unknown_clerk


def test_a_manager_cannot_record_receipts_or_counts_and_no_person_redeems_for_the_system(
    client: TestClient, session: Session, login: Callable[[Role], dict[str, str]]
) -> None:
    pool(session)
    shop = channel(session)
    for role in (Role.manager, Role.dealer_manager):
        headers = login(role)
        receipt = client.post(
            "/api/v1/receipts",
            json={"document_number": "DN202611230000011", "items": []},
            headers=headers,
        )
        count = client.post(
            "/api/v1/stock-counts", json={"outlet": shop.outlet_code, "items": []}, headers=headers
        )
        assert (receipt.status_code, count.status_code) == (403, 403), role
    admin = login(Role.admin)
    redeem = client.post(
        "/api/v1/vouchers/redeem",
        json={"serial": "10575000000000001", "pin": "1234567890123456"},
        headers=admin,
    )
    assert (redeem.status_code, redeem.json()["code"]) == (403, "forbidden")
    callback = client.post("/api/v1/activations/callback", json={}, headers=admin)
    assert callback.status_code == 403
    centre = login(Role.sales_centre)
    on_shelf = stocked_numbers(session, shop.outlet_code, 1)
    counted = client.post(
        "/api/v1/stock-counts",
        json={"outlet": shop.outlet_code, "items": on_shelf},
        headers=centre,
    )
    assert counted.status_code == 201, counted.text
