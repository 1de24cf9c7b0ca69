"""Push: events applied once and atomically; sales never sell an item twice; rejections go
to the reconciliation queue."""

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from backoffice.contracts.channel import DealerStatusChange, PriceIn, StaffCreate
from backoffice.contracts.counter import ReconciliationResolve
from backoffice.core.config import Settings
from backoffice.domain.channel import DealerStatus
from backoffice.domain.users import Role
from backoffice.models import ActivationOutbox, MobileNumber, Sale, SyncEvent, Voucher
from backoffice.services.channel import dealers, movements, prices
from backoffice.services.counter import reconciliation
from shared.codes import mask_resident_id
from shared.ids import new_id
from shared.sync import (
    CashMovePayload,
    CashOutEvent,
    EventStatus,
    PriceOverride,
    RejectReason,
    ReturnEvent,
    ReturnPayload,
    ShiftCloseEvent,
    ShiftClosePayload,
    ShiftOpenEvent,
    ShiftOpenPayload,
    StockReceiptEvent,
    StockReceiptPayload,
)
from tests.backoffice.channel.helpers import (
    KEYS,
    Channel,
    allocate_numbers,
    channel,
    clerk_of,
    item_status,
    pool,
    push,
    resident_id,
    sale_event,
    second_terminal,
    stocked_numbers,
)

STD_PRICE = 5_000


def test_sale_sells_the_number_activates_the_card_and_queues_the_activation(
    session: Session,
) -> None:
    pool(session, cards=5)
    shop = channel(session)
    msisdn, *_, card = stocked_numbers(session, shop.outlet_code, 2, cards=1)
    event = sale_event(
        shop.terminal_no, 1, [("number", msisdn, STD_PRICE), ("voucher", card, 5_000)]
    )
    (result,) = push(session, shop, event)
    assert (result.status, result.reason) == (EventStatus.accepted, None)
    assert item_status(session, MobileNumber, msisdn) == "sold"
    assert item_status(session, Voucher, card) == "active"
    sale = session.exec(select(Sale)).one()
    assert sale.total_fen == 10_000
    assert sale.customer_id_masked == mask_resident_id(resident_id())
    assert sale.customer_id_cipher and resident_id() not in sale.customer_id_cipher
    assert KEYS.ids.decrypt(sale.id, sale.customer_id_cipher) == resident_id()
    outbox = session.exec(select(ActivationOutbox)).one()
    assert (outbox.msisdn, outbox.status) == (msisdn, "pending")


def test_a_repeated_event_returns_the_first_result_and_is_applied_once(session: Session) -> None:
    pool(session)
    shop = channel(session)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    event = sale_event(shop.terminal_no, 1, [("number", msisdn, STD_PRICE)])
    (first,) = push(session, shop, event)
    (again,) = push(session, shop, event)
    assert first.status is EventStatus.accepted
    assert (again.status, again.original) == (EventStatus.duplicate, EventStatus.accepted)
    assert session.exec(select(func.count()).select_from(Sale)).one() == 1
    assert session.exec(select(func.count()).select_from(ActivationOutbox)).one() == 1
    bad = sale_event(shop.terminal_no, 2, [("number", msisdn, STD_PRICE)])
    (rejected,) = push(session, shop, bad)
    (repeat,) = push(session, shop, bad)
    assert rejected.status is EventStatus.rejected
    assert (repeat.status, repeat.original, repeat.reason) == (
        EventStatus.duplicate,
        EventStatus.rejected,
        RejectReason.item_already_sold,
    )


def test_two_terminals_selling_one_number_one_is_rejected_and_queued(session: Session) -> None:
    pool(session)
    shop = channel(session)
    other = second_terminal(session, shop)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    (first,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)]))
    (second,) = push(session, other, sale_event(other.terminal_no, 1, [("number", msisdn, 5_000)]))
    assert first.status is EventStatus.accepted
    assert (second.status, second.reason) == (
        EventStatus.rejected,
        RejectReason.item_already_sold,
    )
    (queued,) = reconciliation.reconciliation_queue(session)
    assert (queued.event_id, queued.reason) == (second.id, "item_already_sold")
    reconciliation.resolve(
        session, second.id, ReconciliationResolve(note="refunded the customer"), "s1"
    )
    assert reconciliation.reconciliation_queue(session) == []
    assert reconciliation.reconciliation_queue(session, "resolved")[0].resolved_by == "s1"


