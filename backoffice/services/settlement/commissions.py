"""Commission booked by a settlement run: one-off, staged and slabs (with late sales and
returns recounted in the open period) computed by the database from the period's number
sales, and revenue share from the billing system's figures; each booked once.

The rules are those of backoffice.domain.settlement.commission: the plans reach SQL as small
tables (the plan in force by day from `plans_in_force`, one-offs by grade, stages with the
sale days whose stage falls due in the period, slabs as volume bands), and the tests hold
what SQL books to `commission_for`, the rules' reference. Revenue share is computed in
Python (`revenue_share`): it follows the billing system's monthly figures, a few rows a run.
"""

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    Date,
    Insert,
    Integer,
    Select,
    String,
    Subquery,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
    values,
)
from sqlalchemy.sql import column
from sqlmodel import Session

from backoffice.domain.calendar import business_day, day_start
from backoffice.domain.channel import grade_of
from backoffice.domain.settlement.accounts import LedgerKind
from backoffice.domain.settlement.commission import (
    ONE_OFF_REVERSAL,
    CommissionKind,
    CommissionPlan,
    NumberSale,
    Period,
    add_months,
    plans_in_force,
    revenue_share,
)
from backoffice.models import Dealer
from backoffice.models.types import utcnow
from backoffice.services import bulk
from backoffice.services.settlement.accounts import _ENTRIES
from backoffice.services.settlement.booking import (
    _LINES,
    _SALES,
    ENTRY_COLUMNS,
    Booked,
    insert_entries,
    run_insert,
)
from backoffice.services.settlement.revenue import _ACTIVATIONS, _REVENUE, _REVENUE_KEY
from backoffice.services.settlement.sql import Dialect, text_of
from shared.ids import new_id

# A rerun's line for a commission no longer earned (the number was switched off since).
_NO_LONGER_EARNED = "佣金冲正"
_ONE_OFF = "一次性佣金 "
_SLAB = "阶梯佣金 "
_LATE_SLAB = "阶梯佣金补记 "
# The top of the last slab band, which has none: more numbers than a month can sell.
_NO_END = 1 << 62
_SALE, _RETURN = LedgerKind.sale.value, LedgerKind.sale_return.value
_COMMISSION = LedgerKind.commission.value


@dataclass(frozen=True)
class _Rules:
    """The dealers' commission plans as rows of small tables, for SQL's VALUES."""

    dealers: list[tuple[str, int]]  # dealer id, plan set (the dealers of a kind share one)
    in_force: list[tuple[int, date, date, str]]  # plan set, first day, last day, plan code
    one_off: list[tuple[str, str, int]]  # plan code, grade ("*": any other), fen
    # plan code, months, fen, the first and last sale day whose stage falls due in the period
    stages: list[tuple[str, int, int, date, date]]
    slabs: list[tuple[str, int, int, int]]  # plan code, from volume, below volume, fen


def _rules(
    plans: dict[str, list[CommissionPlan]], dealer_ids: Sequence[str], period: Period
) -> _Rules:
    sets: dict[tuple[str, ...], int] = {}
    dealers: list[tuple[str, int]] = []
    in_force: list[tuple[int, date, date, str]] = []
    by_code: dict[str, CommissionPlan] = {}
    for dealer_id in dealer_ids:
        own = plans[dealer_id]
        codes = tuple(plan.code for plan in own)
        if codes not in sets:
            sets[codes] = len(sets)
            in_force += [
                (sets[codes], first, last or date.max, plan.code)
                for first, last, plan in plans_in_force(own)
            ]
        dealers.append((dealer_id, sets[codes]))
        by_code.update((plan.code, plan) for plan in own)
    return _Rules(
        dealers=dealers,
        in_force=in_force,
        one_off=[
            (code, grade, fen)
            for code, plan in by_code.items()
            for grade, fen in plan.one_off_fen.items()
        ],
        stages=[
            (code, stage.after_months, stage.amount_fen, *_sold_for(period, stage.after_months))
            for code, plan in by_code.items()
            for stage in plan.stages
        ],
        slabs=[
            (code, low, _NO_END if high is None else high, fen)
            for code, plan in by_code.items()
            for low, high, fen in plan.slab_bands()
        ],
    )


