"""Tables of the dealer channel: dealers, outlets, terminals, prices, sync, sales, outbox."""

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backoffice.models.types import UTCDateTime, utcnow


def _utc_column(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(UTCDateTime(), nullable=nullable)


def _text_column(nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(Text, nullable=nullable)


class Dealer(SQLModel, table=True):
    __tablename__ = "dealer"

    id: str = Field(primary_key=True, max_length=36)
    code: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=128)
    kind: str = Field(max_length=16)  # own_store | partner | social
    status: str = Field(max_length=16)  # active | suspended | terminated
    # Bigint: a large dealer's figures pass the 21 million yuan an int4 of fen can hold.
    credit_limit_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    # What the dealer owes is the sum of its ledger (services.dealers.owed), never a column.
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())


class DealerLedgerEntry(SQLModel, table=True):
    """Append-only account of a dealer: positive amounts raise what it owes."""

    __tablename__ = "dealer_ledger_entry"
    __table_args__ = (Index("ix_ledger_dealer", "dealer_id", "at"),)

    id: str = Field(primary_key=True, max_length=36)
    dealer_id: str = Field(foreign_key="dealer.id", max_length=36)
    at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    kind: str = Field(max_length=16)  # allocation | return | payment | adjustment
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    document_id: str | None = Field(default=None, max_length=36)
    actor: str = Field(max_length=96)
    note: str = Field(default="", max_length=255)


class Outlet(SQLModel, table=True):
    __tablename__ = "outlet"

    id: str = Field(primary_key=True, max_length=36)
    dealer_id: str = Field(foreign_key="dealer.id", max_length=36, index=True)
    code: str = Field(max_length=32, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=128)
    address: str = Field(default="", max_length=255)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    reservation_quota: int = 20
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())


class Terminal(SQLModel, table=True):
    __tablename__ = "terminal"

    id: str = Field(primary_key=True, max_length=36)
    terminal_no: int = Field(sa_column_kwargs={"unique": True})
    outlet_id: str = Field(foreign_key="outlet.id", max_length=36, index=True)
    name: str = Field(max_length=64)
    # SHA-256 of a 256-bit random secret: enough against guessing, and cheap enough to
    # check on every sync request (a password hash would cost milliseconds each time).
    credential_hash: str = Field(max_length=64)
    status: str = Field(max_length=16)  # active | revoked
    registered_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    last_push_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class PriceList(SQLModel, table=True):
    __tablename__ = "price_list"

    id: str = Field(primary_key=True, max_length=36)
    version: int = Field(sa_column_kwargs={"unique": True})
    effective_from: datetime = Field(sa_column=_utc_column())
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    note: str = Field(default="", max_length=255)


class PriceListItem(SQLModel, table=True):
    __tablename__ = "price_list_item"
    __table_args__ = (UniqueConstraint("price_list_id", "product"),)

    id: int | None = Field(default=None, primary_key=True)
    price_list_id: str = Field(foreign_key="price_list.id", max_length=36)
    product: str = Field(max_length=32)
    retail_fen: int
    dealer_fen: int


class DealerPrice(SQLModel, table=True):
    """A per-dealer override of the central price of one product."""

    __tablename__ = "dealer_price"
    __table_args__ = (UniqueConstraint("dealer_id", "product"),)

    id: int | None = Field(default=None, primary_key=True)
    dealer_id: str = Field(foreign_key="dealer.id", max_length=36)
    product: str = Field(max_length=32)
    retail_fen: int
    dealer_fen: int
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())


