"""Request and response models of the counter's side: sales, the reconciliation queue,
redemption checks and the activation outbox."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from backoffice.contracts.common import CheckedModel, Public
from shared.sync import ResolutionKind


class ReconciliationItem(BaseModel):
    event_id: str
    terminal_id: str
    outlet_id: str
    dealer_id: str
    seq: int
    type: str
    occurred_at: datetime
    received_at: datetime
    result: str = Field(
        description="rejected; or accepted and waiting for review (reason override_offline)"
    )
    reason: str | None
    message: str | None
    resolution: str | None
    resolved_by: str | None
    resolution_note: str | None
    resolution_kind: ResolutionKind | None = None
    resolved_at: datetime | None = None
    payload: dict[str, object]


# The decisions that need a note saying why (the others say it by themselves).
NOTE_REQUIRED = frozenset({ResolutionKind.note, ResolutionKind.write_off})


class ReconciliationResolve(CheckedModel):
    kind: ResolutionKind = Field(
        default=ResolutionKind.note,
        description="manual_sale: book the sale as if accepted; refund: the counter refunds "
        "the buyer, nothing is booked; write_off: a loss, nothing is booked; note: sorted out "
        "otherwise. The terminal learns the decision at its next pull.",
    )
    note: str = Field(default="", max_length=255, description="required for note and write_off")
    terminal_id: str | None = Field(
        default=None,
        max_length=36,
        description="needed only when two terminals have sent an event of the same id",
    )

    @model_validator(mode="after")
    def _note_given(self) -> "ReconciliationResolve":
        if self.kind in NOTE_REQUIRED and not self.note.strip():
            raise ValueError(f"a {self.kind.value} decision needs a note")
        return self


class SalePublic(BaseModel):
    id: str
    receipt_no: str
    terminal_id: str
    outlet_id: str
    dealer_id: str
    clerk: str
    sold_at: datetime
    total_fen: int
    # Masked as on the receipt (张**, 330602********123X): the back office never shows more.
    customer_name_masked: str | None
    customer_id_masked: str | None
    lines: list[dict[str, object]]


class RedemptionRequest(CheckedModel):
    serial: str = Field(pattern=r"^[0-9]{17}$")
    pin: str = Field(pattern=r"^[0-9]{16,19}$")


class RedemptionResult(BaseModel):
    serial: str
    result: Literal["valid", "already_used", "frozen", "not_sold", "expired", "invalid"]
    face_value_fen: int | None = Field(
        default=None, description="credited only when result is valid"
    )


class OutboxEntryPublic(Public):
    id: str
    msisdn: str
    sale_id: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class OutboxSummary(BaseModel):
    pending: int
    failed: int
    delivered: int
    oldest_pending_at: datetime | None


class DeliveryRun(BaseModel):
    attempted: int
    delivered: int
    failed: int
