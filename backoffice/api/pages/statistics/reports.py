"""The statistics reports as pages, for managers, the sales centre and dealer managers (their
own dealer only): sales, rankings, stock and ageing, sell-through, top-up cards and shift cash.
Each page calls the same service function as the API's report (routes/statistics.py), draws
a chart of it above its table, and links the API's CSV and XLSX exports with the same query."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from backoffice.api.deps import SessionDep
from backoffice.api.pages.frame import DASHBOARD_PAGES, gettext_of, page_user, refused, render
from backoffice.api.pages.statistics import charts, figures
from backoffice.api.pages.statistics.charts import Row, Segment, Series, Unit
from backoffice.api.pages.statistics.filters import (
    DIMENSION_NAMES,
    GRAIN_NAMES,
    KIND_NAMES,
    Filters,
    Refused,
    period_label,
    periods,
    read,
)
from backoffice.contracts.statistics import SalesQuery
from backoffice.core.i18n import N_, Translate
from backoffice.domain.statistics import Dimension, rate
from backoffice.models import User
from backoffice.services.settlement import shifts as shift_reconciliation
from backoffice.services.statistics import queries
from shared.money import format_fen

router = APIRouter(include_in_schema=False)
Reader = Annotated[User, page_user(DASHBOARD_PAGES)]
Text = Annotated[str, Query()]
# A page shows this many rows of a report; the downloads hold them all.
SHOWN = 500
Z_REPORTS_SHOWN = 100
# The reports per outlet (stock, sell-through) show this many outlets a page.
OUTLETS_SHOWN = 50
After = Annotated[str, Query(max_length=32)]
BANDS = (
    ("days_0_30", N_("0–30 days")),
    ("days_31_60", N_("31–60 days")),
    ("days_61_90", N_("61–90 days")),
    ("days_over_90", N_("Over 90 days")),
)


def _page(
    request: Request,
    user: User,
    template: str,
    found: Filters,
    context: dict[str, Any],
) -> Response:
    _ = gettext_of(request)
    return render(
        request,
        template,
        {
            "f": found,
            "errors": found.errors,
            "grain_names": [(g.value, _(n)) for g, n in GRAIN_NAMES.items()],
            "dimension_names": [(d.value, _(n)) for d, n in DIMENSION_NAMES.items()],
            "kind_names": {k: _(n) for k, n in KIND_NAMES.items()},
            "shown": SHOWN,
            **context,
        },
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if found.errors else 200,
    )


def _read(
    request: Request, session: Session, user: User, typed: dict[str, str], dated: bool = True
) -> Filters | Response:
    try:
        return read(request, session, user, typed, dated=dated)
    except Refused as refusal:
        return refused(request, user, status.HTTP_403_FORBIDDEN, refusal.error)


# --- sales ------------------------------------------------------------------------------------


def _net_per_period(rows: Sequence[Any], found: Filters, start: Any, end: Any) -> list[int]:
    net: dict[Any, int] = defaultdict(int)
    for row in rows:
        net[row.period] += row.net_fen
    return [net.get(p, 0) for p in periods(start, end, found.grain)]


def sales_chart(
    _: Translate, found: Filters, rows: Sequence[Any], before: Sequence[Any] | None
) -> charts.Chart:
    """Net sales per period, the previous period's beside each."""
    now = periods(found.start, found.end, found.grain)
    current = _net_per_period(rows, found, found.start, found.end)
    series = [
        Series(
            _("This period"),
            "bar current",
            current,
            [
                _("%(period)s: net sales %(amount)s") % {"period": p, "amount": format_fen(v)}
                for p, v in zip(now, current, strict=True)
            ],
        )
    ]
    if found.previous is not None and before is not None:
        earlier = periods(*found.previous, found.grain)
        previous = _net_per_period(before, found, *found.previous)[: len(now)]
        series.append(
            Series(
                _("Previous period"),
                "bar previous",
                previous,
                [
                    _("%(period)s (previous period): net sales %(amount)s")
                    % {"period": p, "amount": format_fen(v)}
                    for p, v in zip(earlier, previous, strict=False)
                ],
            )
        )
    return charts.columns(
        [period_label(p, found.grain) for p in now],
        series,
        Unit.fen,
        value_title=_("Net sales (yuan)"),
        category_title=_(GRAIN_NAMES[found.grain]),
    )


