"""Dealer settlement: the account ledger, settlement profiles, commission plans, provisioning
callbacks, settlement runs and the statement lifecycle."""

import hashlib
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts_channel import PaymentIn
from backoffice.contracts_settlement import (
    AccountEntryIn,
    ActivationCallback,
    CommissionPlanCreate,
    CommissionPlanPublic,
    CommissionRules,
    RevenueReport,
    RevenueReportPublic,
    SettlementRunIn,
    SettlementRunPublic,
)
from backoffice.domain.calendar import business_day, day_start
from backoffice.domain.commission import (
    ONE_OFF_REVERSAL,
    CommissionKind,
    CommissionLine,
    CommissionPlan,
    NumberSale,
    Period,
    ShareBand,
    Slab,
    Stage,
    add_months,
    commission_for,
    plan_on,
    revenue_share,
)
from backoffice.domain.pricing import grade_of
from backoffice.domain.settlement import (
    Cadence,
    Entry,
    LedgerKind,
    SettlementError,
    StatementAction,
    StatementStatus,
    StatementTotals,
    booking,
    check_entry,
    is_closed,
    period_containing,
    statement_move,
    statement_totals,
)
from backoffice.models import (
    CommissionPlanRow,
    Dealer,
    DealerAccountEntry,
    NumberActivation,
    NumberRevenue,
    Sale,
    SaleLine,
    SettlementProfile,
    SettlementStatement,
)
from backoffice.models.types import utcnow
from backoffice.services import audit, bulk
from backoffice.services.dealers import charge_dealer, find_dealer
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.ids import new_id

_ENTRIES = DealerAccountEntry.__table__  # type: ignore[attr-defined]
_SALES = Sale.__table__  # type: ignore[attr-defined]
_LINES = SaleLine.__table__  # type: ignore[attr-defined]
_ACTIVATIONS = NumberActivation.__table__  # type: ignore[attr-defined]
_REVENUE = NumberRevenue.__table__  # type: ignore[attr-defined]
# Revenue-share entries are keyed by number and month, and booked apart from the sales'
# commission: the billing figures arrive (and get corrected) after the month they are for.
_REVENUE_KEY = "revshare:"


def _refuse(error: SettlementError) -> Conflict:
    return Conflict(error.message, code=error.code)


# --- profiles -------------------------------------------------------------------------------


def cadence_of(session: Session, dealer_id: str) -> Cadence:
    profile = session.get(SettlementProfile, dealer_id)
    return Cadence(profile.cadence) if profile else Cadence.month


def set_cadence(session: Session, key: str, cadence: Cadence, actor: str) -> SettlementProfile:
    dealer = find_dealer(session, key)
    profile = session.get(SettlementProfile, dealer.id)
    before = profile.cadence if profile else Cadence.month.value
    if profile is None:
        profile = SettlementProfile(dealer_id=dealer.id, cadence=cadence.value, updated_by=actor)
    profile.cadence = cadence.value
    profile.updated_by = actor
    profile.updated_at = utcnow()
    session.add(profile)
    audit.record(
        session,
        actor=actor,
        entity_type="dealer",
        entity_id=dealer.id,
        action="settlement_cadence",
        from_status=before,
        to_status=cadence.value,
    )
    session.commit()
    return profile


# --- the account ----------------------------------------------------------------------------


def closed_until(session: Session, dealer_ids: Sequence[str]) -> dict[str, date]:
    """The last day of each dealer's latest confirmed or paid period, for dealers with one."""
    query = (
        select(
            SettlementStatement.dealer_id,  # type: ignore[call-overload]
            func.max(SettlementStatement.period_end),
        )
        .where(col(SettlementStatement.dealer_id).in_(dealer_ids))
        .where(
            col(SettlementStatement.status).in_(
                [StatementStatus.confirmed.value, StatementStatus.paid.value]
            )
        )
        .group_by(SettlementStatement.dealer_id)
    )
    return dict(session.connection().execute(query).all())


