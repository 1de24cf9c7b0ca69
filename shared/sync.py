"""Wire contracts of terminal ⇄ back-office sync: events, push and pull, reservations."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from shared.codes import parse_document_number, parse_receipt_number, parse_resident_id
from shared.ids import is_uuid7

MAX_EVENTS_PER_PUSH = 500


def _uuid7(value: str) -> str:
    if not is_uuid7(value):
        raise ValueError(f"{value!r} is not a UUIDv7")
    return value.lower()


def _receipt_no(value: str) -> str:
    return str(parse_receipt_number(value))


def _document_no(value: str) -> str:
    return str(parse_document_number(value))


def _resident_id(value: str) -> str:
    return parse_resident_id(value).value


Uuid7 = Annotated[str, AfterValidator(_uuid7)]
ReceiptNo = Annotated[str, AfterValidator(_receipt_no)]
DocumentNo = Annotated[str, AfterValidator(_document_no)]
Fen = Annotated[int, Field(ge=0)]
PositiveFen = Annotated[int, Field(gt=0)]
ItemCode = Annotated[str, Field(pattern=r"^[0-9]{11}$|^[0-9]{17}$")]


class Contract(BaseModel):
    """What a terminal sends: a field the back office does not know is refused, not dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Answer(BaseModel):
    """What the back office answers: fields a newer back office adds are ignored, so that
    terminals keep working while they are upgraded one by one."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class EventType(StrEnum):
    sale = "sale"
    sale_return = "return"
    stock_receipt = "stock_receipt"
    stock_count = "stock_count"
    stock_out = "stock_out"
    shift_open = "shift_open"
    shift_close = "shift_close"
    cash_in = "cash_in"
    cash_out = "cash_out"


class EventStatus(StrEnum):
    accepted = "accepted"
    duplicate = "duplicate"
    rejected = "rejected"


class RejectReason(StrEnum):
    """Stable codes the terminal shows and the sales centre reconciles by."""

    dealer_suspended = "dealer_suspended"
    item_already_sold = "item_already_sold"
    item_not_in_outlet_stock = "item_not_in_outlet_stock"
    item_reserved_elsewhere = "item_reserved_elsewhere"
    unknown_item = "unknown_item"
    price_mismatch = "price_mismatch"
    unknown_price_list = "unknown_price_list"
    unknown_product = "unknown_product"
    override_not_approved = "override_not_approved"
    payment_mismatch = "payment_mismatch"
    real_name_required = "real_name_required"
    receipt_number_reused = "receipt_number_reused"
    sale_not_found = "sale_not_found"
    item_not_in_sale = "item_not_in_sale"
    already_returned = "already_returned"
    return_window_passed = "return_window_passed"
    item_already_active = "item_already_active"
    voucher_already_redeemed = "voucher_already_redeemed"
    document_not_found = "document_not_found"
    document_not_for_outlet = "document_not_for_outlet"
    unknown_shift = "unknown_shift"
    shift_already_open = "shift_already_open"
    shift_closed = "shift_closed"
    already_received = "already_received"
    not_a_delivery = "not_a_delivery"
    invalid_item = "invalid_item"
    # Anything else the back office refused; the message says what.
    invalid_event = "invalid_event"


# --- payloads -------------------------------------------------------------------------------


class PriceOverride(Contract):
    """A price other than the list price, approved at the counter with a manager's PIN."""

    approved_by: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=255)


class SaleLine(Contract):
    item_kind: Literal["number", "voucher"]
    item: ItemCode = Field(description="MSISDN (11 digits) or top-up card serial (17 digits)")
    product: str = Field(max_length=32, examples=["number:STD", "voucher:5000"])
    price_fen: Fen
    price_list_version: int = Field(ge=1)
    override: PriceOverride | None = None


class Payment(Contract):
    method: Literal["cash", "card", "wallet"]
    amount_fen: PositiveFen


class Customer(Contract):
    """Real-name registration (实名制) of the buyer of a number."""

    name: str = Field(min_length=1, max_length=64)
    resident_id: Annotated[str, AfterValidator(_resident_id)]


class SalePayload(Contract):
    sale_id: Uuid7
    receipt_no: ReceiptNo
    clerk: str = Field(min_length=1, max_length=64)
    shift_id: Uuid7 | None = None
    lines: list[SaleLine] = Field(min_length=1, max_length=50)
    payments: list[Payment] = Field(min_length=1, max_length=10)
    customer: Customer | None = None


class ReturnPayload(Contract):
    return_id: Uuid7
    original_receipt_no: ReceiptNo
    clerk: str = Field(min_length=1, max_length=64)
    items: list[ItemCode] = Field(min_length=1, max_length=50)
    refund_fen: Fen
    # The shift whose drawer paid the refund, and how; a terminal that leaves them out is
    # taken to have refunded cash in the shift open at the time.
    shift_id: Uuid7 | None = None
    refund_method: Literal["cash", "card", "wallet"] = "cash"


class StockReceiptPayload(Contract):
    document_number: DocumentNo
    clerk: str = Field(min_length=1, max_length=64)
    items: list[ItemCode] = Field(max_length=100_000)