def _ranked_bars(_: Translate, keyed: dict[str, int], what: str, limit: int = 15) -> charts.Chart:
    """Horizontal bars of net sales per key, best first."""
    best = sorted(keyed.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return charts.bars(
        [
            Row(
                label,
                [
                    Segment(
                        value,
                        "bar current" if value >= 0 else "bar negative",
                        f"{label}: {format_fen(value)}",
                    )
                ],
                format_fen(value),
            )
            for label, value in best
        ],
        Unit.fen,
        value_title=what,
    )


@router.get("/statistics/sales", response_class=HTMLResponse)
def sales_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    start: Text = "",
    end: Text = "",
    grain: Text = "",
    by: Text = "",
    dealer: Text = "",
    outlet: Text = "",
    product: Text = "",
    grade: Text = "",
) -> Response:
    _ = gettext_of(request)
    found = _read(
        request,
        session,
        user,
        {
            "start": start,
            "end": end,
            "grain": grain,
            "by": by,
            "dealer": dealer,
            "outlet": outlet,
            "product": product,
            "grade": grade,
        },
    )
    if isinstance(found, Response):
        return found
    rows: list[Any] = []
    context: dict[str, Any] = {"rows": rows, "totals": [], "chart": None, "by_key": None}
    if not found.errors:
        v = found.values

        def asked(first: Any, last: Any) -> SalesQuery:
            return SalesQuery(
                start=first,
                end=last,
                grain=found.grain,
                by=found.by,
                product=v.get("product") or None,
                grade=v.get("grade") or None,
            )

        rows = queries.sales(session, asked(found.start, found.end), found.scope)
        before = (
            None
            if found.previous is None
            else queries.sales(session, asked(*found.previous), found.scope)
        )
        keyed: dict[str, int] = defaultdict(int)
        for row in rows:
            keyed[f"{row.key} {row.name}" if row.key != row.name else row.key] += row.net_fen
        context = {
            "rows": rows,
            "totals": figures.sales_figures(_, rows, before),
            "chart": sales_chart(_, found, rows, before),
            "by_key": None
            if found.by is Dimension.total
            else _ranked_bars(_, keyed, _("Net sales in the period (yuan)")),
        }
    return _page(
        request,
        user,
        "statistics/sales.html",
        found,
        {
            **context,
            "export": found.query(
                "start", "end", "grain", "by", "dealer", "outlet", "product", "grade"
            ),
        },
    )


# --- rankings ---------------------------------------------------------------------------------


@router.get("/statistics/rankings", response_class=HTMLResponse)
def rankings_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    start: Text = "",
    end: Text = "",
    dealer: Text = "",
) -> Response:
    _ = gettext_of(request)
    found = _read(request, session, user, {"start": start, "end": end, "dealer": dealer})
    if isinstance(found, Response):
        return found
    context: dict[str, Any] = {"dealer_rows": [], "outlet_rows": []}
    if not found.errors:
        dealer_rows = queries.dealer_ranking(session, found.start, found.end, found.scope, 20)
        outlet_rows = queries.top_outlets(session, found.start, found.end, found.scope, 20)
        what = _("Net sales in the period (yuan)")
        context = {
            "dealer_rows": dealer_rows,
            "outlet_rows": outlet_rows,
            "dealer_chart": _ranked_bars(
                _, {f"{r.code} {r.name}": r.net_fen for r in dealer_rows}, what, 20
            ),
            "outlet_chart": _ranked_bars(
                _, {f"{r.code} {r.name}": r.net_fen for r in outlet_rows}, what, 20
            ),
        }
    return _page(
        request,
        user,
        "statistics/rankings.html",
        found,
        {**context, "export": found.query("start", "end", "dealer") + "&limit=20"},
    )


# --- stock and ageing -------------------------------------------------------------------------