def post_entry(
    session: Session, key: str, request: AccountEntryIn, actor: str
) -> DealerAccountEntry:
    """Deposits, payments, adjustments and penalties posted by the sales centre. A payment
    also goes on the channel ledger, where it releases the dealer's credit for new stock:
    one payment, on both of the dealer's accounts."""
    dealer = find_dealer(session, key)
    kind = LedgerKind(request.kind)
    try:
        check_entry(kind, request.amount_fen, request.reason, request.approver)
    except SettlementError as exc:
        raise InvalidInput(exc.message, code=exc.code) from exc
    occurred = request.occurred_on or business_day(utcnow())
    booked, late = booking(occurred, closed_until(session, [dealer.id]).get(dealer.id))
    entry = DealerAccountEntry(
        id=new_id(),
        dealer_id=dealer.id,
        kind=kind.value,
        amount_fen=request.amount_fen,
        occurred_on=occurred,
        booked_on=booked,
        late=late,
        description=request.description,
        reason=request.reason,
        approver=request.approver,
        actor=actor,
    )
    session.add(entry)
    if kind is LedgerKind.payment:
        charge_dealer(
            session,
            dealer,
            request.amount_fen,
            kind="payment",
            actor=actor,
            note=request.description or f"payment {entry.id}",
        )
    audit.record(
        session,
        actor=actor,
        entity_type="dealer",
        entity_id=dealer.id,
        action=f"account_{kind.value}",
        reason=f"{request.amount_fen} fen; {request.reason or request.description}"[:255],
    )
    session.commit()
    return entry


def record_payment(session: Session, key: str, request: PaymentIn, actor: str) -> Dealer:
    """A payment received from the dealer: the same as posting a payment entry."""
    entry = AccountEntryIn(kind="payment", amount_fen=-request.amount_fen, description=request.note)
    post_entry(session, key, entry, actor)
    return find_dealer(session, key)


def balance(session: Session, dealer_id: str, before: date | None = None) -> int:
    """The sum of the dealer's entries (booked before `before`, when given)."""
    query = select(func.coalesce(func.sum(_ENTRIES.c.amount_fen), 0)).where(
        _ENTRIES.c.dealer_id == dealer_id
    )
    if before is not None:
        query = query.where(_ENTRIES.c.booked_on < before)
    return int(session.connection().execute(query).scalar_one())


def account_entries(
    session: Session, dealer_id: str, start: date | None = None, end: date | None = None
) -> list[DealerAccountEntry]:
    query = sql_select(DealerAccountEntry).where(DealerAccountEntry.dealer_id == dealer_id)
    if start is not None:
        query = query.where(DealerAccountEntry.booked_on >= start)
    if end is not None:
        query = query.where(DealerAccountEntry.booked_on <= end)
    return list(
        session.exec(query.order_by(col(DealerAccountEntry.booked_on), col(DealerAccountEntry.id)))
    )


# --- commission plans and activations -------------------------------------------------------


def _plan_public(row: CommissionPlanRow) -> CommissionPlanPublic:
    return CommissionPlanPublic(
        id=row.id,
        code=row.code,
        dealer_id=row.dealer_id,
        dealer_kind=row.dealer_kind,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        rules=CommissionRules.model_validate_json(row.rules),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _domain_plan(row: CommissionPlanRow) -> CommissionPlan:
    rules = CommissionRules.model_validate_json(row.rules)
    return CommissionPlan(
        code=row.code,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        one_off_fen=dict(rules.one_off_fen),
        stages=tuple(Stage(s.after_months, s.amount_fen) for s in rules.stages),
        share_bands=tuple(
            ShareBand(b.first_month, b.last_month, b.basis_points) for b in rules.share_bands
        ),
        slabs=tuple(Slab(s.min_volume, s.per_number_fen) for s in rules.slabs),
    )


def create_plan(
    session: Session, request: CommissionPlanCreate, actor: str
) -> CommissionPlanPublic:
    dealer_id = find_dealer(session, request.dealer).id if request.dealer else None
    if session.exec(
        sql_select(CommissionPlanRow).where(CommissionPlanRow.code == request.code)
    ).first():
        raise Conflict(f"commission plan {request.code} exists", code="plan_exists")
    row = CommissionPlanRow(
        id=new_id(),
        code=request.code,
        dealer_id=dealer_id,
        dealer_kind=request.dealer_kind.value if request.dealer_kind else None,
        effective_from=request.effective_from,
        effective_to=request.effective_to,
        rules=request.rules.model_dump_json(),
        created_by=actor,
    )
    try:
        _domain_plan(row)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="plan_invalid") from exc
    session.add(row)
    audit.record(
        session,
        actor=actor,
        entity_type="commission_plan",
        entity_id=row.id,
        action="create",
        reason=f"{row.code} from {row.effective_from}",
    )
    session.commit()
    return _plan_public(row)


