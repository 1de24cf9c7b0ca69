"""Commission booked by a settlement run: one-off, staged, slabs (with late sales and
returns recounted in the open period) and revenue share, each booked once."""

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from sqlalchemy import (
    and_,
    func,
    or_,
    select,
)
from sqlmodel import Session

from backoffice.domain.calendar import business_day, day_start
from backoffice.domain.channel import grade_of
from backoffice.domain.settlement.accounts import (
    LedgerKind,
)
from backoffice.domain.settlement.commission import (
    ONE_OFF_REVERSAL,
    CommissionKind,
    CommissionLine,
    CommissionPlan,
    NumberSale,
    Period,
    add_months,
    commission_for,
    plan_on,
    revenue_share,
)
from backoffice.models import (
    Dealer,
)
from backoffice.services import bulk
from backoffice.services.settlement.accounts import _ENTRIES
from backoffice.services.settlement.booking import (
    _LINES,
    _SALES,
    _line_key,
    _number_sales,
    _sales_where,
    _Sold,
    insert_entries,
)
from backoffice.services.settlement.revenue import _REVENUE, _REVENUE_KEY
from shared.ids import new_id


def _late_slabs(
    session: Session,
    plans: dict[str, list[CommissionPlan]],
    sales: dict[str, list[_Sold]],
    late: dict[tuple[str, int], date],
    period: Period,
) -> list[tuple[str, CommissionLine, int]]:
    """Slab corrections for months settled in earlier periods that sales booked late into
    this one add volume to: each month's slab line recomputed over its sales booked up to
    this period, with what earlier periods already paid for that month (negative fen)."""
    if not any(day in period for day in late.values()):
        return []  # every month before the period is settled on the sales it had
    months: dict[date, set[str]] = defaultdict(set)
    for dealer_id, dealer_sales in sales.items():
        for sold in dealer_sales:
            month = sold.sale.sold_on.replace(day=1)
            if add_months(month, 1) > period.start:
                continue
            returned_in_month = sold.late_return_in(period) and sold.sale.returned_on < add_months(
                month, 1
            )  # type: ignore[operator]
            if sold.booked_on in period or returned_in_month:
                months[month].add(dealer_id)
    if not months:
        return []
    sold_at = _SALES.c.sold_at
    month_sales = _sales_where(
        session,
        sorted({d for dealers in months.values() for d in dealers}),
        [
            or_(
                *(
                    and_(sold_at >= day_start(month), sold_at < day_start(add_months(month, 1)))
                    for month in months
                )
            )
        ],
        day_start(period.start),
        late,
    )
    corrections = []
    for month, dealer_ids in sorted(months.items()):
        whole = Period(month, add_months(month, 1) - timedelta(days=1))
        for dealer_id in sorted(dealer_ids):
            counted = [
                sold.sale
                for sold in month_sales.get(dealer_id, [])
                if sold.sale.sold_on in whole and sold.booked_on <= period.end
            ]
            lines = [
                line
                for line in commission_for(plans[dealer_id], counted, whole)
                if line.kind is CommissionKind.tiered
            ]
            plan = plan_on(plans[dealer_id], whole.end)
            if not lines and plan is not None and plan.slabs:
                # Volume fell below every paying slab (late returns): all that was paid
                # for the month comes back.
                lines = [
                    CommissionLine(
                        CommissionKind.tiered,
                        0,
                        f"阶梯佣金 {month:%Y-%m} 0户",
                        None,
                        plan.code,
                        month,
                    )
                ]
            corrections += [(dealer_id, line) for line in lines]
    if not corrections:
        return []
    paid = _slabs_paid(session, sorted({d for d, _ in corrections}), min(months), period.start)
    return [
        (
            dealer_id,
            replace(line, description=line.description.replace("阶梯佣金", "阶梯佣金补记", 1)),
            paid[(dealer_id, line.month)],
        )
        for dealer_id, line in corrections
    ]


_SLAB_MONTH = re.compile(r"^阶梯佣金(?:补记)? (\d{4})-(\d{2}) ")


