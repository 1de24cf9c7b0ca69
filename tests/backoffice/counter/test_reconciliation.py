"""The sales centre's decisions on queued events: a manual sale booked once through the sale
path, a refund and a write-off booking nothing, a second or concurrent decision refused, and
the decisions reaching the terminal's pull."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from backoffice.contracts.counter import ReconciliationResolve
from backoffice.core.config import Settings
from backoffice.models import (
    ActivationOutbox,
    AuditEntry,
    MobileNumber,
    Sale,
    SaleLine,
    SimCard,
    Voucher,
)
from backoffice.models.settlement import SettlementPending
from backoffice.models.statistics import SalesStatOutlet
from backoffice.services.counter import changes, reconciliation
from backoffice.services.errors import Conflict, InvalidInput
from shared.codes import format_receipt_number, mask_resident_id
from shared.ids import new_id
from shared.sync import (
    EventStatus,
    RejectReason,
    ResolutionKind,
    ReturnEvent,
    ReturnPayload,
)
from tests.backoffice.channel.helpers import (
    KEYS,
    channel,
    context,
    item_status,
    pool,
    push,
    resident_id,
    sale_event,
    second_terminal,
    stocked_numbers,
)

SETTINGS = Settings(database_url="sqlite://")


def _resolve(session: Session, event_id: str, kind: ResolutionKind, note: str = "") -> object:
    return reconciliation.resolve(
        session,
        event_id,
        ReconciliationResolve(kind=kind, note=note),
        "sales1",
        settings=SETTINGS,
        keys=KEYS,
    )


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_manual_sale_is_booked_once_through_the_sale_path(session: Session) -> None:
    pool(session)
    shop = channel(session)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    event = sale_event(shop.terminal_no, 1, [("number", msisdn, 4_000)], clerk="left-last-week")
    (rejected,) = push(session, shop, event)
    assert rejected.reason is RejectReason.unknown_clerk
    assert item_status(session, MobileNumber, msisdn) == "in_stock"

    item = _resolve(session, event.id, ResolutionKind.manual_sale, "clerk left, sale stands")
    assert (item.resolution, item.resolution_kind, item.resolved_by) == (  # type: ignore[attr-defined]
        "resolved",
        ResolutionKind.manual_sale,
        "sales1",
    )
    sale = session.exec(select(Sale)).one()
    assert (sale.event_id, sale.receipt_no, sale.clerk, sale.total_fen) == (
        event.id,
        event.payload.receipt_no,
        "left-last-week",
        4_000,
    )
    # The buyer as a pushed sale keeps it: masked, encrypted, keyed-hashed.
    assert (sale.customer_name_masked, sale.customer_id_masked) == (
        "张*",
        mask_resident_id(resident_id()),
    )
    assert (
        sale.customer_id_cipher
        and KEYS.ids.decrypt(sale.id, sale.customer_id_cipher) == resident_id()
    )
    assert sale.customer_id_hash == KEYS.id_hash.digest(resident_id())
    line = session.exec(select(SaleLine)).one()
    assert (line.price_fen, line.list_price_fen) == (4_000, 5_000)
    assert item_status(session, MobileNumber, msisdn) == "sold"
    assert session.exec(select(SimCard.status).where(SimCard.msisdn == msisdn)).all() in (
        [],
        ["sold"],
    )
    # Settlement books the dealer's share of it; statistics count it; activation is queued.
    assert session.exec(select(SettlementPending.kind)).all() == ["sale"]
    assert sum(r.sold_count for r in session.exec(select(SalesStatOutlet))) == 1
    assert session.exec(select(ActivationOutbox.msisdn)).all() == [msisdn]
    actions = session.exec(
        select(AuditEntry.action, AuditEntry.actor).where(
            AuditEntry.entity_id.in_([msisdn, event.id])
        )  # type: ignore[attr-defined]
    ).all()
    assert ("sell", "sales1/left-last-week") in actions and ("resolve", "sales1") in actions

    # Once: a second decision is refused, a resend of the event books nothing more.
    with pytest.raises(Conflict) as again:
        _resolve(session, event.id, ResolutionKind.manual_sale)
    assert again.value.code == "resolved"
    (resent,) = push(session, shop, event)
    assert (resent.status, resent.original) == (EventStatus.duplicate, EventStatus.rejected)
    assert _count(session, Sale) == 1
    assert reconciliation.reconciliation_queue(session) == []


def test_a_manual_sale_of_a_number_sold_elsewhere_is_refused_and_nothing_changes(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    other = second_terminal(session, shop)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    push(session, shop, sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)]))
    late = sale_event(other.terminal_no, 1, [("number", msisdn, 5_000)])
    (rejected,) = push(session, other, late)
    assert rejected.reason is RejectReason.item_already_sold
    with pytest.raises(Conflict) as refused:
        _resolve(session, late.id, ResolutionKind.manual_sale)
    assert refused.value.code == "cannot_book"
    assert "already sold" in str(refused.value)
    (still,) = reconciliation.reconciliation_queue(session)
    assert (still.event_id, still.resolution) == (late.id, "open")
    assert _count(session, Sale) == 1

    # Refunded at the counter instead: nothing is booked, the number stays the first buyer's.
    item = _resolve(session, late.id, ResolutionKind.refund)
    assert item.resolution_kind is ResolutionKind.refund  # type: ignore[attr-defined]
    assert _count(session, Sale) == 1
    assert _count(session, SettlementPending) == 1


def test_a_write_off_needs_a_note_and_books_nothing(session: Session) -> None:
    pool(session, cards=1)
    shop = channel(session)
    card = stocked_numbers(session, shop.outlet_code, 1, cards=1)[-1]
    event = sale_event(shop.terminal_no, 1, [("voucher", card, 4_000)])
    (rejected,) = push(session, shop, event)
    assert rejected.reason is RejectReason.price_mismatch
    with pytest.raises(ValidationError):
        ReconciliationResolve(kind=ResolutionKind.write_off, note="  ")
    item = _resolve(session, event.id, ResolutionKind.write_off, "customer gone, card lost")
    assert (item.resolution_kind, item.resolution_note) == (  # type: ignore[attr-defined]
        ResolutionKind.write_off,
        "customer gone, card lost",
    )
    assert _count(session, Sale) == 0
    assert item_status(session, Voucher, card) == "in_stock"


def test_only_a_rejected_sale_is_booked_or_refunded(session: Session) -> None:
    pool(session)
    shop = channel(session)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    bad_return = ReturnEvent(
        id=new_id(),
        seq=1,
        occurred_at=datetime.now(UTC),
        payload=ReturnPayload(
            return_id=new_id(),
            original_receipt_no=format_receipt_number(shop.terminal_no, 99),
            clerk="clerk-t1",
            items=[msisdn],
            refund_fen=5_000,
        ),
    )
    (rejected,) = push(session, shop, bad_return)
    assert rejected.status is EventStatus.rejected
    with pytest.raises(InvalidInput):
        _resolve(session, bad_return.id, ResolutionKind.manual_sale)
    assert (
        _resolve(session, bad_return.id, ResolutionKind.note, "receipt mistyped").resolution
        == "resolved"
    )  # type: ignore[attr-defined]


def test_concurrent_decisions_on_one_event_only_one_is_kept(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        pool(session)
        shop = channel(session)
        msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
        event = sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)], clerk="stranger")
        (rejected,) = push(session, shop, event)
        assert rejected.reason is RejectReason.unknown_clerk
    deciders = 4
    barrier = threading.Barrier(deciders)
    outcomes: list[str] = []
    lock = threading.Lock()

    def decide() -> None:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            try:
                _resolve(own, event.id, ResolutionKind.manual_sale)
                got = "booked"
            except Conflict as error:
                got = error.code
        with lock:
            outcomes.append(got)

    threads = [threading.Thread(target=decide) for _ in range(deciders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["booked"] + ["resolved"] * (deciders - 1)
    with Session(engine) as session:
        assert _count(session, Sale) == 1
        assert _count(session, SaleLine) == 1


def test_the_terminal_pull_brings_the_decisions_on_its_rejected_events(session: Session) -> None:
    pool(session)
    shop = channel(session)
    other = second_terminal(session, shop)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    one = sale_event(shop.terminal_no, 1, [("number", first, 5_000)], clerk="nobody")
    two = sale_event(shop.terminal_no, 2, [("number", second, 5_000)], clerk="nobody")
    theirs = sale_event(other.terminal_no, 1, [("number", second, 5_000)], clerk="nobody")
    push(session, shop, one, two)
    push(session, other, theirs)
    terminal = context(session, shop)
    assert changes.pull(session, terminal, None, SETTINGS).resolutions == []
    cursor = changes.pull(session, terminal, None, SETTINGS).cursor
    _resolve(session, one.id, ResolutionKind.manual_sale)
    _resolve(session, theirs.id, ResolutionKind.refund)
    (decided,) = changes.pull(session, terminal, cursor, SETTINGS).resolutions
    assert (decided.id, decided.seq, decided.kind) == (one.id, 1, ResolutionKind.manual_sale)
    _resolve(session, two.id, ResolutionKind.write_off, "lost")
    later = changes.pull(session, terminal, cursor, SETTINGS).resolutions
    assert [(d.id, d.kind, d.note) for d in later] == [
        (one.id, ResolutionKind.manual_sale, ""),
        (two.id, ResolutionKind.write_off, "lost"),
    ]
    assert len(changes.pull(session, terminal, None, SETTINGS).resolutions) == 2
    assert later[0].resolved_at <= later[1].resolved_at + timedelta(seconds=1)