def list_plans(session: Session, dealer_key: str | None = None) -> list[CommissionPlanPublic]:
    query = sql_select(CommissionPlanRow)
    if dealer_key:
        dealer = find_dealer(session, dealer_key)
        query = query.where(
            (col(CommissionPlanRow.dealer_id) == dealer.id)
            | (col(CommissionPlanRow.dealer_kind) == dealer.kind)
        )
    rows = session.exec(query.order_by(col(CommissionPlanRow.effective_from)))
    return [_plan_public(r) for r in rows]


def plans_by_dealer(session: Session, dealers: Sequence[Dealer]) -> dict[str, list[CommissionPlan]]:
    """Each dealer's plans: its own when it has any, else those of its kind."""
    rows = list(session.exec(sql_select(CommissionPlanRow)))
    own: dict[str, list[CommissionPlan]] = defaultdict(list)
    by_kind: dict[str, list[CommissionPlan]] = defaultdict(list)
    for row in rows:
        if row.dealer_id:
            own[row.dealer_id].append(_domain_plan(row))
        elif row.dealer_kind:
            by_kind[row.dealer_kind].append(_domain_plan(row))
    return {d.id: own.get(d.id) or by_kind.get(d.kind, []) for d in dealers}


def record_activation(
    session: Session, request: ActivationCallback, actor: str
) -> NumberActivation:
    """Provisioning says a number went live or was switched off; a later activation of a
    number that was switched off starts its life afresh."""
    row = session.get(NumberActivation, request.msisdn)
    if row is None:
        row = NumberActivation(msisdn=request.msisdn)
    before = "deactivated" if row.deactivated_on else ("activated" if row.activated_on else None)
    if request.status == "activated":
        row.activated_on = request.on
        row.deactivated_on = None
    else:
        if row.activated_on is None or request.on < row.activated_on:
            raise InvalidInput(
                f"number {request.msisdn} was not active on {request.on}",
                code="not_activated",
            )
        row.deactivated_on = request.on
    row.updated_at = utcnow()
    session.add(row)
    audit.record(
        session,
        actor=actor,
        entity_type="number",
        entity_id=request.msisdn,
        action=f"provisioning_{request.status}",
        from_status=before,
        to_status=request.status,
        reason=f"on {request.on}",
    )
    session.commit()
    return row


def report_revenue(session: Session, report: RevenueReport, actor: str) -> RevenueReportPublic:
    """Stores the billing system's revenue per number for a month, replacing any figure
    reported before; the next settlement run of each dealer books the share (or the
    difference) into its open period."""
    if report.month > business_day(utcnow()).replace(day=1):
        raise InvalidInput(f"month {report.month:%Y-%m} has not begun", code="future_month")
    connection = session.connection()
    numbers = [line.msisdn for line in report.lines]
    replaced = 0
    for start in range(0, len(numbers), 1_000):
        replaced += connection.execute(
            select(func.count())
            .select_from(_REVENUE)
            .where(_REVENUE.c.month == report.month)
            .where(_REVENUE.c.msisdn.in_(numbers[start : start + 1_000]))
        ).scalar_one()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(_REVENUE)
    statement = statement.on_conflict_do_update(
        index_elements=["msisdn", "month"],
        set_={
            "revenue_fen": statement.excluded.revenue_fen,
            "reported_by": statement.excluded.reported_by,
            "reported_at": statement.excluded.reported_at,
        },
    )
    now = utcnow()
    connection.execute(
        statement,
        [
            {
                "msisdn": line.msisdn,
                "month": report.month,
                "revenue_fen": line.revenue_fen,
                "reported_by": actor,
                "reported_at": now,
            }
            for line in report.lines
        ],
    )
    total = sum(line.revenue_fen for line in report.lines)
    audit.record(
        session,
        actor=actor,
        entity_type="revenue",
        entity_id=f"{report.month:%Y-%m}",
        action="report_revenue",
        item_count=len(report.lines),
        reason=f"{len(report.lines)} numbers, {total} fen, {replaced} replaced",
    )
    session.commit()
    return RevenueReportPublic(
        month=report.month, numbers=len(report.lines), revenue_fen=total, replaced=replaced
    )


