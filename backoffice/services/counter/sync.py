"""Terminal sync: push, where each event is applied once and atomically, and its
rejections recorded for reconciliation."""

from datetime import datetime

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.channel import ItemsIn
from backoffice.core.config import Settings
from backoffice.core.crypto import Keys
from backoffice.models import CashMovement, Shift, SyncEvent, Terminal
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel import items, movements, receipts
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.counter import (
    malformed,
    outcomes,
    pricing,
    real_name,
    returns,
    sale_batches,
    sales,
)
from backoffice.services.counter.outcomes import Rejection
from backoffice.services.counter.real_name import StoredCustomer
from backoffice.services.errors import ServiceError
from backoffice.services.settlement.shifts import record_cash
from shared.ids import new_id
from shared.sync import (
    CashInEvent,
    CashOutEvent,
    Event,
    EventResult,
    EventStatus,
    PushRequest,
    PushResponse,
    RejectReason,
    ReturnEvent,
    SaleEvent,
    ShiftCloseEvent,
    ShiftOpenEvent,
    StockCountEvent,
    StockOutEvent,
    StockReceiptEvent,
    is_event,
)


def push(
    session: Session,
    context: TerminalContext,
    request: PushRequest,
    settings: Settings,
    keys: Keys,
) -> PushResponse:
    """Applies the events in the order sent, each atomically, and commits the batch once:
    the answer leaves only after every result is durable, and one commit per batch instead
    of per event is what lets a busy office keep up. Runs of new sale events, the bulk of
    any backlog, are applied together set-based; every other event in its own savepoint."""
    book = pricing.price_book(session, context.dealer, settings)
    # A first write opens the transaction, so that SQLite's driver nests the savepoints in it.
    session.connection().execute(
        update(Terminal.__table__)  # type: ignore[arg-type]
        .where(Terminal.__table__.c.id == context.terminal.id)  # type: ignore[attr-defined]
        .values(last_push_at=utcnow())
    )
    events = [e for e in request.events if is_event(e)]
    _lock_items(session, events)
    ids = [e.id for e in events]
    # Event ids are the terminal's own: another terminal's event of the same id is no
    # duplicate of this one (and answering with its result would leak it).
    known = {
        row.id: row
        for row in session.exec(
            sql_select(SyncEvent)
            .where(SyncEvent.terminal_id == context.terminal.id)
            .where(col(SyncEvent.id).in_(ids))
        )
    }
    pending = outcomes.Pending()
    # An event id twice in one batch is rare enough to leave to the one-by-one path, whose
    # unique key answers the second copy with the first one's result.
    together = len(set(ids)) == len(ids)
    results: list[EventResult] = []
    run: list[SaleEvent] = []
    for event in request.events:
        if not is_event(event):
            # Not an event: answered and filed on its own, never failing the others.
            results += _apply_sales(session, context, run, settings, keys, book, pending)
            run = []
            entry = malformed.describe(event, context.terminal.id)
            results.append(malformed.file(session, context, entry))
            continue
        stored = known.get(event.id)
        if together and stored is None and isinstance(event, SaleEvent):
            run.append(event)
            continue
        results += _apply_sales(session, context, run, settings, keys, book, pending)
        run = []
        results.append(apply_event(session, context, event, settings, keys, book, stored, pending))
    results += _apply_sales(session, context, run, settings, keys, book, pending)
    pending.close(session)
    _recount_closed_shifts(session, context, events)
    session.commit()
    return PushResponse(results=results)


def _recount_closed_shifts(session: Session, context: TerminalContext, events: list[Event]) -> None:
    """Works out again the cash of the closed shifts a sale or return of the batch went
    into after their close: the close came earlier in this batch or in an earlier one. A
    terminal sends a shift's events before its close, so this is rare; a shift closed in
    this batch after its sales and returns was worked out at its close."""
    closed_at: dict[str, int] = {}  # the shifts closed in this batch: where
    named: dict[str, int] = {}  # the last sale or return naming each shift: where
    unnamed: list[tuple[int, datetime]] = []
    for index, event in enumerate(events):
        if isinstance(event, ShiftCloseEvent):
            closed_at[event.payload.shift_id] = index
        elif isinstance(event, SaleEvent | ReturnEvent):
            if event.payload.shift_id is not None:
                named[event.payload.shift_id] = index
            elif isinstance(event, ReturnEvent):
                unnamed.append((index, event.occurred_at))
    late = {shift for shift, index in named.items() if closed_at.get(shift, -1) < index}
    if unnamed:
        # A return that names no shift counts in the one open on its terminal at the time.
        windows = session.connection().execute(
            select(_SHIFTS.c.id, _SHIFTS.c.opened_at, _SHIFTS.c.closed_at)
            .where(_SHIFTS.c.terminal_id == context.terminal.id)
            .where(
                or_(
                    *(
                        and_(_SHIFTS.c.opened_at <= at, _SHIFTS.c.closed_at >= at)
                        for _, at in unnamed
                    )
                )
            )
        )
        late.update(
            shift
            for shift, opened, closed in windows
            for index, at in unnamed
            if opened <= at <= closed and closed_at.get(shift, -1) < index
        )
    if late:
        record_cash(session, late)


