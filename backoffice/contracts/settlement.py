"""Request and response models of settlement: dealer accounts, commission plans, provisioning
callbacks, settlement runs and statements, and shift cash reconciliation."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from backoffice.contracts.channel import ENTRY_LIMIT_FEN, Code
from backoffice.contracts.common import INT32_MAX, CheckedModel, Public
from backoffice.domain.channel import DealerKind
from backoffice.domain.settlement.accounts import Cadence, LedgerKind, StatementStatus

# Entries the sales centre posts by hand; sales, returns and commissions come from runs.
ManualKind = Literal["deposit", "payment", "adjustment", "penalty"]

RULE_LIMIT_FEN = 10**8  # ¥1,000,000 per number in a commission rule
RuleFen = Annotated[int, Field(ge=0, le=RULE_LIMIT_FEN)]


class AccountEntryIn(CheckedModel):
    kind: ManualKind
    amount_fen: int = Field(
        ge=-ENTRY_LIMIT_FEN,
        le=ENTRY_LIMIT_FEN,
        description="positive raises what the dealer owes",
    )
    occurred_on: date | None = Field(default=None, description="defaults to today (China)")
    description: str = Field(default="", max_length=255)
    reason: str = Field(
        default="", max_length=1000, description="adjustment reason, or penalty evidence"
    )
    approver: str = Field(default="", max_length=96)


class AccountEntryPublic(Public):
    id: str
    dealer_id: str
    kind: LedgerKind
    amount_fen: int
    retail_fen: int
    occurred_on: date
    booked_on: date
    late: bool
    item_key: str | None
    description: str
    reason: str
    approver: str
    actor: str
    created_at: datetime


class AccountPublic(BaseModel):
    dealer_id: str
    balance_fen: int = Field(description="the sum of every entry; positive: the dealer owes")
    entries: list[AccountEntryPublic]


class SettlementProfileIn(CheckedModel):
    cadence: Cadence


class SettlementProfilePublic(Public):
    dealer_id: str
    cadence: Cadence


class StageIn(CheckedModel):
    after_months: int = Field(ge=1, le=60)
    amount_fen: RuleFen


class ShareBandIn(CheckedModel):
    first_month: int = Field(ge=0, le=1_200)
    last_month: int = Field(ge=0, le=1_200)
    basis_points: int = Field(ge=0, le=10_000)


class SlabIn(CheckedModel):
    min_volume: int = Field(ge=0, le=INT32_MAX)
    per_number_fen: RuleFen


class CommissionRules(CheckedModel):
    one_off_fen: dict[str, RuleFen] = Field(
        default_factory=dict, description='grade code → fen per number; "*" for any grade'
    )
    stages: list[StageIn] = Field(default_factory=list)
    share_bands: list[ShareBandIn] = Field(default_factory=list)
    slabs: list[SlabIn] = Field(default_factory=list)


class CommissionPlanCreate(CheckedModel):
    code: Code
    dealer: str | None = Field(default=None, description="dealer id or code")
    dealer_kind: DealerKind | None = None
    effective_from: date
    effective_to: date | None = None
    rules: CommissionRules

    @model_validator(mode="after")
    def _one_scope(self) -> "CommissionPlanCreate":
        if (self.dealer is None) == (self.dealer_kind is None):
            raise ValueError("a plan is for one dealer or for one dealer kind, not both")
        return self


class CommissionPlanPublic(BaseModel):
    id: str
    code: str
    dealer_id: str | None
    dealer_kind: str | None
    effective_from: date
    effective_to: date | None
    rules: CommissionRules
    created_by: str
    created_at: datetime


class ActivationCallback(CheckedModel):
    """What the provisioning system reports of a number."""

    msisdn: str = Field(pattern=r"^1\d{10}$")
    status: Literal["activated", "deactivated"]
    on: date


class NumberActivationPublic(Public):
    msisdn: str
    activated_on: date | None
    deactivated_on: date | None


REVENUE_LINES_MAX = 100_000


class RevenueLine(CheckedModel):
    msisdn: str = Field(pattern=r"^1\d{10}$")
    revenue_fen: int = Field(ge=0, le=ENTRY_LIMIT_FEN)


class RevenueReport(CheckedModel):
    """The billing system's revenue per number for one calendar month; a number reported
    again for the month replaces its figure, and the next settlement run books the
    difference in revenue-share commission."""

    month: date = Field(description="the month's first day, e.g. 2026-10-01")
    lines: list[RevenueLine] = Field(min_length=1, max_length=REVENUE_LINES_MAX)

    @model_validator(mode="after")
    def _checked(self) -> "RevenueReport":
        if self.month.day != 1:
            raise ValueError(f"month {self.month} is not the first day of a month")
        seen: dict[str, int] = {}
        for index, line in enumerate(self.lines):
            if line.msisdn in seen:
                raise ValueError(
                    f"lines[{index}]: number {line.msisdn} already on lines[{seen[line.msisdn]}]"
                )
            seen[line.msisdn] = index
        return self


class RevenueReportPublic(BaseModel):
    month: date
    numbers: int
    revenue_fen: int
    replaced: int = Field(description="numbers whose earlier figure for the month was replaced")


class SettlementRunIn(CheckedModel):
    day: date = Field(description="any day of the period to settle")
    cadence: Cadence = Cadence.month
    dealer: str | None = Field(default=None, description="only this dealer (id or code)")


class SettlementRunPublic(BaseModel):
    period_start: date
    period_end: date
    cadence: Cadence
    statements: int
    skipped_closed: int
    entries_booked: int
    seconds: float


class StatementPublic(Public):
    id: str
    number: str
    dealer_id: str
    cadence: Cadence
    period_start: date
    period_end: date
    status: StatementStatus
    retail_collected_fen: int
    opening_fen: int
    sales_fen: int
    returns_fen: int
    commission_fen: int
    penalties_fen: int
    payments_fen: int
    deposits_fen: int
    adjustments_fen: int
    closing_fen: int
    line_count: int
    comment: str
    computed_at: datetime
    computed_by: str
    updated_at: datetime
    updated_by: str


class StatementDetail(BaseModel):
    statement: StatementPublic
    dealer_code: str
    dealer_name: str
    lines: list[AccountEntryPublic]


class StatementDispute(CheckedModel):
    comment: str = Field(min_length=1, max_length=1000)


class ShiftReconciliationRow(BaseModel):
    shift_id: str
    outlet_code: str
    outlet_name: str
    terminal_no: int
    clerk: str
    z_number: int
    opened_at: datetime
    closed_at: datetime
    opening_float_fen: int
    cash_sales_fen: int
    cash_refunds_fen: int
    cash_in_fen: int
    cash_out_fen: int
    expected_cash_fen: int
    counted_cash_fen: int
    difference_fen: int = Field(description="counted minus expected; negative is a shortage")
    no_sale_openings: int = Field(
        description="times the drawer was opened without a sale, each approved by a manager"
    )