# --- settlement runs ------------------------------------------------------------------------

ENTRY_COLUMNS = (
    "id",
    "dealer_id",
    "kind",
    "amount_fen",
    "retail_fen",
    "occurred_on",
    "booked_on",
    "late",
    "source_key",
    "item_key",
    "description",
    "reason",
    "approver",
    "actor",
    "created_at",
)


def _source(prefix: str, line_id: object) -> object:
    return literal(prefix) + cast(line_id, String)


def _product_name(product: str) -> str:
    kind, _, detail = product.partition(":")
    if kind == "voucher" and detail.isdigit():
        return f"充值卡{int(detail) // 100}元"
    return f"号码{detail}" if kind == "number" else product


def _book_sales_and_returns(
    session: Session, dealer_ids: Sequence[str], period: Period, actor: str
) -> int:
    """Books every accepted sale line and return up to the period's end that is not booked
    yet, in two set-based reads and one bulk insert (COPY on PostgreSQL). An event from a
    closed period is booked late into the first open day (domain.settlement.booking)."""
    end = day_start(period.end + timedelta(days=1))
    frozen = closed_until(session, dealer_ids)
    rows: list[tuple[object, ...]] = []
    now = bulk.db_timestamp()
    for kind, stamp, sign in (
        (LedgerKind.sale, _SALES.c.sold_at, 1),
        (LedgerKind.sale_return, _LINES.c.returned_at, -1),
    ):
        key = _source(f"{kind.value}:", _LINES.c.id)
        booked = exists().where(_ENTRIES.c.source_key == key)
        query = (
            select(
                _LINES.c.id,
                _LINES.c.item_key,
                _LINES.c.product,
                _LINES.c.price_fen,
                _LINES.c.dealer_fen,
                _SALES.c.dealer_id,
                _SALES.c.receipt_no,
                stamp,
            )
            .join(_SALES, _SALES.c.id == _LINES.c.sale_id)
            .where(_SALES.c.dealer_id.in_(dealer_ids))
            .where(stamp.is_not(None))
            .where(stamp < end)
            .where(~booked)
        )
        for line in session.connection().execute(query):
            occurred = business_day(line[7])
            booked_on, late = booking(occurred, frozen.get(line.dealer_id))
            word = "销售" if kind is LedgerKind.sale else "退货"
            amount = sign * line.dealer_fen
            # A zero-priced line (a free SIM pack) owes nothing and records nothing.
            if not amount:
                continue
            rows.append(
                (
                    new_id(),
                    line.dealer_id,
                    kind.value,
                    amount,
                    sign * line.price_fen,
                    occurred.isoformat(),
                    booked_on.isoformat(),
                    late,
                    f"{kind.value}:{line.id}",
                    line.item_key,
                    f"{word} {_product_name(line.product)} 小票{line.receipt_no}",
                    "",
                    "",
                    actor,
                    now,
                )
            )
    bulk.insert_rows(session, "dealer_account_entry", ENTRY_COLUMNS, rows)
    return len(rows)


def _booked_on(kind: LedgerKind):  # type: ignore[no-untyped-def]
    """The day a sale line's sale (or return) was booked on the dealer's account; None: not
    yet, or never (a zero-priced line books nothing)."""
    return (
        select(_ENTRIES.c.booked_on)
        .where(_ENTRIES.c.source_key == _source(f"{kind.value}:", _LINES.c.id))
        .limit(1)
        .scalar_subquery()
    )


_SALE_BOOKED = _booked_on(LedgerKind.sale)
_RETURN_BOOKED = _booked_on(LedgerKind.sale_return)


