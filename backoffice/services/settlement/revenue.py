"""What staged commission and revenue share are paid from: number activations reported
by provisioning and the billing system's monthly revenue per number."""

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from backoffice.contracts.settlement import (
    ActivationCallback,
    RevenueReport,
    RevenueReportPublic,
)
from backoffice.domain.calendar import business_day
from backoffice.models import (
    NumberActivation,
    NumberRevenue,
    Sale,
    SaleLine,
)
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.errors import InvalidInput
from backoffice.services.settlement.accounts import touch

_ACTIVATIONS = NumberActivation.__table__  # type: ignore[attr-defined]
_REVENUE = NumberRevenue.__table__  # type: ignore[attr-defined]


# Revenue-share entries are keyed by number and month, and booked apart from the sales'
# commission: the billing figures arrive (and get corrected) after the month they are for.
_REVENUE_KEY = "revshare:"


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
    # Staged commission follows the number's activation: its dealers' drafts can move.
    lines, sales = SaleLine.__table__, Sale.__table__  # type: ignore[attr-defined]
    sellers = session.connection().execute(
        select(sales.c.dealer_id)
        .distinct()
        .join(lines, lines.c.sale_id == sales.c.id)
        .where(lines.c.item_key == request.msisdn)
        .where(lines.c.item_kind == "number")
    )
    touch(session, [dealer_id for (dealer_id,) in sellers])
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
