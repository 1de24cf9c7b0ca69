"""Request and response models of the billing centre: grades and grading rules, number
batches and search, SIM cards and pairing, top-up card batches, releases, imports."""

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from backoffice.contracts.common import Public


class GradePublic(Public):
    code: str
    name: str
    rank: int
    selection_fee_fen: int
    prestore_fen: int
    min_monthly_fen: int
    lockin_months: int


class GradeUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=64)
    selection_fee_fen: int | None = Field(default=None, ge=0)
    prestore_fen: int | None = Field(default=None, ge=0)
    min_monthly_fen: int | None = Field(default=None, ge=0)
    lockin_months: int | None = Field(default=None, ge=0, le=120)


class GradingRuleIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    pattern: str = Field(min_length=1, max_length=64)
    grade_code: str
    active: bool = True


class GradingRulePublic(Public):
    position: int
    name: str
    pattern: str
    grade_code: str
    active: bool


class RegradeResult(BaseModel):
    examined: int
    changed: int


class SegmentRequest(BaseModel):
    prefix: str = Field(pattern=r"^\d{3,10}$", examples=["1390575"])
    start: int = Field(ge=0, examples=[0])
    end: int = Field(ge=0, examples=[9999])
    code: str | None = Field(default=None, max_length=64)


class NumberBatchPublic(Public):
    id: str
    code: str
    source: str
    source_name: str
    first_msisdn: str
    last_msisdn: str
    item_count: int
    created_by: str
    created_at: datetime
    release_document_id: str | None
    grade_counts: dict[str, int] = Field(default_factory=dict)


class NumberPublic(Public):
    msisdn: str
    batch_id: str
    grade_code: str
    grade_name: str
    status: str
    iccid: str | None
    selection_fee_fen: int
    prestore_fen: int
    min_monthly_fen: int
    lockin_months: int


class NumberPage(BaseModel):
    items: list[NumberPublic]
    next_after: str | None = Field(
        description="Pass as `after` to get the next page; null on the last page."
    )


class SimBatchPublic(Public):
    id: str
    code: str
    source_name: str
    item_count: int
    created_by: str
    created_at: datetime


class SimPublic(Public):
    iccid: str
    imsi: str
    batch_id: str
    status: str
    msisdn: str | None


class AutoPairRequest(BaseModel):
    number_batch: str
    sim_batch: str


class PairingResult(BaseModel):
    paired: int
    unpaired_numbers: int
    unpaired_sims: int
    first_pair: tuple[str, str] | None
    last_pair: tuple[str, str] | None


class VoucherBatchTerms(BaseModel):
    face_value_fen: int = Field(ge=1_000, le=50_000, description="10 to 500 yuan")
    dealer_price_fen: int = Field(gt=0)
    expires_on: date
    code: str | None = Field(default=None, max_length=64)


class VoucherGenerateRequest(VoucherBatchTerms):
    first_serial: str = Field(pattern=r"^\d{17}$")
    count: int = Field(gt=0, le=1_000_000)


class VoucherBatchPublic(Public):
    id: str
    code: str
    source: str
    source_name: str
    face_value_fen: int
    dealer_price_fen: int
    expires_on: date
    first_serial: str
    last_serial: str
    item_count: int
    created_by: str
    created_at: datetime
    release_document_id: str | None


class GeneratedVouchers(BaseModel):
    batch: VoucherBatchPublic
    pins_csv: str = Field(
        description="serial,pin for the card printer. Shown once: only ciphertext is stored."
    )


class VoucherPublic(Public):
    serial: str
    batch_id: str
    face_value_fen: int
    status: str


class ReleaseRequest(BaseModel):
    item_kind: Literal["numbers", "vouchers"]
    batch: str = Field(description="batch code or id")
    note: str = Field(default="", max_length=500)


class RowErrorPublic(BaseModel):
    line: int
    column: str
    value: str
    reason: str


class ImportReport(BaseModel):
    job_id: str
    kind: str
    file: str
    outcome: Literal["imported", "partial", "rejected"]
    total_rows: int
    accepted_rows: int
    rejected_rows: int
    batch_code: str | None = None
    errors: list[RowErrorPublic] = Field(description="the first 100 bad rows")
    rejected_rows_url: str | None = None
