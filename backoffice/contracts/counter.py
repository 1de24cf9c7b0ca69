"""Request and response models of the counter's side: sales, the reconciliation queue,
redemption checks and the activation outbox."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from backoffice.contracts.common import CheckedModel, Public


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
    payload: dict[str, object]


class ReconciliationResolve(CheckedModel):
    note: str = Field(min_length=1, max_length=255)
    terminal_id: str | None = Field(
        default=None,
        max_length=36,
        description="needed only when two terminals have sent an event of the same id",
    )


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