def _sold_for(period: Period, months: int) -> tuple[date, date]:
    """The first and last sale day whose stage of `months` falls due in the period. Month
    ends clamp (31 Jan + 1 month = 28 Feb), so the days are found from a few either side of
    the period moved back; add_months never goes backwards, so the days between are all."""
    first = add_months(period.start, -months) - timedelta(days=4)
    while add_months(first, months) < period.start:
        first += timedelta(days=1)
    last = add_months(period.end, -months) + timedelta(days=4)
    while add_months(last, months) > period.end:
        last -= timedelta(days=1)
    return first, last


def _table(name: str, columns: Sequence[tuple[str, Any]], rows: Sequence[tuple[Any, ...]]) -> CTE:
    """Rows as a named table of the statement (VALUES), typed; none as an empty one."""
    if rows:
        return values(*(column(n, t) for n, t in columns), name=name).data(list(rows)).cte(name)
    return select(*(cast(null(), t).label(n) for n, t in columns)).where(false()).cte(name)


def _grade(product: Any) -> Any:
    """The number grade a product key names (domain.channel.grade_of)."""
    prefix = "number:"
    starts = func.substr(product, 1, len(prefix)) == prefix
    return case((starts, func.substr(product, len(prefix) + 1)), else_="")


def _merged(ranges: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Day ranges (both ends included) merged where they overlap or touch."""
    merged: list[tuple[date, date]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


class _Commission:
    """The SQL of a period's commission for some dealers: what the period should pay
    (`lines`), less what earlier runs of the period booked (`corrections`)."""

    def __init__(
        self,
        sql: Dialect,
        rules: _Rules,
        dealer_ids: Sequence[str],
        period: Period,
        late_bookings: bool,
    ) -> None:
        self.sql, self.dealer_ids, self.period = sql, dealer_ids, period
        self.late_bookings = late_bookings
        self.dealers = _table(
            "dealer_plans", (("dealer_id", String), ("plan_set", Integer)), rules.dealers
        )
        self.in_force = _table(
            "in_force",
            (("plan_set", Integer), ("first_day", Date), ("last_day", Date), ("plan", String)),
            rules.in_force,
        )
        self.one_off = _table(
            "one_off", (("plan", String), ("grade", String), ("fen", BigInteger)), rules.one_off
        )
        self.stages = _table(
            "stages",
            (
                ("plan", String),
                ("months", Integer),
                ("fen", BigInteger),
                ("first_sold", Date),
                ("last_sold", Date),
            ),
            rules.stages,
        )
        self.slabs = _table(
            "slabs",
            (("plan", String), ("low", BigInteger), ("high", BigInteger), ("fen", BigInteger)),
            rules.slabs,
        )
        self.has_stages = bool(rules.stages)
        self.late = self._late() if late_bookings else None
        self.sales = self._sales(rules)

    def _late(self) -> CTE:
        """The dealers' sales and returns booked late (after their own day, into the first
        open day after a closed period) on or after the period's start: (kind, line, day)."""
        return (
            select(
                _ENTRIES.c.kind,
                cast(
                    func.substr(_ENTRIES.c.source_key, func.length(_ENTRIES.c.kind) + 2),
                    BigInteger,
                ).label("line_id"),
                _ENTRIES.c.booked_on,
            )
            .where(_ENTRIES.c.late)
            .where(_ENTRIES.c.booked_on >= self.period.start)
            .where(_ENTRIES.c.kind.in_([_SALE, _RETURN]))
            .where(_ENTRIES.c.dealer_id.in_(self.dealer_ids))
            .cte("late_booked")
        )

    def _sales(self, rules: _Rules) -> CTE:
        """The number sales that can earn or lose commission in the period, each once, with
        what provisioning said of the number, the days its sale and return count in (the day
        booked when booked late, else their own day), the plan in force on the sale day and
        the one-off it pays: sold in the period's months (one-off, slabs), sold a stage's
        months before (staged), returned in the period, or booked late into it. The sales
        are read in a UNION ALL of branches that exclude each other, each by its index."""
        sql, period = self.sql, self.period
        end = day_start(period.end + timedelta(days=1))
        windows = [(period.start.replace(day=1), period.end)]
        windows += [(first, last) for _, _, _, first, last in rules.stages]
        sold_in = or_(
            *(
                and_(
                    _SALES.c.sold_at >= day_start(first),
                    _SALES.c.sold_at < day_start(last + timedelta(days=1)),
                )
                for first, last in _merged(windows)
            )
        )
        returned_in = and_(
            _LINES.c.returned_at.is_not(None),
            _LINES.c.returned_at >= day_start(period.start),
            _LINES.c.returned_at < end,
        )
        base = (
            select(
                _LINES.c.id.label("line_id"),
                _SALES.c.dealer_id,
                _LINES.c.item_key,
                _LINES.c.product,
                _SALES.c.sold_at,
                _LINES.c.returned_at,
            )
            .select_from(_LINES.join(_SALES, _SALES.c.id == _LINES.c.sale_id))
            .where(_SALES.c.dealer_id.in_(self.dealer_ids))
            .where(_LINES.c.item_kind == "number")
            .where(_SALES.c.sold_at < end)
        )
        branches = [base.where(sold_in), base.where(returned_in).where(~sold_in)]
        if self.late is not None:
            into_period = select(self.late.c.line_id).where(self.late.c.booked_on <= period.end)
            branches.append(
                base.where(_LINES.c.id.in_(into_period)).where(~or_(sold_in, returned_in))
            )
        read = union_all(*branches).subquery("read")
        sold_on = sql.day(read.c.sold_at)
        returned_on = sql.day(read.c.returned_at)
        source = read.join(self.dealers, self.dealers.c.dealer_id == read.c.dealer_id).outerjoin(
            _ACTIVATIONS, _ACTIVATIONS.c.msisdn == read.c.item_key
        )
        booked_on, return_booked_on = sold_on, returned_on
        if self.late is not None:
            sold_late = self.late.alias("sold_late")
            returned_late = self.late.alias("returned_late")
            source = source.outerjoin(
                sold_late, and_(sold_late.c.line_id == read.c.line_id, sold_late.c.kind == _SALE)
            ).outerjoin(
                returned_late,
                and_(returned_late.c.line_id == read.c.line_id, returned_late.c.kind == _RETURN),
            )
            booked_on = func.coalesce(sold_late.c.booked_on, sold_on)
            return_booked_on = func.coalesce(returned_late.c.booked_on, returned_on)
        numbers = (
            select(
                read.c.line_id,
                read.c.dealer_id,
                self.dealers.c.plan_set,
                read.c.item_key.label("msisdn"),
                _grade(read.c.product).label("grade"),
                sold_on.label("sold_on"),
                returned_on.label("returned_on"),
                _ACTIVATIONS.c.activated_on,
                _ACTIVATIONS.c.deactivated_on,
                booked_on.label("booked_on"),
                return_booked_on.label("return_booked_on"),
            )
            .select_from(source)
            .subquery("numbers")
        )
        n = numbers.c
        plan = self.in_force
        grade, anything = self.one_off.alias("by_grade"), self.one_off.alias("any_grade")
        return (
            select(
                numbers,
                plan.c.plan,
                func.coalesce(grade.c.fen, anything.c.fen, 0).label("one_off"),
            )
            .select_from(
                numbers.outerjoin(
                    plan,
                    and_(
                        plan.c.plan_set == n.plan_set,
                        plan.c.first_day <= n.sold_on,
                        plan.c.last_day >= n.sold_on,
                    ),
                )
                .outerjoin(grade, and_(grade.c.plan == plan.c.plan, grade.c.grade == n.grade))
                .outerjoin(anything, and_(anything.c.plan == plan.c.plan, anything.c.grade == "*"))
            )
            .cte("sales")
        )

    @staticmethod
    def _line(
        dealer_id: Any,
        plan: Any,
        kind: CommissionKind,
        msisdn: Any,
        what: Any,
        description: Any,
        amount: Any,
        late: bool | Any,
    ) -> list[Any]:
        """A commission line's columns; `amount` as booked (commission is negative), `what`
        the part of its key that tells it from its plan's other lines for the number."""
        return [
            dealer_id.label("dealer_id"),
            plan.label("plan"),
            literal(kind.value).label("kind"),
            msisdn.label("msisdn"),
            what.label("what"),
            description.label("description"),
            amount.label("amount"),
            (literal(1 if late else 0) if isinstance(late, bool) else late).label("late"),
        ]

    def _one_offs(self) -> list[Select[Any]]:
        """A number's one-off belongs to the period its sale is booked in (a sale booked
        late earns it in the period it is booked into, marked late), unless it is returned
        by the period's end; a return in the period of a sale booked before it takes the
        one-off back."""
        s, period = self.sales.c, self.period
        paid = _ONE_OFF + s.grade
        earned = select(
            *self._line(
                s.dealer_id,
                s.plan,
                CommissionKind.one_off,
                s.msisdn,
                paid,
                paid,
                -s.one_off,
                case((s.booked_on != s.sold_on, 1), else_=0),
            )
        ).where(
            s.one_off != 0,
            s.booked_on >= period.start,
            s.booked_on <= period.end,
            or_(s.returned_on.is_(None), s.returned_on > period.end),
        )
        reversal = literal(ONE_OFF_REVERSAL)
        taken_back = select(
            *self._line(
                s.dealer_id,
                s.plan,
                CommissionKind.one_off,
                s.msisdn,
                reversal,
                reversal,
                s.one_off,
                False,
            )
        ).where(
            s.one_off != 0,
            s.returned_on >= period.start,
            s.returned_on <= period.end,
            s.return_booked_on <= period.end,
            s.booked_on < period.start,
        )
        return [earned, taken_back]

    def _staged(self) -> Select[Any]:
        """Each stage of the sale's plan that falls due in the period while the number is
        active (domain NumberSale.active_on)."""
        s, stages = self.sales.c, self.stages.c
        due = self.sql.add_months(s.sold_on, stages.months)
        what = "分期佣金 第" + text_of(stages.months) + "个月"
        active = and_(
            or_(s.returned_on.is_(None), s.returned_on > due),
            s.activated_on.is_not(None),
            s.activated_on <= due,
            or_(s.deactivated_on.is_(None), s.deactivated_on > due),
        )
        return (
            select(
                *self._line(
                    s.dealer_id,
                    s.plan,
                    CommissionKind.staged,
                    s.msisdn,
                    what,
                    what,
                    -stages.fen,
                    False,
                )
            )
            .select_from(
                self.sales.join(
                    self.stages,
                    and_(
                        stages.plan == s.plan,
                        s.sold_on >= stages.first_sold,
                        s.sold_on <= stages.last_sold,
                    ),
                )
            )
            .where(active)
        )

    def _slab(self) -> Select[Any] | None:
        """The slab of the calendar month whose last day is in the period (None when no
        month ends in it): the numbers sold in it, booked by the period's end and kept (not
        returned within the month), each at the rate of the volume reached under the plan
        in force on the month's last day."""
        period = self.period
        month = period.start.replace(day=1)
        following = add_months(month, 1)
        last_day = following - timedelta(days=1)
        if last_day > period.end:
            return None
        s = self.sales.c
        volumes = (
            select(s.dealer_id, s.plan_set, func.count().label("volume"))
            .where(s.sold_on >= month, s.sold_on < following, s.booked_on <= period.end)
            .where(or_(s.returned_on.is_(None), s.returned_on >= following))
            .group_by(s.dealer_id, s.plan_set)
            .subquery("volumes")
        )
        plan, band = self.in_force.c, self.slabs.c
        label = f"{month:%Y-%m}"
        description = (
            _SLAB
            + label
            + " "
            + text_of(volumes.c.volume)
            + "户 × "
            + self.sql.fen_as_yuan(band.fen)
            + "元"
        )
        return (
            select(
                *self._line(
                    volumes.c.dealer_id,
                    plan.plan,
                    CommissionKind.tiered,
                    null(),
                    literal(label),
                    description,
                    -(band.fen * volumes.c.volume),
                    False,
                )
            )
            .select_from(
                volumes.join(
                    self.in_force,
                    and_(
                        plan.plan_set == volumes.c.plan_set,
                        plan.first_day <= last_day,
                        plan.last_day >= last_day,
                    ),
                ).join(
                    self.slabs,
                    and_(
                        band.plan == plan.plan,
                        band.low <= volumes.c.volume,
                        band.high > volumes.c.volume,
                    ),
                )
            )
            .where(band.fen != 0)
        )

    def _late_return_reversals(self) -> Select[Any]:
        """A return made in a closed period and booked late into this one takes back the
        one-off its sale earned, if one was paid: the ledger before this period decides
        (one-offs paid for the number less those already taken back), since the period that
        paid it did not know of the return."""
        s, period = self.sales.c, self.period
        returns = (
            select(s.dealer_id, s.plan, s.msisdn, s.grade)
            .distinct()
            .where(
                s.one_off != 0,
                s.returned_on < period.start,
                s.return_booked_on >= period.start,
                s.return_booked_on <= period.end,
            )
            .subquery("late_returns")
        )
        r = returns.c
        one_off = literal(CommissionKind.one_off.value)
        keys = [
            self._key(r.plan, one_off, r.msisdn, _ONE_OFF + r.grade),
            self._key(r.plan, one_off, r.msisdn, literal(ONE_OFF_REVERSAL)),
        ]
        paid = (
            select(func.coalesce(func.sum(_ENTRIES.c.amount_fen), 0))
            .where(_ENTRIES.c.dealer_id == r.dealer_id)
            .where(_ENTRIES.c.source_key.in_(keys))
            .where(_ENTRIES.c.booked_on < period.start)
            .scalar_subquery()
        )
        reversal = literal(ONE_OFF_REVERSAL)
        # Commission is booked negative, its reversal positive: -paid is what stands.
        return select(
            *self._line(
                r.dealer_id,
                r.plan,
                CommissionKind.one_off,
                r.msisdn,
                reversal,
                reversal,
                -paid,
                True,
            )
        ).where(paid < 0)

    def _late_slabs(self) -> Select[Any]:
        """Slab corrections for months settled in earlier periods that sales booked late
        into this one (or returns within their month booked late into it) change: each
        month's slab recomputed over its sales booked up to this period's end, less what
        earlier periods paid for it."""
        sql, period = self.sql, self.period
        s = self.sales.c
        months = (
            select(s.dealer_id, s.plan_set, sql.month_of(s.sold_on).label("month"))
            .distinct()
            .where(s.sold_on < period.start.replace(day=1))
            .where(
                or_(
                    and_(s.booked_on >= period.start, s.booked_on <= period.end),
                    and_(
                        s.returned_on < period.start,
                        s.return_booked_on >= period.start,
                        s.return_booked_on <= period.end,
                        sql.month_of(s.returned_on) == sql.month_of(s.sold_on),
                    ),
                )
            )
            .cte("late_months")
        )
        m = months.c
        assert self.late is not None
        sold_late = self.late.alias("month_late")
        sold_on = sql.day(_SALES.c.sold_at)
        volumes = (
            select(m.dealer_id, m.month, func.count().label("volume"))
            .select_from(
                months.join(_SALES, _SALES.c.dealer_id == m.dealer_id)
                .join(_LINES, _LINES.c.sale_id == _SALES.c.id)
                .outerjoin(
                    sold_late,
                    and_(sold_late.c.line_id == _LINES.c.id, sold_late.c.kind == _SALE),
                )
            )
            .where(_LINES.c.item_kind == "number")
            .where(sql.month_of(sold_on) == m.month)
            .where(or_(sold_late.c.booked_on.is_(None), sold_late.c.booked_on <= period.end))
            .where(
                or_(
                    _LINES.c.returned_at.is_(None),
                    sql.month_of(sql.day(_LINES.c.returned_at)) > m.month,
                )
            )
            .group_by(m.dealer_id, m.month)
            .subquery("month_volumes")
        )
        paid = self._slabs_paid(select(func.min(m.month)).scalar_subquery())
        plan, band = self.in_force.c, self.slabs.alias("band")
        label = sql.month_text(m.month)
        month_end = sql.month_end(m.month)
        volume = func.coalesce(volumes.c.volume, 0)
        rate = func.coalesce(band.c.fen, 0)
        description = case(
            (
                rate * volume > 0,
                _LATE_SLAB + label + " " + text_of(volume) + "户 × " + sql.fen_as_yuan(rate) + "元",
            ),
            else_=_LATE_SLAB + label + " 0户",
        )
        return (
            select(
                *self._line(
                    m.dealer_id,
                    plan.plan,
                    CommissionKind.tiered,
                    null(),
                    label,
                    description,
                    -(rate * volume) - func.coalesce(paid.c.paid, 0),
                    True,
                )
            )
            .select_from(
                months.join(
                    self.in_force,
                    and_(
                        plan.plan_set == m.plan_set,
                        plan.first_day <= month_end,
                        plan.last_day >= month_end,
                    ),
                )
                .outerjoin(
                    volumes, and_(volumes.c.dealer_id == m.dealer_id, volumes.c.month == m.month)
                )
                .outerjoin(
                    band,
                    and_(band.c.plan == plan.plan, band.c.low <= volume, band.c.high > volume),
                )
                .outerjoin(paid, and_(paid.c.dealer_id == m.dealer_id, paid.c.month == label))
            )
            .where(exists().where(self.slabs.c.plan == plan.plan))
        )

    def _slabs_paid(self, since: Any) -> Any:
        """What was booked for each dealer's monthly slabs (negative fen) from `since` up to
        the period, per month ('YYYY-MM'). Entries are grouped by key, and a key's month read
        from its slab lines, so that corrections ("佣金冲正") of reruns count with their
        line."""
        e = _ENTRIES.c
        month = case(
            (e.description.like(_LATE_SLAB + "%"), func.substr(e.description, 8, 7)),
            (e.description.like(_SLAB + "%"), func.substr(e.description, 6, 7)),
        )
        by_key = (
            select(
                e.dealer_id, func.max(month).label("month"), func.sum(e.amount_fen).label("paid")
            )
            .where(e.dealer_id.in_(self.dealer_ids))
            .where(e.kind == _COMMISSION)
            .where(e.item_key.is_(None))
            .where(e.booked_on >= since)
            .where(e.booked_on < self.period.start)
            .group_by(e.dealer_id, e.source_key)
            .subquery("slab_keys")
        )
        return (
            select(by_key.c.dealer_id, by_key.c.month, func.sum(by_key.c.paid).label("paid"))
            .where(by_key.c.month.is_not(None))
            .group_by(by_key.c.dealer_id, by_key.c.month)
            .subquery("slabs_paid")
        )

    def _key(self, plan: Any, kind: Any, msisdn: Any, what: Any) -> Any:
        """What a commission line is for, so that a run books it once: its plan, kind,
        number and `what`, hashed (a month's slab line is keyed by its month, so that a
        late sale's correction adds to it)."""
        text = plan + "|" + kind + "|" + func.coalesce(msisdn, "None") + "|" + what
        return "commission:" + func.substr(self.sql.sha1_hex(text), 1, 32)

    def lines(self) -> Any:
        """Every line the period should pay, keyed and summed by key."""
        branches = [*self._one_offs()]
        if self.has_stages:
            branches.append(self._staged())
        slab = self._slab()
        if slab is not None:
            branches.append(slab)
        if self.late_bookings:
            branches += [self._late_return_reversals(), self._late_slabs()]
        every = union_all(*branches).subquery("lines")
        key, sql = self._key(every.c.plan, every.c.kind, every.c.msisdn, every.c.what), self.sql
        keyed = select(
            sql.key(every.c.dealer_id).label("dealer_id"),
            sql.key(key).label("source_key"),
            sql.key(func.coalesce(every.c.msisdn, "")).label("item_key"),
            every.c.description,
            every.c.amount,
            every.c.late,
        ).subquery("keyed")
        k = keyed.c
        # Grouped in the order the rows go in, so that one sort serves both.
        return select(
            k.dealer_id,
            k.item_key,
            k.source_key,
            cast(func.sum(k.amount), BigInteger).label("amount"),
            func.max(k.description).label("description"),
            func.max(k.late).label("late"),
        ).group_by(k.dealer_id, k.item_key, k.source_key)

    def insert(self, actor: str, drafted: Sequence[str]) -> Insert:
        """The INSERT of what the period's commission should be, less what earlier runs of
        this period booked for the `drafted` dealers (none on a period's first run): a rerun
        of a draft appends corrections and never rewrites a row. Rows go in by dealer and
        number, as their ids rise, so that a statement lists a number's lines together."""
        if drafted:
            rows = self._corrections(self.lines().cte("wanted"), drafted)
        else:
            rows = self.lines().subquery("wanted")
        c = rows.c
        day = self.period.end
        order = (c.dealer_id, c.item_key, c.source_key)
        select_rows = (
            select(
                self.sql.ids(*order),
                c.dealer_id,
                literal(_COMMISSION),
                c.amount,
                literal(0),
                literal(day, Date),
                literal(day, Date),
                c.late == 1,
                c.source_key,
                func.nullif(c.item_key, ""),
                func.substr(c.description, 1, 255),
                literal(""),
                literal(""),
                literal(actor),
                literal(utcnow(), _ENTRIES.c.created_at.type),
            )
            .where(c.amount != 0)
            .order_by(*order)
        )
        return insert(_ENTRIES).from_select(ENTRY_COLUMNS, select_rows)

    def _corrections(self, wanted: CTE, drafted: Sequence[str]) -> Subquery:
        """What the period should pay less what earlier runs of it booked, per key: the
        difference for a line paid before, and the whole of a line no longer earned (the
        number was switched off since the last run)."""
        w = wanted.c
        e = _ENTRIES.c
        booked = (
            select(
                self.sql.key(e.dealer_id).label("dealer_id"),
                self.sql.key(e.source_key).label("source_key"),
                cast(func.sum(e.amount_fen), BigInteger).label("amount"),
            )
            .where(e.dealer_id.in_(drafted))
            .where(e.kind == _COMMISSION)
            .where(~e.source_key.startswith(_REVENUE_KEY))
            .where(e.booked_on >= self.period.start)
            .where(e.booked_on <= self.period.end)
            .group_by(e.dealer_id, e.source_key)
            .cte("booked")
        )
        b = booked.c
        return union_all(
            select(
                w.dealer_id,
                w.item_key,
                w.source_key,
                (w.amount - func.coalesce(b.amount, 0)).label("amount"),
                w.description,
                w.late,
            ).select_from(
                wanted.outerjoin(
                    booked, and_(b.dealer_id == w.dealer_id, b.source_key == w.source_key)
                )
            ),
            select(
                b.dealer_id,
                literal(""),
                b.source_key,
                -b.amount,
                literal(_NO_LONGER_EARNED),
                literal(0),
            ).where(~exists().where(w.dealer_id == b.dealer_id, w.source_key == b.source_key)),
        ).subquery("corrections")


