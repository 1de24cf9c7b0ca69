"""Benchmark: a terminal drains 10,000 queued events (a shift opening and 9,999 card sales,
sold offline) into a local back office on PostgreSQL over HTTP.

Limit: the drain takes <= 30 s. The figure and its ratio to the limit are reported, not
asserted: the exit status is 0 unless the benchmark itself fails (a drain that does not
complete, say).
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import _cli
import httpx
from _channel_data import fresh_database
from sqlmodel import Session

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


def bench(url: str, tmp: Path, events: int, batch: int) -> dict[str, float]:
    settings = Settings(database_url=url, data_dir=tmp / "office")
    terminal_id, terminal_no, credential = _channel(settings, events - 1)
    server, base = _serve(settings)
    try:
        store = Store(tmp / "terminal.db")
        save_registration(store, terminal_id, terminal_no)
        client = SyncClient(
            store,
            base,
            credential,
            batch=batch,
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
    return {
        "selling_ms_per_sale": round(selling / len(cards) * 1000, 3),
        "drain_s": round(drain, 2),
        "events_per_s": round(backlog / drain, 1),
        "limit_s": DRAIN_LIMIT_S,
        "ratio": round(drain / DRAIN_LIMIT_S, 2),
    }


def main() -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument("--events", type=_cli.positive, default=10_000, help="queued events")
    parser.add_argument("--batch", type=_cli.positive, default=200, help="events per push")
    args = parser.parse_args()
    if args.events < 2:
        parser.error("--events must be at least 2 (a shift opening and a sale)")
    with fresh_database(args.postgres_url) as url, tempfile.TemporaryDirectory() as tmp:
        figures = bench(url, Path(tmp), args.events, args.batch)
    _cli.emit("terminal_sync", args, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
