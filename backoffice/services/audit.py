"""The append-only audit log: who changed what, when, from which status to which."""

from sqlmodel import Session, col, select

from backoffice.models import AuditEntry
from shared.ids import new_id


def record(
    session: Session,
    *,
    actor: str,
    entity_type: str,
    entity_id: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    item_count: int = 1,
    document_id: str | None = None,
    reason: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        id=new_id(),
        actor=actor,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        from_status=from_status,
        to_status=to_status,
        item_count=item_count,
        document_id=document_id,
        reason=reason,
    )
    session.add(entry)
    return entry


def entries(
    session: Session,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    query = select(AuditEntry)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    query = query.order_by(col(AuditEntry.id).desc()).limit(limit)
    return list(session.exec(query))
