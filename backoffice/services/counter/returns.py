"""Customer returns pushed by terminals: within the window, items back on the shelf."""

from datetime import datetime, timedelta

from sqlalchemy import Column, update
from sqlmodel import Session
from sqlmodel import select as sql_select

from backoffice.core.config import Settings
from backoffice.domain.channel import OutboxStatus, within_return_window
from backoffice.models import (
    AuditEntry,
    Sale,
    SaleLine,
)
from backoffice.models.types import utcnow
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.counter.outcomes import Pending, Rejection
from backoffice.services.counter.sales import move_paired_sim
from backoffice.services.counter.tables import NUMBERS, OUTBOX, VOUCHERS
from backoffice.services.statistics import summaries
from shared.ids import new_id
from shared.lifecycle import NumberStatus, SimStatus, VoucherStatus
from shared.sync import RejectReason, ReturnPayload


def _back_on_shelf(
    session: Session,
    key: Column,  # type: ignore[type-arg]
    item: str,
    before: str,
    after: str,
    sale: Sale,
    now: datetime,
) -> bool:
    """A returned item goes back to the selling outlet's stock, by one conditional UPDATE
    that only an item still in the state the sale left it in passes."""
    table = key.table
    moved = session.connection().execute(
        update(table)
        .where(key == item)
        .where(table.c.status == before)
        .values(status=after, outlet_id=sale.outlet_id, version=table.c.version + 1, updated_at=now)
    )
    return bool(moved.rowcount)


def apply_return(
    session: Session,
    context: TerminalContext,
    occurred_at: datetime,
    request: ReturnPayload,
    settings: Settings,
    pending: Pending,
) -> None:
    """A customer return: within the window, for items not yet activated or redeemed;
    each goes back to the outlet's stock. It counts on the day it happened at the counter,
    which is also the time it is recorded with; its counts for the sales summaries are left
    in `pending` for the caller to write."""
    sale = session.exec(
        sql_select(Sale).where(Sale.receipt_no == request.original_receipt_no)
    ).first()
    if sale is None or sale.dealer_id != context.dealer.id:
        raise Rejection(
            RejectReason.sale_not_found, f"no sale with receipt {request.original_receipt_no}"
        )
    window = timedelta(days=settings.return_window_days)
    if not within_return_window(sale.sold_at, occurred_at, window):
        raise Rejection(
            RejectReason.return_window_passed,
            f"sale {sale.receipt_no} of {sale.sold_at.isoformat()} is past the "
            f"{settings.return_window_days}-day return window",
        )
    lines = {
        line.item_key: line
        for line in session.exec(sql_select(SaleLine).where(SaleLine.sale_id == sale.id))
    }
    refund = 0
    now = utcnow()
    counted = []
    for item in request.items:
        line = lines.get(item)
        if line is None:
            raise Rejection(RejectReason.item_not_in_sale, f"{item} is not on {sale.receipt_no}")
        if line.returned_at is not None:
            raise Rejection(RejectReason.already_returned, f"{item} was already returned")
        if line.item_kind == "number":
            before, after = NumberStatus.sold.value, NumberStatus.in_stock.value
            if not _back_on_shelf(session, NUMBERS.c.msisdn, item, before, after, sale, now):
                raise Rejection(RejectReason.item_already_active, f"number {item} is active")
            move_paired_sim(session, item, SimStatus.sold, SimStatus.in_stock)
            # The number never went live: its activation must not be sent.
            session.connection().execute(
                update(OUTBOX)
                .where(OUTBOX.c.msisdn == item)
                .where(OUTBOX.c.status.in_([OutboxStatus.pending.value, OutboxStatus.failed.value]))
                .values(status=OutboxStatus.cancelled.value)
            )
        else:
            before, after = VoucherStatus.active.value, VoucherStatus.in_stock.value
            if not _back_on_shelf(session, VOUCHERS.c.serial, item, before, after, sale, now):
                raise Rejection(
                    RejectReason.voucher_already_redeemed, f"card {item} is no longer active"
                )
        line.returned_at = occurred_at
        session.add(line)
        counted.append(summaries.return_entry(sale, line, occurred_at))
        refund += line.price_fen
        session.add(
            AuditEntry(
                id=new_id(),
                actor=f"{context.actor}/{request.clerk}",
                entity_type=line.item_kind,
                entity_id=item,
                action="return_sale",
                from_status=before,
                to_status=after,
                reason=f"return of {sale.receipt_no}",
            )
        )
    if refund != request.refund_fen:
        raise Rejection(
            RejectReason.payment_mismatch,
            f"refund {request.refund_fen} fen; the returned lines were sold for {refund} fen",
        )
    session.flush()
    pending.counted += counted
