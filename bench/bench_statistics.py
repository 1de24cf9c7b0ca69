"""Benchmark of the sales statistics on PostgreSQL: rebuilding the summaries, and the
dashboard's queries read from them.

2,000,000 sales a year by default (1.15 lines each: numbers of five grades, ¥50 and ¥100
top-up cards, some sold together) over 365 business days at 500 outlets of 100 dealers,
busier outlets and weekends, sold between 07:00 and midnight China time; 3% returned within
a week. Once the sales are analyzed, the summaries are built from them by
`statistics.rebuild` (the time also that of backfilling an existing database), in a process
of its own started before the seeding (a child's ru_maxrss starts from its parent's size),
so that its peak memory is the rebuild's; the CPU time of the PostgreSQL backend that ran it
and the machine's load average are printed beside its time. Then the dashboard's queries are
timed through the service, each beside the same question asked of the raw sales (sale JOIN
sale_line, days cut in China time) without the summaries, and the two answers are compared:

- sales by day for the last quarter (91 days), all outlets
- sales by dealer for a calendar month (one row per dealer), and per dealer and day
- dealer ranking for the month, top 20
- top 20 outlets for the month and for the quarter

Limits: the rebuild <= 5 s per million sale lines; p50 <= 100 ms for each summary query.
Figures and ratios are reported, not asserted; the exit status is 1 only when a summary
answer differs from the raw one (a correctness bug).
"""

import argparse
import multiprocessing
import os
import random
import resource
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import _cli
import psycopg
from _channel_data import (
    DEALER_COLUMNS,
    LINE_COLUMNS,
    OUTLET_COLUMNS,
    SALE_COLUMNS,
    TERMINAL_COLUMNS,
    copy_rows,
    dealer_rows,
    dsn,
    fresh_database,
    outlet_rows,
    sale_row,
    terminal_rows,
)
from sqlalchemy import Engine, text
from sqlmodel import Session

from backoffice.contracts.statistics import RankingRow, SalesQuery, SalesRow
from backoffice.db import make_engine
from backoffice.domain.calendar import day_start
from backoffice.domain.statistics import Dimension, Grain
from backoffice.services.statistics import queries, summaries
from backoffice.services.statistics.queries import Scope

WARM_UP = 3
LIMIT_MS = 100.0
REBUILD_LIMIT_S = 5.0  # per million sale lines
DEALERS = 100
PER_DEALER = 5
DAYS = 365
LAST_DAY = date(2026, 10, 31)
FIRST_DAY = LAST_DAY - timedelta(days=DAYS - 1)
QUARTER = (LAST_DAY - timedelta(days=90), LAST_DAY)
MONTH = (date(2026, 10, 1), LAST_DAY)
BATCH = 100_000
RETURNED = 0.03

# product, retail fen, dealer fen, weight
NUMBERS = (
    ("number:STD", 5_000, 4_000, 880),
    ("number:G4", 10_000, 8_500, 60),
    ("number:G3", 38_800, 33_000, 35),
    ("number:G2", 88_800, 76_000, 17),
    ("number:G1", 288_800, 250_000, 8),
)
VOUCHERS = (("voucher:5000", 5_000, 4_850, 65), ("voucher:10000", 10_000, 9_700, 35))
# China-time opening hours 07:00-23:59 and how busy each is
HOURS = tuple(range(7, 24))
HOUR_WEIGHTS = (1, 3, 6, 8, 9, 9, 8, 8, 8, 9, 10, 10, 9, 7, 4, 2, 1)