def _late_bookings(session: Session, dealer_ids: Sequence[str], since: date) -> bool:
    """Whether any sale or return of the dealers was booked late on or after `since`: only
    then does a run read the late bookings (a few rows, by their partial index)."""
    query = (
        select(_ENTRIES.c.id)
        .where(_ENTRIES.c.late)
        .where(_ENTRIES.c.booked_on >= since)
        .where(_ENTRIES.c.kind.in_([_SALE, _RETURN]))
        .where(_ENTRIES.c.dealer_id.in_(dealer_ids))
        .limit(1)
    )
    return session.connection().execute(query).first() is not None


def _book_commissions(
    session: Session,
    dealers: Sequence[Dealer],
    plans: dict[str, list[CommissionPlan]],
    period: Period,
    actor: str,
    drafted: Collection[str],
) -> Booked:
    """Books what the period's commission should be, less what earlier runs of this period
    already booked, in one INSERT … SELECT. Only the `drafted` dealers (those with a
    statement for the period) can have commission booked in it: every run that books into
    a period writes its statement in the same transaction."""
    with_plans = [d.id for d in dealers if plans[d.id]]
    if not with_plans:
        return Booked()
    connection = session.connection()
    commission = _Commission(
        Dialect(connection),
        _rules(plans, with_plans, period),
        with_plans,
        period,
        _late_bookings(session, with_plans, period.start),
    )
    statement = commission.insert(actor, [d for d in with_plans if d in drafted])
    return run_insert(connection, statement, period)


