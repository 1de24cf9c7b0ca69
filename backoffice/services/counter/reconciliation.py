"""The reconciliation queue: events the back office rejected, sales it accepted with an
override it could not verify (approved offline), and their resolution by the sales centre."""

import json

from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.counter import ReconciliationItem, ReconciliationResolve
from backoffice.models import Sale, SyncEvent
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.errors import Conflict, NotFound
from shared.sync import EventStatus


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
            payload=payload,
        )
        for row, payload in zip(rows, payloads, strict=True)
    ]


def reconciliation_queue(
    session: Session, status: str = "open", dealer_scope: str | None = None, limit: int = 200
) -> list[ReconciliationItem]:
    query = (
        sql_select(SyncEvent)
        .where(col(SyncEvent.result).in_([EventStatus.rejected.value, EventStatus.accepted.value]))
        .where(SyncEvent.resolution == status)
        .order_by(col(SyncEvent.received_at))
        .limit(limit)
    )
    if dealer_scope is not None:
        query = query.where(SyncEvent.dealer_id == dealer_scope)
    return _queue_items(session, list(session.exec(query)))


def resolve(
    session: Session, event_id: str, request: ReconciliationResolve, actor: str
) -> ReconciliationItem:
    """The sales centre closes a queued event after sorting it out (a refund, a stock
    correction, an offline override checked); the decision is kept with the event and in the
    audit log. Event ids are unique per terminal: should two terminals have sent one id, the
    request names the terminal."""
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
    if row.resolution == "resolved":
        raise Conflict(f"event {event_id} is already resolved", code="resolved")
    row.resolution, row.resolved_by, row.resolved_at = "resolved", actor, utcnow()
    row.resolution_note = request.note
    session.add(row)
    audit.record(
        session,
        actor=actor,
        entity_type="sync_event",
        entity_id=event_id,
        action="resolve",
        from_status=row.reason,
        to_status="resolved",
        reason=request.note,
    )
    session.commit()
    (item,) = _queue_items(session, [row])
    return item