class _Sold(NamedTuple):
    sale: NumberSale
    booked_on: date | None
    return_booked_on: date | None

    def late_return_in(self, period: Period) -> bool:
        """Returned in an earlier, closed period, and only booked into this one."""
        returned = self.sale.returned_on
        return returned is not None and returned < period.start and self.return_booked_on in period


def _number_sales(
    session: Session,
    dealer_ids: Sequence[str],
    period: Period,
    stage_months: Iterable[int],
) -> dict[str, list[_Sold]]:
    """The numbers each dealer sold that can earn or lose commission in the period, with
    their provisioning status and the day their sale is booked on (None for a zero-priced
    line, which books nothing), in one read: sold in the period's months (one-off, slabs),
    sold a stage's months before (staged), returned in the period, or sold or returned
    earlier and booked late here."""
    end = day_start(period.end + timedelta(days=1))
    windows = [(period.start.replace(day=1), period.end)]
    # Month ends clamp (31 Jan + 1 month = 28 Feb), so a stage's window is a few days wider;
    # commission_for decides exactly.
    slack = timedelta(days=4)
    for months in set(stage_months):
        windows.append(
            (add_months(period.start, -months) - slack, add_months(period.end, -months) + slack)
        )
    sold = _SALES.c.sold_at
    return _sales_where(
        session,
        dealer_ids,
        or_(
            *(
                and_(sold >= day_start(a), sold < day_start(b + timedelta(days=1)))
                for a, b in windows
            ),
            and_(_LINES.c.returned_at >= day_start(period.start), _LINES.c.returned_at < end),
            and_(sold < day_start(period.start), _SALE_BOOKED.between(period.start, period.end)),
            and_(
                _LINES.c.returned_at < day_start(period.start),
                _RETURN_BOOKED.between(period.start, period.end),
            ),
        ),
        end,
    )


def _sales_where(
    session: Session, dealer_ids: Sequence[str], condition: ColumnElement[bool], end: datetime
) -> dict[str, list[_Sold]]:
    """The number sales of the dealers sold before `end` that meet `condition`, with their
    provisioning status and the day each was booked on, per dealer."""
    query = (
        select(
            _SALES.c.dealer_id,
            _LINES.c.item_key,
            _LINES.c.product,
            _SALES.c.sold_at,
            _LINES.c.returned_at,
            _ACTIVATIONS.c.activated_on,
            _ACTIVATIONS.c.deactivated_on,
            _SALE_BOOKED.label("booked_on"),
            # Looked up only for the few lines returned.
            case((_LINES.c.returned_at.is_(None), None), else_=_RETURN_BOOKED).label(
                "return_booked_on"
            ),
        )
        .join(_SALES, _SALES.c.id == _LINES.c.sale_id)
        .outerjoin(_ACTIVATIONS, _ACTIVATIONS.c.msisdn == _LINES.c.item_key)
        .where(_SALES.c.dealer_id.in_(dealer_ids))
        .where(_LINES.c.item_kind == "number")
        .where(_SALES.c.sold_at < end)
        .where(condition)
    )
    sales: dict[str, list[_Sold]] = defaultdict(list)
    for row in session.connection().execute(query):
        sale = NumberSale(
            msisdn=row.item_key,
            grade=grade_of(row.product),
            sold_on=business_day(row.sold_at),
            returned_on=business_day(row.returned_at) if row.returned_at else None,
            activated_on=row.activated_on,
            deactivated_on=row.deactivated_on,
        )
        sales[row.dealer_id].append(_Sold(sale, row.booked_on, row.return_booked_on))
    return sales


def _line_key(line: CommissionLine) -> str:
    """A month's slab line is keyed by its month, so that a late sale's correction adds to
    it; every other line by what it pays for."""
    what = f"{line.month:%Y-%m}" if line.month is not None else line.description
    return _commission_key(line.plan, line.kind.value, line.msisdn, what)


