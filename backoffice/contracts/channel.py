"""Request and response models of the sales centre: dealers, outlets, terminals, staff,
prices, allocation and stock documents, reservations."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from backoffice.contracts.common import INT32_MAX, CheckedModel, DocumentPublic, Public
from backoffice.domain.channel import AllocationOrder, DealerKind, DealerStatus
from backoffice.domain.users import PASSWORD_MIN_LENGTH, Role
from shared.overrides import OverrideCaps

Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{2,32}$")]


# Bounds far above any real amount, so that a mistyped figure is refused with the field's name
# instead of overflowing a ledger's BIGINT column (or SQLite's integer) as a server error.
ENTRY_LIMIT_FEN = 10**12  # ¥10,000,000,000 in one entry


RangeProduct = Literal["numbers", "sim_packs", "vouchers"]
RANGE_PRODUCTS: tuple[RangeProduct, ...] = ("numbers", "sim_packs", "vouchers")


class ProductRange(CheckedModel):
    """What a dealer may sell; allocation refuses a rule outside it."""

    products: list[RangeProduct] = Field(
        default_factory=lambda: list(RANGE_PRODUCTS),
        max_length=3,
        description="numbers, sim_packs (SIM starter packs), vouchers (top-up cards)",
    )
    grades: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{1,16}$")]] | None = Field(
        default=None,
        max_length=100,
        description="the number grades it may sell; null: every grade (later ones included)",
    )


class DealerCreate(CheckedModel):
    code: Code
    name: str = Field(min_length=1, max_length=128)
    kind: DealerKind
    credit_limit_fen: int = Field(ge=0, le=ENTRY_LIMIT_FEN)
    product_range: ProductRange = Field(
        default_factory=ProductRange, description="default: everything"
    )


class DealerUpdate(CheckedModel):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    kind: DealerKind | None = None
    credit_limit_fen: int | None = Field(default=None, ge=0, le=ENTRY_LIMIT_FEN)
    product_range: ProductRange | None = None


class DealerStatusChange(CheckedModel):
    status: DealerStatus
    reason: str = Field(min_length=1, max_length=255)


class DealerPublic(Public):
    id: str
    code: str
    name: str
    kind: DealerKind
    status: DealerStatus
    credit_limit_fen: int
    owed_fen: int
    created_at: datetime
    product_range: ProductRange = Field(default_factory=ProductRange)


class PaymentIn(CheckedModel):
    amount_fen: int = Field(gt=0, le=ENTRY_LIMIT_FEN)
    note: str = Field(default="", max_length=255)


class LedgerEntryPublic(Public):
    id: str
    at: datetime
    kind: str
    amount_fen: int
    document_id: str | None
    actor: str
    note: str


class OutletCreate(CheckedModel):
    dealer: str = Field(description="dealer code or id")
    code: Code
    name: str = Field(min_length=1, max_length=128)
    address: str = Field(default="", max_length=255)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    reservation_quota: int = Field(default=20, ge=0, le=10_000)


class OutletPublic(Public):
    id: str
    dealer_id: str
    code: str
    name: str
    address: str
    timezone: str
    reservation_quota: int


class TerminalCreate(CheckedModel):
    outlet: str = Field(description="outlet code or id")
    name: str = Field(min_length=1, max_length=64)


class TerminalRevoke(CheckedModel):
    reason: str = Field(min_length=1, max_length=255, description="kept in the audit log")


class TerminalPublic(Public):
    id: str
    terminal_no: int
    outlet_id: str
    name: str
    status: str
    registered_at: datetime
    revoked_at: datetime | None


class TerminalRegistered(BaseModel):
    terminal: TerminalPublic
    credential: str = Field(
        description="Send as `Authorization: Bearer <credential>`. Shown once: only a hash "
        "is stored."
    )


class StaffCreate(CheckedModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,64}$")
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=128)
    full_name: str = Field(default="", max_length=128)
    role: Literal[Role.clerk, Role.dealer_manager]
    outlet: str | None = Field(default=None, description="outlet code or id; none: all outlets")
    pin: str = Field(pattern=r"^[0-9]{4,8}$", description="for log-in and approvals at the POS")


class StaffPublic(Public):
    id: str
    username: str
    full_name: str
    role: str
    dealer_id: str | None
    outlet_id: str | None


class PriceIn(CheckedModel):
    product: str = Field(max_length=32, examples=["number:STD", "voucher:5000", "sim_pack"])
    retail_fen: int = Field(ge=0, le=INT32_MAX)
    dealer_fen: int = Field(ge=0, le=INT32_MAX)


class OverrideCapsIn(OverrideCaps, CheckedModel):
    """Caps on price overrides as set by the office: an unknown field is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceListCreate(CheckedModel):
    effective_from: datetime | None = Field(default=None, description="default: now")
    note: str = Field(default="", max_length=255)
    prices: list[PriceIn] = Field(min_length=1, max_length=1_000)
    override_caps: OverrideCapsIn | None = Field(
        default=None,
        description="default caps on price overrides; default: those of the previous list",
    )


