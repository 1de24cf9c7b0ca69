"""The reconciliation queue: events the back office rejected, sales it accepted with an
override it could not verify (approved offline), and the sales centre's decision on each.

A decision is one of four kinds (shared.sync.ResolutionKind), kept with the event (who, when,
what, the note) and in the audit log, and sent to the terminal at its next pull:

- manual_sale: a rejected sale is booked as if it had been accepted, through the very path
  a pushed sale takes (services/counter/sales.py), so stock, statistics, settlement and its
  shift's Z report see it. The sales centre vouches for the clerk and the price the buyer
  paid; the items must still be sellable by the terminal (in stock at its outlet, or
  reserved by it), else the decision is refused and nothing changes;
- refund: nothing is booked; the counter refunds the buyer;
- write_off: nothing is booked; the loss is recorded with its note;
- note: sorted out otherwise (a refund, a stock correction, an offline override checked)."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import and_, or_, update
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.counter import ReconciliationItem, ReconciliationResolve
from backoffice.core.config import Settings
from backoffice.core.crypto import CipherError, Keys
from backoffice.core.i18n import N_
from backoffice.models import Dealer, Outlet, Sale, SyncEvent, Terminal
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.counter import outcomes, pricing, sales
from backoffice.services.counter.outcomes import Rejection
from backoffice.services.counter.real_name import StoredCustomer
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from backoffice.services.settlement.shifts import record_cash
from shared.codes import mask_name
from shared.sync import (
    Customer,
    EventResolution,
    EventStatus,
    EventType,
    RejectReason,
    ResolutionKind,
    SaleLine,
    SalePayload,
)

OPEN, RESOLVED = "open", "resolved"
# The decisions that book or refund a sale: only for a sale the office rejected.
SALE_DECISIONS = frozenset({ResolutionKind.manual_sale, ResolutionKind.refund})
_EVENTS = SyncEvent.__table__  # type: ignore[attr-defined]


def _queue_items(session: Session, rows: list[SyncEvent]) -> list[ReconciliationItem]:
    """The rows as the queue shows them: a sale's buyer only masked, the ID number's and the
    name's ciphertexts left out (who reads the queue reads no personal data); the masked name
    is the sale's, where the sale was stored (a rejected one keeps the name only encrypted)."""
    payloads = [json.loads(row.payload) for row in rows]
    sale_ids = {
        p["sale_id"]
        for p in payloads
        if isinstance(p.get("customer"), dict) and isinstance(p.get("sale_id"), str)
    }
    names: dict[str, str | None] = {}
    if sale_ids:
        query = sql_select(Sale.id, Sale.customer_name_masked).where(col(Sale.id).in_(sale_ids))
        names = {sale_id: name for sale_id, name in session.exec(query)}
    for payload in payloads:
        customer = payload.get("customer")
        if isinstance(customer, dict):
            sale_id = payload.get("sale_id")
            stored = names.get(sale_id) if isinstance(sale_id, str) else None
            payload["customer"] = {
                "id_masked": customer.get("id_masked"),
                "name_masked": stored or customer.get("name_masked"),
            }
    return [
        ReconciliationItem(
            event_id=row.id,
            terminal_id=row.terminal_id,
            outlet_id=row.outlet_id,
            dealer_id=row.dealer_id,
            seq=row.seq,
            type=row.type,
            occurred_at=row.occurred_at,
            received_at=row.received_at,
            result=row.result,
            reason=row.reason,
            message=row.message,
            resolution=row.resolution,
            resolved_by=row.resolved_by,
            resolution_note=row.resolution_note,
            resolution_kind=ResolutionKind(row.resolution_kind) if row.resolution_kind else None,
            resolved_at=row.resolved_at,
            payload=payload,
        )
        for row, payload in zip(rows, payloads, strict=True)
    ]


