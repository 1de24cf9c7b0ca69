"""Stock documents (release, allocation, receipt, return, transfer, count) and their
numbering, shared by the billing centre and the channel."""

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backoffice.models.types import utc_column, utcnow


class StockDocument(SQLModel, table=True):
    __tablename__ = "stock_document"

    id: str = Field(primary_key=True, max_length=36)
    number: str = Field(max_length=17, sa_column_kwargs={"unique": True})
    kind: str = Field(max_length=2)
    status: str = Field(max_length=16)
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Channel documents: the outlet receiving (or returning, counting) and, for a transfer,
    # the outlet giving.
    outlet_id: str | None = Field(default=None, max_length=36)
    from_outlet_id: str | None = Field(default=None, max_length=36)


class StockDocumentLine(SQLModel, table=True):
    __tablename__ = "stock_document_line"

    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(foreign_key="stock_document.id", max_length=36, index=True)
    item_kind: str = Field(max_length=16)  # number | sim | voucher
    batch_id: str = Field(max_length=36)
    first_item: str = Field(max_length=20)
    last_item: str = Field(max_length=20)
    item_count: int


class DocumentCounter(SQLModel, table=True):
    """Last sequence number handed out per document kind and day."""

    __tablename__ = "document_counter"
    __table_args__ = (UniqueConstraint("kind", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=2)
    day: date
    last_seq: int = 0
