"""Sales and customer returns pushed by terminals: each item moves by one conditional
UPDATE, so no item is ever sold twice whatever the concurrency."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Column, Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts_channel import SalePublic
from backoffice.core.config import Settings
from backoffice.core.crypto import PinCipher
from backoffice.domain.channel import OutboxStatus, within_return_window
from backoffice.domain.pricing import Price, number_product, voucher_product
from backoffice.domain.roles import Role
from backoffice.models import (
    ActivationOutbox,
    AuditEntry,
    MobileNumber,
    NumberReservation,
    PriceList,
    Sale,
    SaleLine,
    SimCard,
    User,
    Voucher,
)
from backoffice.models.types import UTCDateTime, utcnow
from backoffice.services import bulk, statistics
from backoffice.services.dealers import TerminalContext
from backoffice.services.errors import NotFound
from backoffice.services.prices import central_prices, dealer_overrides
from shared.codes import mask_resident_id
from shared.ids import new_id
from shared.lifecycle import NumberStatus, SimStatus, VoucherStatus
from shared.sync import RejectReason, ReturnPayload, SalePayload

_NUMBERS = MobileNumber.__table__  # type: ignore[attr-defined]
_VOUCHERS = Voucher.__table__  # type: ignore[attr-defined]
_RESERVATIONS = NumberReservation.__table__  # type: ignore[attr-defined]
_SIMS = SimCard.__table__  # type: ignore[attr-defined]
_SALES = Sale.__table__  # type: ignore[attr-defined]
_OUTBOX = ActivationOutbox.__table__  # type: ignore[attr-defined]
_SOLD_NUMBER = {NumberStatus.sold.value, NumberStatus.active.value, NumberStatus.cooling.value}
_SOLD_VOUCHER = {
    VoucherStatus.active.value,
    VoucherStatus.redeemed.value,
    VoucherStatus.expired.value,
}


class Rejection(Exception):
    """An event the back office refuses; the terminal and the sales centre see reason."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class PriceBook:
    """Price list versions and the dealer's overrides, loaded once per push."""

    session: Session
    dealer_id: str
    grace: timedelta

    def __post_init__(self) -> None:
        self._versions: dict[int, dict[str, Price]] = {}
        self._overrides = dealer_overrides(self.session, self.dealer_id)
        self._lists = list(
            self.session.exec(sql_select(PriceList).order_by(col(PriceList.version)))
        )
        self._by_version = {p.version: p for p in self._lists}

    def price(self, version: int, product: str, at: datetime) -> Price:
        price_list = self._by_version.get(version)
        if price_list is None or price_list.effective_from > at:
            raise Rejection(
                RejectReason.unknown_price_list,
                f"price list version {version} was not in force at {at.isoformat()}",
            )
        newer = [
            p for p in self._lists if p.version > version and p.effective_from <= at - self.grace
        ]
        if newer:
            raise Rejection(
                RejectReason.unknown_price_list,
                f"price list version {version} was replaced by version {newer[-1].version} "
                f"on {newer[-1].effective_from.isoformat()}",
            )
        if version not in self._versions:
            self._versions[version] = central_prices(self.session, price_list)
        price = {**self._versions[version], **self._overrides}.get(product)
        if price is None:
            raise Rejection(RejectReason.unknown_product, f"{product} has no price")
        return price


class BatchConflict(Exception):
    """A set-based write met a row it did not foresee (another push with the same receipt,
    say): the caller undoes the batch's writes and applies its sales one by one instead."""


def insert_many(session: Session, table: Table, rows: list[dict[str, object]]) -> None:
    """Inserts rows of one shape in the session's transaction: COPY on PostgreSQL, which
    costs neither a statement per row nor the parsing of one huge multi-row INSERT. A
    unique key already taken raises BatchConflict."""
    if not rows:
        return
    columns = list(rows[0])
    values = (
        tuple(bulk.db_timestamp(v) if isinstance(v, datetime) else v for v in map(row.get, columns))
        for row in rows
    )
    dbapi = session.connection().dialect.loaded_dbapi
    try:
        bulk.insert_rows(session, table.name, columns, values)
    except (IntegrityError, dbapi.IntegrityError) as exc:
        # COPY goes around SQLAlchemy, so its errors come unwrapped.
        raise BatchConflict(f"{table.name}: {exc}") from exc


