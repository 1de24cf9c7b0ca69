"""The append-only audit log."""

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from backoffice.models.types import utc_column, utcnow


class AuditEntry(SQLModel, table=True):
    """Append-only: triggers in the migration refuse UPDATE and DELETE."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: str = Field(primary_key=True, max_length=36)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    actor: str = Field(max_length=96)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    item_count: int = 1
    document_id: str | None = Field(default=None, max_length=36)
    reason: str | None = Field(default=None, sa_column=Column(Text))
