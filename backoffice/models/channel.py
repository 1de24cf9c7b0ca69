"""Tables of the dealer channel: dealers and their credit ledger, outlets, terminals,
price lists and dealer prices, discrepancies, reservations."""

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backoffice.models.types import utc_column, utcnow


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
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    # Raised with every change of the dealer's own prices or override caps: pushes keep its
    # price book by this version (services/counter/pricing.py) instead of reading it each time.
    prices_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class DealerLedgerEntry(SQLModel, table=True):
    """Append-only account of a dealer: positive amounts raise what it owes."""

    __tablename__ = "dealer_ledger_entry"
    __table_args__ = (Index("ix_ledger_dealer", "dealer_id", "at"),)

    id: str = Field(primary_key=True, max_length=36)
    dealer_id: str = Field(foreign_key="dealer.id", max_length=36)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
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
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


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
    registered_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_push_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PriceList(SQLModel, table=True):
    __tablename__ = "price_list"

    id: str = Field(primary_key=True, max_length=36)
    version: int = Field(sa_column_kwargs={"unique": True})
    effective_from: datetime = Field(sa_column=utc_column())
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    note: str = Field(default="", max_length=255)
    # The default caps on price overrides (shared/overrides.py); a dealer may have its own.
    max_discount_fen: int | None = None
    max_discount_percent: int | None = None
    max_markup_fen: int = 0
    offline_max_fen: int = 0


class DealerOverrideCap(SQLModel, table=True):
    """A dealer's own caps on price overrides, in place of its price list's defaults."""

    __tablename__ = "dealer_override_cap"

    dealer_id: str = Field(primary_key=True, foreign_key="dealer.id", max_length=36)
    max_discount_fen: int | None = None
    max_discount_percent: int | None = None
    max_markup_fen: int = 0
    offline_max_fen: int = 0
    set_by: str = Field(max_length=96)
    set_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


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
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


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
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
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
    reserved_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())


class ReservationQuota(SQLModel, table=True):
    """Reservations used per outlet and day, counted by one conditional upsert."""

    __tablename__ = "reservation_quota"

    outlet_id: str = Field(primary_key=True, max_length=36)
    day: date = Field(primary_key=True)
    used: int = 0


class DealerProductRange(SQLModel, table=True):
    """What a dealer may sell: which products (numbers, SIM starter packs, top-up cards) and
    which number grades. A dealer without a row may sell everything; allocation refuses a
    rule outside the range (services/channel/product_range.py)."""

    __tablename__ = "dealer_product_range"

    dealer_id: str = Field(primary_key=True, foreign_key="dealer.id", max_length=36)
    numbers: bool = True
    sim_packs: bool = True
    vouchers: bool = True
    # Grade codes separated by commas; NULL: every grade, those added later included.
    grades: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_by: str = Field(max_length=96)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