# --- the data --------------------------------------------------------------------------------


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _seed(url: str, total_sales: int) -> tuple[int, int]:
    """Dealers, outlets, terminals, sales and their lines by COPY; returns sales and lines."""
    rng = random.Random(6)
    now = datetime.now(UTC).replace(tzinfo=None)
    dealer_ids = [str(uuid.uuid4()) for _ in range(DEALERS)]
    outlets = outlet_rows(dealer_ids, PER_DEALER, now)
    terminals = terminal_rows([o[0] for o in outlets], now)
    # Some outlets sell far more than others; weekends and the later months a little more.
    outlet_weights = _cumulative([rng.lognormvariate(0, 0.6) for _ in outlets])
    day_weights = _cumulative(
        [
            (1.3 if (FIRST_DAY + timedelta(days=d)).weekday() >= 5 else 1.0)
            * (1 + 0.3 * d / DAYS)
            * rng.uniform(0.9, 1.1)
            for d in range(DAYS)
        ]
    )
    hour_weights = _cumulative(HOUR_WEIGHTS)
    number_weights = _cumulative([p[3] for p in NUMBERS])
    voucher_weights = _cumulative([p[3] for p in VOUCHERS])
    # naive UTC, as the sold_at column holds it: the business day's start plus local seconds
    starts = [day_start(FIRST_DAY + timedelta(days=d)).replace(tzinfo=None) for d in range(DAYS)]
    line_no = 0
    with psycopg.connect(dsn(url)) as conn:
        copy_rows(conn, "dealer", DEALER_COLUMNS, dealer_rows(dealer_ids, now))
        copy_rows(conn, "outlet", OUTLET_COLUMNS, outlets)
        copy_rows(conn, "terminal", TERMINAL_COLUMNS, terminals)
        for first in range(0, total_sales, BATCH):
            count = min(BATCH, total_sales - first)
            where = rng.choices(range(len(outlets)), cum_weights=outlet_weights, k=count)
            days = rng.choices(range(DAYS), cum_weights=day_weights, k=count)
            hours = rng.choices(HOURS, cum_weights=hour_weights, k=count)
            sales, lines = [], []
            for n in range(count):
                i = first + n
                outlet = outlets[where[n]]
                sold = starts[days[n]] + timedelta(seconds=hours[n] * 3600 + rng.randrange(3600))
                returned = (
                    sold + timedelta(seconds=rng.randrange(600, 7 * 86_400))
                    if rng.random() < RETURNED
                    else None
                )
                mix = rng.random()
                products = []
                if mix < 0.75:
                    products.append(rng.choices(NUMBERS, cum_weights=number_weights)[0])
                if mix >= 0.60:
                    products.append(rng.choices(VOUCHERS, cum_weights=voucher_weights)[0])
                sale_id = str(uuid.uuid4())
                total = 0
                for product, retail, dealer_fen, _ in products:
                    line_no += 1
                    number = product.startswith("number:")
                    # now and then a number sold below list, approved at the counter
                    price = retail * 9 // 10 if number and rng.random() < 0.02 else retail
                    total += price
                    lines.append(
                        (
                            sale_id,
                            "number" if number else "voucher",
                            f"139{line_no:08d}" if number else f"1057{line_no:013d}",
                            product,
                            price,
                            retail,
                            dealer_fen,
                            returned,
                        )
                    )
                sales.append(
                    sale_row(sale_id, i, terminals[where[n]][0], outlet[0], outlet[1], sold, total)
                )
            copy_rows(conn, "sale", SALE_COLUMNS, sales)
            copy_rows(conn, "sale_line", LINE_COLUMNS, lines)
    return total_sales, line_no


def _vacuum(url: str, tables: Sequence[str] = ()) -> None:
    """What autovacuum would have done by the time anyone rebuilds the summaries or reads
    a dashboard."""
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")


# --- the same questions of the raw sales -----------------------------------------------------

# sold_at and returned_at hold naive UTC (models.types.UTCDateTime): read them as UTC first,
# then take the wall-clock date in China, which is the business day.
_DAY = "((({0} AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai')::date)"
# Every line sold in the range on its day, and every return in the range on its day.
_MOVES = f"""
WITH moves AS (
    SELECT s.outlet_id, s.dealer_id, {_DAY.format("s.sold_at")} AS day,
           1 AS sold_count, l.price_fen AS sold_fen, l.dealer_fen AS dealer_fen,
           0 AS returned_count, 0 AS returned_fen
      FROM sale s JOIN sale_line l ON l.sale_id = s.id
     WHERE s.sold_at >= :since AND s.sold_at < :until
    UNION ALL
    SELECT s.outlet_id, s.dealer_id, {_DAY.format("l.returned_at")},
           0, 0, 0, 1, l.price_fen
      FROM sale s JOIN sale_line l ON l.sale_id = s.id
     WHERE l.returned_at >= :since AND l.returned_at < :until
)
"""
_SUMS = """sum(m.sold_count) AS sold_count, sum(m.sold_fen) AS sold_fen,
           sum(m.dealer_fen) AS dealer_fen, sum(m.returned_count) AS returned_count,
           sum(m.returned_fen) AS returned_fen"""
_FIGURES = ("sold_count", "sold_fen", "dealer_fen", "returned_count", "returned_fen")

RAW_BY_DAY = f"""{_MOVES}
SELECT m.day AS period, '' AS key, {_SUMS}
  FROM moves m GROUP BY m.day ORDER BY m.day"""

RAW_BY_DEALER_MONTH = f"""{_MOVES}
SELECT date_trunc('month', m.day)::date AS period, d.code AS key, {_SUMS}
  FROM moves m JOIN dealer d ON d.id = m.dealer_id
 GROUP BY 1, 2 ORDER BY 1, 2"""

