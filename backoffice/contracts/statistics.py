"""Request and response models of the sales statistics: sales by period and dimension,
rankings, stock on hand and ageing, sell-through, top-up cards and shift cash differences."""

from datetime import date, timedelta

from pydantic import BaseModel, Field, field_validator, model_validator

from backoffice.contracts.common import CheckedDate, CheckedModel
from backoffice.domain.channel import check_product
from backoffice.domain.statistics import Dimension, Grain

# A year and a bit of daily figures in one answer; longer spans ask for weeks or months.
MAX_SPAN_DAYS = 800


class Range(CheckedModel):
    """Business days from `start` to `end`, both included (China time)."""

    start: CheckedDate
    end: CheckedDate
    dealer: str | None = Field(default=None, description="dealer id or code")
    outlet: str | None = Field(default=None, description="outlet id or code")

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.end - self.start > timedelta(days=MAX_SPAN_DAYS):
            raise ValueError(f"start to end spans more than {MAX_SPAN_DAYS} days")
        return self


class SalesQuery(Range):
    grain: Grain = Grain.day
    by: Dimension = Dimension.total
    product: str | None = Field(default=None, description="product key, e.g. number:G1")
    grade: str | None = Field(
        default=None, pattern=r"^[A-Z0-9]{1,16}$", description="number grade code, e.g. G1"
    )

    @field_validator("product")
    @classmethod
    def _product(cls, value: str | None) -> str | None:
        return None if value is None else check_product(value)


class RankingQuery(Range):
    limit: int = Field(default=20, ge=1, le=1_000)


class VoucherQuery(Range):
    grain: Grain = Grain.day


class ShiftCashQuery(Range):
    clerk: str | None = None


class StockQuery(CheckedModel):
    dealer: str | None = Field(default=None, description="dealer id or code")
    outlet: str | None = Field(default=None, description="outlet id or code")


class DashboardQuery(CheckedModel):
    day: CheckedDate | None = Field(default=None, description="defaults to today (China)")
    dealer: str | None = Field(default=None, description="dealer id or code")
    outlet: str | None = Field(default=None, description="outlet id or code")


class Figures(BaseModel):
    sold_count: int
    sold_fen: int
    dealer_fen: int = Field(
        description="what the lines sold are owed at dealer prices, before returns"
    )
    returned_count: int
    returned_fen: int
    net_count: int = Field(description="sold minus returned")
    net_fen: int
    return_rate: float | None = Field(description="returned / sold; null when nothing sold")
    returned_dealer_fen: int = Field(description="the dealer prices of the lines returned")
    net_dealer_fen: int = Field(
        description="what the dealers owe after returns: dealer_fen minus returned_dealer_fen"
    )


class SalesRow(Figures):
    period: date = Field(description="the day, the Monday of the week or the month's 1st")
    key: str = Field(description="dealer or outlet code, product or grade; '' for totals")
    name: str


class RankingRow(Figures):
    rank: int
    code: str
    name: str
    dealer_code: str
    outlets: int = Field(description="outlets with sales in the range")


class VoucherRow(BaseModel):
    period: date
    activated_count: int = Field(description="cards sold, which activates them")
    activated_fen: int = Field(description="face value of the cards activated")
    returned_count: int
    redeemed_count: int = Field(description="cards the charging system redeemed")
    redeemed_fen: int
    redemption_rate: float | None = Field(description="redeemed / activated in the period")


class StockRow(BaseModel):
    outlet_code: str
    outlet_name: str
    dealer_code: str
    item_kind: str
    on_hand: int
    reserved: int
    days_0_30: int
    days_31_60: int
    days_61_90: int
    days_over_90: int
    oldest_days: int | None = Field(description="days since the oldest item was allocated")
    average_days: float | None


class SellThroughRow(BaseModel):
    outlet_code: str
    outlet_name: str
    dealer_code: str
    item_kind: str
    received: int = Field(description="items allocated or transferred in during the range")
    sold: int
    returned: int
    on_hand: int = Field(description="in stock now")
    sell_through: float | None = Field(description="sold / received; null when none received")


class ShiftCashRow(BaseModel):
    outlet_code: str
    outlet_name: str
    clerk: str
    shifts: int
    shifts_with_difference: int
    expected_cash_fen: int
    counted_cash_fen: int
    difference_fen: int = Field(description="counted minus expected; negative is a shortage")
    largest_shortage_fen: int = Field(description="the most negative difference, or 0")
    no_sale_openings: int = Field(
        description="drawer openings without a sale in the shifts, each approved by a manager"
    )


class Dashboard(BaseModel):
    """The manager's overview: the quarter and the month to `day`, both to date."""

    day: date
    quarter_start: date
    month_start: date
    sales_by_day: list[SalesRow] = Field(description="every day of the quarter with sales")
    sales_by_dealer: list[SalesRow] = Field(description="the month, per dealer")
    top_outlets: list[RankingRow] = Field(description="the month's 20 best outlets")
