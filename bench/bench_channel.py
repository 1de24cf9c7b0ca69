"""Benchmark of the dealer channel on PostgreSQL.

1. Allocation of 10,000 numbers from a pool of HAOKA_BENCH_POOL (default 200,000), random
   and in order, through the service (document, lines, credit check, audit) and as the bare
   set-based UPDATE. Limit: 1.0 s for the service.
2. Sync throughput: 32 simulated terminals (two per outlet, their stock partly overlapping so
   that they race) push batches of sale events over HTTP to uvicorn with 2 workers. Reports
   accepted sale events per second, p50/p99 batch latency, and the ratio to the sale
   statement the back office runs (the conditional UPDATE … RETURNING of one number) run
   directly against PostgreSQL by 32 connections, one transaction each. Target: >= 1,000
   accepted events/s, no item sold twice, no event lost.

Set HAOKA_BENCH_POSTGRES_URL for another server.
"""

import base64
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime

import httpx
import psycopg
from sqlalchemy import text
from sqlmodel import Session

from backoffice import migrate
from backoffice.contracts.billing import SegmentRequest
from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    DealerCreate,
    OutletCreate,
    StaffCreate,
    TerminalCreate,
)
from backoffice.db import make_engine
from backoffice.domain.channel import AllocationOrder, DealerKind
from backoffice.domain.users import Role
from backoffice.services.billing import numbers, releases
from backoffice.services.channel import allocation, dealers, movements, receipts
from shared.codes import format_receipt_number, resident_id_check_char
from shared.ids import new_id
from shared.sync import (
    Customer,
    Payment,
    PushRequest,
    SaleEvent,
    SaleLine,
    SalePayload,
)

