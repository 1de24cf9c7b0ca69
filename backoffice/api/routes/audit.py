"""Reading the audit log."""

from fastapi import APIRouter, Query

from backoffice.api.deps import AuditReader, SessionDep
from backoffice.contracts.audit import AuditEntryPublic
from backoffice.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def audit_entries(
    session: SessionDep,
    _: AuditReader,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[AuditEntryPublic]:
    return [
        AuditEntryPublic.model_validate(e)
        for e in audit.entries(session, entity_type, entity_id, limit)
    ]
