"""Benchmark of a month's settlement run on PostgreSQL.

500 dealers (one outlet and terminal each) with the sales of seven months at the issue's
rate of 1,000,000 sales a year, every number activated and one in ten switched off since,
a commission plan per dealer kind (one-off by grade, staged at months 3 and 6, tiered slabs),
deposits and payments. Times the run for the last month for all 500 dealers through the
service (booking sales, returns and commission, then the statements), and a rerun of the same
draft month (nothing new to book). Limit: 30 s for the first run.

Set HAOKA_BENCH_POSTGRES_URL for another server, HAOKA_BENCH_SETTLEMENT_SALES for the yearly
sales rate.
"""

import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

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
    SlabIn,
    StageIn,
)
from backoffice.db import make_engine
from backoffice.domain.channel import DealerKind
from backoffice.domain.settlement.accounts import Cadence
from backoffice.domain.settlement.commission import add_months
from backoffice.services.settlement import plans, runs

SALES_PER_YEAR = int(os.environ.get("HAOKA_BENCH_SETTLEMENT_SALES", "1000000"))
DEALERS = 500
MONTHS = 7  # the settled month and the six before it, which staged commission reaches
LIMIT_S = 30.0
MONTH = date(2026, 10, 1)
GRADES = ["STD"] * 90 + ["4"] * 7 + ["3"] * 3


def _seed(url: str) -> int:
    """Dealers, sales, activations and account entries by COPY; returns the sales count."""
    rng = random.Random(6)
    now = datetime.now(UTC).replace(tzinfo=None)
    first_day = add_months(MONTH, -(MONTHS - 1))
    days = (add_months(MONTH, 1) - first_day).days
    total = SALES_PER_YEAR * days // 365
    dealer_ids = [str(uuid.uuid4()) for _ in range(DEALERS)]
    with psycopg.connect(dsn(url)) as conn:
        copy_rows(conn, "dealer", DEALER_COLUMNS, dealer_rows(dealer_ids, now))
        sales, lines, activations = [], [], []
        for i in range(total):
            dealer = dealer_ids[i % DEALERS]
            sold = datetime.combine(first_day, datetime.min.time()) + timedelta(
                seconds=rng.randrange(days * 86_400)
            )
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


def main() -> int:
    with fresh_database() as url:
        started = time.perf_counter()
        sales = _seed(url)
        print(
            f"seeded {sales:,} sales over {MONTHS} months for {DEALERS} dealers "
            f"in {time.perf_counter() - started:.1f} s"
        )
        engine = make_engine(url)
        with Session(engine) as session:
            _plans(session)
            request = SettlementRunIn(day=MONTH, cadence=Cadence.month)
            # The months before are settled first, as they would have been in production.
            previous = runs.run_settlement(
                session, request.model_copy(update={"day": add_months(MONTH, -1)}), "bench"
            )
            print(
                f"previous month: {previous.statements} statements, "
                f"{previous.entries_booked:,} entries in {previous.seconds:.1f} s"
            )
            first = runs.run_settlement(session, request, "bench")
            again = runs.run_settlement(session, request, "bench")
        engine.dispose()
    ratio = first.seconds / LIMIT_S
    print(
        f"month run, {first.statements} dealers: {first.seconds:.2f} s "
        f"({first.entries_booked:,} entries booked); limit {LIMIT_S:.0f} s; "
        f"ratio {ratio:.2f}"
    )
    print(
        f"rerun of the draft month: {again.seconds:.2f} s ({again.entries_booked} entries booked)"
    )
    return 0 if first.seconds <= LIMIT_S and first.statements == DEALERS else 1


if __name__ == "__main__":
    sys.exit(main())