def _apply_sales(
    session: Session,
    context: TerminalContext,
    run: list[SaleEvent],
    settings: Settings,
    keys: Keys,
    book: pricing.PriceBook,
    pending: outcomes.Pending,
) -> list[EventResult]:
    """A run of new sale events, decided together from their items' states and written with
    a few set-based statements instead of a savepoint and four statements each. The items
    are locked by this transaction (on SQLite the whole database is, since the push's first
    write), so the states read stay true until the commit. Should a write meet something
    unforeseen (a concurrent push of the same events or receipts), the run is undone and
    its events go the one-by-one way, which sorts out each case."""
    if not run:
        return []
    savepoint = session.begin_nested()
    marked = len(pending.audit), len(pending.sale_lines), len(pending.activations)
    sold, counted, reviews = len(pending.sold_numbers), len(pending.counted), len(pending.reviews)
    try:
        entries = [
            sale_batches.SaleToApply(
                e.id, e.occurred_at, e.payload, real_name.protect_sale(keys, e.payload)
            )
            for e in run
        ]
        decided = sale_batches.apply_sales(session, context, entries, book, pending)
        received = utcnow()
        rows = []
        results = []
        for entry, event, rejection in zip(entries, run, decided, strict=True):
            # Every row of one bulk insert has the same columns.
            row = _event_values(context, event, received, entry.customer) | {
                "reason": None,
                "message": None,
                "resolution": None,
            }
            if rejection is None:
                results.append(EventResult(id=event.id, seq=event.seq, status=EventStatus.accepted))
            else:
                row.update(
                    result=EventStatus.rejected.value,
                    reason=rejection.reason.value,
                    message=rejection.message,
                    resolution="open",
                )
                pending.audit.append(_reject_audit(context, event, rejection))
                results.append(
                    EventResult(
                        id=event.id,
                        seq=event.seq,
                        status=EventStatus.rejected,
                        reason=rejection.reason,
                        message=rejection.message,
                    )
                )
            rows.append(row)
        outcomes.insert_many(session, SyncEvent.__table__, rows)  # type: ignore[attr-defined]
        savepoint.commit()
        return results
    except (outcomes.BatchConflict, IntegrityError, DataError, OverflowError):
        # One by one, an event the database cannot take is filed without holding up the rest.
        savepoint.rollback()
        del pending.audit[marked[0] :], pending.sale_lines[marked[1] :]
        del pending.activations[marked[2] :], pending.sold_numbers[sold:]
        del pending.counted[counted:], pending.reviews[reviews:]
    return [apply_event(session, context, e, settings, keys, book, None, pending) for e in run]


def _reject_audit(
    context: TerminalContext, event: Event, rejection: Rejection
) -> dict[str, object]:
    """The audit row of a rejection, as _reject records it, for writing in bulk."""
    return {
        "id": new_id(),
        "at": utcnow(),
        "actor": context.actor,
        "entity_type": "sync_event",
        "entity_id": event.id,
        "action": "reject",
        "from_status": None,
        "to_status": rejection.reason.value,
        "item_count": 1,
        "document_id": None,
        "reason": rejection.message[:500],
    }


def _lock_items(session: Session, events: list[Event]) -> None:
    """Locks the batch's items in one canonical order before any is sold, so that batches
    selling the same items in different orders wait for each other instead of deadlocking."""
    wanted: set[str] = set()
    for event in events:
        if isinstance(event, SaleEvent):
            wanted.update(line.item for line in event.payload.lines)
        elif isinstance(event, ReturnEvent):
            wanted.update(event.payload.items)
    by_kind = items.split_items(wanted)
    for kind in items.ALL_ITEMS:
        keys = by_kind[kind.kind]
        for i in range(0, len(keys), 500):
            session.connection().execute(
                select(kind.key)
                .where(kind.key.in_(keys[i : i + 500]))
                .order_by(kind.key)
                .with_for_update()
            ).all()


