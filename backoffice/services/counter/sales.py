"""Sales pushed by terminals, one at a time: each item moves by one conditional update,
so no item is ever sold twice."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backoffice.core.config import Settings
from backoffice.domain.channel import (
    OutboxStatus,
    number_product,
    voucher_product,
)
from backoffice.models.types import UTCDateTime, utcnow
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.counter.outcomes import (
    Pending,
    Rejection,
    _number_refusal,
    _receipt_reused,
    _voucher_refusal,
)
from backoffice.services.counter.pricing import PriceBook, _check_sale, price_book
from backoffice.services.counter.real_name import NO_CUSTOMER, StoredCustomer
from backoffice.services.counter.tables import NUMBERS, RESERVATIONS, SALES, SIMS, VOUCHERS
from backoffice.services.statistics import summaries
from shared.ids import new_id
from shared.lifecycle import NumberStatus, SimStatus, VoucherStatus
from shared.sync import RejectReason, SalePayload

# Built once: the sale path runs these for every event, and most of a statement's cost in
# Python is building and keying it, not sending it.
_SELL_FROM_SHELF = (
    update(NUMBERS)
    .where(NUMBERS.c.msisdn == bindparam("item"))
    .where(NUMBERS.c.outlet_id == bindparam("outlet"))
    .where(NUMBERS.c.status == NumberStatus.in_stock.value)
    .values(
        status=NumberStatus.sold.value,
        held_from=None,
        version=NUMBERS.c.version + 1,
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
    .returning(NUMBERS.c.grade_code)
)


_ACTIVATE_VOUCHER = (
    update(VOUCHERS)
    .where(VOUCHERS.c.serial == bindparam("item"))
    .where(VOUCHERS.c.outlet_id == bindparam("outlet"))
    .where(VOUCHERS.c.status == VoucherStatus.in_stock.value)
    .values(
        status=VoucherStatus.active.value,
        version=VOUCHERS.c.version + 1,
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
    .returning(VOUCHERS.c.face_value_fen)
)


_INSERT_SALE = insert(SALES)


def _sell_number(session: Session, msisdn: str, context: TerminalContext) -> str:
    """in_stock at this outlet, or reserved by this very terminal → sold; returns the grade.
    The usual case, a number on the shelf, is one statement."""
    grade = (
        session.connection()
        .execute(_SELL_FROM_SHELF, {"item": msisdn, "outlet": context.outlet.id, "at": utcnow()})
        .scalar()
    )
    if grade is not None:
        return grade
    sold = {
        "status": NumberStatus.sold.value,
        "held_from": None,
        "version": NUMBERS.c.version + 1,
        "updated_at": utcnow(),
    }
    mine = (
        select(RESERVATIONS.c.msisdn)
        .where(RESERVATIONS.c.msisdn == msisdn)
        .where(RESERVATIONS.c.terminal_id == context.terminal.id)
        .where(RESERVATIONS.c.status == "active")
    )
    reserved_here = (
        update(NUMBERS)
        .where(NUMBERS.c.msisdn == msisdn)
        .where(NUMBERS.c.outlet_id == context.outlet.id)
        .where(NUMBERS.c.status == NumberStatus.reserved.value)
        .where(NUMBERS.c.msisdn.in_(mine))
        .values(**sold)
        .returning(NUMBERS.c.grade_code)
    )
    grade = session.connection().execute(reserved_here).scalar()
    if grade is None:
        raise _number_refusal(session, msisdn, context)
    session.connection().execute(
        update(RESERVATIONS)
        .where(RESERVATIONS.c.msisdn == msisdn)
        .where(RESERVATIONS.c.status == "active")
        .values(status="used")
    )
    return grade


def move_paired_sim(session: Session, msisdn: str, source: SimStatus, target: SimStatus) -> None:
    """The number's SIM card, if it has one, moves with it."""
    session.connection().execute(
        update(SIMS)
        .where(SIMS.c.msisdn == msisdn)
        .where(SIMS.c.status == source.value)
        .values(status=target.value, version=SIMS.c.version + 1, updated_at=utcnow())
    )


def _sell_voucher(session: Session, serial: str, context: TerminalContext) -> int:
    """in_stock at this outlet → active (point-of-sale activation); returns the face value."""
    face = (
        session.connection()
        .execute(_ACTIVATE_VOUCHER, {"item": serial, "outlet": context.outlet.id, "at": utcnow()})
        .scalar()
    )
    if face is None:
        raise _voucher_refusal(session, serial, context)
    return int(face)


@dataclass
class _SaleRows:
    sale: dict[str, object]
    lines: list[dict[str, object]]
    audit: list[dict[str, object]]
    activations: list[dict[str, object]]
    # Overrides approved offline: the sale is accepted and queued for review with this note.
    review: str | None = None


