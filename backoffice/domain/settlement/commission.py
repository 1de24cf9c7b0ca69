"""Commission plans and what they pay a dealer for a settlement period: pure rules, no I/O.

A plan is effective-dated and holds any of four rules for numbers sold (top-up cards earn
through their dealer price, which the price list holds):

- one-off: an amount per number sold, by grade;
- staged: amounts paid at month 3, 6, … after the sale, only if the number is still active
  on that day (activation comes from the provisioning system's callbacks);
- revenue share: a share of each number's monthly revenue, by band of months since the sale;
- tiered slabs: an amount per number set by the dealer's volume in the calendar month.

Amounts are integer fen; shares are basis points rounded half up once per line.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from itertools import pairwise


class CommissionError(ValueError):
    """A plan that cannot be applied as written."""


# The line that takes back a returned number's one-off.
ONE_OFF_REVERSAL = "退货冲回一次性佣金"


class CommissionKind(StrEnum):
    one_off = "one_off"
    staged = "staged"
    revenue_share = "revenue_share"
    tiered = "tiered"


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def months_between(start: date, later: date) -> int:
    """Whole calendar months from `start`'s month to `later`'s month (same month → 0)."""
    return (later.year - start.year) * 12 + later.month - start.month


def share_of(amount_fen: int, basis_points: int) -> int:
    """`basis_points`/10,000 of an amount, rounded half up to the fen."""
    return (amount_fen * basis_points + 5_000) // 10_000


@dataclass(frozen=True)
class Period:
    """Days from `start` up to and including `end`."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise CommissionError(f"period ends {self.end} before it starts {self.start}")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def months(self) -> list[tuple[int, int]]:
        """The (year, month) pairs the period touches."""
        first = self.start.year * 12 + self.start.month - 1
        last = self.end.year * 12 + self.end.month - 1
        return [(i // 12, i % 12 + 1) for i in range(first, last + 1)]


@dataclass(frozen=True)
class Stage:
    after_months: int
    amount_fen: int


@dataclass(frozen=True)
class ShareBand:
    """Months `first_month`..`last_month` after the sale (the sale's month is month 0)."""

    first_month: int
    last_month: int
    basis_points: int


@dataclass(frozen=True)
class Slab:
    """From `min_volume` numbers in a calendar month on, each number earns `per_number_fen`."""

    min_volume: int
    per_number_fen: int


@dataclass(frozen=True)
class CommissionPlan:
    code: str
    effective_from: date
    effective_to: date | None = None
    one_off_fen: Mapping[str, int] = field(default_factory=dict)  # grade code → fen; "*" default
    stages: Sequence[Stage] = ()
    share_bands: Sequence[ShareBand] = ()
    slabs: Sequence[Slab] = ()

    def __post_init__(self) -> None:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise CommissionError(f"plan {self.code}: effective_to before effective_from")
        for stage in self.stages:
            if stage.after_months < 1 or stage.amount_fen < 0:
                raise CommissionError(f"plan {self.code}: stage {stage} is not payable")
        bands = sorted(self.share_bands, key=lambda b: b.first_month)
        for band in bands:
            if band.first_month > band.last_month or not 0 <= band.basis_points <= 10_000:
                raise CommissionError(f"plan {self.code}: share band {band} is not valid")
        for before, after in pairwise(bands):
            if after.first_month <= before.last_month:
                raise CommissionError(f"plan {self.code}: share bands {before} and {after} overlap")
        volumes = [s.min_volume for s in self.slabs]
        if volumes and (volumes != sorted(set(volumes)) or volumes[0] < 0):
            raise CommissionError(f"plan {self.code}: slabs must rise by min_volume")

    def covers(self, day: date) -> bool:
        ends_after = self.effective_to is None or day <= self.effective_to
        return self.effective_from <= day and ends_after

    def one_off_for(self, grade: str) -> int:
        return self.one_off_fen.get(grade, self.one_off_fen.get("*", 0))

    def slab_bands(self) -> list[tuple[int, int | None, int]]:
        """The slabs as bands of monthly volume: (from, up to but not including — None for no
        end, fen per number). Below the first band nothing is paid."""
        ends: list[int | None] = [slab.min_volume for slab in self.slabs[1:]]
        return [
            (slab.min_volume, end, slab.per_number_fen)
            for slab, end in zip(self.slabs, [*ends, None][: len(self.slabs)], strict=True)
        ]

    def slab_rate(self, volume: int) -> int:
        return next(
            (
                fen
                for low, high, fen in self.slab_bands()
                if low <= volume and (high is None or volume < high)
            ),
            0,
        )


def plan_on(plans: Iterable[CommissionPlan], day: date) -> CommissionPlan | None:
    """The plan in force on `day`: the latest one starting on or before it that covers it."""
    covering = [p for p in plans if p.covers(day)]
    return max(covering, key=lambda p: p.effective_from) if covering else None


def plans_in_force(
    plans: Sequence[CommissionPlan],
) -> list[tuple[date, date | None, CommissionPlan]]:
    """`plan_on` as stretches of days: (first day, last day — None for no end, the plan in
    force), in order, days no plan covers left out. The plan in force changes only on a day a
    plan starts or the day after one ends, so that SQL can join a day to its plan."""
    bounds = sorted(
        {p.effective_from for p in plans}
        | {p.effective_to + timedelta(days=1) for p in plans if p.effective_to is not None}
    )
    stretches = []
    for first, following in zip(bounds, [*bounds[1:], None], strict=True):
        plan = plan_on(plans, first)
        if plan is not None:
            last = following - timedelta(days=1) if following is not None else None
            stretches.append((first, last, plan))
    return stretches


@dataclass(frozen=True)
class NumberSale:
    """A number the dealer sold, with what provisioning said of it since."""

    msisdn: str
    grade: str
    sold_on: date
    returned_on: date | None = None
    activated_on: date | None = None
    deactivated_on: date | None = None

    def active_on(self, day: date) -> bool:
        if self.returned_on is not None and self.returned_on <= day:
            return False
        if self.activated_on is None or day < self.activated_on:
            return False
        return self.deactivated_on is None or day < self.deactivated_on


@dataclass(frozen=True)
class CommissionLine:
    kind: CommissionKind
    amount_fen: int
    description: str
    msisdn: str | None = None
    plan: str = ""
    month: date | None = None  # tiered: the calendar month whose volume it pays


def commission_for(
    plans: Sequence[CommissionPlan],
    sales: Iterable[NumberSale],
    period: Period,
) -> list[CommissionLine]:
    """The commission lines a period earns from its sales. Each sale is judged by the plan in
    force on its sale day; a sale returned within the period earns nothing, and a return in a
    later period reverses its one-off there. Revenue share follows the billing system's
    monthly figures instead (`revenue_share`)."""
    sales = list(sales)
    lines: list[CommissionLine] = []
    for sale in sales:
        plan = plan_on(plans, sale.sold_on)
        if plan is None:
            continue
        lines += _one_off(plan, sale, period)
        lines += _staged(plan, sale, period)
    lines += _tiered(plans, sales, period)
    return lines


def _one_off(plan: CommissionPlan, sale: NumberSale, period: Period) -> list[CommissionLine]:
    amount = plan.one_off_for(sale.grade)
    if not amount:
        return []
    lines = []
    sold_here = sale.sold_on in period
    returned_here = sale.returned_on in period
    if sold_here and not returned_here:
        lines.append(
            CommissionLine(
                CommissionKind.one_off, amount, f"一次性佣金 {sale.grade}", sale.msisdn, plan.code
            )
        )
    if returned_here and not sold_here:
        lines.append(
            CommissionLine(
                CommissionKind.one_off, -amount, ONE_OFF_REVERSAL, sale.msisdn, plan.code
            )
        )
    return lines


def _staged(plan: CommissionPlan, sale: NumberSale, period: Period) -> list[CommissionLine]:
    lines = []
    for stage in plan.stages:
        due = add_months(sale.sold_on, stage.after_months)
        if due in period and sale.active_on(due):
            lines.append(
                CommissionLine(
                    CommissionKind.staged,
                    stage.amount_fen,
                    f"分期佣金 第{stage.after_months}个月",
                    sale.msisdn,
                    plan.code,
                )
            )
    return lines


def revenue_share(
    plans: Sequence[CommissionPlan], sale: NumberSale, month: date, billed_fen: int
) -> CommissionLine | None:
    """The share of a number's billed revenue for `month` (its first day), by the band of
    months since the sale of the plan in force on the sale day; None when nothing is due."""
    plan = plan_on(plans, sale.sold_on)
    if plan is None or billed_fen <= 0:
        return None
    since = months_between(sale.sold_on, month)
    band = next((b for b in plan.share_bands if b.first_month <= since <= b.last_month), None)
    if band is None:
        return None
    amount = share_of(billed_fen, band.basis_points)
    if not amount:
        return None
    return CommissionLine(
        CommissionKind.revenue_share,
        amount,
        f"话费分成 {month:%Y-%m} {band.basis_points / 100:g}%",
        sale.msisdn,
        plan.code,
    )


def _tiered(
    plans: Sequence[CommissionPlan], sales: list[NumberSale], period: Period
) -> list[CommissionLine]:
    """Slabs count the numbers sold and kept in a calendar month; they are paid in the period
    holding that month's last day, so a month is never paid twice across periods."""
    by_month: dict[tuple[int, int], int] = defaultdict(int)
    for sale in sales:
        kept = sale.returned_on is None or months_between(sale.sold_on, sale.returned_on) > 0
        if kept:
            by_month[(sale.sold_on.year, sale.sold_on.month)] += 1
    lines = []
    for (year, month), volume in sorted(by_month.items()):
        month_end = add_months(date(year, month, 1), 1).toordinal() - 1
        last_day = date.fromordinal(month_end)
        if last_day not in period:
            continue
        plan = plan_on(plans, last_day)
        if plan is None or not plan.slabs:
            continue
        rate = plan.slab_rate(volume)
        if rate:
            lines.append(
                CommissionLine(
                    CommissionKind.tiered,
                    rate * volume,
                    f"阶梯佣金 {year}-{month:02d} {volume}户 × {rate / 100:.2f}元",
                    None,
                    plan.code,
                    date(year, month, 1),
                )
            )
    return lines