@dataclass
class Pending:
    """Rows of accepted sales that cannot fail a constraint, written in bulk once per push
    (the sale row itself, whose receipt number is unique, goes in with its event)."""

    sale_lines: list[dict[str, object]] = field(default_factory=list)
    audit: list[dict[str, object]] = field(default_factory=list)
    activations: list[dict[str, object]] = field(default_factory=list)
    sold_numbers: list[str] = field(default_factory=list)
    # Counted into the sales summaries by `close`, once per push: their rows are locked last
    # and in key order, so that concurrent pushes never deadlock on them.
    counted: list[statistics.Entry] = field(default_factory=list)

    def write(self, session: Session) -> None:
        connection = session.connection()
        if self.sold_numbers:
            # Their numbers are sold and locked by this transaction: the SIMs follow.
            connection.execute(
                update(_SIMS)
                .where(_SIMS.c.msisdn.in_(self.sold_numbers))
                .where(_SIMS.c.status == SimStatus.in_stock.value)
                .values(
                    status=SimStatus.sold.value,
                    version=_SIMS.c.version + 1,
                    updated_at=utcnow(),
                )
            )
        insert_many(session, SaleLine.__table__, self.sale_lines)  # type: ignore[attr-defined]
        insert_many(session, AuditEntry.__table__, self.audit)  # type: ignore[attr-defined]
        insert_many(session, ActivationOutbox.__table__, self.activations)  # type: ignore[attr-defined]
        self.sale_lines, self.audit, self.activations, self.sold_numbers = [], [], [], []

    def close(self, session: Session) -> None:
        """Writes everything left, the summaries' counts included."""
        self.write(session)
        statistics.record(session, self.counted)
        self.counted = []


def _number_refusal(session: Session, msisdn: str, context: TerminalContext) -> Rejection:
    row = (
        session.connection()
        .execute(select(_NUMBERS.c.status, _NUMBERS.c.outlet_id).where(_NUMBERS.c.msisdn == msisdn))
        .first()
    )
    return _number_refused(msisdn, None if row is None else (row[0], row[1]), context)


def _number_refused(
    msisdn: str, state: tuple[str, str | None] | None, context: TerminalContext
) -> Rejection:
    """Why a number in this state (status, outlet) cannot be sold by this terminal."""
    if state is None:
        return Rejection(RejectReason.unknown_item, f"number {msisdn} is not in the system")
    status, outlet_id = state
    if status in _SOLD_NUMBER:
        return Rejection(RejectReason.item_already_sold, f"number {msisdn} is already sold")
    if status == NumberStatus.reserved.value and outlet_id == context.outlet.id:
        return Rejection(
            RejectReason.item_reserved_elsewhere,
            f"number {msisdn} is reserved by another terminal",
        )
    return Rejection(
        RejectReason.item_not_in_outlet_stock,
        f"number {msisdn} is {status}, not in stock at outlet {context.outlet.code}",
    )


def _voucher_refusal(session: Session, serial: str, context: TerminalContext) -> Rejection:
    row = (
        session.connection()
        .execute(select(_VOUCHERS.c.status).where(_VOUCHERS.c.serial == serial))
        .first()
    )
    return _voucher_refused(serial, None if row is None else row[0], context)


def _voucher_refused(serial: str, status: str | None, context: TerminalContext) -> Rejection:
    """Why a card in this status cannot be sold by this terminal."""
    if status is None:
        return Rejection(RejectReason.unknown_item, f"card {serial} is not in the system")
    if status in _SOLD_VOUCHER:
        return Rejection(RejectReason.item_already_sold, f"card {serial} is already sold")
    return Rejection(
        RejectReason.item_not_in_outlet_stock,
        f"card {serial} is {status}, not in stock at outlet {context.outlet.code}",
    )


