"""Benchmark: a terminal drains 10,000 queued events (a shift opening and 9,999 card sales,
sold offline) into a local back office on PostgreSQL over HTTP.

Limit: the drain takes <= 30 s. The figure and its ratio to the limit are reported, not
asserted: the exit status is 0 unless the benchmark itself fails (a drain that does not
complete, say). Set HAOKA_BENCH_POSTGRES_URL to use another server and
HAOKA_BENCH_SYNC_EVENTS to change the number of events.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import httpx
import psycopg
from sqlmodel import Session

from backoffice import migrate
from backoffice.contracts.billing import VoucherGenerateRequest
from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    DealerCreate,
    OutletCreate,
    StaffCreate,
    TerminalCreate,
)
from backoffice.core.config import Settings
from backoffice.core.crypto import pin_cipher
from backoffice.db import make_engine
from backoffice.domain.channel import AllocationOrder, DealerKind
from backoffice.domain.users import Role
from backoffice.services.billing import releases, vouchers
from backoffice.services.channel import allocation, dealers, movements, receipts
from pos_terminal import outbox
from pos_terminal.services.login import LoginService
from pos_terminal.services.sale import SaleService, Tender
from pos_terminal.services.shift import ShiftService
from pos_terminal.services.terminal import save_registration
from pos_terminal.store import Store
from pos_terminal.sync import SyncClient

SERVER = os.environ.get(
    "HAOKA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
EVENTS = int(os.environ.get("HAOKA_BENCH_SYNC_EVENTS", "10000"))
DRAIN_LIMIT_S = 30.0


def _channel(settings: Settings, cards: int) -> tuple[str, int, str]:
    """A dealer, outlet and terminal with `cards` ¥50 cards on the shelf."""
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        dealers.create_dealer(
            session,
            DealerCreate(
                code="B1", name="bench", kind=DealerKind.partner, credit_limit_fen=2_000_000_000
            ),
            "bench",
        )
        dealers.create_outlet(
            session, OutletCreate(dealer="B1", code="B1-O1", name="shop"), "bench"
        )
        terminal = dealers.register_terminal(
            session, TerminalCreate(outlet="B1-O1", name="counter"), "bench"
        )
        # The clerk every event names: the back office refuses events from anyone else.
        dealers.create_staff(
            session,
            "B1",
            StaffCreate(
                username="bench", password="sync-clerk-pass-9", role=Role.clerk, pin="135790"
            ),
            "bench",
        )
        vouchers.generate_vouchers(
            session,
            VoucherGenerateRequest(
                face_value_fen=5000,
                dealer_price_fen=4850,
                expires_on=date(2099, 12, 31),
                code="BENCH",
                first_serial="10575000000000001",
                count=cards,
            ),
            pin_cipher(settings),
            "bench",
        )
        releases.release_vouchers(session, "BENCH", "bench")
        document = allocation.allocate(
            session,
            AllocationRequest(
                outlet="B1-O1",
                rules=[AllocationRule(item_kind="voucher", count=cards, face_value_fen=5000)],
                order=AllocationOrder.in_order,
            ),
            "bench",
        )
        items = [i.item for i in movements.outlet_stock(session, "B1-O1", limit=cards)]
        receipts.receive(session, document.number, items, "bench")
    engine.dispose()
    return terminal.terminal.id, terminal.terminal.terminal_no, terminal.credential


def _serve(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    """The back office in its own process, as deployed (uvicorn, one worker)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "HAOKA_DATA_DIR": str(settings.data_dir),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "backoffice.api.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(base + "/docs", timeout=1)
            return server, base
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("the back office did not start") from None
            time.sleep(0.1)


def bench(url: str, tmp: Path) -> float:
    settings = Settings(database_url=url, data_dir=tmp / "office")
    terminal_id, terminal_no, credential = _channel(settings, EVENTS - 1)
    server, base = _serve(settings)
    try:
        store = Store(tmp / "terminal.db")
        save_registration(store, terminal_id, terminal_no)
        client = SyncClient(
            store,
            base,
            credential,
            batch=int(os.environ.get("HAOKA_BENCH_SYNC_BATCH", "200")),
            timeout=60,
        )
        client.pull()
        # Sold while "offline": nothing pushed until the drain.
        ShiftService(store).open_shift("bench", 0)
        sales = SaleService(store, LoginService(store))
        shelf = "SELECT item FROM stock WHERE status = 'in_stock' ORDER BY item"
        cards = [r[0] for r in store.conn.execute(shelf)]
        started = time.perf_counter()
        for card in cards:
            draft = sales.start("bench")
            sales.scan(draft, card)
            sales.complete(draft, [Tender("cash", draft.total_fen)])
        selling = time.perf_counter() - started
        print(
            f"sold {len(cards):,} cards locally in {selling:.1f} s "
            f"({selling / len(cards) * 1000:.2f} ms per committed sale)"
        )
        backlog = outbox.backlog(store)
        started = time.perf_counter()
        summary = client.push()
        drain = time.perf_counter() - started
        assert summary.left == 0 and summary.accepted == backlog, summary
        client.close()
        store.close()
    finally:
        server.terminate()
        server.wait(30)
    print(
        f"drained {backlog:,} events in {drain:.1f} s ({backlog / drain:.0f} events/s; "
        f"limit {DRAIN_LIMIT_S:.0f} s, ratio {drain / DRAIN_LIMIT_S:.2f})"
    )
    return drain


def main() -> int:
    admin_dsn = SERVER.replace("postgresql+psycopg://", "postgresql://")
    name = f"haoka_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + "/" + name
    try:
        migrate.upgrade(url)
        with tempfile.TemporaryDirectory() as tmp:
            drain = bench(url, Path(tmp))
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print("PASS" if drain <= DRAIN_LIMIT_S else "FAIL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