class DocumentDiscrepancy(SQLModel, table=True):
    """An item missing from or unexpected in a receipt or a stock count."""

    __tablename__ = "document_discrepancy"
    __table_args__ = (Index("ix_discrepancy_status", "status", "document_id"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: str = Field(foreign_key="stock_document.id", max_length=36)
    outlet_id: str = Field(max_length=36)
    item_kind: str = Field(max_length=16)
    item_key: str = Field(max_length=20)
    kind: str = Field(max_length=16)  # missing | unexpected
    status: str = Field(max_length=16)  # open | resolved
    resolution: str | None = Field(default=None, max_length=32)
    resolved_by: str | None = Field(default=None, max_length=96)
    resolved_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    note: str = Field(default="", max_length=255)


class NumberReservation(SQLModel, table=True):
    __tablename__ = "number_reservation"
    __table_args__ = (
        Index("ix_reservation_status_expiry", "status", "expires_at"),
        Index("ix_reservation_msisdn", "msisdn"),
    )

    id: str = Field(primary_key=True, max_length=36)
    msisdn: str = Field(max_length=11)
    outlet_id: str = Field(max_length=36)
    terminal_id: str | None = Field(default=None, max_length=36)
    status: str = Field(max_length=16)  # active | used | expired | cancelled
    held_from: str = Field(max_length=16)
    reserved_by: str = Field(max_length=96)
    reserved_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    expires_at: datetime = Field(sa_column=_utc_column())


class ReservationQuota(SQLModel, table=True):
    """Reservations used per outlet and day, counted by one conditional upsert."""

    __tablename__ = "reservation_quota"

    outlet_id: str = Field(primary_key=True, max_length=36)
    day: date = Field(primary_key=True)
    used: int = 0


class SyncEvent(SQLModel, table=True):
    """Every event a terminal pushed, with the result it got the first time."""

    __tablename__ = "sync_event"
    __table_args__ = (
        Index("ix_sync_event_terminal_seq", "terminal_id", "seq"),
        Index("ix_sync_event_queue", "result", "resolution"),
    )

    id: str = Field(primary_key=True, max_length=36)
    terminal_id: str = Field(max_length=36)
    outlet_id: str = Field(max_length=36)
    dealer_id: str = Field(max_length=36)
    seq: int
    type: str = Field(max_length=16)
    occurred_at: datetime = Field(sa_column=_utc_column())
    received_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    result: str = Field(max_length=16)  # accepted | rejected
    reason: str | None = Field(default=None, max_length=48)
    message: str | None = Field(default=None, sa_column=_text_column(nullable=True))
    payload: str = Field(sa_column=_text_column())
    # Rejected events wait here until the sales centre resolves them.
    resolution: str | None = Field(default=None, max_length=16)  # open | resolved
    resolved_by: str | None = Field(default=None, max_length=96)
    resolved_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    resolution_note: str | None = Field(default=None, max_length=255)


class Sale(SQLModel, table=True):
    __tablename__ = "sale"
    __table_args__ = (Index("ix_sale_outlet_time", "outlet_id", "sold_at"),)

    id: str = Field(primary_key=True, max_length=36)
    event_id: str = Field(max_length=36)
    receipt_no: str = Field(max_length=17, sa_column_kwargs={"unique": True})
    terminal_id: str = Field(max_length=36)
    outlet_id: str = Field(max_length=36)
    dealer_id: str = Field(max_length=36, index=True)
    clerk: str = Field(max_length=64)
    shift_id: str | None = Field(default=None, max_length=36)
    sold_at: datetime = Field(sa_column=_utc_column())
    total_fen: int
    payments: str = Field(sa_column=_text_column())
    customer_name: str | None = Field(default=None, max_length=64)
    customer_id_masked: str | None = Field(default=None, max_length=18)
    # AES-GCM with the sale id bound in; only the masked form is ever shown.
    customer_id_cipher: str | None = Field(default=None, max_length=128)


class SaleLine(SQLModel, table=True):
    __tablename__ = "sale_line"
    __table_args__ = (Index("ix_sale_line_item", "item_key"),)

    id: int | None = Field(default=None, primary_key=True)
    sale_id: str = Field(foreign_key="sale.id", max_length=36, index=True)
    item_kind: str = Field(max_length=16)  # number | voucher
    item_key: str = Field(max_length=20)
    product: str = Field(max_length=32)
    price_fen: int
    list_price_fen: int
    dealer_fen: int
    override_approved_by: str | None = Field(default=None, max_length=64)
    override_reason: str | None = Field(default=None, max_length=255)
    returned_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))


class Shift(SQLModel, table=True):
    __tablename__ = "shift"

    id: str = Field(primary_key=True, max_length=36)
    terminal_id: str = Field(max_length=36, index=True)
    clerk: str = Field(max_length=64)
    opened_at: datetime = Field(sa_column=_utc_column())
    opening_float_fen: int
    closed_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    counted_cash_fen: int | None = None
    z_number: int | None = None


class CashMovement(SQLModel, table=True):
    __tablename__ = "cash_movement"

    id: str = Field(primary_key=True, max_length=36)
    shift_id: str = Field(foreign_key="shift.id", max_length=36, index=True)
    direction: str = Field(max_length=8)  # in | out
    amount_fen: int
    reason: str = Field(max_length=255)
    at: datetime = Field(sa_column=_utc_column())


class ActivationOutbox(SQLModel, table=True):
    """Number activations waiting for the provisioning system to take them."""

    __tablename__ = "activation_outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=36)
    msisdn: str = Field(max_length=11)
    sale_id: str = Field(max_length=36)
    payload: str = Field(sa_column=_text_column())
    status: str = Field(max_length=16)  # pending | delivered | failed | cancelled
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column())
    next_attempt_at: datetime = Field(sa_column=_utc_column())
    last_error: str | None = Field(default=None, max_length=255)
    delivered_at: datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