# Built once: the sale path runs these for every event, and most of a statement's cost in
# Python is building and keying it, not sending it.
_SELL_FROM_SHELF = (
    update(_NUMBERS)
    .where(_NUMBERS.c.msisdn == bindparam("item"))
    .where(_NUMBERS.c.outlet_id == bindparam("outlet"))
    .where(_NUMBERS.c.status == NumberStatus.in_stock.value)
    .values(
        status=NumberStatus.sold.value,
        held_from=None,
        version=_NUMBERS.c.version + 1,
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
    .returning(_NUMBERS.c.grade_code)
)
_ACTIVATE_VOUCHER = (
    update(_VOUCHERS)
    .where(_VOUCHERS.c.serial == bindparam("item"))
    .where(_VOUCHERS.c.outlet_id == bindparam("outlet"))
    .where(_VOUCHERS.c.status == VoucherStatus.in_stock.value)
    .values(
        status=VoucherStatus.active.value,
        version=_VOUCHERS.c.version + 1,
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
    .returning(_VOUCHERS.c.face_value_fen)
)
_INSERT_SALE = insert(_SALES)


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
        "version": _NUMBERS.c.version + 1,
        "updated_at": utcnow(),
    }
    mine = (
        select(_RESERVATIONS.c.msisdn)
        .where(_RESERVATIONS.c.msisdn == msisdn)
        .where(_RESERVATIONS.c.terminal_id == context.terminal.id)
        .where(_RESERVATIONS.c.status == "active")
    )
    reserved_here = (
        update(_NUMBERS)
        .where(_NUMBERS.c.msisdn == msisdn)
        .where(_NUMBERS.c.outlet_id == context.outlet.id)
        .where(_NUMBERS.c.status == NumberStatus.reserved.value)
        .where(_NUMBERS.c.msisdn.in_(mine))
        .values(**sold)
        .returning(_NUMBERS.c.grade_code)
    )
    grade = session.connection().execute(reserved_here).scalar()
    if grade is None:
        raise _number_refusal(session, msisdn, context)
    session.connection().execute(
        update(_RESERVATIONS)
        .where(_RESERVATIONS.c.msisdn == msisdn)
        .where(_RESERVATIONS.c.status == "active")
        .values(status="used")
    )
    return grade


def move_paired_sim(session: Session, msisdn: str, source: SimStatus, target: SimStatus) -> None:
    """The number's SIM card, if it has one, moves with it."""
    session.connection().execute(
        update(_SIMS)
        .where(_SIMS.c.msisdn == msisdn)
        .where(_SIMS.c.status == source.value)
        .values(status=target.value, version=_SIMS.c.version + 1, updated_at=utcnow())
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


def _approver(session: Session, username: str, dealer_id: str) -> User | None:
    return session.exec(
        sql_select(User)
        .where(User.username == username)
        .where(User.dealer_id == dealer_id)
        .where(User.role == Role.dealer_manager.value)
        .where(col(User.is_active))
    ).first()


def _check_sale(context: TerminalContext, sale: SalePayload) -> None:
    """What a sale must satisfy before any of its items is looked at."""
    total = sum(line.price_fen for line in sale.lines)
    paid = sum(p.amount_fen for p in sale.payments)
    if paid != total:
        raise Rejection(
            RejectReason.payment_mismatch, f"payments {paid} fen do not add up to {total} fen"
        )
    has_number = any(line.item_kind == "number" for line in sale.lines)
    if has_number and sale.customer is None:
        raise Rejection(RejectReason.real_name_required, "a number sale needs the buyer's ID")


@dataclass
class _SaleRows:
    sale: dict[str, object]
    lines: list[dict[str, object]]
    audit: list[dict[str, object]]
    activations: list[dict[str, object]]


def _sale_rows(
    session: Session,
    context: TerminalContext,
    event_id: str,
    occurred_at: datetime,
    sale: SalePayload,
    cipher: PinCipher,
    book: PriceBook,
    sell: Callable[[str, str], str],
) -> _SaleRows:
    """The rows an accepted sale writes, or Rejection. `sell(kind, item)` takes the item
    (or only checks that it may be taken) and returns its product."""
    now = utcnow()
    line_rows = []
    audit_rows = []
    outbox_rows = []
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
                raise Rejection(
                    RejectReason.price_mismatch,
                    f"lines[{index}]: {line.item} costs {price.retail_fen} fen, "
                    f"not {line.price_fen} fen, and no override was approved",
                )
            if _approver(session, line.override.approved_by, context.dealer.id) is None:
                raise Rejection(
                    RejectReason.override_not_approved,
                    f"lines[{index}]: {line.override.approved_by} is not a manager of dealer "
                    f"{context.dealer.code}",
                )
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
                f"; price {line.price_fen} instead of {price.retail_fen} fen approved by "
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
                            "customer_name": sale.customer.name if sale.customer else None,
                            "customer_id_masked": mask_resident_id(sale.customer.resident_id)
                            if sale.customer
                            else None,
                        },
                        ensure_ascii=False,
                    ),
                    "status": OutboxStatus.pending.value,
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": now,
                }
            )
    customer = sale.customer
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
        "customer_name": customer.name if customer else None,
        "customer_id_masked": mask_resident_id(customer.resident_id) if customer else None,
        "customer_id_cipher": cipher.encrypt(sale.sale_id, customer.resident_id)
        if customer
        else None,
    }
    return _SaleRows(sale_row, line_rows, audit_rows, outbox_rows)


