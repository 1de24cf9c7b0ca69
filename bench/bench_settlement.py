"""Benchmark of a month's settlement run on PostgreSQL.

2,000 dealers (the three kinds in turn) with the sales of seven months at 2,000,000 sales a
year by default: one in five a top-up card, the rest numbers of three grades, one in fifty
returned two days later; every number sold and kept activated, and one in ten of them
switched off 60 days after its sale. A commission plan per dealer kind pays one-off by grade,
stages at months 3 and 6 and tiered slabs. The months before the settled one are settled
first, one run each, and confirmed, as they would have been in production; then the last
month is timed for every dealer through the service (booking its sales, returns and
commission, then the statements), and a rerun of the same draft month, which finds nothing
new to book.

Limits: 5 s for the month's run, 1 s for the empty rerun. Figures and ratios are reported,
not asserted; the exit status is 1 only on a correctness failure (a statement missing, the
rerun booking anything, a sale or return booked twice or not at all, or statements that do
not add up to the ledger).
"""

import argparse
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import _cli
import psycopg
from _channel_data import (
    DEALER_COLUMNS,
    LINE_COLUMNS,
    SALE_COLUMNS,
    copy_rows,
    dealer_rows,
    dsn,
    fresh_database,
    sale_row,
)
from sqlmodel import Session

from backoffice.contracts.settlement import (
    CommissionPlanCreate,
    CommissionRules,
    SettlementRunIn,
    SettlementRunPublic,
    SlabIn,
    StageIn,
)
from backoffice.db import make_engine
from backoffice.domain.calendar import day_start
from backoffice.domain.channel import DealerKind
from backoffice.domain.settlement.accounts import Cadence
from backoffice.domain.settlement.commission import add_months
from backoffice.services.settlement import plans, runs

RUN_LIMIT_S = 5.0
RERUN_LIMIT_S = 1.0
MONTH = date(2026, 10, 1)
GRADES = ["STD"] * 90 + ["4"] * 7 + ["3"] * 3


def _seed(url: str, sales_per_year: int, dealer_count: int, months: int) -> int:
    """Dealers, sales, activations and account entries by COPY; returns the sales count."""
    rng = random.Random(6)
    now = datetime.now(UTC).replace(tzinfo=None)
    first_day = add_months(MONTH, -(months - 1))
    days = (add_months(MONTH, 1) - first_day).days
    total = sales_per_year * days // 365
    dealer_ids = [str(uuid.uuid4()) for _ in range(dealer_count)]
    # Sales are stamped in UTC; a business day starts at 16:00 UTC the day before.
    first_instant = day_start(first_day).replace(tzinfo=None)
    with psycopg.connect(dsn(url)) as conn:
        copy_rows(conn, "dealer", DEALER_COLUMNS, dealer_rows(dealer_ids, now))
        sales, lines, activations = [], [], []
        for i in range(total):
            dealer = dealer_ids[i % dealer_count]
            sold = first_instant + timedelta(seconds=rng.randrange(days * 86_400))
            sale_id = str(uuid.uuid4())
            msisdn = f"139{i:08d}"
            card = i % 5 == 0
            product, item, kind = (
                ("voucher:5000", f"1057{i:013d}", "voucher")
                if card
                else (f"number:{rng.choice(GRADES)}", msisdn, "number")
            )
            price, dealer_fen = (5_000, 4_850) if card else (5_000, 5_000)
            sales.append(sale_row(sale_id, i, "t", "o", dealer, sold, price))
            returned = sold + timedelta(days=2) if i % 50 == 0 else None
            lines.append((sale_id, kind, item, product, price, price, dealer_fen, returned))
            if not card and returned is None:
                off = sold.date() + timedelta(days=60) if i % 10 == 1 else None
                activations.append((msisdn, sold.date(), off, now))
        copy_rows(conn, "sale", SALE_COLUMNS, sales)
        copy_rows(conn, "sale_line", LINE_COLUMNS, lines)
        copy_rows(
            conn,
            "number_activation",
            ("msisdn", "activated_on", "deactivated_on", "updated_at"),
            activations,
        )
        conn.execute("ANALYZE")
    return total


def _plans(session: Session) -> None:
    for kind in DealerKind:
        plans.create_plan(
            session,
            CommissionPlanCreate(
                code=f"BENCH-{kind.value}",
                dealer_kind=kind,
                effective_from=date(2020, 1, 1),
                rules=CommissionRules(
                    one_off_fen={"*": 1_000, "3": 3_000},
                    stages=[
                        StageIn(after_months=3, amount_fen=500),
                        StageIn(after_months=6, amount_fen=500),
                    ],
                    slabs=[
                        SlabIn(min_volume=0, per_number_fen=100),
                        SlabIn(min_volume=150, per_number_fen=200),
                    ],
                ),
            ),
            "bench",
        )