class StockCountPayload(Contract):
    clerk: str = Field(min_length=1, max_length=64)
    items: list[ItemCode] = Field(max_length=100_000)


class StockOutPayload(Contract):
    """Items the outlet sends back to the centre."""

    clerk: str = Field(min_length=1, max_length=64)
    items: list[ItemCode] = Field(min_length=1, max_length=100_000)
    reason: str = Field(min_length=1, max_length=255)


class ShiftOpenPayload(Contract):
    shift_id: Uuid7
    clerk: str = Field(min_length=1, max_length=64)
    opening_float_fen: Fen


class ShiftClosePayload(Contract):
    shift_id: Uuid7
    counted_cash_fen: Fen
    z_number: int = Field(ge=1)


class CashMovePayload(Contract):
    shift_id: Uuid7
    amount_fen: PositiveFen
    reason: str = Field(min_length=1, max_length=255)


# --- envelopes ------------------------------------------------------------------------------


class _Envelope(Contract):
    id: Uuid7 = Field(description="UUIDv7 made by the terminal; the idempotency key")
    seq: int = Field(ge=1, description="the terminal's own event sequence")
    occurred_at: AwareDatetime


class SaleEvent(_Envelope):
    type: Literal[EventType.sale] = EventType.sale
    payload: SalePayload


class ReturnEvent(_Envelope):
    type: Literal[EventType.sale_return] = EventType.sale_return
    payload: ReturnPayload


class StockReceiptEvent(_Envelope):
    type: Literal[EventType.stock_receipt] = EventType.stock_receipt
    payload: StockReceiptPayload


class StockCountEvent(_Envelope):
    type: Literal[EventType.stock_count] = EventType.stock_count
    payload: StockCountPayload


class StockOutEvent(_Envelope):
    type: Literal[EventType.stock_out] = EventType.stock_out
    payload: StockOutPayload


class ShiftOpenEvent(_Envelope):
    type: Literal[EventType.shift_open] = EventType.shift_open
    payload: ShiftOpenPayload


class ShiftCloseEvent(_Envelope):
    type: Literal[EventType.shift_close] = EventType.shift_close
    payload: ShiftClosePayload


class CashInEvent(_Envelope):
    type: Literal[EventType.cash_in] = EventType.cash_in
    payload: CashMovePayload


class CashOutEvent(_Envelope):
    type: Literal[EventType.cash_out] = EventType.cash_out
    payload: CashMovePayload


Event = Annotated[
    SaleEvent
    | ReturnEvent
    | StockReceiptEvent
    | StockCountEvent
    | StockOutEvent
    | ShiftOpenEvent
    | ShiftCloseEvent
    | CashInEvent
    | CashOutEvent,
    Field(discriminator="type"),
]


class PushRequest(Contract):
    events: list[Event] = Field(min_length=1, max_length=MAX_EVENTS_PER_PUSH)


class EventResult(Answer):
    id: str
    seq: int
    status: EventStatus
    reason: RejectReason | None = None
    message: str = ""
    original: EventStatus | None = Field(
        default=None, description="for a duplicate: what the event got the first time"
    )


class PushResponse(Answer):
    results: list[EventResult]


# --- pull -----------------------------------------------------------------------------------


class StockItem(Answer):
    item_kind: Literal["number", "voucher"]
    item: str
    status: str
    product: str
    in_outlet: bool = Field(description="false: the item left this outlet; drop it")
    iccid: str | None = Field(default=None, description="numbers: the paired SIM, if any")
    document_number: str | None = Field(
        default=None, description="in transit: the delivery note or transfer it travels on"
    )


class ProductPrice(Answer):
    product: str
    retail_fen: int
    dealer_fen: int


class PriceListState(Answer):
    version: int
    effective_from: datetime
    prices: list[ProductPrice]


class GradeState(Answer):
    code: str
    name: str
    rank: int
    selection_fee_fen: int
    prestore_fen: int
    min_monthly_fen: int
    lockin_months: int


class ClerkState(Answer):
    username: str
    full_name: str
    role: str
    pin_hash: str | None = Field(description="argon2 hash for offline log-in")


class DealerState(Answer):
    code: str
    name: str
    status: str


class OutletState(Answer):
    id: str
    code: str
    name: str
    timezone: str


class PullResponse(Answer):
    cursor: str = Field(description="pass back as `since` on the next pull")
    full: bool = Field(description="true when stock is a complete snapshot, not changes")
    dealer: DealerState
    outlet: OutletState
    stock: list[StockItem]
    price_list: PriceListState
    grades: list[GradeState]
    clerks: list[ClerkState]


# --- reservations ---------------------------------------------------------------------------


class ReserveRequest(Contract):
    msisdn: str = Field(pattern=r"^[0-9]{11}$")
    clerk: str = Field(min_length=1, max_length=64)


class Reservation(Answer):
    id: str
    msisdn: str
    status: str
    # Aware: the terminal compares it with its own UTC clock when the number is scanned.
    expires_at: AwareDatetime