def _late_slabs(
    session: Session,
    plans: dict[str, list[CommissionPlan]],
    sales: dict[str, list[_Sold]],
    period: Period,
) -> list[tuple[str, CommissionLine, int]]:
    """Slab corrections for months settled in earlier periods that sales booked late into
    this one add volume to: each month's slab line recomputed over its sales booked up to
    this period, with what earlier periods already paid for that month (negative fen)."""
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
        or_(
            *(
                and_(sold_at >= day_start(month), sold_at < day_start(add_months(month, 1)))
                for month in months
            )
        ),
        day_start(period.start),
    )
    corrections = []
    for month, dealer_ids in sorted(months.items()):
        whole = Period(month, add_months(month, 1) - timedelta(days=1))
        for dealer_id in sorted(dealer_ids):
            counted = [
                sold.sale
                for sold in month_sales.get(dealer_id, [])
                if sold.sale.sold_on in whole
                and (sold.booked_on is None or sold.booked_on <= period.end)
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


def _commission_key(plan: str, kind: str, msisdn: str | None, description: str) -> str:
    digest = hashlib.sha1(f"{plan}|{kind}|{msisdn}|{description}".encode()).hexdigest()
    return f"commission:{digest[:32]}"


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
) -> int:
    """Books what the period's commission should be, less what earlier runs of this period
    already booked: a rerun of a draft appends corrections and never rewrites a row."""
    with_plans = [d.id for d in dealers if plans[d.id]]
    if not with_plans:
        return 0
    stage_months = {
        stage.after_months for p in plans.values() for plan in p for stage in plan.stages
    }
    sales = _number_sales(session, with_plans, period, stage_months)
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
            if sold.sale.sold_on in period
            and sold.booked_on is not None
            and sold.booked_on not in period
        }
        everything = [sold.sale for sold in dealer_sales]
        for line in commission_for(plans[dealer_id], everything, period):
            if line.kind is CommissionKind.tiered:
                continue
            if not (line.kind is CommissionKind.one_off and line.msisdn in elsewhere):
                want(dealer_id, line, False)
        booked_here = [s for s in everything if s.msisdn not in elsewhere]
        for line in commission_for(plans[dealer_id], booked_here, period):
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
    for dealer_id, line, paid_before in _late_slabs(session, plans, sales, period):
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
    bulk.insert_rows(session, "dealer_account_entry", ENTRY_COLUMNS, rows)
    return len(rows)


def _book_revenue_share(
    session: Session,
    dealers: Sequence[Dealer],
    plans: dict[str, list[CommissionPlan]],
    period: Period,
    actor: str,
) -> int:
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
        return 0
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
    bulk.insert_rows(session, "dealer_account_entry", ENTRY_COLUMNS, rows)
    return len(rows)


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


def _period_figures(
    session: Session, dealer_ids: Sequence[str], period: Period
) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, tuple[int, int]]]:
    """Opening balances, sums by kind, and (retail collected, line count) per dealer."""
    opening = {
        row.dealer_id: int(row.total)
        for row in session.connection().execute(
            select(_ENTRIES.c.dealer_id, func.sum(_ENTRIES.c.amount_fen).label("total"))
            .where(_ENTRIES.c.dealer_id.in_(dealer_ids))
            .where(_ENTRIES.c.booked_on < period.start)
            .group_by(_ENTRIES.c.dealer_id)
        )
    }
    by_kind: dict[str, dict[str, int]] = defaultdict(dict)
    extra: dict[str, tuple[int, int]] = {}
    in_period = and_(
        _ENTRIES.c.dealer_id.in_(dealer_ids),
        _ENTRIES.c.booked_on >= period.start,
        _ENTRIES.c.booked_on <= period.end,
    )
    for row in session.connection().execute(
        select(
            _ENTRIES.c.dealer_id,
            _ENTRIES.c.kind,
            func.sum(_ENTRIES.c.amount_fen).label("total"),
            func.sum(_ENTRIES.c.retail_fen).label("retail"),
            func.count().label("lines"),
        )
        .where(in_period)
        .group_by(_ENTRIES.c.dealer_id, _ENTRIES.c.kind)
    ):
        by_kind[row.dealer_id][row.kind] = int(row.total)
        retail, lines = extra.get(row.dealer_id, (0, 0))
        extra[row.dealer_id] = (retail + int(row.retail), lines + int(row.lines))
    return opening, by_kind, extra