def _close(url: str, month: date) -> None:
    """The month's draft statements confirmed (set in the table, as the sales centre's
    review would leave them), then the tables analysed, as autovacuum would have by the
    next month's run."""
    with psycopg.connect(dsn(url)) as conn:
        conn.execute(
            "UPDATE settlement_statement SET status = 'confirmed' WHERE period_start = %s",
            (month,),
        )
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _problems(url: str, dealer_count: int, first: SettlementRunPublic) -> list[str]:
    """What is wrong with the ledger and statements after the runs, if anything."""
    problems = []
    if first.statements != dealer_count:
        problems.append(f"{first.statements} statements for {dealer_count} dealers")
    with psycopg.connect(dsn(url)) as conn:
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT source_key FROM dealer_account_entry "
            "WHERE kind IN ('sale', 'return') GROUP BY source_key HAVING count(*) > 1) t"
        ).fetchone()[0]  # type: ignore[index]
        if twice:
            problems.append(f"{twice} sales or returns booked more than once")
        end = day_start(add_months(MONTH, 1)).replace(tzinfo=None)
        lines = conn.execute(
            "SELECT count(*) + count(*) FILTER (WHERE l.returned_at < %(end)s) "
            "FROM sale_line l JOIN sale s ON s.id = l.sale_id "
            "WHERE l.dealer_fen <> 0 AND s.sold_at < %(end)s",
            {"end": end},
        ).fetchone()[0]  # type: ignore[index]
        entries = conn.execute(
            "SELECT count(*) FROM dealer_account_entry WHERE kind IN ('sale', 'return')"
        ).fetchone()[0]  # type: ignore[index]
        if lines != entries:
            problems.append(f"{entries} sale and return entries for {lines} sales and returns")
        apart = conn.execute(
            "SELECT count(*) FROM settlement_statement s WHERE s.period_start = %s "
            "AND s.closing_fen <> (SELECT coalesce(sum(e.amount_fen), 0) "
            "FROM dealer_account_entry e WHERE e.dealer_id = s.dealer_id "
            "AND e.booked_on <= s.period_end)",
            (MONTH,),
        ).fetchone()[0]  # type: ignore[index]
        if apart:
            problems.append(f"{apart} statements whose closing is not the ledger's balance")
    return problems


def _month_ledger(url: str) -> dict[str, list[int]]:
    """What the month's statements hold, by entry kind: [entries, fen], so that two versions
    of the run can be compared on the same seed."""
    with psycopg.connect(dsn(url)) as conn:
        rows = conn.execute(
            "SELECT kind, count(*), sum(amount_fen) FROM dealer_account_entry "
            "WHERE booked_on >= %s AND booked_on < %s GROUP BY kind ORDER BY kind",
            (MONTH, add_months(MONTH, 1)),
        ).fetchall()
    return {kind: [int(count), int(total)] for kind, count, total in rows}


def _arguments() -> argparse.Namespace:
    p = _cli.parser(__doc__)
    p.add_argument(
        "--sales-per-year",
        type=_cli.positive,
        default=os.environ.get("HAOKA_BENCH_SETTLEMENT_SALES", "2000000"),
        help="the yearly sales rate (default: HAOKA_BENCH_SETTLEMENT_SALES, else %(default)s)",
    )
    p.add_argument(
        "--dealers", type=_cli.positive, default=2_000, help="dealers (default: %(default)s)"
    )
    p.add_argument(
        "--months",
        type=_cli.positive,
        default=7,
        help="months of sales: the settled month and those before it, each settled and "
        "confirmed first (default: %(default)s, the reach of the 6-month stage)",
    )
    return p.parse_args()


def main() -> int:
    args = _arguments()
    with fresh_database(args.postgres_url) as url:
        started = time.perf_counter()
        sales = _seed(url, args.sales_per_year, args.dealers, args.months)
        print(
            f"seeded {sales:,} sales over {args.months} months for {args.dealers:,} dealers "
            f"in {time.perf_counter() - started:.1f} s"
        )
        engine = make_engine(url)
        earlier: list[float] = []
        with Session(engine) as session:
            _plans(session)
            request = SettlementRunIn(day=MONTH, cadence=Cadence.month)
            for back in range(args.months - 1, 0, -1):
                month = add_months(MONTH, -back)
                done = runs.run_settlement(
                    session, request.model_copy(update={"day": month}), "bench"
                )
                _close(url, month)
                earlier.append(done.seconds)
                print(
                    f"{month:%Y-%m}: {done.statements:,} statements, "
                    f"{done.entries_booked:,} entries in {done.seconds:.2f} s, confirmed"
                )
            first = runs.run_settlement(session, request, "bench")
            again = runs.run_settlement(session, request, "bench")
        engine.dispose()
        problems = _problems(url, args.dealers, first)
        ledger = _month_ledger(url)
        if again.entries_booked:
            problems.append(f"the rerun booked {again.entries_booked} entries")
    run_ratio = first.seconds / RUN_LIMIT_S
    rerun_ratio = again.seconds / RERUN_LIMIT_S
    print(
        f"month run {MONTH:%Y-%m}, {first.statements:,} dealers: {first.seconds:.2f} s "
        f"({first.entries_booked:,} entries booked); limit {RUN_LIMIT_S:.0f} s; "
        f"ratio {run_ratio:.2f}"
    )
    print(
        f"empty rerun of the draft month: {again.seconds:.2f} s "
        f"({again.entries_booked} entries booked); limit {RERUN_LIMIT_S:.0f} s; "
        f"ratio {rerun_ratio:.2f}; rerun / first run {again.seconds / first.seconds:.2f}"
    )
    print(
        "the month's ledger: "
        + ", ".join(
            f"{kind} {count:,} entries {fen:,} fen" for kind, (count, fen) in ledger.items()
        )
    )
    for problem in problems:
        print(f"WRONG: {problem}")
    print("correctness: " + ("FAILED" if problems else "every sale and return booked once"))
    _cli.emit(
        "settlement",
        args,
        {
            "sales": sales,
            "earlier_months_s": earlier,
            "run_s": first.seconds,
            "run_entries": first.entries_booked,
            "run_limit_s": RUN_LIMIT_S,
            "run_ratio": round(run_ratio, 2),
            "rerun_s": again.seconds,
            "rerun_entries": again.entries_booked,
            "rerun_limit_s": RERUN_LIMIT_S,
            "rerun_ratio": round(rerun_ratio, 2),
            "rerun_to_run": round(again.seconds / first.seconds, 2),
            "month_ledger": ledger,
            "problems": problems,
        },
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