def _slabs_paid(
    session: Session, dealer_ids: Sequence[str], since: date, before: date
) -> dict[tuple[str, date | None], int]:
    """What was booked for each dealer's monthly slabs (negative fen), from `since` up to
    `before`, per month. Entries are grouped by key, and a key's month read from the slab
    line that opened it, so that corrections ("佣金冲正") of reruns count with their line."""
    groups: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for dealer_id, source, description, amount in session.connection().execute(
        select(
            _ENTRIES.c.dealer_id,
            _ENTRIES.c.source_key,
            _ENTRIES.c.description,
            _ENTRIES.c.amount_fen,
        )
        .where(_ENTRIES.c.dealer_id.in_(dealer_ids))
        .where(_ENTRIES.c.kind == LedgerKind.commission.value)
        .where(_ENTRIES.c.item_key.is_(None))
        .where(_ENTRIES.c.booked_on >= since)
        .where(_ENTRIES.c.booked_on < before)
    ):
        groups[(dealer_id, source)].append((description, int(amount)))
    paid: dict[tuple[str, date | None], int] = defaultdict(int)
    for (dealer_id, _), entries in groups.items():
        for description, _ in entries:
            found = _SLAB_MONTH.match(description)
            if found:
                month = date(int(found[1]), int(found[2]), 1)
                paid[(dealer_id, month)] += sum(amount for _, amount in entries)
                break
    return paid


def _late_return_reversals(
    session: Session,
    dealer_id: str,
    plans: Sequence[CommissionPlan],
    returns: list[NumberSale],
    period: Period,
) -> list[CommissionLine]:
    """A return made in a closed period and booked late into this one takes back the one-off
    its sale earned, if one was paid: the ledger before this period decides (one-offs paid
    for the number less those already taken back), since the period that paid it did not
    know of the return."""
    keys: dict[str, tuple[str, str, str]] = {}  # one-off key -> (msisdn, plan, reversal key)
    for sale in returns:
        plan = plan_on(plans, sale.sold_on)
        if plan is None or not plan.one_off_for(sale.grade):
            continue
        paid = CommissionLine(
            CommissionKind.one_off, 0, f"一次性佣金 {sale.grade}", sale.msisdn, plan.code
        )
        back = replace(paid, description=ONE_OFF_REVERSAL)
        keys[_line_key(paid)] = (sale.msisdn, plan.code, _line_key(back))
    if not keys:
        return []
    sources = sorted({*keys, *(back for _, _, back in keys.values())})
    totals = dict(
        session.connection()
        .execute(
            select(_ENTRIES.c.source_key, func.sum(_ENTRIES.c.amount_fen))
            .where(_ENTRIES.c.dealer_id == dealer_id)
            .where(_ENTRIES.c.source_key.in_(sources))
            .where(_ENTRIES.c.booked_on < period.start)
            .group_by(_ENTRIES.c.source_key)
        )
        .all()
    )
    reversals = []
    for key, (msisdn, plan_code, back) in keys.items():
        # Commission is booked negative, its reversal positive.
        earned = -int(totals.get(key, 0)) - int(totals.get(back, 0))
        if earned > 0:
            reversals.append(
                CommissionLine(CommissionKind.one_off, -earned, ONE_OFF_REVERSAL, msisdn, plan_code)
            )
    return reversals


