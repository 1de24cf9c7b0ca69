"""The settlement run as a background job: one period for one dealer, or for every dealer
settled at a cadence. The settlement pages submit it (api/pages/settlement/runs.py); the job
books the period's sales, returns and commission, drafts the statements, and ends with what
it did and the period's totals, linked to the period's statements.

A run the rules refuse (a closed period, a dealer settled at another cadence) fails the job
with the reason in the reader's language, and nothing of it is kept."""

from dataclasses import dataclass
from datetime import date
from typing import Final

from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.settlement import SettlementRunIn
from backoffice.core.i18n import N_
from backoffice.domain.settlement.accounts import Cadence, period_containing
from backoffice.domain.settlement.commission import Period
from backoffice.models import Job, SettlementStatement
from backoffice.services import jobs
from backoffice.services.channel.dealers import find_dealer
from backoffice.services.errors import Conflict, NotFound, ServiceError
from backoffice.services.settlement.runs import run_settlement
from shared.money import format_fen

SETTLEMENT_RUN: Final = "settlement_run"

# A job's title: one dealer, or all the dealers of a cadence.
DEALER_TITLE: Final = N_("Settle dealer %(dealer)s for %(start)s – %(end)s")
CADENCE_TITLES: Final = {
    Cadence.month: N_("Settle the dealers settled monthly for %(start)s – %(end)s"),
    Cadence.week: N_("Settle the dealers settled weekly for %(start)s – %(end)s"),
    Cadence.day: N_("Settle the dealers settled daily for %(start)s – %(end)s"),
}
# The summary's lines, in order (the runs page reads some of them back).
PERIOD: Final = N_("Period")
DRAFTED: Final = N_("Statements drafted")
SKIPPED: Final = N_("Closed periods left as they are")
BOOKED: Final = N_("Entries booked")
SALES: Final = N_("Owed for sales")
COMMISSION: Final = N_("Commission")
CLOSING: Final = N_("Closing balances")
PHASE_BOOKING: Final = N_("Booking sales, returns and commission")

# The run's refusals, by the service's error code, as the pages say them.
REFUSALS: Final = {
    "wrong_cadence": N_(
        "Dealer %(dealer)s is settled at another cadence: run it again, the page picks the "
        "dealer's own."
    ),
    "statement_closed": N_(
        "Dealer %(dealer)s's statement for %(start)s – %(end)s is confirmed or paid: the "
        "period is closed and is not settled again."
    ),
    "later_period_closed": N_(
        "Dealer %(dealer)s has a later period closed: an earlier period cannot be settled after it."
    ),
    "dealer_not_found": N_("There is no dealer %(dealer)s."),
}


def run_request(day: date, cadence: Cadence, dealer: str | None) -> SettlementRunIn:
    return SettlementRunIn(day=day, cadence=cadence, dealer=dealer or None)


def submit_run(session: Session, request: SettlementRunIn, actor: str) -> Job:
    """Queues the run; the job's title names the period and who is settled."""
    period = period_containing(request.day, request.cadence)
    params: dict[str, object] = {"start": period.start.isoformat(), "end": period.end.isoformat()}
    if request.dealer:
        title = DEALER_TITLE
        params["dealer"] = request.dealer
    else:
        title = CADENCE_TITLES[request.cadence]
    return jobs.submit(
        session,
        SETTLEMENT_RUN,
        actor,
        title,
        params,
        params={
            "day": request.day.isoformat(),
            "cadence": request.cadence.value,
            "dealer": request.dealer,
        },
    )


@dataclass(frozen=True)
class PeriodTotals:
    statements: int
    sales_fen: int
    commission_fen: int
    closing_fen: int


def period_totals(
    session: Session, period: Period, cadence: Cadence, dealer_id: str | None = None
) -> PeriodTotals:
    """What the period's statements (of one dealer, or all) add up to."""
    s = SettlementStatement
    query = (
        select(
            func.count(),
            func.coalesce(func.sum(s.sales_fen), 0),
            func.coalesce(func.sum(s.commission_fen), 0),
            func.coalesce(func.sum(s.closing_fen), 0),
        )
        .where(col(s.period_start) == period.start)
        .where(col(s.cadence) == cadence.value)
    )
    if dealer_id is not None:
        query = query.where(col(s.dealer_id) == dealer_id)
    count, sales, commission, closing = session.connection().execute(query).one()
    return PeriodTotals(int(count), int(sales), int(commission), int(closing))


def _refusal(error: ServiceError, request: SettlementRunIn, period: Period) -> ServiceError:
    message = REFUSALS.get(error.code)
    if message is None:
        return error
    params = {
        "dealer": request.dealer or "",
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }
    kind = NotFound if isinstance(error, NotFound) else Conflict
    return kind(message, code=error.code, params=params)


@jobs.handler(SETTLEMENT_RUN)
def settlement_run(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    request = run_request(
        date.fromisoformat(ctx.params["day"]),
        Cadence(ctx.params["cadence"]),
        ctx.params.get("dealer"),
    )
    period = period_containing(request.day, request.cadence)
    ctx.progress(0, None, PHASE_BOOKING)
    try:
        dealer_id = find_dealer(session, request.dealer).id if request.dealer else None
        summary = run_settlement(session, request, ctx.actor)
    except (Conflict, NotFound) as error:
        session.rollback()
        raise _refusal(error, request, period) from error
    ctx.progress(summary.statements, summary.statements)
    totals = period_totals(session, period, request.cadence, dealer_id)
    link = f"/settlement/statements?period={period.start.isoformat()}"
    if request.dealer:
        link += f"&dealer={request.dealer}"
    return jobs.JobResult(
        summary=[
            (PERIOD, f"{period.start.isoformat()} – {period.end.isoformat()}"),
            (DRAFTED, summary.statements),
            (SKIPPED, summary.skipped_closed),
            (BOOKED, summary.entries_booked),
            (SALES, format_fen(totals.sales_fen)),
            (COMMISSION, format_fen(totals.commission_fen)),
            (CLOSING, format_fen(totals.closing_fen)),
        ],
        link=link,
    )


def recent_runs(
    session: Session, after: str | None = None, limit: int = 20
) -> tuple[list[Job], str | None]:
    """Settlement run jobs, newest first, a keyset page (`after`: the last id of the page
    before); everyone's, since the sales centre settles together."""
    query = (
        sql_select(Job)
        .where(col(Job.kind) == SETTLEMENT_RUN)
        .order_by(col(Job.created_at).desc(), col(Job.id).desc())
    )
    if after:
        last = session.get(Job, after)
        if last is not None:
            query = query.where(
                (col(Job.created_at) < last.created_at)
                | ((col(Job.created_at) == last.created_at) & (col(Job.id) < last.id))
            )
    rows = list(session.exec(query.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)