RAW_BY_DEALER_DAY = f"""{_MOVES}
SELECT m.day AS period, d.code AS key, {_SUMS}
  FROM moves m JOIN dealer d ON d.id = m.dealer_id
 GROUP BY 1, 2 ORDER BY 1, 2"""


def _raw_ranking(key: str) -> str:
    """Net sales (sold minus returned, retail) per dealer or outlet, best 20 first."""
    table = "dealer" if key == "dealer_id" else "outlet"
    return f"""{_MOVES}
, ranked AS (
    SELECT m.{key} AS key, min(m.dealer_id) AS dealer_id,
           count(DISTINCT m.outlet_id) AS outlets, {_SUMS}
      FROM moves m GROUP BY m.{key}
     ORDER BY sum(m.sold_fen) - sum(m.returned_fen) DESC, m.{key}
     LIMIT :limit
)
SELECT row_number() OVER (ORDER BY r.sold_fen - r.returned_fen DESC, r.key) AS rank,
       k.code, d.code AS dealer_code, r.outlets, r.sold_count, r.sold_fen, r.dealer_fen,
       r.returned_count, r.returned_fen
  FROM ranked r JOIN {table} k ON k.id = r.key JOIN dealer d ON d.id = r.dealer_id
 ORDER BY rank"""


RAW_DEALER_RANKING = _raw_ranking("dealer_id")
RAW_TOP_OUTLETS = _raw_ranking("outlet_id")


# --- timing and comparing --------------------------------------------------------------------


@dataclass
class Case:
    name: str
    service: Callable[[Session], Sequence[Any]]
    raw_sql: str
    start: date
    end: date
    answer: Callable[[Any], tuple[Any, ...]]  # a service row as the raw query's columns


def _sales_answer(row: SalesRow) -> tuple[Any, ...]:
    return (row.period, row.key, *(getattr(row, f) for f in _FIGURES))


def _ranking_answer(row: RankingRow) -> tuple[Any, ...]:
    return (
        row.rank,
        row.code,
        row.dealer_code,
        row.outlets,
        *(getattr(row, f) for f in _FIGURES),
    )


def _cases() -> list[Case]:
    def sales(start: date, end: date, grain: Grain, by: Dimension) -> Callable[[Session], Any]:
        query = SalesQuery(start=start, end=end, grain=grain, by=by)
        return lambda session: queries.sales(session, query, Scope())

    def ranking(fn: Callable[..., Any], start: date, end: date) -> Callable[[Session], Any]:
        return lambda session: fn(session, start, end, Scope(), 20)

    return [
        Case(
            "sales by day, quarter",
            sales(*QUARTER, Grain.day, Dimension.total),
            RAW_BY_DAY,
            *QUARTER,
            _sales_answer,
        ),
        Case(
            "sales by dealer, month",
            sales(*MONTH, Grain.month, Dimension.dealer),
            RAW_BY_DEALER_MONTH,
            *MONTH,
            _sales_answer,
        ),
        Case(
            "sales by dealer and day, month",
            sales(*MONTH, Grain.day, Dimension.dealer),
            RAW_BY_DEALER_DAY,
            *MONTH,
            _sales_answer,
        ),
        Case(
            "dealer ranking top 20, month",
            ranking(queries.dealer_ranking, *MONTH),
            RAW_DEALER_RANKING,
            *MONTH,
            _ranking_answer,
        ),
        Case(
            "top 20 outlets, month",
            ranking(queries.top_outlets, *MONTH),
            RAW_TOP_OUTLETS,
            *MONTH,
            _ranking_answer,
        ),
        Case(
            "top 20 outlets, quarter",
            ranking(queries.top_outlets, *QUARTER),
            RAW_TOP_OUTLETS,
            *QUARTER,
            _ranking_answer,
        ),
    ]


def _timed(call: Callable[[], Any], runs: int, warm_up: int) -> tuple[list[float], Any]:
    """Milliseconds of each of `runs` calls after `warm_up` untimed ones, and the last answer."""
    answer = None
    for _ in range(warm_up):
        answer = call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = call()
        times.append((time.perf_counter() - started) * 1000)
    return times, answer


