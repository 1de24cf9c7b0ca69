"""Benchmark of the dealer channel on PostgreSQL: allocation of --allocate numbers
(default 10,000) from a pool of --pool (default 200,000), random and in order, through the
service (document, lines, credit check, audit) and as the bare set-based UPDATE.
Limit: 1.0 s for the service.

Terminal sync throughput (pushes from 32 to 2,000 terminals, and the push's ratio to the
bare sale statement) is bench_push.py.
"""

import sys
import time

import _cli
from _channel_data import fresh_database
from sqlalchemy import text
from sqlmodel import Session

from backoffice.contracts.billing import SegmentRequest
from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    DealerCreate,
    OutletCreate,
)
from backoffice.db import make_engine
from backoffice.domain.channel import AllocationOrder, DealerKind
from backoffice.services.billing import numbers, releases
from backoffice.services.channel import allocation, dealers

ALLOCATION_LIMIT_S = 1.0


def _pool(session: Session, count: int) -> None:
    numbers.generate_segment(
        session, SegmentRequest(prefix="13905", start=0, end=count - 1, code="POOL"), "bench"
    )
    releases.release_numbers(session, "POOL", "bench")
    session.execute(text("ANALYZE mobile_number"))
    session.commit()


def _dealer(session: Session, code: str, outlets: int) -> list[str]:
    dealers.create_dealer(
        session,
        DealerCreate(code=code, name=code, kind=DealerKind.partner, credit_limit_fen=10**12),
        "bench",
    )
    return [
        dealers.create_outlet(
            session, OutletCreate(dealer=code, code=f"{code}-{i}", name=f"outlet {i}"), "bench"
        ).code
        for i in range(outlets)
    ]


def bench_allocation(url: str, pool: int, allocate: int) -> dict[str, float]:
    engine = make_engine(url)
    with Session(engine) as session:
        _pool(session, pool)
        (outlet,) = _dealer(session, "ALLOC", 1)
        timings = {}
        for order in (AllocationOrder.random, AllocationOrder.in_order):
            request = AllocationRequest(
                outlet=outlet,
                rules=[AllocationRule(item_kind="number", count=allocate, grade="STD")],
                order=order,
            )
            started = time.perf_counter()
            document = allocation.allocate(session, request, "bench")
            timings[order.value] = time.perf_counter() - started
            assert sum(line.item_count for line in document.lines) == allocate
        bare = {}
        for label, order_by in (("random", "random()"), ("in_order", "msisdn")):
            started = time.perf_counter()
            moved = session.execute(
                text(
                    "WITH pick AS MATERIALIZED (SELECT msisdn FROM mobile_number "
                    "WHERE status = 'available' AND grade_code = 'STD' "
                    f"ORDER BY {order_by} LIMIT :n FOR UPDATE SKIP LOCKED) "
                    "UPDATE mobile_number SET status = 'allocated' "
                    "WHERE msisdn IN (SELECT msisdn FROM pick) RETURNING msisdn"
                ),
                {"n": allocate},
            ).all()
            bare[label] = time.perf_counter() - started
            assert len(moved) == allocate
            session.rollback()
    engine.dispose()
    for label, seconds in timings.items():
        print(
            f"allocation of {allocate:,} numbers ({label}) from a pool of {pool:,}: "
            f"{seconds:.3f} s (ratio to {ALLOCATION_LIMIT_S:.1f} s limit: "
            f"{seconds / ALLOCATION_LIMIT_S:.2f}); bare statement {bare[label]:.3f} s"
        )
    return {
        **{f"service_{k}_s": round(v, 4) for k, v in timings.items()},
        **{f"bare_{k}_s": round(v, 4) for k, v in bare.items()},
        "limit_s": ALLOCATION_LIMIT_S,
        "ratio": round(max(timings.values()) / ALLOCATION_LIMIT_S, 2),
    }


def main() -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument("--pool", type=_cli.positive, default=200_000, help="numbers released")
    parser.add_argument("--allocate", type=_cli.positive, default=10_000, help="numbers allocated")
    args = parser.parse_args()
    with fresh_database(args.postgres_url) as url:
        figures = bench_allocation(url, args.pool, args.allocate)
    _cli.emit("channel", args, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
