"""Request and response models of the billing centre: grades and grading rules, number
batches and search, SIM cards and pairing, top-up card batches, releases, imports, and the
lifecycle moves of single items (holds, voids, deactivation, SIM write-offs)."""

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator

from backoffice.contracts.common import INT32_MAX, CheckedModel, Public
from backoffice.domain.calendar import business_day
from backoffice.domain.encodings import check_import_encoding

# The encoding field of every import: one a CSV export comes in (utf-8, gbk, …), else refused
# with its name before the file is read.
ImportEncoding = Annotated[str, AfterValidator(check_import_encoding)]


class GradePublic(Public):
    code: str
    name: str
    rank: int
    selection_fee_fen: int
    prestore_fen: int
    min_monthly_fen: int
    lockin_months: int


class GradeUpdate(CheckedModel):
    name: str | None = Field(default=None, max_length=64)
    selection_fee_fen: int | None = Field(default=None, ge=0, le=INT32_MAX)
    prestore_fen: int | None = Field(default=None, ge=0, le=INT32_MAX)
    min_monthly_fen: int | None = Field(default=None, ge=0, le=INT32_MAX)
    lockin_months: int | None = Field(default=None, ge=0, le=120)


class GradingRuleIn(CheckedModel):
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


class SegmentRequest(CheckedModel):
    prefix: str = Field(pattern=r"^\d{3,10}$", examples=["1390575"])
    # The prefix has at least 3 of the 11 digits.
    start: int = Field(ge=0, le=99_999_999, examples=[0])
    end: int = Field(ge=0, le=99_999_999, examples=[9999])
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


class AutoPairRequest(CheckedModel):
    number_batch: str
    sim_batch: str


class PairingResult(BaseModel):
    paired: int
    unpaired_numbers: int
    unpaired_sims: int
    first_pair: tuple[str, str] | None
    last_pair: tuple[str, str] | None


class VoucherBatchTerms(CheckedModel):
    face_value_fen: int = Field(ge=1_000, le=50_000, description="10 to 500 yuan")
    dealer_price_fen: int = Field(gt=0, le=50_000)
    expires_on: date = Field(description="the last day the cards can be redeemed")
    code: str | None = Field(default=None, max_length=64)

    @field_validator("expires_on")
    @classmethod
    def _not_expired(cls, day: date) -> date:
        today = business_day(datetime.now(UTC))
        if day < today:
            raise ValueError(f"{day.isoformat()} is in the past (today is {today.isoformat()})")
        return day


class VoucherImportForm(VoucherBatchTerms):
    """The form fields of a top-up card import, beside its file."""

    skip_bad_rows: bool = False
    encoding: ImportEncoding = Field(default="utf-8", max_length=32)


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


class ReleaseRequest(CheckedModel):
    item_kind: Literal["numbers", "vouchers"]
    batch: str = Field(description="batch code or id")
    note: str = Field(default="", max_length=500)


class LifecycleMoveRequest(CheckedModel):
    """A freeze, unfreeze, void, deactivation or SIM write-off: why, for the audit log."""

    reason: str = Field(
        min_length=1,
        max_length=500,
        description="why, in the clerk's words; recorded in the audit log with the move",
        examples=["police request 2026-118"],
    )


class LifecycleMovePublic(BaseModel):
    """One item's move through its lifecycle, as applied and audited."""

    item_kind: Literal["number", "voucher", "sim"]
    item: str = Field(description="the msisdn, the card serial or the ICCID")
    action: str
    from_status: str
    to_status: str
    held_from: str | None = Field(
        default=None, description="while frozen: the status an unfreeze returns to"
    )
    cooling_until: datetime | None = Field(
        default=None, description="a deactivated number: when it returns to the pool"
    )
    unpaired: str | None = Field(
        default=None, description="a SIM card written off: the number it was paired with"
    )
    reason: str
    actor: str
    at: datetime


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
    note: str | None = Field(
        default=None, description="e.g. that PINs in the report are masked and how to fix them"
    )