def _first_result(event: Event, stored: SyncEvent) -> EventResult:
    original = EventStatus(stored.result)
    # An accepted event may carry a reason too: why it waits for review (outcomes.py).
    rejected = original is EventStatus.rejected
    return EventResult(
        id=event.id,
        seq=event.seq,
        status=EventStatus.duplicate,
        reason=RejectReason(stored.reason) if rejected and stored.reason else None,
        message=(stored.message or "") if rejected else "",
        original=original,
    )


_INSERT_EVENT = insert(SyncEvent.__table__)  # type: ignore[attr-defined]
_SHIFTS = Shift.__table__  # type: ignore[attr-defined]


def _event_values(
    context: TerminalContext,
    event: Event,
    received_at: datetime,
    customer: StoredCustomer | None,
) -> dict[str, object]:
    """An event's row as first written: accepted, until its application says otherwise. A
    sale's buyer is stored only as `customer`, the protected form the sale row holds too."""
    return {
        "id": event.id,
        "terminal_id": context.terminal.id,
        "outlet_id": context.outlet.id,
        "dealer_id": context.dealer.id,
        "seq": event.seq,
        "type": event.type.value,
        "occurred_at": event.occurred_at,
        "received_at": received_at,
        "result": EventStatus.accepted.value,
        "payload": real_name.stored_payload(event.payload, customer)
        if isinstance(event, SaleEvent)
        else event.payload.model_dump_json(),
    }


def _row(
    context: TerminalContext, event: Event, result: EventStatus, customer: StoredCustomer | None
) -> SyncEvent:
    values = _event_values(context, event, utcnow(), customer)
    return SyncEvent(**values | {"result": result.value})


def _stored(session: Session, context: TerminalContext, event_id: str) -> SyncEvent | None:
    return session.exec(
        sql_select(SyncEvent)
        .where(SyncEvent.terminal_id == context.terminal.id)
        .where(SyncEvent.id == event_id)
        .execution_options(populate_existing=True)
    ).first()


def apply_event(
    session: Session,
    context: TerminalContext,
    event: Event,
    settings: Settings,
    keys: Keys,
    book: pricing.PriceBook,
    stored: SyncEvent | None,
    pending: outcomes.Pending,
) -> EventResult:
    """Applies one event exactly once, inside the caller's transaction. The event row is
    written first: its primary key makes a concurrent copy of the same event wait, then
    fail, and report the first result."""
    if stored is not None:
        return _first_result(event, stored)
    customer = None
    if isinstance(event, SaleEvent):
        customer = real_name.protect_sale(keys, event.payload)
    else:
        # A return may refer to a sale earlier in this very batch.
        pending.write(session)
    savepoint = session.begin_nested()
    try:
        session.connection().execute(
            _INSERT_EVENT, _event_values(context, event, utcnow(), customer)
        )
        if not context.dealer_active:
            raise Rejection(
                RejectReason.dealer_suspended,
                f"dealer {context.dealer.code} is {context.dealer.status}",
            )
        _apply(session, context, event, settings, customer, book, pending)
        savepoint.commit()
        return EventResult(id=event.id, seq=event.seq, status=EventStatus.accepted)
    except Rejection as rejection:
        savepoint.rollback()
        return _reject(session, context, event, customer, rejection.reason, rejection.message)
    except ServiceError as error:
        savepoint.rollback()
        reason = (
            RejectReason(error.code)
            if error.code in RejectReason.__members__
            else RejectReason.invalid_event
        )
        return _reject(session, context, event, customer, reason, error.message)
    except IntegrityError:
        savepoint.rollback()
        first = _stored(session, context, event.id)
        if first is None:
            raise
        return _first_result(event, first)
    except (DataError, OverflowError) as error:
        # Valid as an event, yet something in it does not fit the database: a malformed
        # event, filed as received (its own message could quote the data, so only its kind).
        savepoint.rollback()
        cause = type(getattr(error, "orig", None) or error).__name__
        entry = event.model_dump(mode="json")
        return malformed.file(
            session,
            context,
            malformed.describe(
                entry, context.terminal.id, f"malformed event: the database refused it ({cause})"
            ),
        )


