"""The sales dashboard for managers, the sales centre and dealer managers (their own dealer
only): the month to date against the same days of the month before, net sales per day over
the quarter to date, the month's dealers and top 20 outlets."""

from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from backoffice.api.deps import SessionDep
from backoffice.api.errors import status_of
from backoffice.api.pages.frame import DASHBOARD_PAGES, gettext_of, page_user, refused, render
from backoffice.api.pages.statistics import charts, figures
from backoffice.api.pages.statistics.charts import Row, Segment, Series, Unit
from backoffice.api.routes.statistics import scope_of
from backoffice.contracts.common import CheckedDate
from backoffice.contracts.statistics import SalesQuery, SalesRow
from backoffice.core.i18n import Translate
from backoffice.models import User
from backoffice.services.channel import dealers
from backoffice.services.errors import ServiceError
from backoffice.services.statistics import queries
from shared.checks import EARLIEST_YEAR
from shared.money import format_fen

router = APIRouter(include_in_schema=False)


def _day_chart(_: Translate, rows: list[SalesRow], start: date, end: date) -> charts.Chart:
    """Net sales per day from `start` to `end` (none on a day without)."""
    by_day = {r.period: r for r in rows}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    values = [by_day[d].net_fen if d in by_day else 0 for d in days]
    titles = [
        _("%(period)s: net sales %(amount)s, %(n)s items")
        % {
            "period": d,
            "amount": format_fen(v),
            "n": by_day[d].net_count if d in by_day else 0,
        }
        for d, v in zip(days, values, strict=True)
    ]
    return charts.columns(
        [f"{d:%m-%d}" for d in days],
        [Series(_("Net sales"), "bar current", values, titles)],
        Unit.fen,
        value_title=_("Net sales (yuan)"),
        category_title=_("Day"),
    )


def _dealer_chart(_: Translate, rows: list[SalesRow]) -> charts.Chart:
    """The month's dealers by net sales, best first (ten at most), the value beside each."""
    best = sorted(rows, key=lambda r: (-r.net_fen, r.key))[:10]
    return charts.bars(
        [
            Row(
                f"{r.key} {r.name}",
                [
                    Segment(
                        r.net_fen,
                        "bar current" if r.net_fen >= 0 else "bar negative",
                        f"{r.key} {r.name}: {format_fen(r.net_fen)}",
                    )
                ],
                format_fen(r.net_fen),
            )
            for r in best
        ],
        Unit.fen,
        value_title=_("Net sales this month (yuan)"),
    )


def _dealer_choices(session: SessionDep, user: User) -> list[tuple[str, str]]:
    if user.dealer_id is not None:
        return []
    return [(d.code, f"{d.code} {d.name}") for d in dealers.list_dealers(session)]


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(DASHBOARD_PAGES)],
    day: Annotated[CheckedDate | None, Query()] = None,
    dealer: Annotated[str | None, Query()] = None,
) -> Response:
    _ = gettext_of(request)
    dealer = dealer or None
    try:
        scope = scope_of(session, user, dealer, None)
        board = queries.dashboard(session, day, scope)
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    # The same number of days, from the first of the month before (or its last day).
    length = (board.day - board.month_start).days
    before_start = (board.month_start - timedelta(days=1)).replace(day=1)
    before_end = min(before_start + timedelta(days=length), board.month_start - timedelta(days=1))
    before = (
        queries.sales(session, SalesQuery(start=before_start, end=before_end), scope)
        if before_start.year >= EARLIEST_YEAR
        else None
    )
    month_rows = [r for r in board.sales_by_day if r.period >= board.month_start]
    month = {"start": board.month_start.isoformat(), "end": board.day.isoformat()}
    quarter = {"start": board.quarter_start.isoformat(), "end": board.day.isoformat()}
    if dealer:
        month["dealer"] = quarter["dealer"] = dealer
    return render(
        request,
        "statistics/dashboard.html",
        {
            "board": board,
            "dealer": dealer or "",
            "dealers": _dealer_choices(session, user),
            "totals": figures.sales_figures(_, month_rows, before),
            "before": (before_start, before_end),
            "days": _day_chart(_, board.sales_by_day, board.quarter_start, board.day),
            "by_dealer": _dealer_chart(_, board.sales_by_dealer),
            "exports": {
                "days": urlencode(quarter),
                "dealers": urlencode({**month, "grain": "month", "by": "dealer"}),
                "outlets": urlencode({**month, "limit": 20}),
            },
        },
    )
