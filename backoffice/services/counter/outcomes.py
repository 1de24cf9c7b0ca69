"""What applying an event ends in: a rejection with its stable reason (and the refusals
that find it), a conflict that undoes a batch, and the rows waiting to be written."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backoffice.models import (
    ActivationOutbox,
    AuditEntry,
    SaleLine,
    SyncEvent,
)
from backoffice.models.types import UTCDateTime, utcnow
from backoffice.services import bulk
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.counter.tables import NUMBERS, SIMS, SOLD_NUMBER, SOLD_VOUCHER, VOUCHERS
from backoffice.services.statistics import summaries
from shared.lifecycle import NumberStatus, SimStatus
from shared.sync import RejectReason, SalePayload

# Why an accepted sale waits in the reconciliation queue: an override the office could not
# verify (approved at the terminal, offline).
OFFLINE_OVERRIDE = "override_offline"

_EVENTS = SyncEvent.__table__  # type: ignore[attr-defined]
_MARK_FOR_REVIEW = (
    update(_EVENTS)
    .where(_EVENTS.c.terminal_id == bindparam("t"))
    .where(_EVENTS.c.id == bindparam("i"))
    .values(reason=OFFLINE_OVERRIDE, message=bindparam("m"), resolution="open")
)


class Rejection(Exception):
    """An event the back office refuses; the terminal and the sales centre see reason."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


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
    times = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, UTCDateTime)]
    values: Iterable[tuple[object, ...]] = (tuple(map(row.get, columns)) for row in rows)
    if times:
        values = map(partial(_times_as_text, times), values)
    dbapi = session.connection().dialect.loaded_dbapi
    try:
        bulk.insert_rows(session, table.name, columns, values)
    except (IntegrityError, dbapi.IntegrityError) as exc:
        # COPY goes around SQLAlchemy, so its errors come unwrapped.
        raise BatchConflict(f"{table.name}: {exc}") from exc


def _times_as_text(times: list[int], row: tuple[object, ...]) -> tuple[object, ...]:
    values = list(row)
    for i in times:
        if values[i] is not None:
            values[i] = bulk.db_timestamp(values[i])  # type: ignore[arg-type]
    return tuple(values)


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
    counted: list[summaries.Entry] = field(default_factory=list)
    # Accepted sales queued for review ({"t": terminal, "i": event id, "m": note}): their
    # event rows, written by then, are marked.
    reviews: list[dict[str, object]] = field(default_factory=list)

    def write(self, session: Session) -> None:
        connection = session.connection()
        if self.sold_numbers:
            # Their numbers are sold and locked by this transaction: the SIMs follow.
            connection.execute(
                update(SIMS)
                .where(SIMS.c.msisdn.in_(self.sold_numbers))
                .where(SIMS.c.status == SimStatus.in_stock.value)
                .values(
                    status=SimStatus.sold.value,
                    version=SIMS.c.version + 1,
                    updated_at=utcnow(),
                )
            )
        insert_many(session, SaleLine.__table__, self.sale_lines)  # type: ignore[attr-defined]
        insert_many(session, AuditEntry.__table__, self.audit)  # type: ignore[attr-defined]
        insert_many(session, ActivationOutbox.__table__, self.activations)  # type: ignore[attr-defined]
        if self.reviews:
            connection.execute(_MARK_FOR_REVIEW, self.reviews)
        self.sale_lines, self.audit, self.activations, self.sold_numbers = [], [], [], []
        self.reviews = []

    def close(self, session: Session) -> None:
        """Writes everything left, the summaries' counts included."""
        self.write(session)
        summaries.record(session, self.counted)
        self.counted = []


def _number_refusal(session: Session, msisdn: str, context: TerminalContext) -> Rejection:
    row = (
        session.connection()
        .execute(select(NUMBERS.c.status, NUMBERS.c.outlet_id).where(NUMBERS.c.msisdn == msisdn))
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
    if status in SOLD_NUMBER:
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
        .execute(select(VOUCHERS.c.status).where(VOUCHERS.c.serial == serial))
        .first()
    )
    return _voucher_refused(serial, None if row is None else row[0], context)


def _voucher_refused(serial: str, status: str | None, context: TerminalContext) -> Rejection:
    """Why a card in this status cannot be sold by this terminal."""
    if status is None:
        return Rejection(RejectReason.unknown_item, f"card {serial} is not in the system")
    if status in SOLD_VOUCHER:
        return Rejection(RejectReason.item_already_sold, f"card {serial} is already sold")
    return Rejection(
        RejectReason.item_not_in_outlet_stock,
        f"card {serial} is {status}, not in stock at outlet {context.outlet.code}",
    )


def _receipt_reused(sale: SalePayload) -> Rejection:
    return Rejection(
        RejectReason.receipt_number_reused,
        f"receipt {sale.receipt_no} or sale {sale.sale_id} was already used by another sale",
    )