def _reject(
    session: Session,
    context: TerminalContext,
    event: Event,
    customer: StoredCustomer | None,
    reason: RejectReason,
    message: str,
) -> EventResult:
    """Files the event, undone, in the reconciliation queue."""
    savepoint = session.begin_nested()
    row = _row(context, event, EventStatus.rejected, customer)
    row.reason, row.message, row.resolution = reason.value, message, "open"
    session.add(row)
    audit.record(
        session,
        actor=context.actor,
        entity_type="sync_event",
        entity_id=event.id,
        action="reject",
        to_status=reason.value,
        reason=message[:500],
    )
    try:
        session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        stored = _stored(session, context, event.id)
        if stored is None:
            raise
        return _first_result(event, stored)
    return EventResult(
        id=event.id, seq=event.seq, status=EventStatus.rejected, reason=reason, message=message
    )


def _apply(
    session: Session,
    context: TerminalContext,
    event: Event,
    settings: Settings,
    customer: StoredCustomer | None,
    book: pricing.PriceBook,
    pending: outcomes.Pending,
) -> None:
    actor = context.actor
    outlet = context.outlet
    clerk = getattr(event.payload, "clerk", None)
    if clerk is not None and not isinstance(event, SaleEvent):
        # A sale's clerk is checked with the rest of the sale, on both of its paths.
        book.require_clerk(clerk, context.dealer.code)
    match event:
        case SaleEvent():
            sales.apply_sale(
                session,
                context,
                event.id,
                event.occurred_at,
                event.payload,
                settings,
                customer,
                book,
                pending,
            )
        case ReturnEvent():
            returns.apply_return(
                session, context, event.occurred_at, event.payload, settings, pending
            )
        case StockReceiptEvent():
            receipts.receive(
                session,
                event.payload.document_number,
                event.payload.items,
                f"{actor}/{event.payload.clerk}",
                outlet_scope=outlet.id,
                commit=False,
            )
        case StockCountEvent():
            movements.stock_count(
                session,
                outlet.id,
                event.payload.items,
                f"{actor}/{event.payload.clerk}",
                commit=False,
            )
        case StockOutEvent():
            movements.return_to_centre(
                session,
                ItemsIn(outlet=outlet.id, items=event.payload.items, note=event.payload.reason),
                f"{actor}/{event.payload.clerk}",
                commit=False,
            )
        case ShiftOpenEvent():
            if session.get(Shift, event.payload.shift_id) is not None:
                raise Rejection(
                    RejectReason.shift_already_open, f"shift {event.payload.shift_id} exists"
                )
            session.add(
                Shift(
                    id=event.payload.shift_id,
                    terminal_id=context.terminal.id,
                    clerk=event.payload.clerk,
                    opened_at=event.occurred_at,
                    opening_float_fen=event.payload.opening_float_fen,
                )
            )
            session.flush()
        case ShiftCloseEvent():
            _open_shift(session, context, event.payload.shift_id)
            session.connection().execute(
                update(Shift.__table__)  # type: ignore[arg-type]
                .where(Shift.__table__.c.id == event.payload.shift_id)  # type: ignore[attr-defined]
                .values(
                    closed_at=event.occurred_at,
                    counted_cash_fen=event.payload.counted_cash_fen,
                    z_number=event.payload.z_number,
                    no_sale_openings=event.payload.no_sale_openings,
                )
            )
            # Its sales, returns and cash moves are all in by now: the events came in order.
            record_cash(session, [event.payload.shift_id])
        case CashInEvent() | CashOutEvent():
            _open_shift(session, context, event.payload.shift_id)
            session.add(
                CashMovement(
                    # Not the event id, which is unique per terminal only.
                    id=new_id(),
                    shift_id=event.payload.shift_id,
                    direction="in" if isinstance(event, CashInEvent) else "out",
                    amount_fen=event.payload.amount_fen,
                    reason=event.payload.reason,
                    at=event.occurred_at,
                )
            )
            session.flush()
    if not isinstance(event, SaleEvent | ReturnEvent):
        audit.record(
            session,
            actor=actor,
            entity_type="sync_event",
            entity_id=event.id,
            action=event.type.value,
            reason=f"terminal {context.terminal.terminal_no} event {event.seq}",
        )


def _open_shift(session: Session, context: TerminalContext, shift_id: str) -> Shift:
    shift = session.get(Shift, shift_id)
    if shift is None or shift.terminal_id != context.terminal.id:
        raise Rejection(RejectReason.unknown_shift, f"shift {shift_id} was never opened here")
    if shift.closed_at is not None:
        raise Rejection(RejectReason.shift_closed, f"shift {shift_id} is already closed")
    return shift