def _book_revenue_share(
    session: Session,
    dealers: Sequence[Dealer],
    plans: dict[str, list[CommissionPlan]],
    period: Period,
    actor: str,
) -> Booked:
    """Books the revenue share of the months reported so far (up to the period's end) that
    the dealer's plans pay and no run has booked yet, the difference for a month whose
    figure the billing system corrected since, and the reversal of a share booked for a
    month whose sale no longer stands (returned before the month began, say, and synced
    late). A month's share goes to the dealer whose sale of the number stood in that month:
    the latest sale on or before the month's end not returned before the month began.

    Read are the months the bands can still reach from this period, and any month reported
    or corrected since the previous period began (so a late report is never missed)."""
    sharing = {d.id for d in dealers if any(p.share_bands for p in plans[d.id])}
    if not sharing:
        return Booked()
    reach = max(b.last_month for d in sharing for p in plans[d] for b in p.share_bands)
    last_month = period.end.replace(day=1)
    recent = or_(
        _REVENUE.c.month >= add_months(period.start.replace(day=1), -reach),
        _REVENUE.c.reported_at >= day_start(add_months(period.start, -1)),
    )
    query = (
        select(
            _REVENUE.c.msisdn,
            _REVENUE.c.month,
            _REVENUE.c.revenue_fen,
            _SALES.c.dealer_id,
            _SALES.c.sold_at,
            _LINES.c.returned_at,
            _LINES.c.product,
        )
        .select_from(
            _REVENUE.join(_LINES, _LINES.c.item_key == _REVENUE.c.msisdn).join(
                _SALES, _SALES.c.id == _LINES.c.sale_id
            )
        )
        .where(_LINES.c.item_kind == "number")
        .where(recent)
        .where(_REVENUE.c.month <= last_month)
        .where(_SALES.c.sold_at < day_start(add_months(last_month, 1)))
    )
    standing: dict[tuple[str, date], tuple[datetime, str, NumberSale, int]] = {}
    sources: set[str] = set()
    for row in session.connection().execute(query):
        sources.add(f"{_REVENUE_KEY}{row.msisdn}:{row.month:%Y-%m}")
        if row.returned_at is not None and business_day(row.returned_at) < row.month:
            continue
        sold_on = business_day(row.sold_at)
        if sold_on >= add_months(row.month, 1):
            continue
        key = (row.msisdn, row.month)
        if key in standing and standing[key][0] >= row.sold_at:
            continue
        sale = NumberSale(row.msisdn, grade_of(row.product), sold_on)
        standing[key] = (row.sold_at, row.dealer_id, sale, int(row.revenue_fen))
    wanted: dict[tuple[str, str], tuple[int, str, str]] = {}
    for (msisdn, month), (_, dealer_id, sale, billed) in standing.items():
        if dealer_id not in sharing:
            continue
        line = revenue_share(plans[dealer_id], sale, month, billed)
        source = f"{_REVENUE_KEY}{msisdn}:{month:%Y-%m}"
        description = line.description if line else f"话费分成 {month:%Y-%m}"
        wanted[(dealer_id, source)] = (-line.amount_fen if line else 0, description, msisdn)
    # What every dealer of this run holds for those months, whoever the month's sale is now.
    booked: dict[tuple[str, str], int] = defaultdict(int)
    ordered = sorted(sources)
    for start in range(0, len(ordered), 1_000):
        for dealer_id, source, total in session.connection().execute(
            select(_ENTRIES.c.dealer_id, _ENTRIES.c.source_key, func.sum(_ENTRIES.c.amount_fen))
            .where(_ENTRIES.c.source_key.in_(ordered[start : start + 1_000]))
            .where(_ENTRIES.c.source_key.like(f"{_REVENUE_KEY}%"))  # its partial index
            .where(_ENTRIES.c.dealer_id.in_(sorted(sharing)))
            .group_by(_ENTRIES.c.dealer_id, _ENTRIES.c.source_key)
        ):
            booked[(dealer_id, source)] += int(total)
    for (dealer_id, source), total in booked.items():
        if (dealer_id, source) not in wanted and total:
            month = source.rsplit(":", 1)[1]
            wanted[(dealer_id, source)] = (0, f"话费分成 {month}", source.split(":")[1])
    now = bulk.db_timestamp()
    rows = []
    for (dealer_id, source), (amount, description, msisdn) in sorted(wanted.items()):
        already = booked.get((dealer_id, source), 0)
        if amount == already:
            continue
        if already:
            description = description.replace("话费分成", "话费分成调整", 1)
        rows.append(
            _commission_row(
                dealer_id, source, amount - already, description, msisdn, False, period, actor, now
            )
        )
    insert_entries(session, rows)
    booked = Booked(entries=len(rows))
    for _, dealer_id, kind, amount, *_ in rows:
        booked.dealers.add(str(dealer_id))
        booked.count(str(dealer_id), str(kind), int(amount), 0, 1)  # type: ignore[call-overload]
    return booked


def _commission_row(
    dealer_id: str,
    key: str,
    amount: int,
    description: str,
    msisdn: str | None,
    late: bool,
    period: Period,
    actor: str,
    now: str,
) -> tuple[object, ...]:
    day = period.end.isoformat()
    kind = LedgerKind.commission.value
    return (
        new_id(),
        dealer_id,
        kind,
        amount,
        0,
        day,
        day,
        late,
        key,
        msisdn,
        description[:255],
        "",
        "",
        actor,
        now,
    )