def test_concurrent_terminals_racing_for_one_number_exactly_one_wins(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        pool(session)
        shop = channel(session)
        terminals = [shop] + [second_terminal(session, shop) for _ in range(5)]
        msisdns = stocked_numbers(session, shop.outlet_code, 3)
    barrier = threading.Barrier(len(terminals))
    results: list[EventStatus | RejectReason | None] = []
    lock = threading.Lock()

    def sell(terminal: Channel) -> None:
        events = [
            sale_event(terminal.terminal_no, i + 1, [("number", m, STD_PRICE)])
            for i, m in enumerate(msisdns)
        ]
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            got = push(own, terminal, *events)
        with lock:
            results.extend(r.reason or r.status for r in got)

    threads = [threading.Thread(target=sell, args=(t,)) for t in terminals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(EventStatus.accepted) == len(msisdns)
    assert results.count(RejectReason.item_already_sold) == len(msisdns) * (len(terminals) - 1)
    with Session(engine) as session:
        sold = session.exec(select(func.count()).select_from(Sale)).one()
        assert sold == len(msisdns)


def test_prices_come_from_the_list_unless_a_manager_approved_an_override(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    first, second, third = stocked_numbers(session, shop.outlet_code, 3)
    (cheap,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", first, 4_000)]))
    assert (cheap.status, cheap.reason) == (EventStatus.rejected, RejectReason.price_mismatch)
    assert item_status(session, MobileNumber, first) == "in_stock"
    dealers.create_staff(
        session,
        "D1",
        StaffCreate(
            username="boss1", password="long-password", role=Role.dealer_manager, pin="4321"
        ),
        "s1",
    )
    stranger = PriceOverride(approved_by="clerk1", reason="regular customer")
    (refused,) = push(
        session,
        shop,
        sale_event(shop.terminal_no, 2, [("number", first, 4_000)], override=stranger),
    )
    assert refused.reason is RejectReason.override_not_approved
    approved = PriceOverride(approved_by="boss1", reason="regular customer")
    (ok,) = push(
        session,
        shop,
        sale_event(shop.terminal_no, 3, [("number", first, 4_000)], override=approved),
    )
    assert ok.status is EventStatus.accepted
    (unknown,) = push(
        session, shop, sale_event(shop.terminal_no, 4, [("number", second, 5_000)], version=9)
    )
    assert unknown.reason is RejectReason.unknown_price_list
    prices.set_dealer_price(
        session, "D1", PriceIn(product="number:STD", retail_fen=4_500, dealer_fen=4_500), "s1"
    )
    (dealer_price,) = push(
        session, shop, sale_event(shop.terminal_no, 5, [("number", third, 4_500)])
    )
    assert dealer_price.status is EventStatus.accepted


def test_suspended_dealer_events_are_rejected_and_kept(session: Session) -> None:
    pool(session)
    shop = channel(session)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    dealers.change_dealer_status(
        session, "D1", DealerStatusChange(status=DealerStatus.suspended, reason="audit"), "s1"
    )
    (result,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)]))
    assert result.reason is RejectReason.dealer_suspended
    assert item_status(session, MobileNumber, msisdn) == "in_stock"
    assert session.get(SyncEvent, (shop.terminal_id, result.id)) is not None


def test_returns_within_the_window_put_the_item_back_in_stock(session: Session) -> None:
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    sold_long_ago = datetime.now(UTC) - timedelta(days=30)
    old = sale_event(shop.terminal_no, 1, [("number", first, 5_000)], occurred_at=sold_long_ago)
    recent = sale_event(shop.terminal_no, 2, [("number", second, 5_000)])
    push(session, shop, old)

    def returning(seq: int, receipt: str, item: str) -> ReturnEvent:
        return ReturnEvent(
            id=new_id(),
            seq=seq,
            occurred_at=datetime.now(UTC),
            payload=ReturnPayload(
                return_id=new_id(),
                original_receipt_no=receipt,
                clerk=clerk_of(shop.terminal_no),
                items=[item],
                refund_fen=5_000,
            ),
        )

    # The recent sale and its return arrive in one batch.
    _, late, in_time, twice = push(
        session,
        shop,
        recent,
        returning(3, old.payload.receipt_no, first),
        returning(4, recent.payload.receipt_no, second),
        returning(5, recent.payload.receipt_no, second),
    )
    assert late.reason is RejectReason.return_window_passed
    assert in_time.status is EventStatus.accepted
    assert twice.reason is RejectReason.already_returned
    assert item_status(session, MobileNumber, second) == "in_stock"
    outbox = session.exec(select(ActivationOutbox).where(ActivationOutbox.msisdn == second)).one()
    assert outbox.status == "cancelled"
    settings = Settings(database_url="sqlite://", return_window_days=60)
    (allowed,) = push(session, shop, returning(6, old.payload.receipt_no, first), settings=settings)
    assert allowed.status is EventStatus.accepted


def test_an_activated_number_or_redeemed_card_cannot_be_returned(session: Session) -> None:
    pool(session, cards=5)
    shop = channel(session)
    msisdn, *_, card = stocked_numbers(session, shop.outlet_code, 1, cards=1)
    sale = sale_event(
        shop.terminal_no, 1, [("number", msisdn, STD_PRICE), ("voucher", card, 5_000)]
    )
    push(session, shop, sale)
    # What the activation webhook and the operator's charging system leave behind.
    for model, key, status in ((MobileNumber, msisdn, "active"), (Voucher, card, "redeemed")):
        item = session.get(model, key)
        item.status = status
        session.add(item)
    session.commit()

    def returning(seq: int, item: str, refund_fen: int) -> ReturnEvent:
        return ReturnEvent(
            id=new_id(),
            seq=seq,
            occurred_at=datetime.now(UTC),
            payload=ReturnPayload(
                return_id=new_id(),
                original_receipt_no=sale.payload.receipt_no,
                clerk=clerk_of(shop.terminal_no),
                items=[item],
                refund_fen=refund_fen,
            ),
        )

    number, voucher = push(
        session, shop, returning(2, msisdn, STD_PRICE), returning(3, card, 5_000)
    )
    assert number.reason is RejectReason.item_already_active
    assert voucher.reason is RejectReason.voucher_already_redeemed
    assert item_status(session, MobileNumber, msisdn) == "active"
    assert item_status(session, Voucher, card) == "redeemed"


def test_shift_and_cash_events(session: Session) -> None:
    shop = channel(session)
    shift_id = new_id()
    now = datetime.now(UTC)
    opened, cash_out, closed, late_cash = push(
        session,
        shop,
        ShiftOpenEvent(
            id=new_id(),
            seq=1,
            occurred_at=now,
            payload=ShiftOpenPayload(
                shift_id=shift_id, clerk=clerk_of(shop.terminal_no), opening_float_fen=20_000
            ),
        ),
        CashOutEvent(
            id=new_id(),
            seq=2,
            occurred_at=now,
            payload=CashMovePayload(shift_id=shift_id, amount_fen=5_000, reason="bank deposit"),
        ),
        ShiftCloseEvent(
            id=new_id(),
            seq=3,
            occurred_at=now,
            payload=ShiftClosePayload(shift_id=shift_id, counted_cash_fen=15_000, z_number=1),
        ),
        CashOutEvent(
            id=new_id(),
            seq=4,
            occurred_at=now,
            payload=CashMovePayload(shift_id=shift_id, amount_fen=100, reason="late"),
        ),
    )
    assert [r.status for r in (opened, cash_out, closed)] == [EventStatus.accepted] * 3
    assert late_cash.reason is RejectReason.shift_closed


def test_stock_receipt_event_takes_in_the_delivery(session: Session) -> None:
    pool(session)
    shop = channel(session)
    other = channel(session, code="D2")
    document = allocate_numbers(session, shop.outlet_code, 3)
    items = [i.item for i in movements.outlet_stock(session, shop.outlet_code)]

    def receipt(seq: int, at: Channel) -> StockReceiptEvent:
        return StockReceiptEvent(
            id=new_id(),
            seq=seq,
            occurred_at=datetime.now(UTC),
            payload=StockReceiptPayload(
                document_number=document.number, clerk=clerk_of(at.terminal_no), items=items
            ),
        )

    (foreign,) = push(session, other, receipt(1, other))
    assert foreign.reason is RejectReason.document_not_for_outlet
    (ok,) = push(session, shop, receipt(1, shop))
    assert ok.status is EventStatus.accepted
    assert {i.status for i in movements.outlet_stock(session, shop.outlet_code)} == {"in_stock"}
    (again,) = push(session, shop, receipt(2, shop))
    assert again.reason is RejectReason.already_received


def test_batches_selling_in_opposite_orders_all_complete(engine: Engine) -> None:
    """Two terminals push the same items in opposite orders, which can deadlock on
    PostgreSQL; every event still gets an answer and every item is sold once."""
    with Session(engine, expire_on_commit=False) as session:
        pool(session)
        shop = channel(session)
        other = second_terminal(session, shop)
        items = stocked_numbers(session, shop.outlet_code, 20)
    plans = [(shop, items), (other, items[::-1])]
    barrier = threading.Barrier(2)
    answers: list[EventStatus | RejectReason | None] = []
    lock = threading.Lock()

    def sell(terminal: Channel, order: list[str]) -> None:
        events = [
            sale_event(terminal.terminal_no, i + 1, [("number", m, STD_PRICE)])
            for i, m in enumerate(order)
        ]
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            got = push(own, terminal, *events)
        with lock:
            answers.extend(r.reason or r.status for r in got)

    threads = [threading.Thread(target=sell, args=plan) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(EventStatus.accepted) == len(items)
    assert answers.count(RejectReason.item_already_sold) == len(items)