def _p(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Result:
    name: str
    rows: int
    p50: float
    p95: float
    raw_p50: float
    match: bool


def _run(engine: Engine, case: Case, runs: int, raw_runs: int) -> Result:
    def service() -> Sequence[Any]:
        # one session per call, as one request has
        with Session(engine) as session:
            return case.service(session)

    params = {
        "since": day_start(case.start).replace(tzinfo=None),
        "until": day_start(case.end + timedelta(days=1)).replace(tzinfo=None),
        "limit": 20,
    }
    statement = text(case.raw_sql)

    def raw() -> list[tuple[Any, ...]]:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement, params)]

    times, answer = _timed(service, runs, WARM_UP)
    raw_times, raw_answer = _timed(raw, raw_runs, 1)
    got = [case.answer(row) for row in answer]
    match = sorted(got) == sorted(raw_answer) and len(got) > 0
    result = Result(
        case.name,
        len(got),
        _p(times, 0.5),
        _p(times, 0.95),
        _p(raw_times, 0.5),
        match,
    )
    print(
        f"{case.name} ({case.start}..{case.end}, {result.rows} rows): "
        f"p50 {result.p50:.1f} ms, p95 {result.p95:.1f} ms; limit {LIMIT_MS:.0f} ms; "
        f"ratio {result.p50 / LIMIT_MS:.2f} | raw sales p50 {result.raw_p50:.0f} ms, "
        f"summaries {result.raw_p50 / result.p50:.0f}x faster | "
        + ("match" if match else "MISMATCH")
    )
    if not match:
        _show_mismatch(got, raw_answer)
    return result


def _show_mismatch(got: list[tuple[Any, ...]], want: list[tuple[Any, ...]]) -> None:
    print(f"  summaries gave {len(got)} rows, raw sales {len(want)}")
    extra = sorted(set(got) - set(want))
    missing = sorted(set(want) - set(got))
    for row in extra[:5]:
        print(f"  only in summaries: {row}")
    for row in missing[:5]:
        print(f"  only in raw sales: {row}")
    if len(got) == len(want) and not extra and not missing:
        print("  same rows in another order")