SERVER = os.environ.get(
    "HAOKA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
POOL = int(os.environ.get("HAOKA_BENCH_POOL", "200000"))
ALLOCATE = 10_000
ALLOCATION_LIMIT_S = 1.0
TERMINALS = 32
PER_TERMINAL = int(os.environ.get("HAOKA_BENCH_SALES_PER_TERMINAL", "1000"))
BATCH = 50
OVERLAP = 0.1  # share of each terminal's sales that its twin also tries to sell
THROUGHPUT_TARGET = 1_000.0
PORT = int(os.environ.get("HAOKA_BENCH_PORT", "8765"))
ID_BODY = "33060219900101123"
RESIDENT_ID = ID_BODY + resident_id_check_char(ID_BODY)


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _database() -> tuple[str, str]:
    name = f"haoka_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_dsn(SERVER), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, SERVER.rsplit("/", 1)[0] + "/" + name


def _drop(name: str) -> None:
    with psycopg.connect(_dsn(SERVER), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


def bench_allocation(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        _pool(session, POOL)
        (outlet,) = _dealer(session, "ALLOC", 1)
        timings = {}
        for order in (AllocationOrder.random, AllocationOrder.in_order):
            request = AllocationRequest(
                outlet=outlet,
                rules=[AllocationRule(item_kind="number", count=ALLOCATE, grade="STD")],
                order=order,
            )
            started = time.perf_counter()
            document = allocation.allocate(session, request, "bench")
            timings[order.value] = time.perf_counter() - started
            assert sum(line.item_count for line in document.lines) == ALLOCATE
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
                {"n": ALLOCATE},
            ).all()
            bare[label] = time.perf_counter() - started
            assert len(moved) == ALLOCATE
            session.rollback()
    engine.dispose()
    for label, seconds in timings.items():
        print(
            f"allocation of {ALLOCATE:,} numbers ({label}) from a pool of {POOL:,}: "
            f"{seconds:.3f} s (ratio to {ALLOCATION_LIMIT_S:.1f} s limit: "
            f"{seconds / ALLOCATION_LIMIT_S:.2f}); bare statement {bare[label]:.3f} s"
        )


def _stock_terminals(url: str) -> list[tuple[str, int, list[str]]]:
    """16 outlets with two terminals each; returns (credential, terminal no, items to sell)."""
    engine = make_engine(url)
    plan = []
    with Session(engine) as session:
        _pool(session, TERMINALS * PER_TERMINAL * 2)
        outlets = _dealer(session, "SYNC", TERMINALS // 2)
        # The clerk every sale names: the back office refuses events from anyone else.
        dealers.create_staff(
            session,
            "SYNC",
            StaffCreate(
                username="bench", password="sync-clerk-pass-9", role=Role.clerk, pin="135790"
            ),
            "bench",
        )
        for outlet in outlets:
            document = allocation.allocate(
                session,
                AllocationRequest(
                    outlet=outlet,
                    rules=[AllocationRule(item_kind="number", count=PER_TERMINAL * 2, grade="STD")],
                    order=AllocationOrder.in_order,
                ),
                "bench",
            )
            items = sorted(
                i.item for i in movements.outlet_stock(session, outlet, limit=PER_TERMINAL * 3)
            )
            receipts.receive(session, document.number, items, "bench")
            shared = int(PER_TERMINAL * OVERLAP)
            halves = (
                items[:PER_TERMINAL],
                items[PER_TERMINAL - shared : 2 * PER_TERMINAL - shared],
            )
            for half in halves:
                registered = dealers.register_terminal(
                    session, TerminalCreate(outlet=outlet, name="bench"), "bench"
                )
                plan.append((registered.credential, registered.terminal.terminal_no, half))
    engine.dispose()
    _settle(url)
    return plan


def _settle(url: str) -> None:
    """Stock is received long before it sells, and autovacuum has been through it by then.
    Straight after the set-up's mass updates every row still carries a dead version and
    unset hint bits, which costs the first statement to touch it several times its price."""
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE mobile_number")


def _events(terminal_no: int, items: list[str]) -> list[SaleEvent]:
    now = datetime.now(UTC)
    return [
        SaleEvent(
            id=new_id(),
            seq=seq,
            occurred_at=now,
            payload=SalePayload(
                sale_id=new_id(),
                receipt_no=format_receipt_number(terminal_no, seq),
                clerk="bench",
                lines=[
                    SaleLine(
                        item_kind="number",
                        item=item,
                        product="number:STD",
                        price_fen=5_000,
                        price_list_version=1,
                    )
                ],
                payments=[Payment(method="cash", amount_fen=5_000)],
                customer=Customer(name="张三", resident_id=RESIDENT_ID),
            ),
        )
        for seq, item in enumerate(items, start=1)
    ]


def _serve(url: str, data_dir: str) -> subprocess.Popen:  # type: ignore[type-arg]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HAOKA_DATA_DIR": data_dir,
        "HAOKA_SECRET_KEY": base64.urlsafe_b64encode(b"s" * 32).decode(),
        "HAOKA_PIN_KEY": base64.urlsafe_b64encode(b"p" * 32).decode(),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "backoffice.api.asgi:app",
            "--workers",
            "2",
            "--port",
            str(PORT),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/healthz").is_success:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("uvicorn did not start")


# The statement the back office sells a number on the shelf with
# (backoffice.services.sales._SELL_FROM_SHELF), spelled out.
_SELL_FROM_SHELF = (
    "UPDATE mobile_number SET status = 'sold', held_from = NULL, version = version + 1, "
    "updated_at = now() WHERE msisdn = %s AND outlet_id = %s AND status = 'in_stock' "
    "RETURNING grade_code"
)


def _direct_sql_rate(url: str, plan: list[tuple[str, int, list[str]]]) -> float:
    """The back office's sale statement, one transaction each, 32 connections, on the same
    numbers (put back in stock first, and the table settled as before the sync run)."""
    with psycopg.connect(_dsn(url)) as conn:
        conn.execute("UPDATE mobile_number SET status = 'in_stock' WHERE status = 'sold'")
        conn.commit()
        outlets = dict(
            conn.execute(
                "SELECT msisdn, outlet_id FROM mobile_number WHERE outlet_id IS NOT NULL"
            ).fetchall()
        )
    _settle(url)
    done = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(plan))

    def run(items: list[str]) -> None:
        sold = 0
        with psycopg.connect(_dsn(url), autocommit=True) as conn:
            barrier.wait()
            for item in items:
                sold += conn.execute(_SELL_FROM_SHELF, (item, outlets[item])).rowcount
        with lock:
            done.append(sold)

    threads = [threading.Thread(target=run, args=(items,)) for _, _, items in plan]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def bench_sync(url: str) -> bool:
    plan = _stock_terminals(url)
    batches = [
        [
            PushRequest(events=events[i : i + BATCH]).model_dump_json()
            for i in range(0, len(events), BATCH)
        ]
        for events in (_events(no, items) for _, no, items in plan)
    ]
    latencies: list[float] = []
    accepted: list[str] = []
    rejected: dict[str, int] = {}
    lost = 0
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as data_dir:
        server = _serve(url, data_dir)
        try:
            barrier = threading.Barrier(len(plan))

            def terminal(credential: str, bodies: list[str]) -> None:
                nonlocal lost
                headers = {
                    "Authorization": f"Bearer {credential}",
                    "Content-Type": "application/json",
                }
                with httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=60) as client:
                    barrier.wait()
                    for body in bodies:
                        started = time.perf_counter()
                        try:
                            reply = client.post("/api/v1/sync/push", content=body, headers=headers)
                            results = reply.json()["results"] if reply.is_success else []
                        except httpx.HTTPError:
                            results = []
                        elapsed = time.perf_counter() - started
                        with lock:
                            latencies.append(elapsed)
                            lost += BATCH - len(results) if len(results) < BATCH else 0
                            for r in results:
                                if r["status"] == "accepted":
                                    accepted.append(r["id"])
                                else:
                                    rejected[r["reason"]] = rejected.get(r["reason"], 0) + 1

            threads = [
                threading.Thread(target=terminal, args=(credential, bodies))
                for (credential, _, _), bodies in zip(plan, batches, strict=True)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    with psycopg.connect(_dsn(url)) as conn:
        sold_items = conn.execute("SELECT count(*) FROM mobile_number WHERE status = 'sold'")
        sold = sold_items.fetchone()[0]  # type: ignore[index]
        lines = conn.execute("SELECT count(*), count(DISTINCT item_key) FROM sale_line").fetchone()
        events = conn.execute("SELECT count(*) FROM sync_event").fetchone()[0]  # type: ignore[index]
    assert lines is not None
    sent = sum(len(items) for _, _, items in plan)
    rate = len(accepted) / wall
    direct = _direct_sql_rate(url, plan)
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    sold_twice = lines[0] - lines[1]
    print(
        f"sync push: {TERMINALS} terminals, {sent:,} sale events in batches of {BATCH} over "
        f"HTTP (uvicorn, 2 workers): {len(accepted):,} accepted, rejected {rejected}, "
        f"{rate:,.0f} accepted events/s (ratio to {THROUGHPUT_TARGET:,.0f}/s target: "
        f"{rate / THROUGHPUT_TARGET:.2f}); batch latency p50 {p50:.0f} ms, p99 {p99:.0f} ms"
    )
    print(
        f"direct sale statement (conditional UPDATE … RETURNING, one transaction each), "
        f"{TERMINALS} connections: {direct:,.0f} transactions/s; "
        f"ratio of sync to direct: {rate / direct:.2f}"
    )
    print(
        f"integrity: items sold {sold:,} = accepted {len(accepted):,}; items sold twice "
        f"{sold_twice}; events stored {events:,} of {sent:,} sent; lost in transit {lost}"
    )
    return sold == len(accepted) and sold_twice == 0 and events == sent and lost == 0


def main() -> int:
    name, url = _database()
    try:
        migrate.upgrade(url)
        bench_allocation(url)
    finally:
        _drop(name)
    name, url = _database()
    try:
        migrate.upgrade(url)
        ok = bench_sync(url)
    finally:
        _drop(name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