@router.get("/statistics/stock", response_class=HTMLResponse)
def stock_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    dealer: Text = "",
    outlet: Text = "",
    after: After = "",
) -> Response:
    """The outlets' stock a page of outlets at a time, the figures above it for all of them."""
    _ = gettext_of(request)
    found = _read(request, session, user, {"dealer": dealer, "outlet": outlet}, dated=False)
    if isinstance(found, Response):
        return found
    rows: list[Any] = []
    next_after = None
    total = None
    if not found.errors:
        ids, next_after = queries.outlet_page(session, found.scope, after, OUTLETS_SHOWN)
        rows = queries.stock(session, found.scope, outlet_ids=ids)
        total = queries.stock_totals(session, found.scope)
    kinds = {k: _(n) for k, n in KIND_NAMES.items()}
    chart = charts.bars(
        [
            Row(
                f"{r.outlet_code} {kinds.get(r.item_kind, r.item_kind)}",
                [
                    Segment(
                        getattr(r, name),
                        f"bar age-{index}",
                        _("%(outlet)s, %(kind)s, %(band)s: %(n)s")
                        % {
                            "outlet": r.outlet_code,
                            "kind": kinds.get(r.item_kind, r.item_kind),
                            "band": _(band),
                            "n": f"{getattr(r, name):,}",
                        },
                    )
                    for index, (name, band) in enumerate(BANDS)
                ],
                f"{r.on_hand:,}",
            )
            for r in rows[:40]
        ],
        Unit.count,
        value_title=_("Items on hand, by days since they arrived at the outlet"),
        legend=tuple((f"age-{i}", _(band)) for i, (_name, band) in enumerate(BANDS)),
    )
    totals = [
        figures.counted(
            _,
            "on-hand",
            N_("On hand"),
            total.on_hand if total else 0,
            None,
            N_("Numbers and top-up cards in the outlets' stock now, reserved ones included."),
        ),
        figures.counted(
            _,
            "aged",
            N_("Over 90 days"),
            total.days_over_90 if total else 0,
            None,
            N_("Items that arrived at their outlet more than 90 days ago."),
        ),
    ]
    return _page(
        request,
        user,
        "statistics/stock.html",
        found,
        {
            "rows": rows,
            "chart": chart,
            "totals": totals,
            "bands": BANDS,
            "next_after": next_after,
            "outlets_shown": OUTLETS_SHOWN,
            "export": found.query("dealer", "outlet"),
        },
    )


# --- sell-through -----------------------------------------------------------------------------


@router.get("/statistics/sell-through", response_class=HTMLResponse)
def sell_through_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    start: Text = "",
    end: Text = "",
    dealer: Text = "",
    outlet: Text = "",
    after: After = "",
) -> Response:
    """Sell-through a page of outlets at a time, the figures above it for all of them."""
    _ = gettext_of(request)
    typed = {"start": start, "end": end, "dealer": dealer, "outlet": outlet}
    found = _read(request, session, user, typed)
    if isinstance(found, Response):
        return found
    rows: list[Any] = []
    next_after = None
    now = before = None
    if not found.errors:
        ids, next_after = queries.outlet_page(session, found.scope, after, OUTLETS_SHOWN)
        rows = queries.sell_through(session, found.start, found.end, found.scope, ids)
        now = queries.sell_through_totals(session, found.start, found.end, found.scope)
        if found.previous is not None:
            before = queries.sell_through_totals(session, *found.previous, found.scope)
    kinds = {k: _(n) for k, n in KIND_NAMES.items()}
    chart = charts.bars(
        [
            Row(
                f"{r.outlet_code} {kinds.get(r.item_kind, r.item_kind)}",
                [
                    Segment(
                        round((r.sell_through or 0) * 10_000),
                        "bar current",
                        _("%(outlet)s, %(kind)s: %(sold)s sold of %(received)s received")
                        % {
                            "outlet": r.outlet_code,
                            "kind": kinds.get(r.item_kind, r.item_kind),
                            "sold": f"{r.sold:,}",
                            "received": f"{r.received:,}",
                        },
                    )
                ],
                f"{figures.percent(r.sell_through)} ({r.sold:,}/{r.received:,})",
            )
            for r in rows[:40]
        ],
        Unit.basis_points,
        value_title=_("Sell-through: items sold ÷ items received in the period"),
    )

    totals = [
        figures.counted(
            _,
            "received",
            N_("Received"),
            now.received if now else 0,
            before.received if before else None,
            N_("Items allocated or transferred to the outlets in the period."),
        ),
        figures.counted(
            _,
            "sold",
            N_("Sold"),
            now.sold if now else 0,
            before.sold if before else None,
            N_("Items sold in the period, whenever they arrived."),
        ),
        figures.Figure(
            "sell-through",
            _("Sell-through"),
            figures.percent(now.sell_through if now else None),
            "",
            _("Items sold ÷ items received in the period."),
            _("previous period: %(value)s")
            % {"value": figures.percent(before.sell_through if before else None)},
        ),
    ]
    return _page(
        request,
        user,
        "statistics/sell_through.html",
        found,
        {
            "rows": rows,
            "chart": chart,
            "totals": totals,
            "next_after": next_after,
            "outlets_shown": OUTLETS_SHOWN,
            "export": found.query("start", "end", "dealer", "outlet"),
        },
    )