def _book_commissions(
    session: Session,
    dealers: Sequence[Dealer],
    plans: dict[str, list[CommissionPlan]],
    period: Period,
    actor: str,
) -> tuple[int, set[str]]:
    """Books what the period's commission should be, less what earlier runs of this period
    already booked: a rerun of a draft appends corrections and never rewrites a row.
    Returns the entries booked and the dealers they are for."""
    with_plans = [d.id for d in dealers if plans[d.id]]
    if not with_plans:
        return 0, set()
    stage_months = {
        stage.after_months for p in plans.values() for plan in p for stage in plan.stages
    }
    sales, late = _number_sales(session, with_plans, period, stage_months)
    wanted: dict[tuple[str, str], tuple[int, str, str | None, bool]] = {}

    def want(dealer_id: str, line: CommissionLine, late: bool, less: int = 0) -> None:
        key = _line_key(line)
        amount, _, _, _ = wanted.get((dealer_id, key), (0, "", None, False))
        # Commission lowers what the dealer owes.
        wanted[(dealer_id, key)] = (
            amount - line.amount_fen - less,
            line.description,
            line.msisdn,
            late,
        )

    for dealer_id in with_plans:
        dealer_sales = sales.get(dealer_id, [])
        # A number's one-off, and its place in a month's slab volume, belong to the period
        # its sale is booked in: a sale booked late into a later period earns them there,
        # also when its own period is recomputed after a dispute; a sale booked late into
        # this one earns them here.
        elsewhere = {
            sold.sale.msisdn
            for sold in dealer_sales
            if sold.sale.sold_on in period and sold.booked_on not in period
        }
        everything = [sold.sale for sold in dealer_sales]
        lines = commission_for(plans[dealer_id], everything, period)
        for line in lines:
            if line.kind is CommissionKind.tiered:
                continue
            if not (line.kind is CommissionKind.one_off and line.msisdn in elsewhere):
                want(dealer_id, line, False)
        if elsewhere:
            booked_here = [s for s in everything if s.msisdn not in elsewhere]
            lines = commission_for(plans[dealer_id], booked_here, period)
        for line in lines:
            if line.kind is CommissionKind.tiered:
                want(dealer_id, line, False)
        for sold in dealer_sales:
            sale = sold.sale
            returned = sale.returned_on is not None and sale.returned_on <= period.end
            if sale.sold_on < period.start and sold.booked_on in period and not returned:
                one_day = Period(sale.sold_on, sale.sold_on)
                for line in commission_for(plans[dealer_id], [sale], one_day):
                    if line.kind is CommissionKind.one_off:
                        want(dealer_id, line, True)
        late_returns = [sold.sale for sold in dealer_sales if sold.late_return_in(period)]
        for line in _late_return_reversals(
            session, dealer_id, plans[dealer_id], late_returns, period
        ):
            want(dealer_id, line, True)
    for dealer_id, line, paid_before in _late_slabs(session, plans, sales, late, period):
        want(dealer_id, line, True, paid_before)
    booked = {
        (row.dealer_id, row.source_key): int(row.total)
        for row in session.connection().execute(
            select(
                _ENTRIES.c.dealer_id,
                _ENTRIES.c.source_key,
                func.sum(_ENTRIES.c.amount_fen).label("total"),
            )
            .where(_ENTRIES.c.dealer_id.in_(with_plans))
            .where(_ENTRIES.c.kind == LedgerKind.commission.value)
            .where(~_ENTRIES.c.source_key.startswith(_REVENUE_KEY))
            .where(_ENTRIES.c.booked_on >= period.start)
            .where(_ENTRIES.c.booked_on <= period.end)
            .group_by(_ENTRIES.c.dealer_id, _ENTRIES.c.source_key)
        )
    }
    now = bulk.db_timestamp()
    rows: list[tuple[object, ...]] = []
    for (dealer_id, key), (amount, description, msisdn, late) in wanted.items():
        difference = amount - booked.pop((dealer_id, key), 0)
        if difference:
            rows.append(
                _commission_row(
                    dealer_id, key, difference, description, msisdn, late, period, actor, now
                )
            )
    for (dealer_id, key), amount in booked.items():
        if amount:  # no longer earned (the number was switched off since the last run)
            rows.append(
                _commission_row(
                    dealer_id, key, -amount, "佣金冲正", None, False, period, actor, now
                )
            )
    insert_entries(session, rows)
    return len(rows), {str(row[1]) for row in rows}


def _book_revenue_share(
    session: Session,
    dealers: Sequence[Dealer],
    plans: dict[str, list[CommissionPlan]],
    period: Period,
    actor: str,
) -> tuple[int, set[str]]:
    """Books the revenue share of the months reported so far (up to the period's end) that
    the dealer's plans pay and no run has booked yet, the difference for a month whose
    figure the billing system corrected since, and the reversal of a share booked for a
    month whose sale no longer stands (returned before the month began, say, and synced
    late). A month's share goes to the dealer whose sale of the number stood in that month:
    the latest sale on or before the month's end not returned before the month began.

    Read are the months the bands can still reach from this period, and any month reported
    or corrected since the previous period began (so a late report is never missed).
    Returns the entries booked and the dealers they are for."""
    sharing = {d.id for d in dealers if any(p.share_bands for p in plans[d.id])}
    if not sharing:
        return 0, set()
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
    return len(rows), {str(row[1]) for row in rows}


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