# --- the queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    """Which part of the queue: open (oldest first) or resolved (latest decision first),
    of one dealer, outlet, terminal (ids) or reason."""

    status: str = OPEN
    dealer_id: str | None = None
    outlet_id: str | None = None
    terminal_id: str | None = None
    reason: str | None = None


def _cursor(row: SyncEvent, status: str) -> str:
    moment = row.received_at if status == OPEN else row.resolved_at
    assert moment is not None
    text = f"{moment.isoformat()}|{row.terminal_id}|{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str, str] | None:
    """A cursor this module made, or None for anything else (the first page is shown)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, terminal_id, event_id = text.split("|")
        at = datetime.fromisoformat(moment)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return (at, terminal_id, event_id) if at.tzinfo is not None else None


def queue_page(
    session: Session,
    filters: QueueFilters,
    dealer_scope: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[ReconciliationItem], str | None]:
    """A page of the queue and the cursor of the next one (None on the last page). A dealer
    manager's `dealer_scope` keeps the page to their dealer whatever the filters say."""
    status = RESOLVED if filters.status == RESOLVED else OPEN
    query = (
        sql_select(SyncEvent)
        .where(col(SyncEvent.result).in_([EventStatus.rejected.value, EventStatus.accepted.value]))
        .where(SyncEvent.resolution == status)
    )
    for column, value in (
        (SyncEvent.dealer_id, dealer_scope),
        (SyncEvent.dealer_id, filters.dealer_id),
        (SyncEvent.outlet_id, filters.outlet_id),
        (SyncEvent.terminal_id, filters.terminal_id),
        (SyncEvent.reason, filters.reason),
    ):
        if value is not None:
            query = query.where(column == value)
    key = col(SyncEvent.received_at) if status == OPEN else col(SyncEvent.resolved_at)
    position = _decode_cursor(after) if after else None
    if position is not None:
        at, terminal_id, event_id = position
        beyond = key > at if status == OPEN else key < at
        query = query.where(
            or_(
                beyond,
                and_(
                    key == at,
                    or_(
                        col(SyncEvent.terminal_id) > terminal_id,
                        and_(SyncEvent.terminal_id == terminal_id, col(SyncEvent.id) > event_id),
                    ),
                ),
            )
        )
    order = key if status == OPEN else key.desc()
    query = query.order_by(order, col(SyncEvent.terminal_id), col(SyncEvent.id)).limit(limit + 1)
    rows = list(session.exec(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return _queue_items(session, rows), (_cursor(rows[-1], status) if more else None)


def reconciliation_queue(
    session: Session, status: str = OPEN, dealer_scope: str | None = None, limit: int = 200
) -> list[ReconciliationItem]:
    items, _ = queue_page(session, QueueFilters(status=status), dealer_scope, limit=limit)
    return items


def queue_reasons(session: Session, dealer_scope: str | None = None) -> list[str]:
    """The reasons queued events carry (for the filter's choices)."""
    query = (
        sql_select(SyncEvent.reason)
        .where(col(SyncEvent.resolution).is_not(None))
        .where(col(SyncEvent.reason).is_not(None))
        .distinct()
    )
    if dealer_scope is not None:
        query = query.where(SyncEvent.dealer_id == dealer_scope)
    return sorted(r for r in session.exec(query) if r)


def queued_event(session: Session, terminal_id: str, event_id: str) -> ReconciliationItem:
    """One event of the queue (open or resolved), by its terminal and id."""
    row = session.exec(
        sql_select(SyncEvent)
        .where(SyncEvent.terminal_id == terminal_id)
        .where(SyncEvent.id == event_id)
        .where(col(SyncEvent.resolution).is_not(None))
    ).first()
    if row is None:
        raise NotFound(N_("There is no such event in the queue."), code="event_not_found")
    (item,) = _queue_items(session, [row])
    return item


# --- decisions ------------------------------------------------------------------------------


def allowed_kinds(item: ReconciliationItem) -> list[ResolutionKind]:
    """The decisions that fit an event: a sale the office rejected may be booked or refunded;
    any event may be written off or closed with a note."""
    kinds = []
    if item.type == EventType.sale.value and item.result == EventStatus.rejected.value:
        kinds += [ResolutionKind.manual_sale, ResolutionKind.refund]
    return [*kinds, ResolutionKind.write_off, ResolutionKind.note]


def resolve(
    session: Session,
    event_id: str,
    request: ReconciliationResolve,
    actor: str,
    *,
    settings: Settings | None = None,
    keys: Keys | None = None,
) -> ReconciliationItem:
    """Records the sales centre's decision on a queued event, with its effect, in one
    transaction: the event is closed by a conditional update (a second decision, even a
    concurrent one, finds it closed and is refused), then a manual sale is booked; if it
    cannot be, nothing is kept. Event ids are unique per terminal: should two terminals have
    sent one id, the request names the terminal. `settings` and `keys` book a manual sale."""
    query = (
        sql_select(SyncEvent)
        .where(SyncEvent.id == event_id)
        .where(col(SyncEvent.resolution).is_not(None))
    )
    if request.terminal_id is not None:
        query = query.where(SyncEvent.terminal_id == request.terminal_id)
    rows = list(session.exec(query.limit(2)))
    if not rows:
        raise NotFound(f"no queued event {event_id}", code="event_not_found")
    if len(rows) > 1:
        raise Conflict(
            f"terminals {rows[0].terminal_id} and {rows[1].terminal_id} both sent an event "
            f"{event_id}: give terminal_id",
            code="ambiguous_event",
        )
    (row,) = rows
    if row.resolution == RESOLVED:
        raise _already_resolved(event_id)
    kind = request.kind
    (item,) = _queue_items(session, [row])
    if kind not in allowed_kinds(item):
        raise InvalidInput(
            N_(
                "A %(kind)s decision does not fit this event: only a sale the office "
                "rejected is booked or refunded."
            ),
            code="kind_not_allowed",
            params={"kind": kind.value},
        )
    note = request.note.strip()
    at = utcnow()
    closed = session.connection().execute(
        update(_EVENTS)
        .where(_EVENTS.c.terminal_id == row.terminal_id)
        .where(_EVENTS.c.id == row.id)
        .where(_EVENTS.c.resolution == OPEN)
        .values(
            resolution=RESOLVED,
            resolved_by=actor,
            resolved_at=at,
            resolution_note=note or None,
            resolution_kind=kind.value,
        )
    )
    if closed.rowcount != 1:
        session.rollback()
        raise _already_resolved(event_id)
    if kind is ResolutionKind.manual_sale:
        if settings is None or keys is None:
            raise ValueError("booking a manual sale needs the settings and the keys")
        try:
            _book_manual_sale(session, row, settings, keys, actor)
        except Rejection as refusal:
            session.rollback()
            raise Conflict(
                N_(
                    "The sale cannot be booked: %(detail)s. Nothing was changed: sort out the "
                    "stock first, or decide on a refund or a write-off."
                ),
                code="cannot_book",
                params={"detail": refusal.message, "reason": refusal.reason.value},
            ) from refusal
    audit.record(
        session,
        actor=actor,
        entity_type="sync_event",
        entity_id=event_id,
        action="resolve",
        from_status=row.reason,
        to_status=kind.value,
        reason=note or None,
    )
    session.commit()
    session.expire_all()
    return queued_event(session, row.terminal_id, row.id)


def _already_resolved(event_id: str) -> Conflict:
    return Conflict(
        N_("Event %(event)s is already resolved."), code="resolved", params={"event": event_id}
    )


@dataclass(frozen=True)
class _Decided(TerminalContext):
    """The terminal's context, acted in by the sales centre's user (the audit names them)."""

    by: str = ""

    @property
    def actor(self) -> str:
        return self.by


class _DecidedPrices(pricing.PriceBook):
    """The price book of a sale the sales centre books by decision: the clerk and the price
    the buyer paid are vouched for; a list replaced since is priced from the one in force
    now; the item's product must still have a price (the dealer's share is booked at it)."""

    def require_clerk(self, clerk: str, dealer_code: str) -> None:
        return None

    def refuse_price(self, index: int, line: SaleLine, list_fen: int) -> None:
        return None

    def check_override(self, *args: object, **kwargs: object) -> str | None:  # type: ignore[override]
        return None

    def price(self, version: int, product: str, at: datetime):  # type: ignore[no-untyped-def]
        try:
            return super().price(version, product, at)
        except Rejection:
            current = max(
                (p for p in self._lists if p.effective_from <= utcnow()),
                key=lambda p: p.version,
                default=None,
            )
            if current is None or current.version == version:
                raise
            return super().price(current.version, product, current.effective_from + _LATER)


_LATER = timedelta(microseconds=1)


def _stored_customer(keys: Keys, sale_id: str, stored: object) -> StoredCustomer | None:
    """The buyer as the rejected event keeps it (protected), as the sale row takes it: the
    keyed hash and the masked name are recomputed in memory, never kept in clear."""
    if not isinstance(stored, dict):
        return None
    id_cipher, name_cipher = stored.get("id_cipher"), stored.get("name_cipher")
    if not isinstance(id_cipher, str):
        return None
    resident_id = keys.ids.decrypt(sale_id, id_cipher)
    name = keys.names.decrypt(sale_id, name_cipher) if isinstance(name_cipher, str) else None
    return StoredCustomer(
        name_masked=mask_name(name) if name else None,
        name_cipher=name_cipher if isinstance(name_cipher, str) else None,
        id_masked=str(stored.get("id_masked") or ""),
        id_cipher=id_cipher,
        id_hash=keys.id_hash.digest(resident_id),
    )


def _book_manual_sale(
    session: Session, row: SyncEvent, settings: Settings, keys: Keys, actor: str
) -> None:
    """Books the rejected sale through the pushed sales' own path, or raises Rejection."""
    terminal = session.get(Terminal, row.terminal_id)
    outlet = session.get(Outlet, row.outlet_id)
    dealer = session.get(Dealer, row.dealer_id)
    if terminal is None or outlet is None or dealer is None:
        raise NotFound(f"terminal {row.terminal_id} is no longer known", code="terminal_not_found")
    context = _Decided(terminal, outlet, dealer, by=actor)
    body = json.loads(row.payload)
    stored = body.pop("customer", None)
    try:
        sale = SalePayload.model_validate(body | {"customer": None})
    except ValidationError as error:
        raise Rejection(RejectReason.malformed_event, "the event is not a valid sale") from error
    try:
        customer = _stored_customer(keys, sale.sale_id, stored)
    except CipherError as error:
        raise Rejection(
            RejectReason.invalid_event, "the buyer's data cannot be read with the keys configured"
        ) from error
    if customer is not None:
        sale = sale.model_copy(update={"customer": _ANY_BUYER})
    book = _DecidedPrices(
        session, context.dealer, timedelta(hours=settings.price_list_grace_hours), settings
    )
    pending = outcomes.Pending()
    sales.apply_sale(
        session, context, row.id, row.occurred_at, sale, settings, customer, book, pending
    )
    pending.close(session)
    if sale.shift_id is not None:
        # Booked into a shift already closed, the sale changes the cash its Z report expects.
        record_cash(session, [sale.shift_id])


# The sale path asks a sale only whether it has a buyer; what it stores is the protected
# buyer it is given. This stands in for the one the event no longer holds in clear: never
# stored nor shown.
_ANY_BUYER = Customer.model_construct(name="-", resident_id="-")


# --- the terminal's side --------------------------------------------------------------------


def resolutions_for(
    session: Session, terminal_id: str, since: datetime | None
) -> list[EventResolution]:
    """The decisions on this terminal's rejected events made since `since` (all without)."""
    query = (
        sql_select(SyncEvent)
        .where(SyncEvent.terminal_id == terminal_id)
        .where(col(SyncEvent.resolved_at).is_not(None))
        .where(SyncEvent.result == EventStatus.rejected.value)
        .where(SyncEvent.resolution == RESOLVED)
        .order_by(col(SyncEvent.resolved_at))
    )
    if since is not None:
        query = query.where(col(SyncEvent.resolved_at) >= since)
    return [
        EventResolution(
            id=row.id,
            seq=row.seq,
            kind=row.resolution_kind or ResolutionKind.note,
            note=row.resolution_note or "",
            resolved_at=row.resolved_at,
        )
        for row in session.exec(query)
    ]
