"""Response models of the audit log."""

from datetime import datetime

from backoffice.contracts.common import Public


class AuditEntryPublic(Public):
    id: str
    at: datetime
    actor: str
    entity_type: str
    entity_id: str
    action: str
    from_status: str | None
    to_status: str | None
    item_count: int
    document_id: str | None
    reason: str | None
