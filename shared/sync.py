"""Wire contracts of terminal ⇄ back-office sync: events, push and pull, reservations."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeGuard

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from shared.checks import INT32_MAX, CheckedModel
from shared.codes import parse_document_number, parse_receipt_number, parse_resident_id
from shared.ids import is_uuid7
from shared.overrides import OverrideCaps

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
# Amounts of one sale, refund or cash movement: the back office keeps them in INTEGER columns.
Fen = Annotated[int, Field(ge=0, le=INT32_MAX)]
PositiveFen = Annotated[int, Field(gt=0, le=INT32_MAX)]
Count = Annotated[int, Field(ge=1, le=INT32_MAX)]
ItemCode = Annotated[str, Field(pattern=r"^[0-9]{11}$|^[0-9]{17}$")]


class Contract(CheckedModel):
    """What a terminal sends: a field the back office does not know is refused, not dropped;
    text with a NUL character or a number beyond its column is refused with the field's name."""

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
    # The clerk named on the event is not active staff of the terminal's dealer.
    unknown_clerk = "unknown_clerk"
    # A price override beyond the dealer's caps (online, or the smaller offline cap).
    override_over_cap = "override_over_cap"
    # Receipt numbers carry their terminal's number: another terminal's is refused.
    receipt_not_this_terminal = "receipt_not_this_terminal"
    # Anything else the back office refused; the message says what.
    invalid_event = "invalid_event"
    # Not a valid event at all (a field missing or wrong, text with NUL, a number out of
    # range): filed for reconciliation as received, so that it cannot hold up the others.
    malformed_event = "malformed_event"


# --- payloads -------------------------------------------------------------------------------


class PriceOverride(Contract):
    """A price other than the list price, approved at the counter with a manager's PIN:
    online by the back office (which answers the `approval` token), else offline at the
    terminal, within the smaller offline cap and queued for review."""

    approved_by: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=255)
    approval: str | None = Field(
        default=None,
        max_length=2_048,
        description="the back office's signed approval (POST /sync/approvals); none offline",
    )


class SaleLine(Contract):
    item_kind: Literal["number", "voucher"]
    item: ItemCode = Field(description="MSISDN (11 digits) or top-up card serial (17 digits)")
    product: str = Field(max_length=32, examples=["number:STD", "voucher:5000"])
    price_fen: Fen
    price_list_version: Count
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

    @model_validator(mode="after")
    def _total_fits(self) -> "SalePayload":
        # The sale's total is stored like its lines: in an INTEGER column.
        if sum(line.price_fen for line in self.lines) > INT32_MAX:
            raise ValueError(f"lines: the sale's total is above {INT32_MAX} fen")
        if sum(payment.amount_fen for payment in self.payments) > INT32_MAX:
            raise ValueError(f"payments: their total is above {INT32_MAX} fen")
        return self


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
    z_number: Count
    # Times the drawer was opened without a sale (a manager's approval each) in the shift; a
    # terminal that leaves it out counted none.
    no_sale_openings: int = Field(default=0, ge=0, le=INT32_MAX)


class CashMovePayload(Contract):
    shift_id: Uuid7
    amount_fen: PositiveFen
    reason: str = Field(min_length=1, max_length=255)


# --- envelopes ------------------------------------------------------------------------------


class _Envelope(Contract):
    id: Uuid7 = Field(description="UUIDv7 made by the terminal; the idempotency key")
    seq: Count = Field(description="the terminal's own event sequence")
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


def is_event(entry: object) -> TypeGuard[Event]:
    """Whether a push's entry was taken as a valid event (not kept as sent)."""
    return isinstance(entry, _Envelope)


# An entry of a push that is not a valid event is kept as sent instead of failing the whole
# push: the back office answers it `malformed_event` and applies the others. Left to right:
# a valid event is always taken as the event it is.
PushedEvent = Annotated[Event | SkipJsonSchema[Any], Field(union_mode="left_to_right")]


class PushRequest(Contract):
    """Events in the terminal's order. Each is answered on its own, in the same order: one that
    is not valid (a field missing or wrong, text with NUL, a number out of range) is answered
    `rejected` with reason `malformed_event` and the rest are applied."""

    # Each event checks its own fields; an entry that is not an event is answered, not refused.
    unchecked_fields: ClassVar[frozenset[str]] = frozenset({"events"})

    events: list[PushedEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_PUSH)


_REASONS = frozenset(reason.value for reason in RejectReason)


def _reason(value: object) -> object:
    # A reason added by a newer back office must not make the whole answer unreadable.
    if isinstance(value, str) and value not in _REASONS:
        return RejectReason.invalid_event
    return value


class EventResult(Answer):
    id: str
    seq: int
    status: EventStatus
    reason: Annotated[RejectReason | None, BeforeValidator(_reason)] = None
    message: str = ""
    original: EventStatus | None = Field(
        default=None, description="for a duplicate: what the event got the first time"
    )


class PushResponse(Answer):
    results: list[EventResult]


# --- pull -----------------------------------------------------------------------------------


class ResolutionKind(StrEnum):
    """What the sales centre decided for an event it had rejected."""

    # Booked as if accepted: the sale stands, nothing is to be done at the counter.
    manual_sale = "manual_sale"
    # Not booked: the counter refunds the buyer (and takes the items back, if it has them).
    refund = "refund"
    # Not booked: written off as a loss; nothing is to be done at the counter.
    write_off = "write_off"
    # Sorted out otherwise; the note says how.
    note = "note"


def _resolution_kind(value: object) -> object:
    # A decision a newer back office can take reads as a note: the note says what to do.
    if value is None or (isinstance(value, str) and value not in ResolutionKind.__members__):
        return ResolutionKind.note
    return value


class EventResolution(Answer):
    """The sales centre's decision on one of this terminal's rejected events."""

    id: str = Field(description="the event's id")
    seq: int
    kind: Annotated[ResolutionKind, BeforeValidator(_resolution_kind)]
    note: str = ""
    resolved_at: AwareDatetime


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
    pin_verifier: str | None = Field(
        default=None, description="for offline log-in: shared/pins.py, keyed per terminal"
    )
    # Terminals before PIN verifiers required this field; it is sent empty, never a hash.
    pin_hash: None = None


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
    override_caps: OverrideCaps | None = Field(
        default=None, description="the dealer's caps on price overrides"
    )
    resolutions: list[EventResolution] = Field(
        default_factory=list,
        description="decisions on this terminal's rejected events made since the cursor",
    )


# --- override approvals ---------------------------------------------------------------------


class ApprovalRequest(Contract):
    """A price override the terminal asks the back office to approve, with the dealer
    manager's code and PIN (checked there, with a lock-out after repeated failures)."""

    sale_id: Uuid7
    item_kind: Literal["number", "voucher"]
    item: ItemCode
    product: str = Field(max_length=32)
    price_list_version: Count
    price_fen: Fen
    reason: str = Field(min_length=1, max_length=255)
    manager: str = Field(min_length=1, max_length=64)
    pin: str = Field(pattern=r"^[0-9]{4,8}$")


class ApprovalGranted(Answer):
    """A signed approval bound to the terminal, the sale, the item and the price; the sale
    event carries it as `override.approval`."""

    approval: str
    approved_by: str
    list_price_fen: int
    price_fen: int
    expires_at: AwareDatetime


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