# --- top-up cards -----------------------------------------------------------------------------


@router.get("/statistics/vouchers", response_class=HTMLResponse)
def vouchers_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    start: Text = "",
    end: Text = "",
    grain: Text = "",
    dealer: Text = "",
    outlet: Text = "",
) -> Response:
    _ = gettext_of(request)
    typed = {"start": start, "end": end, "grain": grain, "dealer": dealer, "outlet": outlet}
    found = _read(request, session, user, typed)
    if isinstance(found, Response):
        return found
    rows: list[Any] = []
    before: list[Any] = []
    if not found.errors:
        rows = queries.vouchers(session, found.start, found.end, found.grain, found.scope)
        if found.previous is not None:
            before = queries.vouchers(session, *found.previous, found.grain, found.scope)
    now = periods(found.start, found.end, found.grain) if not found.errors else []
    by_period = {r.period: r for r in rows}
    activated = [by_period[p].activated_count if p in by_period else 0 for p in now]
    redeemed = [by_period[p].redeemed_count if p in by_period else 0 for p in now]
    chart = charts.columns(
        [period_label(p, found.grain) for p in now],
        [
            Series(
                _("Activated (sold)"),
                "bar current",
                activated,
                [
                    _("%(period)s: %(n)s cards activated") % {"period": p, "n": f"{n:,}"}
                    for p, n in zip(now, activated, strict=True)
                ],
            ),
            Series(
                _("Redeemed"),
                "bar redeemed",
                redeemed,
                [
                    _("%(period)s: %(n)s cards redeemed") % {"period": p, "n": f"{n:,}"}
                    for p, n in zip(now, redeemed, strict=True)
                ],
            ),
        ],
        Unit.count,
        value_title=_("Cards"),
        category_title=_(GRAIN_NAMES[found.grain]),
    )

    def added(source: Sequence[Any], name: str) -> int:
        return sum(getattr(r, name) for r in source)

    totals = [
        figures.counted(
            _,
            "activated",
            N_("Activated"),
            added(rows, "activated_count"),
            added(before, "activated_count"),
            N_("Cards sold at a counter in the period: a card is activated when it is sold."),
            detail=format_fen(added(rows, "activated_fen")),
        ),
        figures.counted(
            _,
            "redeemed",
            N_("Redeemed"),
            added(rows, "redeemed_count"),
            added(before, "redeemed_count"),
            N_("Cards the charging system redeemed in the period, whenever they were sold."),
            detail=format_fen(added(rows, "redeemed_fen")),
        ),
        figures.counted(
            _,
            "card-returns",
            N_("Returned"),
            added(rows, "returned_count"),
            added(before, "returned_count"),
            N_("Cards returned at a counter in the period (never once redeemed)."),
        ),
        figures.Figure(
            "redemption-rate",
            _("Redemption rate"),
            figures.percent(rate(added(rows, "redeemed_count"), added(rows, "activated_count"))),
            "",
            _("Cards redeemed ÷ cards activated in the period."),
        ),
    ]
    return _page(
        request,
        user,
        "statistics/vouchers.html",
        found,
        {
            "rows": rows,
            "chart": chart,
            "totals": totals,
            "export": found.query("start", "end", "grain", "dealer", "outlet"),
        },
    )


# --- shifts and cash --------------------------------------------------------------------------

# The shifts page's table shows this many outlets and clerks a page; each chart this many.
SHIFT_ROWS_SHOWN = 50
CHART_ROWS = 40


