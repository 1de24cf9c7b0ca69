"""The sales dashboard for managers, the sales centre and dealer managers (their own dealer
only). Server-rendered, charts drawn as SVG here, everything served by the app itself: no
script, no CDN."""

from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from backoffice.api.deps import SessionDep
from backoffice.api.errors import status_of
from backoffice.api.pages.frame import DASHBOARD_PAGES, page_user, refused, render
from backoffice.api.routes.statistics import scope_of
from backoffice.contracts.common import CheckedDate
from backoffice.contracts.statistics import SalesRow
from backoffice.domain.statistics import rate
from backoffice.models import User
from backoffice.services.channel import dealers
from backoffice.services.errors import ServiceError
from backoffice.services.statistics import queries
from shared.money import format_fen

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (x or y, label) along the category axis
    top: str  # the value at the top of the scale


def _day_chart(rows: list[SalesRow], start: date, end: date) -> Chart:
    """Net sales per day from `start` to `end`, a bar per day (none on a day without)."""
    width, height, top_pad = 760, 200, 10
    days = (end - start).days + 1
    step = width / max(days, 1)
    peak = max([r.net_fen for r in rows] + [1])
    bars = []
    for row in rows:
        value = max(row.net_fen, 0)
        bar_height = (height - top_pad) * value / peak
        bars.append(
            Bar(
                x=round((row.period - start).days * step, 1),
                y=round(height - bar_height, 1),
                width=round(max(step - 1, 1), 1),
                height=round(bar_height, 1),
                label=row.period.isoformat(),
                title=f"{row.period:%m-%d} {format_fen(row.net_fen)} · {row.net_count} 件",
            )
        )
    ticks = [
        (round(offset * step, 1), f"{start.fromordinal(start.toordinal() + offset):%m-%d}")
        for offset in range(0, days, 7)
    ]
    return Chart(width, height, bars, ticks, format_fen(peak))


def _dealer_chart(rows: list[SalesRow]) -> Chart:
    """The month's dealers by net sales, one horizontal bar each, best first (ten at most)."""
    best = sorted(rows, key=lambda r: (-r.net_fen, r.key))[:10]
    row_height, label_width, width = 26, 150, 760
    peak = max([r.net_fen for r in best] + [1])
    bars = [
        Bar(
            x=label_width,
            y=index * row_height + 4,
            width=round((width - label_width - 90) * max(r.net_fen, 0) / peak, 1),
            height=row_height - 8,
            label=f"{r.key} {r.name}"[:14],
            title=f"{r.key} {r.name}: {format_fen(r.net_fen)}",
        )
        for index, r in enumerate(best)
    ]
    return Chart(width, max(len(best), 1) * row_height, bars, [], format_fen(peak))


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
    dealer = dealer or None
    try:
        board = queries.dashboard(session, day, scope_of(session, user, dealer, None))
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    month = {"start": board.month_start.isoformat(), "end": board.day.isoformat()}
    quarter = {"start": board.quarter_start.isoformat(), "end": board.day.isoformat()}
    if dealer:
        month["dealer"] = quarter["dealer"] = dealer
    totals = _totals(board.sales_by_day, board.month_start)
    return render(
        request,
        "statistics/dashboard.html",
        {
            "board": board,
            "dealer": dealer or "",
            "dealers": _dealer_choices(session, user),
            "totals": totals,
            "days": _day_chart(board.sales_by_day, board.quarter_start, board.day),
            "by_dealer": _dealer_chart(board.sales_by_dealer),
            "exports": {
                "days": urlencode(quarter),
                "dealers": urlencode({**month, "grain": "month", "by": "dealer"}),
                "outlets": urlencode({**month, "limit": 20}),
            },
        },
    )


@dataclass(frozen=True)
class Totals:
    quarter_net_fen: int
    quarter_count: int
    month_net_fen: int
    month_count: int
    return_rate: float | None


def _totals(days: list[SalesRow], month_start: date) -> Totals:
    month = [r for r in days if r.period >= month_start]
    sold = sum(r.sold_count for r in days)
    returned = sum(r.returned_count for r in days)
    return Totals(
        quarter_net_fen=sum(r.net_fen for r in days),
        quarter_count=sum(r.net_count for r in days),
        month_net_fen=sum(r.net_fen for r in month),
        month_count=sum(r.net_count for r in month),
        return_rate=rate(returned, sold),
    )