def _totals(
    opening: dict[str, int], by_kind: dict[str, dict[str, int]], dealer_id: str, period: Period
) -> StatementTotals:
    entries = [Entry(LedgerKind(k), v, period.start) for k, v in by_kind[dealer_id].items()]
    return statement_totals(opening.get(dealer_id, 0), entries)


def _statement_number(dealer: Dealer, period: Period) -> str:
    return f"ST-{dealer.code}-{period.start:%Y%m%d}"[:32]


def run_settlement(session: Session, request: SettlementRunIn, actor: str) -> SettlementRunPublic:
    """Settles one period for every dealer on the cadence (or one dealer): books the sales,
    returns and commission not yet on the account, then (re)computes draft statements.
    Confirmed and paid periods are closed: one dealer's run is refused, a run for all skips
    them."""
    started = time.perf_counter()
    period = period_containing(request.day, request.cadence)
    if session.get_bind().dialect.name == "postgresql":
        # One run at a time, so two runs cannot both book the same unbooked sale.
        session.connection().execute(text("SELECT pg_advisory_xact_lock(6006)"))
    if request.dealer:
        dealer = find_dealer(session, request.dealer)
        cadence = cadence_of(session, dealer.id)
        if cadence is not request.cadence:
            raise Conflict(
                f"dealer {dealer.code} settles by {cadence.value}",
                code="wrong_cadence",
            )
        candidates = [dealer]
    else:
        profiles = dict(
            session.connection()
            .execute(
                select(SettlementProfile.dealer_id, SettlementProfile.cadence)  # type: ignore[call-overload]
            )
            .all()
        )
        candidates = [
            d
            for d in session.exec(sql_select(Dealer).order_by(col(Dealer.code)))
            if profiles.get(d.id, Cadence.month.value) == request.cadence.value
        ]
    ids = [d.id for d in candidates]
    existing: dict[str, SettlementStatement] = {}
    later_closed: dict[str, date] = {}
    for row in session.exec(
        sql_select(SettlementStatement)
        .where(col(SettlementStatement.dealer_id).in_(ids))
        .where(SettlementStatement.period_start >= period.start)
    ):
        if row.period_start == period.start:
            existing[row.dealer_id] = row
        elif is_closed(StatementStatus(row.status)):
            later_closed[row.dealer_id] = row.period_start
    dealers: list[Dealer] = []
    skipped = 0
    for dealer in candidates:
        statement = existing.get(dealer.id)
        try:
            if dealer.id in later_closed:
                raise SettlementError(
                    "later_period_closed",
                    f"dealer {dealer.code}'s period from {later_closed[dealer.id]} is closed; "
                    "an earlier period cannot be settled after it",
                )
            if statement is not None:
                statement_move(StatementStatus(statement.status), StatementAction.recompute)
        except SettlementError as exc:
            if request.dealer:
                raise _refuse(exc) from exc
            skipped += 1
            continue
        dealers.append(dealer)
    ids = [d.id for d in dealers]
    booked = 0
    statements = 0
    if ids:
        booked = _book_sales_and_returns(session, ids, period, actor)
        plans = plans_by_dealer(session, dealers)
        booked += _book_commissions(session, dealers, plans, period, actor)
        booked += _book_revenue_share(session, dealers, plans, period, actor)
        opening, by_kind, extra = _period_figures(session, ids, period)
        now = utcnow()
        for dealer in dealers:
            totals = _totals(opening, by_kind, dealer.id, period)
            statement = existing.get(dealer.id)
            before = statement.status if statement else None
            if statement is None:
                statement = SettlementStatement(
                    id=new_id(),
                    number=_statement_number(dealer, period),
                    dealer_id=dealer.id,
                    cadence=request.cadence.value,
                    period_start=period.start,
                    period_end=period.end,
                    status=StatementStatus.draft.value,
                    computed_by=actor,
                    updated_by=actor,
                )
            retail, lines = extra.get(dealer.id, (0, 0))
            statement.sqlmodel_update(
                {
                    "status": StatementStatus.draft.value,
                    "retail_collected_fen": retail,
                    "line_count": lines,
                    "computed_at": now,
                    "computed_by": actor,
                    "updated_at": now,
                    "updated_by": actor,
                    **asdict(totals),
                }
            )
            session.add(statement)
            audit.record(
                session,
                actor=actor,
                entity_type="settlement_statement",
                entity_id=statement.id,
                action="compute",
                from_status=before,
                to_status=StatementStatus.draft.value,
                reason=f"{dealer.code} {period.start}..{period.end}: closing {totals.closing_fen}",
            )
            statements += 1
    session.commit()
    return SettlementRunPublic(
        period_start=period.start,
        period_end=period.end,
        cadence=request.cadence,
        statements=statements,
        skipped_closed=skipped,
        entries_booked=booked,
        seconds=round(time.perf_counter() - started, 3),
    )