def _receipt_reused(sale: SalePayload) -> Rejection:
    return Rejection(
        RejectReason.receipt_number_reused,
        f"receipt {sale.receipt_no} or sale {sale.sale_id} was already used by another sale",
    )


def _leave(rows: _SaleRows, pending: Pending) -> None:
    pending.sold_numbers += [
        line["item_key"]  # type: ignore[misc]
        for line in rows.lines
        if line["item_kind"] == "number"
    ]
    pending.sale_lines += rows.lines
    pending.counted += statistics.sale_entries(rows.sale, rows.lines)
    pending.audit += rows.audit
    pending.activations += rows.activations


def apply_sale(
    session: Session,
    context: TerminalContext,
    event_id: str,
    occurred_at: datetime,
    sale: SalePayload,
    settings: Settings,
    cipher: PinCipher,
    prices: PriceBook | None,
    pending: Pending,
) -> None:
    """Applies a sale inside the caller's transaction or raises Rejection; the rows that
    cannot fail are left in `pending` for the caller to write in bulk."""
    _check_sale(context, sale)
    book = prices or price_book(session, context.dealer.id, settings)

    def sell(kind: str, item: str) -> str:
        if kind == "number":
            return number_product(_sell_number(session, item, context))
        return voucher_product(_sell_voucher(session, item, context))

    rows = _sale_rows(session, context, event_id, occurred_at, sale, cipher, book, sell)
    try:
        session.connection().execute(_INSERT_SALE, rows.sale)
    except IntegrityError as exc:
        raise _receipt_reused(sale) from exc
    _leave(rows, pending)


@dataclass(frozen=True)
class SaleToApply:
    event_id: str
    occurred_at: datetime
    payload: SalePayload


