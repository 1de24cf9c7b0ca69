"""The append-only, hash-chained audit log."""

from datetime import datetime

from sqlalchemy import BigInteger, Column, FetchedValue, Index, Text, text
from sqlmodel import Field, SQLModel

from backoffice.models.types import UTCDateTime


class AuditEntry(SQLModel, table=True):
    """Append-only: the migration's triggers refuse DELETE, TRUNCATE and any UPDATE but the
    sealer's one (seq and hash set on an unsealed row). Rows are written unsealed (seq and hash
    empty); the sealer (services/audit.py) chains them in id order afterwards. A column added
    here joins the chain's CONTENT (domain/audit.py) and the triggers' list in its migration."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entity", "entity_type", "entity_id"),
        Index("ix_audit_seq", "seq", unique=True),
        # The sealer's work list: small, however long the log.
        Index(
            "ix_audit_unsealed",
            "id",
            postgresql_where=text("seq IS NULL"),
            sqlite_where=text("seq IS NULL"),
        ),
        # A stock document's rows (the audit search, a number's timeline): only the rows of
        # documents, a small part of a log mostly of sales.
        Index(
            "ix_audit_document",
            "document_id",
            "id",
            postgresql_where=text("document_id IS NOT NULL"),
            sqlite_where=text("document_id IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=36)
    # Set by the database when the row is written (a trigger on PostgreSQL; on SQLite a default
    # and a trigger refusing times off its clock): the application cannot back-date a row.
    at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=False, server_default=FetchedValue()),
    )
    actor: str = Field(max_length=96)
    entity_type: str = Field(max_length=32)
    entity_id: str = Field(max_length=64)
    action: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str | None = Field(default=None, max_length=32)
    item_count: int = 1
    document_id: str | None = Field(default=None, max_length=36)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    # The hash chain: position and SHA-256(previous hash ‖ canonical content), as hex.
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    hash: str | None = Field(default=None, max_length=64)