class PriceListPublic(BaseModel):
    id: str
    version: int
    effective_from: datetime
    created_by: str
    note: str
    prices: list[PriceIn]
    override_caps: OverrideCaps


class DealerCapsPublic(BaseModel):
    """The caps a dealer's counters work under, and whether they are its own or its price
    list's defaults."""

    dealer_id: str
    own: bool
    override_caps: OverrideCaps


class DealerPricePublic(BaseModel):
    dealer_id: str
    product: str
    retail_fen: int
    dealer_fen: int


class AllocationRule(CheckedModel):
    # Unknown fields are refused: nobody can slip a list of chosen items into a rule.
    model_config = ConfigDict(extra="forbid")

    item_kind: Literal["number", "voucher"]
    count: int = Field(gt=0, le=100_000)
    grade: str | None = Field(default=None, description="numbers: the grade code, e.g. STD")
    face_value_fen: int | None = Field(
        default=None, ge=0, le=INT32_MAX, description="cards: the face value"
    )


class AllocationRequest(CheckedModel):
    model_config = ConfigDict(extra="forbid")

    outlet: str = Field(description="outlet code or id")
    rules: list[AllocationRule] = Field(min_length=1, max_length=20)
    order: AllocationOrder = AllocationOrder.random
    note: str = Field(default="", max_length=500)


class ChannelDocumentPublic(DocumentPublic):
    outlet_id: str | None
    from_outlet_id: str | None
    charge_fen: int = 0


class DiscrepancyPublic(Public):
    id: int
    document_id: str
    outlet_id: str
    item_kind: str
    item_key: str
    kind: str
    status: str
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str


class ReceiptIn(CheckedModel):
    document_number: str
    items: list[str] = Field(max_length=100_000, description="every item scanned")


class ReceiptResult(BaseModel):
    document: ChannelDocumentPublic
    received: int
    discrepancies: list[DiscrepancyPublic]


class ItemsIn(CheckedModel):
    outlet: str = Field(description="outlet code or id")
    items: list[str] = Field(min_length=1, max_length=100_000)
    note: str = Field(default="", max_length=500)


class TransferIn(CheckedModel):
    from_outlet: str
    to_outlet: str
    items: list[str] = Field(min_length=1, max_length=100_000)
    note: str = Field(default="", max_length=500)


class StockCountResult(BaseModel):
    document: ChannelDocumentPublic
    counted: int
    missing: list[str]
    unexpected: list[str]


class DiscrepancyResolution(CheckedModel):
    resolution: Literal["received", "returned_to_pool", "written_off", "noted"]
    note: str = Field(default="", max_length=255)


class ReservationIn(CheckedModel):
    outlet: str
    msisdn: str = Field(pattern=r"^[0-9]{11}$")


class StockItemPublic(BaseModel):
    item_kind: str
    item: str
    status: str
    product: str
