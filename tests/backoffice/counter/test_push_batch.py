"""Runs of sale events in one push are decided together and written set-based: every event
still gets the answer, and leaves the rows, that it would get applied on its own."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from backoffice.models import (
    ActivationOutbox,
    AuditEntry,
    MobileNumber,
    Sale,
    SaleLine,
    SyncEvent,
    Voucher,
)
from backoffice.services.counter import outcomes, reconciliation, sale_batches
from shared.ids import new_id
from shared.sync import EventStatus, RejectReason, ReturnEvent, ReturnPayload
from tests.backoffice.channel.helpers import (
    channel,
    item_status,
    pool,
    push,
    sale_event,
    second_terminal,
    stocked_numbers,
)


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_items_sold_by_another_batch_in_between_are_rejected_the_rest_accepted(
    session: Session,
) -> None:
    pool(session, cards=3)
    shop = channel(session)
    other = second_terminal(session, shop)
    first, second, third, card, spare = stocked_numbers(session, shop.outlet_code, 3, cards=2)
    push(
        session,
        other,
        sale_event(other.terminal_no, 1, [("number", first, 5_000)]),
        sale_event(other.terminal_no, 2, [("voucher", card, 5_000)]),
    )
    results = push(
        session,
        shop,
        sale_event(shop.terminal_no, 1, [("number", first, 5_000)]),
        sale_event(shop.terminal_no, 2, [("number", second, 5_000), ("voucher", spare, 5_000)]),
        sale_event(shop.terminal_no, 3, [("voucher", card, 5_000)]),
        sale_event(shop.terminal_no, 4, [("number", third, 5_000)]),
    )
    assert [r.reason or r.status for r in results] == [
        RejectReason.item_already_sold,
        EventStatus.accepted,
        RejectReason.item_already_sold,
        EventStatus.accepted,
    ]
    assert results[0].message == f"number {first} is already sold"
    assert results[2].message == f"card {card} is already sold"
    assert [item_status(session, MobileNumber, m) for m in (first, second, third)] == ["sold"] * 3
    assert item_status(session, Voucher, spare) == "active"
    assert _count(session, Sale) == 4
    assert _count(session, SaleLine) == 5
    assert _count(session, ActivationOutbox) == 3
    queued = reconciliation.reconciliation_queue(session)
    assert {q.event_id for q in queued} == {results[0].id, results[2].id}
    rejects = session.exec(select(AuditEntry).where(AuditEntry.action == "reject")).all()
    assert {a.entity_id for a in rejects} == {results[0].id, results[2].id}


def test_within_a_batch_an_item_goes_to_the_first_sale_that_is_accepted(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    twice_in_one = sale_event(shop.terminal_no, 1, [("number", first, 5_000)] * 2)
    cheap = sale_event(shop.terminal_no, 2, [("number", first, 4_000)])
    sold = sale_event(shop.terminal_no, 3, [("number", first, 5_000)])
    again = sale_event(shop.terminal_no, 4, [("number", first, 5_000)])
    same_receipt = sale_event(shop.terminal_no, 3, [("number", second, 5_000)])
    results = push(session, shop, twice_in_one, cheap, sold, again, same_receipt)
    assert [r.reason or r.status for r in results] == [
        RejectReason.item_already_sold,
        RejectReason.price_mismatch,
        EventStatus.accepted,
        RejectReason.item_already_sold,
        RejectReason.receipt_number_reused,
    ]
    assert item_status(session, MobileNumber, second) == "in_stock"
    sale = session.exec(select(Sale)).one()
    assert sale.event_id == sold.id
    stored = {e.id: e.result for e in session.exec(select(SyncEvent))}
    assert stored == {
        twice_in_one.id: "rejected",
        cheap.id: "rejected",
        sold.id: "accepted",
        again.id: "rejected",
        same_receipt.id: "rejected",
    }
    # A receipt already taken by an earlier push is refused as well.
    (late,) = push(session, shop, sale_event(shop.terminal_no, 3, [("number", second, 5_000)]))
    assert late.reason is RejectReason.receipt_number_reused


def test_a_return_between_two_sales_of_one_item_is_seen_by_the_second(session: Session) -> None:
    pool(session)
    shop = channel(session)
    (msisdn,) = stocked_numbers(session, shop.outlet_code, 1)
    bought = sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)])
    brought_back = ReturnEvent(
        id=new_id(),
        seq=2,
        occurred_at=datetime.now(UTC),
        payload=ReturnPayload(
            return_id=new_id(),
            original_receipt_no=bought.payload.receipt_no,
            clerk=bought.payload.clerk,
            items=[msisdn],
            refund_fen=5_000,
        ),
    )
    resold = sale_event(shop.terminal_no, 3, [("number", msisdn, 5_000)])
    results = push(session, shop, bought, brought_back, resold)
    assert [r.status for r in results] == [EventStatus.accepted] * 3
    assert item_status(session, MobileNumber, msisdn) == "sold"
    assert _count(session, Sale) == 2


def test_an_event_twice_in_one_batch_is_applied_once(session: Session) -> None:
    pool(session)
    shop = channel(session)
    (msisdn,) = stocked_numbers(session, shop.outlet_code, 1)
    event = sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)])
    first, second = push(session, shop, event, event)
    assert first.status is EventStatus.accepted
    assert (second.status, second.original) == (EventStatus.duplicate, EventStatus.accepted)
    assert _count(session, Sale) == 1


def test_an_unforeseen_conflict_undoes_the_run_and_applies_it_event_by_event(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    attempts = []
    together = sale_batches.apply_sales

    def conflicting(*args, **kwargs):  # type: ignore[no-untyped-def]
        decided = together(*args, **kwargs)
        attempts.append(decided)
        raise outcomes.BatchConflict("a receipt number was taken meanwhile")

    monkeypatch.setattr(sale_batches, "apply_sales", conflicting)
    results = push(
        session,
        shop,
        sale_event(shop.terminal_no, 1, [("number", first, 5_000)]),
        sale_event(shop.terminal_no, 2, [("number", first, 5_000)]),
        sale_event(shop.terminal_no, 3, [("number", second, 5_000)]),
    )
    assert len(attempts) == 1
    assert [r.reason or r.status for r in results] == [
        EventStatus.accepted,
        RejectReason.item_already_sold,
        EventStatus.accepted,
    ]
    assert _count(session, Sale) == 2
    assert _count(session, SaleLine) == 2
    assert _count(session, ActivationOutbox) == 2
    assert _count(session, SyncEvent) == 3
    sells = session.exec(select(AuditEntry).where(AuditEntry.action == "sell")).all()
    assert sorted(a.entity_id for a in sells) == [first, second]


def test_a_key_taken_meanwhile_makes_the_bulk_write_a_batch_conflict(session: Session) -> None:
    shop = channel(session)
    now = datetime.now(UTC)
    row: dict[str, object] = {
        "id": new_id(),
        "terminal_id": shop.terminal_id,
        "outlet_id": shop.outlet_id,
        "dealer_id": shop.dealer_id,
        "seq": 1,
        "type": "sale",
        "occurred_at": now,
        "received_at": now,
        "result": "accepted",
        "payload": "{}",
    }
    outcomes.insert_many(session, SyncEvent.__table__, [row])  # type: ignore[attr-defined]
    session.commit()
    savepoint = session.begin_nested()
    with pytest.raises(outcomes.BatchConflict):
        outcomes.insert_many(session, SyncEvent.__table__, [row])  # type: ignore[attr-defined]
    savepoint.rollback()
    stored = session.exec(select(SyncEvent)).one()
    assert (stored.id, stored.occurred_at) == (row["id"], now)
    session.commit()