@router.get("/statistics/shifts", response_class=HTMLResponse)
def shifts_page(
    request: Request,
    session: SessionDep,
    user: Reader,
    start: Text = "",
    end: Text = "",
    dealer: Text = "",
    outlet: Text = "",
    clerk: Text = "",
    after: Text = "",
) -> Response:
    """The period's shift cash per outlet and clerk, a page of rows at a time (the figures
    and the charts are the whole period's), and its newest Z reports."""
    _ = gettext_of(request)
    typed = {"start": start, "end": end, "dealer": dealer, "outlet": outlet, "clerk": clerk}
    found = _read(request, session, user, typed)
    if isinstance(found, Response):
        return found
    view = queries.ShiftCashView(queries.ShiftCashTotals(), [], None, [], [])
    before = None
    reports: list[Any] = []
    if not found.errors:
        who = found.values["clerk"] or None
        view = queries.shift_cash_view(
            session,
            found.start,
            found.end,
            found.scope,
            who,
            after=after or None,
            limit=SHIFT_ROWS_SHOWN,
            chart=CHART_ROWS,
        )
        if found.previous is not None:
            before = queries.shift_cash_totals(session, *found.previous, found.scope, who)
        reports = shift_reconciliation.z_reports(
            session,
            outlet=found.scope.outlet_id,
            clerk=who,
            dealer_id=found.scope.dealer_id,
            start=found.start,
            end=found.end,
            limit=Z_REPORTS_SHOWN,
        )
    chart = charts.bars(
        [
            Row(
                f"{r.outlet_code} {r.clerk}",
                [
                    Segment(
                        r.difference_fen,
                        "bar negative" if r.difference_fen < 0 else "bar positive",
                        _(
                            "%(outlet)s, %(clerk)s: %(n)s shifts, difference %(amount)s, "
                            "largest shortage %(shortage)s"
                        )
                        % {
                            "outlet": r.outlet_code,
                            "clerk": r.clerk,
                            "n": r.shifts,
                            "amount": format_fen(r.difference_fen),
                            "shortage": format_fen(r.largest_shortage_fen),
                        },
                    )
                ],
                format_fen(r.difference_fen),
            )
            for r in view.shortages
        ],
        Unit.fen,
        value_title=_("Cash counted minus cash expected (yuan): below zero is a shortage"),
    )
    # The clerks who opened the drawer without a sale most often first.
    no_sale_chart = charts.bars(
        [
            Row(
                f"{r.outlet_code} {r.clerk}",
                [
                    Segment(
                        r.no_sale_openings,
                        "bar current",
                        _("%(outlet)s, %(clerk)s: %(n)s no-sale openings in %(shifts)s shifts")
                        % {
                            "outlet": r.outlet_code,
                            "clerk": r.clerk,
                            "n": f"{r.no_sale_openings:,}",
                            "shifts": r.shifts,
                        },
                    )
                ],
                f"{r.no_sale_openings:,}",
            )
            for r in view.no_sale
        ],
        Unit.count,
        value_title=_("Drawer openings without a sale"),
    )

    def added(name: str) -> tuple[int, int | None]:
        """The figure over the period, and over the previous one (None without one)."""
        return getattr(view.totals, name), (None if before is None else getattr(before, name))

    totals = [
        figures.counted(
            _,
            "shifts",
            N_("Shifts closed"),
            *added("shifts"),
            N_("Shifts closed with a Z report in the period."),
        ),
        figures.counted(
            _,
            "with-difference",
            N_("Shifts with a difference"),
            *added("shifts_with_difference"),
            N_("Shifts whose counted cash was not the cash expected."),
        ),
        figures.counted(
            _,
            "difference",
            N_("Cash difference"),
            *added("difference_fen"),
            N_(
                "Cash counted at closing minus cash expected (float, cash sales, cash refunds, "
                "cash in and out), added up: below zero is a shortage."
            ),
            money=True,
        ),
        figures.counted(
            _,
            "no-sale",
            N_("No-sale drawer openings"),
            *added("no_sale_openings"),
            N_(
                "Times the cash drawer was opened without a sale (each approved by a dealer "
                "manager's PIN at the terminal), as the shifts' Z reports count them."
            ),
        ),
    ]
    return _page(
        request,
        user,
        "statistics/shifts.html",
        found,
        {
            "rows": view.rows,
            "next_after": view.next_after,
            "shifts_closed": view.totals.shifts,
            "reports": reports,
            "reports_shown": Z_REPORTS_SHOWN,
            "chart": chart if view.shortages else None,
            "chart_rows": CHART_ROWS,
            "no_sale_chart": no_sale_chart if view.no_sale else None,
            "totals": totals,
            "export": found.query("start", "end", "dealer", "outlet", "clerk"),
        },
    )
