"""A run of sale events applied together: one conditional update per item kind for the
whole run, redone event by event when a concurrent push moved the same items."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update
from sqlmodel import Session

from backoffice.domain.channel import number_product, voucher_product
from backoffice.models.types import UTCDateTime, utcnow
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.counter.outcomes import (
    BatchConflict,
    Pending,
    Rejection,
    _number_refused,
    _receipt_reused,
    _voucher_refused,
    insert_many,
)
from backoffice.services.counter.pricing import PriceBook, _check_sale
from backoffice.services.counter.real_name import StoredCustomer
from backoffice.services.counter.sales import _leave, _sale_rows
from backoffice.services.counter.tables import NUMBERS, RESERVATIONS, SALES, VOUCHERS
from shared.lifecycle import NumberStatus, VoucherStatus
from shared.sync import RejectReason, SalePayload


@dataclass(frozen=True)
class SaleToApply:
    event_id: str
    occurred_at: datetime
    payload: SalePayload
    customer: StoredCustomer | None  # the payload's, as stored (real_name.protect_sale)


# Expanding IN lists: one cached statement whatever the batch's size.
_NUMBER_STATES = select(
    NUMBERS.c.msisdn, NUMBERS.c.status, NUMBERS.c.outlet_id, NUMBERS.c.grade_code
).where(NUMBERS.c.msisdn.in_(bindparam("items", expanding=True)))


_VOUCHER_STATES = select(
    VOUCHERS.c.serial, VOUCHERS.c.status, VOUCHERS.c.outlet_id, VOUCHERS.c.face_value_fen
).where(VOUCHERS.c.serial.in_(bindparam("items", expanding=True)))


_SELL_ALL_FROM_SHELF = (
    update(NUMBERS)
    .where(NUMBERS.c.msisdn.in_(bindparam("items", expanding=True)))
    .where(NUMBERS.c.outlet_id == bindparam("outlet"))
    .where(NUMBERS.c.status == NumberStatus.in_stock.value)
    .values(
        status=NumberStatus.sold.value,
        held_from=None,
        version=NUMBERS.c.version + 1,
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
)


_ACTIVATE_ALL_VOUCHERS = (
    update(VOUCHERS)
    .where(VOUCHERS.c.serial.in_(bindparam("items", expanding=True)))
    .where(VOUCHERS.c.outlet_id == bindparam("outlet"))
    .where(VOUCHERS.c.status == VoucherStatus.in_stock.value)
    .values(
        status=VoucherStatus.active.value,
        version=VOUCHERS.c.version + 1,
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
)


_CHUNK = 1_000


def _chunks(keys: list[str]) -> list[list[str]]:
    return [keys[i : i + _CHUNK] for i in range(0, len(keys), _CHUNK)]


def apply_sales(
    session: Session,
    context: TerminalContext,
    batch: list[SaleToApply],
    book: PriceBook,
    pending: Pending,
) -> list[Rejection | None]:
    """Decides a run of sales from their items' current states and writes the accepted ones
    with a handful of set-based statements: per sale, None (accepted) or its Rejection, the
    same as apply_sale one by one would give.

    The caller must hold the items' row locks (and SQLite's write lock), so that the states
    read here stay true until the commit. Each set-based write checks that it moved exactly
    the rows decided; anything else raises BatchConflict before the caller commits."""
    wanted: dict[str, set[str]] = {"number": set(), "voucher": set()}
    for entry in batch:
        for line in entry.payload.lines:
            wanted[line.item_kind].add(line.item)
    connection = session.connection()
    numbers: dict[str, tuple[str, str | None, str]] = {}
    for keys in _chunks(sorted(wanted["number"])):
        for msisdn, status, outlet_id, grade in connection.execute(_NUMBER_STATES, {"items": keys}):
            numbers[msisdn] = (status, outlet_id, grade)
    vouchers: dict[str, tuple[str, str | None, int]] = {}
    for keys in _chunks(sorted(wanted["voucher"])):
        for serial, status, outlet_id, face in connection.execute(_VOUCHER_STATES, {"items": keys}):
            vouchers[serial] = (status, outlet_id, int(face))
    outlet = context.outlet.id
    held = [
        m
        for m, (status, owner, _) in numbers.items()
        if status == NumberStatus.reserved.value and owner == outlet
    ]
    mine: set[str] = set()
    if held:
        mine = set(
            connection.execute(
                select(RESERVATIONS.c.msisdn)
                .where(RESERVATIONS.c.msisdn.in_(held))
                .where(RESERVATIONS.c.terminal_id == context.terminal.id)
                .where(RESERVATIONS.c.status == "active")
            ).scalars()
        )
    used_receipts: set[str] = set()
    used_sale_ids: set[str] = set()
    receipts = [e.payload.receipt_no for e in batch]
    sale_ids = [e.payload.sale_id for e in batch]
    for receipt_chunk, id_chunk in zip(_chunks(receipts), _chunks(sale_ids), strict=True):
        for receipt_no, sale_id in connection.execute(
            select(SALES.c.receipt_no, SALES.c.id).where(
                or_(SALES.c.receipt_no.in_(receipt_chunk), SALES.c.id.in_(id_chunk))
            )
        ):
            used_receipts.add(receipt_no)
            used_sale_ids.add(sale_id)

    taken: set[str] = set()  # sold by an accepted sale of this run
    outcomes: list[Rejection | None] = []
    sale_rows: list[dict[str, object]] = []
    from_shelf: list[str] = []
    reserved: list[str] = []
    cards: list[str] = []
    for entry in batch:
        sale = entry.payload
        claimed: list[str] = []

        def sell(kind: str, item: str, claimed: list[str] = claimed) -> str:
            # Sold by an earlier sale of the run, or on an earlier line of this one: the
            # one-by-one path would find it sold, and so refuses it here.
            gone = item in taken or item in claimed
            if kind == "number":
                number = numbers.get(item)
                if number is None:
                    raise _number_refused(item, None, context)
                status, owner, grade = number
                if gone:
                    raise _number_refused(item, (NumberStatus.sold.value, owner), context)
                sellable = status == NumberStatus.in_stock.value or (
                    status == NumberStatus.reserved.value and item in mine
                )
                if not sellable or owner != outlet:
                    raise _number_refused(item, (status, owner), context)
                claimed.append(item)
                return number_product(grade)
            card = vouchers.get(item)
            if card is None:
                raise _voucher_refused(item, None, context)
            status, owner, face = card
            if gone:
                raise _voucher_refused(item, VoucherStatus.active.value, context)
            if status != VoucherStatus.in_stock.value or owner != outlet:
                raise _voucher_refused(item, status, context)
            claimed.append(item)
            return voucher_product(face)

        try:
            if not context.dealer_active:
                raise Rejection(
                    RejectReason.dealer_suspended,
                    f"dealer {context.dealer.code} is {context.dealer.status}",
                )
            _check_sale(context, sale, book)
            rows = _sale_rows(
                session,
                context,
                entry.event_id,
                entry.occurred_at,
                sale,
                entry.customer,
                book,
                sell,
            )
            if sale.receipt_no in used_receipts or sale.sale_id in used_sale_ids:
                raise _receipt_reused(sale)
        except Rejection as rejection:
            outcomes.append(rejection)
            continue
        outcomes.append(None)
        taken.update(claimed)
        used_receipts.add(sale.receipt_no)
        used_sale_ids.add(sale.sale_id)
        for item in claimed:
            if item in vouchers:
                cards.append(item)
            elif numbers[item][0] == NumberStatus.reserved.value:
                reserved.append(item)
            else:
                from_shelf.append(item)
        sale_rows.append(rows.sale)
        _leave(rows, pending)
    _write_sales(session, context, from_shelf, reserved, cards, sale_rows)
    return outcomes


def _write_sales(
    session: Session,
    context: TerminalContext,
    from_shelf: list[str],
    reserved: list[str],
    cards: list[str],
    sale_rows: list[dict[str, object]],
) -> None:
    connection = session.connection()
    now = utcnow()
    outlet = context.outlet.id
    moved = 0
    for keys in _chunks(from_shelf):
        moved += connection.execute(
            _SELL_ALL_FROM_SHELF, {"items": keys, "outlet": outlet, "at": now}
        ).rowcount
    for keys in _chunks(cards):
        moved += connection.execute(
            _ACTIVATE_ALL_VOUCHERS, {"items": keys, "outlet": outlet, "at": now}
        ).rowcount
    for keys in _chunks(reserved):
        mine = (
            select(RESERVATIONS.c.msisdn)
            .where(RESERVATIONS.c.msisdn.in_(keys))
            .where(RESERVATIONS.c.terminal_id == context.terminal.id)
            .where(RESERVATIONS.c.status == "active")
        )
        moved += connection.execute(
            update(NUMBERS)
            .where(NUMBERS.c.msisdn.in_(keys))
            .where(NUMBERS.c.outlet_id == outlet)
            .where(NUMBERS.c.status == NumberStatus.reserved.value)
            .where(NUMBERS.c.msisdn.in_(mine))
            .values(
                status=NumberStatus.sold.value,
                held_from=None,
                version=NUMBERS.c.version + 1,
                updated_at=now,
            )
        ).rowcount
        connection.execute(
            update(RESERVATIONS)
            .where(RESERVATIONS.c.msisdn.in_(keys))
            .where(RESERVATIONS.c.status == "active")
            .values(status="used")
        )
    if moved != len(from_shelf) + len(reserved) + len(cards):
        raise BatchConflict(
            f"{moved} items moved of {len(from_shelf) + len(reserved) + len(cards)}"
        )
    insert_many(session, SALES, sale_rows)