# --- statements -----------------------------------------------------------------------------


def find_statement(
    session: Session, number: str, dealer_scope: str | None = None
) -> SettlementStatement:
    """The statement by number. With a dealer scope (dealer staff), only that dealer's
    statements once the sales centre has confirmed them; drafts are the centre's work."""
    statement = session.exec(
        sql_select(SettlementStatement).where(SettlementStatement.number == number)
    ).first()
    if statement is None or (
        dealer_scope is not None
        and (statement.dealer_id != dealer_scope or statement.status == StatementStatus.draft.value)
    ):
        raise NotFound(f"no statement {number}", code="statement_not_found")
    return statement


def list_statements(
    session: Session,
    dealer_key: str | None = None,
    period_start: date | None = None,
    status: StatementStatus | None = None,
    dealer_scope: str | None = None,
) -> list[SettlementStatement]:
    """Statements by period; dealer staff (a dealer scope) see their own dealer's, drafts
    left out."""
    query = sql_select(SettlementStatement)
    if dealer_key:
        query = query.where(SettlementStatement.dealer_id == find_dealer(session, dealer_key).id)
    if dealer_scope is not None:
        query = query.where(SettlementStatement.dealer_id == dealer_scope).where(
            SettlementStatement.status != StatementStatus.draft.value
        )
    if period_start:
        query = query.where(SettlementStatement.period_start == period_start)
    if status:
        query = query.where(SettlementStatement.status == status.value)
    return list(
        session.exec(
            query.order_by(col(SettlementStatement.period_start), col(SettlementStatement.number))
        )
    )


def statement_lines(session: Session, statement: SettlementStatement) -> list[DealerAccountEntry]:
    return account_entries(
        session, statement.dealer_id, statement.period_start, statement.period_end
    )


def _check_current(session: Session, statement: SettlementStatement) -> None:
    """Refuses to close a draft the ledger has moved away from since it was computed (an entry
    posted into its period, or an earlier period settled after it): confirming would close a
    period on figures its own lines no longer add up to."""
    period = Period(statement.period_start, statement.period_end)
    opening, by_kind, extra = _period_figures(session, [statement.dealer_id], period)
    totals = _totals(opening, by_kind, statement.dealer_id, period)
    lines = extra.get(statement.dealer_id, (0, 0))[1]
    stored = {name: getattr(statement, name) for name in asdict(totals)}
    if stored != asdict(totals) or statement.line_count != lines:
        raise Conflict(
            f"statement {statement.number} no longer matches dealer's account for "
            f"{period.start}..{period.end}; run the period again before confirming it",
            code="statement_stale",
        )


def move_statement(
    session: Session, number: str, action: StatementAction, actor: str, comment: str = ""
) -> SettlementStatement:
    """Confirm, dispute (with a comment) or mark paid; recomputing goes through a run."""
    statement = find_statement(session, number)
    before = statement.status
    try:
        target = statement_move(StatementStatus(before), action)
    except SettlementError as exc:
        raise _refuse(exc) from exc
    if action is StatementAction.confirm:
        _check_current(session, statement)
    statement.status = target.value
    if comment:
        statement.comment = comment
    statement.updated_at = utcnow()
    statement.updated_by = actor
    session.add(statement)
    audit.record(
        session,
        actor=actor,
        entity_type="settlement_statement",
        entity_id=statement.id,
        action=action.value,
        from_status=before,
        to_status=target.value,
        reason=comment[:255] or None,
    )
    session.commit()
    return statement