def _sale_rows(
    session: Session,
    context: TerminalContext,
    event_id: str,
    occurred_at: datetime,
    sale: SalePayload,
    customer: StoredCustomer | None,
    book: PriceBook,
    sell: Callable[[str, str], str],
) -> _SaleRows:
    """The rows an accepted sale writes, or Rejection. `sell(kind, item)` takes the item
    (or only checks that it may be taken) and returns its product; `customer` is the sale's
    real-name data as stored (real_name.protect_sale)."""
    now = utcnow()
    line_rows = []
    audit_rows = []
    outbox_rows = []
    reviews = []
    for index, line in enumerate(sale.lines):
        product = sell(line.item_kind, line.item)
        if line.item_kind == "number":
            before, after = NumberStatus.in_stock.value, NumberStatus.sold.value
        else:
            before, after = VoucherStatus.in_stock.value, VoucherStatus.active.value
        if product != line.product:
            raise Rejection(
                RejectReason.price_mismatch,
                f"lines[{index}]: {line.item} is {product}, not {line.product}",
            )
        price = book.price(line.price_list_version, product, occurred_at)
        if line.price_fen != price.retail_fen:
            if line.override is None:
                book.refuse_price(index, line, price.retail_fen)
            review = book.check_override(context, sale, index, line, price.retail_fen, occurred_at)
            if review is not None:
                reviews.append(review)
        line_rows.append(
            {
                "sale_id": sale.sale_id,
                "item_kind": line.item_kind,
                "item_key": line.item,
                "product": product,
                "price_fen": line.price_fen,
                "list_price_fen": price.retail_fen,
                "dealer_fen": price.dealer_fen,
                "override_approved_by": line.override.approved_by if line.override else None,
                "override_reason": line.override.reason if line.override else None,
            }
        )
        reason = f"sale {sale.receipt_no}"
        if line.override is not None:
            reason += (
                f"; price {line.price_fen} instead of {price.retail_fen} fen approved "
                f"{'online' if line.override.approval else 'offline'} by "
                f"{line.override.approved_by}: {line.override.reason}"
            )
        audit_rows.append(
            {
                "id": new_id(),
                "at": now,
                "actor": f"{context.actor}/{sale.clerk}",
                "entity_type": line.item_kind,
                "entity_id": line.item,
                "action": "sell",
                "from_status": before,
                "to_status": after,
                "item_count": 1,
                "document_id": None,
                "reason": reason,
            }
        )
        if line.item_kind == "number":
            outbox_rows.append(
                {
                    "id": new_id(),
                    "msisdn": line.item,
                    "sale_id": sale.sale_id,
                    "payload": json.dumps(
                        {
                            "msisdn": line.item,
                            "sale_id": sale.sale_id,
                            "receipt_no": sale.receipt_no,
                            "outlet": context.outlet.code,
                            "dealer": context.dealer.code,
                            "sold_at": occurred_at.isoformat(),
                            # The worker decrypts the name as it delivers (activations.py).
                            "customer_name_cipher": customer.name_cipher if customer else None,
                            "customer_id_masked": customer.id_masked if customer else None,
                        },
                        ensure_ascii=False,
                    ),
                    "status": OutboxStatus.pending.value,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
            )
    sale_row: dict[str, object] = {
        "id": sale.sale_id,
        "event_id": event_id,
        "receipt_no": sale.receipt_no,
        "terminal_id": context.terminal.id,
        "outlet_id": context.outlet.id,
        "dealer_id": context.dealer.id,
        "clerk": sale.clerk,
        "shift_id": sale.shift_id,
        "sold_at": occurred_at,
        "total_fen": sum(line.price_fen for line in sale.lines),
        "payments": json.dumps([p.model_dump() for p in sale.payments]),
        **(customer.sale_columns() if customer is not None else NO_CUSTOMER),
    }
    return _SaleRows(
        sale_row, line_rows, audit_rows, outbox_rows, "; ".join(reviews) if reviews else None
    )


def _leave(rows: _SaleRows, pending: Pending) -> None:
    pending.sold_numbers += [
        line["item_key"]  # type: ignore[misc]
        for line in rows.lines
        if line["item_kind"] == "number"
    ]
    pending.sale_lines += rows.lines
    pending.counted += summaries.sale_entries(rows.sale, rows.lines)
    pending.audit += rows.audit
    pending.activations += rows.activations
    if rows.review is not None:
        pending.reviews.append(
            {"t": rows.sale["terminal_id"], "i": rows.sale["event_id"], "m": rows.review}
        )


def apply_sale(
    session: Session,
    context: TerminalContext,
    event_id: str,
    occurred_at: datetime,
    sale: SalePayload,
    settings: Settings,
    customer: StoredCustomer | None,
    prices: PriceBook | None,
    pending: Pending,
) -> None:
    """Applies a sale inside the caller's transaction or raises Rejection; the rows that
    cannot fail are left in `pending` for the caller to write in bulk."""
    book = prices or price_book(session, context.dealer, settings)
    _check_sale(context, sale, book)

    def sell(kind: str, item: str) -> str:
        if kind == "number":
            return number_product(_sell_number(session, item, context))
        return voucher_product(_sell_voucher(session, item, context))

    rows = _sale_rows(session, context, event_id, occurred_at, sale, customer, book, sell)
    try:
        session.connection().execute(_INSERT_SALE, rows.sale)
    except IntegrityError as exc:
        raise _receipt_reused(sale) from exc
    _leave(rows, pending)