# Expanding IN lists: one cached statement whatever the batch's size.
_NUMBER_STATES = select(
    _NUMBERS.c.msisdn, _NUMBERS.c.status, _NUMBERS.c.outlet_id, _NUMBERS.c.grade_code
).where(_NUMBERS.c.msisdn.in_(bindparam("items", expanding=True)))
_VOUCHER_STATES = select(
    _VOUCHERS.c.serial, _VOUCHERS.c.status, _VOUCHERS.c.outlet_id, _VOUCHERS.c.face_value_fen
).where(_VOUCHERS.c.serial.in_(bindparam("items", expanding=True)))
_SELL_ALL_FROM_SHELF = (
    update(_NUMBERS)
    .where(_NUMBERS.c.msisdn.in_(bindparam("items", expanding=True)))
    .where(_NUMBERS.c.outlet_id == bindparam("outlet"))
    .where(_NUMBERS.c.status == NumberStatus.in_stock.value)
    .values(
        status=NumberStatus.sold.value,
        held_from=None,
        version=_NUMBERS.c.version + 1,
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
)
_ACTIVATE_ALL_VOUCHERS = (
    update(_VOUCHERS)
    .where(_VOUCHERS.c.serial.in_(bindparam("items", expanding=True)))
    .where(_VOUCHERS.c.outlet_id == bindparam("outlet"))
    .where(_VOUCHERS.c.status == VoucherStatus.in_stock.value)
    .values(
        status=VoucherStatus.active.value,
        version=_VOUCHERS.c.version + 1,
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
    cipher: PinCipher,
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
                select(_RESERVATIONS.c.msisdn)
                .where(_RESERVATIONS.c.msisdn.in_(held))
                .where(_RESERVATIONS.c.terminal_id == context.terminal.id)
                .where(_RESERVATIONS.c.status == "active")
            ).scalars()
        )
    used_receipts: set[str] = set()
    used_sale_ids: set[str] = set()
    receipts = [e.payload.receipt_no for e in batch]
    sale_ids = [e.payload.sale_id for e in batch]
    for receipt_chunk, id_chunk in zip(_chunks(receipts), _chunks(sale_ids), strict=True):
        for receipt_no, sale_id in connection.execute(
            select(_SALES.c.receipt_no, _SALES.c.id).where(
                or_(_SALES.c.receipt_no.in_(receipt_chunk), _SALES.c.id.in_(id_chunk))
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
            _check_sale(context, sale)
            rows = _sale_rows(
                session, context, entry.event_id, entry.occurred_at, sale, cipher, book, sell
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
            select(_RESERVATIONS.c.msisdn)
            .where(_RESERVATIONS.c.msisdn.in_(keys))
            .where(_RESERVATIONS.c.terminal_id == context.terminal.id)
            .where(_RESERVATIONS.c.status == "active")
        )
        moved += connection.execute(
            update(_NUMBERS)
            .where(_NUMBERS.c.msisdn.in_(keys))
            .where(_NUMBERS.c.outlet_id == outlet)
            .where(_NUMBERS.c.status == NumberStatus.reserved.value)
            .where(_NUMBERS.c.msisdn.in_(mine))
            .values(
                status=NumberStatus.sold.value,
                held_from=None,
                version=_NUMBERS.c.version + 1,
                updated_at=now,
            )
        ).rowcount
        connection.execute(
            update(_RESERVATIONS)
            .where(_RESERVATIONS.c.msisdn.in_(keys))
            .where(_RESERVATIONS.c.status == "active")
            .values(status="used")
        )
    if moved != len(from_shelf) + len(reserved) + len(cards):
        raise BatchConflict(
            f"{moved} items moved of {len(from_shelf) + len(reserved) + len(cards)}"
        )
    insert_many(session, _SALES, sale_rows)


def price_book(session: Session, dealer_id: str, settings: Settings) -> PriceBook:
    return PriceBook(session, dealer_id, timedelta(hours=settings.price_list_grace_hours))


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
            if not _back_on_shelf(session, _NUMBERS.c.msisdn, item, before, after, sale, now):
                raise Rejection(RejectReason.item_already_active, f"number {item} is active")
            move_paired_sim(session, item, SimStatus.sold, SimStatus.in_stock)
            # The number never went live: its activation must not be sent.
            session.connection().execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.msisdn == item)
                .where(
                    _OUTBOX.c.status.in_([OutboxStatus.pending.value, OutboxStatus.failed.value])
                )
                .values(status=OutboxStatus.cancelled.value)
            )
        else:
            before, after = VoucherStatus.active.value, VoucherStatus.in_stock.value
            if not _back_on_shelf(session, _VOUCHERS.c.serial, item, before, after, sale, now):
                raise Rejection(
                    RejectReason.voucher_already_redeemed, f"card {item} is no longer active"
                )
        line.returned_at = occurred_at
        session.add(line)
        counted.append(statistics.return_entry(sale, line, occurred_at))
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


def sale_public(session: Session, sale: Sale) -> SalePublic:
    lines = session.exec(sql_select(SaleLine).where(SaleLine.sale_id == sale.id)).all()
    return SalePublic(
        id=sale.id,
        receipt_no=sale.receipt_no,
        terminal_id=sale.terminal_id,
        outlet_id=sale.outlet_id,
        dealer_id=sale.dealer_id,
        clerk=sale.clerk,
        sold_at=sale.sold_at,
        total_fen=sale.total_fen,
        customer_name=sale.customer_name,
        customer_id_masked=sale.customer_id_masked,
        lines=[
            line.model_dump(
                include={
                    "item_kind",
                    "item_key",
                    "product",
                    "price_fen",
                    "list_price_fen",
                    "override_approved_by",
                    "returned_at",
                }
            )
            for line in lines
        ],
    )


def list_sales(
    session: Session,
    dealer_scope: str | None = None,
    outlet_id: str | None = None,
    limit: int = 100,
) -> list[SalePublic]:
    query = sql_select(Sale).order_by(col(Sale.sold_at).desc()).limit(limit)
    if dealer_scope is not None:
        query = query.where(Sale.dealer_id == dealer_scope)
    if outlet_id is not None:
        query = query.where(Sale.outlet_id == outlet_id)
    return [sale_public(session, s) for s in session.exec(query)]


def get_sale(session: Session, receipt_no: str, dealer_scope: str | None = None) -> SalePublic:
    sale = session.exec(sql_select(Sale).where(Sale.receipt_no == receipt_no)).first()
    if sale is None or dealer_scope not in (None, sale.dealer_id):
        raise NotFound(f"sale {receipt_no} not found", code="sale_not_found")
    return sale_public(session, sale)