def _megabytes(kilobytes: int) -> float:
    return kilobytes / 1024  # ru_maxrss is in KiB on Linux


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of a process on this machine, or None if not visible
    (a server elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Rebuild:
    seconds: float
    product_rows: int
    outlet_rows: int
    rss_before: float  # MiB, the process's peak before the rebuild began
    rss_peak: float  # MiB, and after it
    server_cpu: float | None  # CPU seconds of the PostgreSQL backend that ran it
    load: tuple[float, float]  # the machine's 1-minute load average before and after


def _rebuild(url: str) -> Rebuild:
    """Runs in a process of its own: `statistics.rebuild` in one transaction, timed."""
    engine = make_engine(url)
    before = _megabytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    load_before = os.getloadavg()[0]
    with Session(engine) as session:
        backend = session.connection().execute(text("SELECT pg_backend_pid()")).scalar_one()
        cpu_before = _cpu_seconds(backend)
        started = time.perf_counter()
        product_rows = summaries.rebuild(session)
        session.commit()
        seconds = time.perf_counter() - started
        cpu_after = _cpu_seconds(backend)
    peak = _megabytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    with engine.connect() as connection:
        outlet_rows = connection.execute(
            text("SELECT count(*) FROM stat_sales_outlet")
        ).scalar_one()
    engine.dispose()
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return Rebuild(
        seconds,
        product_rows,
        outlet_rows,
        before,
        peak,
        server_cpu,
        (load_before, os.getloadavg()[0]),
    )


def _arguments() -> argparse.Namespace:
    p = _cli.parser(__doc__)
    p.add_argument(
        "--sales",
        type=_cli.positive,
        default=os.environ.get("HAOKA_BENCH_STATISTICS_SALES", "2000000"),
        help="sales over the year (default: HAOKA_BENCH_STATISTICS_SALES, else %(default)s)",
    )
    p.add_argument(
        "--runs",
        type=_cli.positive,
        default=os.environ.get("HAOKA_BENCH_STATISTICS_RUNS", "30"),
        help="timed runs of each summary query (default: %(default)s)",
    )
    p.add_argument(
        "--raw-runs",
        type=_cli.positive,
        default=os.environ.get("HAOKA_BENCH_STATISTICS_RAW_RUNS", "5"),
        help="timed runs of each raw-sales query (default: %(default)s)",
    )
    return p.parse_args()


def main() -> int:
    args = _arguments()
    with (
        multiprocessing.get_context("spawn").Pool(1) as pool,
        fresh_database(args.postgres_url) as url,
    ):
        started = time.perf_counter()
        sales, lines = _seed(url, args.sales)
        seeded = time.perf_counter() - started
        print(
            f"seeded {sales:,} sales ({lines:,} lines) over {DAYS} days "
            f"({FIRST_DAY}..{LAST_DAY}) at {DEALERS * PER_DEALER} outlets of {DEALERS} "
            f"dealers in {seeded:.1f} s"
        )
        started = time.perf_counter()
        _vacuum(url, ("sale", "sale_line", "audit_entry", "voucher", "outlet"))
        print(f"VACUUM ANALYZE of the sales: {time.perf_counter() - started:.1f} s")
        rebuild: Rebuild = pool.apply(_rebuild, (url,))
        per_million = rebuild.seconds / (lines / 1_000_000)
        print(
            "rebuild of the summaries (= backfill of an existing database): "
            f"{rebuild.seconds:.1f} s for {lines:,} lines, {per_million:.2f} s per million "
            f"lines; limit {REBUILD_LIMIT_S:.0f} s; ratio {per_million / REBUILD_LIMIT_S:.2f}; "
            f"{rebuild.product_rows:,} outlet-product-day rows, {rebuild.outlet_rows:,} "
            "outlet-day rows"
        )
        server_cpu = "not visible" if rebuild.server_cpu is None else f"{rebuild.server_cpu:.1f} s"
        print(
            f"  PostgreSQL backend CPU {server_cpu}; machine load average "
            f"{rebuild.load[0]:.1f} before, {rebuild.load[1]:.1f} after "
            f"({os.cpu_count()} CPUs)"
        )
        print(
            f"  rebuild process peak memory (ru_maxrss) {rebuild.rss_peak:.0f} MiB, "
            f"{rebuild.rss_before:.0f} MiB before the rebuild began "
            f"(+{rebuild.rss_peak - rebuild.rss_before:.0f} MiB)"
        )
        started = time.perf_counter()
        _vacuum(url)
        print(f"VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")
        print(
            f"each summary query: {WARM_UP} warm-up + {args.runs} timed runs through the "
            f"service; raw sales: 1 warm-up + {args.raw_runs} timed runs"
        )
        engine = make_engine(url)
        results = [_run(engine, case, args.runs, args.raw_runs) for case in _cases()]
        engine.dispose()
    print()
    print(
        f"{'query':34} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'ratio':>6} "
        f"{'raw p50 ms':>11} {'speed-up':>9}  answer"
    )
    for r in results:
        print(
            f"{r.name:34} {r.rows:5d} {r.p50:8.1f} {r.p95:8.1f} {r.p50 / LIMIT_MS:6.2f} "
            f"{r.raw_p50:11.0f} {r.raw_p50 / r.p50:8.0f}x  {'match' if r.match else 'MISMATCH'}"
        )
    worst = max(r.p50 for r in results)
    print(f"slowest p50 {worst:.1f} ms; limit {LIMIT_MS:.0f} ms; ratio {worst / LIMIT_MS:.2f}")
    process_peak = _megabytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(f"this process's peak memory (seeding, queries): {process_peak:.0f} MiB")
    _cli.emit(
        "statistics",
        args,
        {
            "sales": sales,
            "lines": lines,
            "seed_s": round(seeded, 1),
            "rebuild_s": round(rebuild.seconds, 2),
            "rebuild_s_per_million_lines": round(per_million, 2),
            "rebuild_limit_s_per_million_lines": REBUILD_LIMIT_S,
            "rebuild_ratio": round(per_million / REBUILD_LIMIT_S, 2),
            "rebuild_server_cpu_s": None
            if rebuild.server_cpu is None
            else round(rebuild.server_cpu, 1),
            "rebuild_load_average": [round(x, 2) for x in rebuild.load],
            "rebuild_peak_rss_mib": round(rebuild.rss_peak),
            "rebuild_rss_before_mib": round(rebuild.rss_before),
            "rebuild_rss_growth_mib": round(rebuild.rss_peak - rebuild.rss_before),
            "process_peak_rss_mib": round(process_peak),
            "product_rows": rebuild.product_rows,
            "outlet_rows": rebuild.outlet_rows,
            "query_limit_ms": LIMIT_MS,
            "queries": [
                {
                    "name": r.name,
                    "rows": r.rows,
                    "p50_ms": round(r.p50, 1),
                    "p95_ms": round(r.p95, 1),
                    "ratio": round(r.p50 / LIMIT_MS, 2),
                    "raw_p50_ms": round(r.raw_p50),
                    "match": r.match,
                }
                for r in results
            ],
            "slowest_p50_ms": round(worst, 1),
            "slowest_ratio": round(worst / LIMIT_MS, 2),
            "all_match": all(r.match for r in results),
        },
    )
    return 0 if all(r.match for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
