"""Tables of the billing centre: grades and grading rules, number batches and numbers,
SIM batches and cards, top-up card batches and cards, import jobs."""

from datetime import date, datetime

from sqlalchemy import Column, Index, String, Text, text
from sqlmodel import Field, SQLModel

from backoffice.models.types import utc_column, utcnow


class NumberGrade(SQLModel, table=True):
    __tablename__ = "number_grade"

    code: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=64)
    rank: int  # 1 is the most valuable; lists sort by it
    selection_fee_fen: int = 0
    prestore_fen: int = 0
    min_monthly_fen: int = 0
    lockin_months: int = 0


class GradingRule(SQLModel, table=True):
    __tablename__ = "grading_rule"

    id: int | None = Field(default=None, primary_key=True)
    position: int = Field(index=True)
    name: str = Field(max_length=64)
    pattern: str = Field(max_length=64)
    grade_code: str = Field(foreign_key="number_grade.code", max_length=16)
    active: bool = True


class NumberBatch(SQLModel, table=True):
    """A generated segment or an imported file of numbers; the unit of release."""

    __tablename__ = "number_batch"

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    source: str = Field(max_length=16)  # segment | file
    source_name: str = Field(default="", max_length=255)
    first_msisdn: str = Field(max_length=11)
    last_msisdn: str = Field(max_length=11)
    item_count: int
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    release_document_id: str | None = Field(default=None, max_length=36)


# The last three digits of a number (every msisdn has 11), with literal arguments so that a
# query naming it is the index's own expression (SQLite matches an indexed expression only
# when the query spells the same one; a bound 9 or 3 would not be).
NUMBER_TAIL = "substr(msisdn, 9, 3)"
NUMBER_TAIL_DIGITS = 3


class MobileNumber(SQLModel, table=True):
    __tablename__ = "mobile_number"
    __table_args__ = (
        Index("ix_number_status_grade", "status", "grade_code", "msisdn"),
        Index("ix_number_batch", "batch_id"),
        Index("ix_number_rev", "msisdn_rev"),
        # A number's ending, then the number: one ending's numbers in number order, so a
        # search by its last digits reads its first page in order and stops there.
        Index("ix_number_tail", text(NUMBER_TAIL), "msisdn"),
        Index("ix_number_outlet", "outlet_id", "status"),
        Index("ix_number_document", "document_id"),
        # the outlets' stock by age: items on hand per status and the document they came on
        Index("ix_number_stock_age", "status", "document_id"),
        # The numbers whose cooling ends first (the worker's step); only cooling numbers have
        # an end, so the index holds only them, not the millions in the pool and the channel.
        Index(
            "ix_number_cooling",
            "cooling_until",
            postgresql_where=text("cooling_until IS NOT NULL"),
            sqlite_where=text("cooling_until IS NOT NULL"),
        ),
    )

    msisdn: str = Field(primary_key=True, max_length=11)
    # Reversed digits: "ends with" four or more given digits is a range on them (ix_number_rev).
    # Every insert writes it (services/billing/numbers.py); migration 0009 rewrote wrong ones.
    msisdn_rev: str = Field(max_length=11)
    batch_id: str = Field(foreign_key="number_batch.id", max_length=36)
    grade_code: str = Field(foreign_key="number_grade.code", max_length=16)
    status: str = Field(max_length=16)
    held_from: str | None = Field(default=None, max_length=16)
    iccid: str | None = Field(default=None, max_length=20, sa_column_kwargs={"unique": True})
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    # Channel: the outlet holding it, the one that held it before (so a terminal's pull
    # learns that it left), and the stock document that last moved it.
    outlet_id: str | None = Field(default=None, max_length=36)
    prev_outlet_id: str | None = Field(default=None, max_length=36)
    document_id: str | None = Field(default=None, max_length=36)
    # While cooling (deactivated, not yet back in the pool): when the cooling ends.
    cooling_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class SimBatch(SQLModel, table=True):
    __tablename__ = "sim_batch"

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    source_name: str = Field(default="", max_length=255)
    item_count: int
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class SimCard(SQLModel, table=True):
    __tablename__ = "sim_card"
    __table_args__ = (Index("ix_sim_batch", "batch_id"),)

    iccid: str = Field(primary_key=True, max_length=20)
    imsi: str = Field(max_length=15, sa_column_kwargs={"unique": True})
    batch_id: str = Field(foreign_key="sim_batch.id", max_length=36)
    status: str = Field(max_length=16)
    msisdn: str | None = Field(default=None, max_length=11, sa_column_kwargs={"unique": True})
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    # A paired SIM travels with its number (a starter pack); this is the outlet holding it.
    outlet_id: str | None = Field(default=None, max_length=36)


class VoucherBatch(SQLModel, table=True):
    __tablename__ = "voucher_batch"

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    source: str = Field(max_length=16)  # generated | file
    source_name: str = Field(default="", max_length=255)
    face_value_fen: int
    dealer_price_fen: int
    expires_on: date
    first_serial: str = Field(max_length=17)
    last_serial: str = Field(max_length=17)
    item_count: int
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    release_document_id: str | None = Field(default=None, max_length=36)


class Voucher(SQLModel, table=True):
    __tablename__ = "voucher"
    __table_args__ = (
        # A batch's cards in one status: the expiry step finds the active cards of an expired
        # batch without reading its others (and the batch's cards, as ix_voucher_batch did).
        Index("ix_voucher_batch_status", "batch_id", "status"),
        Index("ix_voucher_status", "status"),
        Index("ix_voucher_outlet", "outlet_id", "status"),
        Index("ix_voucher_document", "document_id"),
    )

    serial: str = Field(primary_key=True, max_length=17)
    batch_id: str = Field(foreign_key="voucher_batch.id", max_length=36)
    face_value_fen: int
    # AES-GCM ciphertext; the PIN itself is never returned by any route.
    pin_cipher: str = Field(sa_column=Column(String(96), nullable=False))
    status: str = Field(max_length=16)
    held_from: str | None = Field(default=None, max_length=16)
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    outlet_id: str | None = Field(default=None, max_length=36)
    prev_outlet_id: str | None = Field(default=None, max_length=36)
    document_id: str | None = Field(default=None, max_length=36)


class ImportJob(SQLModel, table=True):
    """One import attempt, kept with its error report and its rejected rows for download."""

    __tablename__ = "import_job"

    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=16)  # numbers | sims | pairs | vouchers
    file_name: str = Field(max_length=255)
    outcome: str = Field(max_length=16)  # imported | partial | rejected
    total_rows: int
    accepted_rows: int
    rejected_rows: int
    batch_id: str | None = Field(default=None, max_length=36)
    errors_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    rejected_csv: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
