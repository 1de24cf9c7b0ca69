"""Today's figures at the counter: sales by product, cash expected, sync and print backlog."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pos_terminal import outbox
from pos_terminal.services.printing import PrintQueue
from pos_terminal.services.reports import ReportLine
from pos_terminal.services.shift import cash_summary, open_shift_row
from pos_terminal.store import Store, to_text


@dataclass(frozen=True)
class TodayFigures:
    day: date
    sales_count: int
    sales_total_fen: int
    products: tuple[ReportLine, ...]
    returns_count: int
    refunds_fen: int
    cash_expected_fen: int | None  # None: no shift open
    sync_backlog: int
    rejected_events: int
    receipts_waiting: int


def today_figures(store: Store, timezone: str) -> TodayFigures:
    """Figures for the outlet's calendar day (its own time zone) on this terminal."""
    zone = ZoneInfo(timezone)
    now = store.now()
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    bounds = (to_text(start), to_text(start + timedelta(days=1)))
    conn = store.conn
    sales = conn.execute(
        "SELECT count(*), coalesce(sum(total_fen), 0) FROM sales WHERE at >= ? AND at < ?",
        bounds,
    ).fetchone()
    products = tuple(
        ReportLine(r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT l.product, sum(l.price_fen), count(*) FROM sale_lines l "
            "JOIN sales s ON s.id = l.sale_id WHERE s.at >= ? AND s.at < ? "
            "GROUP BY l.product ORDER BY l.product",
            bounds,
        )
    )
    returns = conn.execute(
        "SELECT count(*), coalesce(sum(refund_fen), 0) FROM returns WHERE at >= ? AND at < ?",
        bounds,
    ).fetchone()
    shift = open_shift_row(conn)
    return TodayFigures(
        day=day,
        sales_count=sales[0],
        sales_total_fen=sales[1],
        products=products,
        returns_count=returns[0],
        refunds_fen=returns[1],
        cash_expected_fen=None if shift is None else cash_summary(conn, shift.id).expected_fen,
        sync_backlog=outbox.backlog(store),
        rejected_events=outbox.rejected_count(store),
        receipts_waiting=PrintQueue(store).waiting(),
    )
