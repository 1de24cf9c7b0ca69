"""A terminal process killed with SIGKILL mid-work loses nothing: after reopening, every act is
whole (sale, stock move, event, receipt job), the event sequence has no gaps, and the events
go to the real back office with the ids they were given before the crash."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from sqlmodel import Session, select

from backoffice.core.config import Settings
from backoffice.models import SyncEvent
from pos_terminal import outbox
from pos_terminal.services.login import LoginService
from pos_terminal.services.sale import SaleService, Tender
from pos_terminal.services.shift import ShiftService
from pos_terminal.services.terminal import save_registration
from pos_terminal.store import Store
from pos_terminal.sync import SyncClient, SyncWorker
from tests.backoffice.channel.helpers import add_staff, channel, pool, stocked_numbers
from tests.pos_terminal.helpers import seeded_store, voucher_item
from tests.pos_terminal.office import OfficeServer

ROOT = Path(__file__).resolve().parents[2]
CARDS = 400


def worker_main() -> None:
    """The terminal process: sells one card after another and reports each committed sale.

    argv: store path, then optionally back-office URL and credential (sync in the background).
    """
    path = sys.argv[1]
    store = Store(path)
    pace = 0.0
    if len(sys.argv) > 2:
        # A real counter is far slower than this loop; the pause lets the sync thread write.
        pace = 0.02
        client = SyncClient(store, sys.argv[2], sys.argv[3], batch=7, timeout=5.0)
        client.pull()
        SyncWorker(client, interval=0.005, base_backoff=0.01, max_backoff=0.05).start()
    shifts = ShiftService(store)
    if shifts.current() is None:
        shifts.open_shift("clerk1", 0)
    sales = SaleService(store, LoginService(store))
    cards = [
        r[0]
        for r in store.conn.execute(
            "SELECT item FROM stock WHERE status = 'in_stock' "
            "AND item_kind = 'voucher' ORDER BY item"
        )
    ]
    for card in cards:
        draft = sales.start("clerk1")
        sales.scan(draft, card)
        done = sales.complete(draft, [Tender("cash", draft.total_fen)])
        # Reported only after the commit returned: these must survive the kill.
        print(
            json.dumps({"receipt": done.receipt_no, "event": done.event_id, "item": card}),
            flush=True,
        )
        time.sleep(pace)
    # Out of cards: the till waits for its next customer, and for the kill.
    while True:
        time.sleep(1)


def _run_and_kill(
    args: list[str], after_sales: int, until: Callable[[], bool] = lambda: True
) -> list[dict[str, str]]:
    """Kills the terminal process with SIGKILL once it reported `after_sales` sales and
    `until()` holds; returns the sales it reported."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tests.pos_terminal.test_crash import worker_main; worker_main()",
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reported = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while len(reported) < after_sales:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"worker ended early: {proc.stderr.read() if proc.stderr else ''}")
        reported.append(json.loads(line))
        assert time.monotonic() < deadline, "worker too slow"
    while not until():
        assert time.monotonic() < deadline, "the condition to kill on never held"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert proc.stderr is not None
    problems = proc.stderr.read()
    assert "Traceback" not in problems, problems
    # Lines already written before the kill are acts that committed too.
    rest = proc.stdout.read()
    reported += [json.loads(line) for line in rest.splitlines() if line.strip()]
    return reported


def _check_whole(store: Store, reported: list[dict[str, str]]) -> list[outbox.OutboxEvent]:
    conn = store.conn
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    events = outbox.all_events(store)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    by_id = {e.id: e for e in events}
    sales = conn.execute("SELECT id, receipt_no, event_seq FROM sales").fetchall()
    assert len(sales) == len(events) - 1  # plus the shift opening
    for sale in sales:
        event = outbox.get_event(store, sale["event_seq"])
        assert event is not None and event.payload["receipt_no"] == sale["receipt_no"]
        lines = conn.execute(
            "SELECT item FROM sale_lines WHERE sale_id = ?", (sale["id"],)
        ).fetchall()
        assert [row[0] for row in lines] == [event.payload["lines"][0]["item"]]
        jobs = conn.execute(
            "SELECT count(*) FROM print_jobs WHERE ref = ?", (sale["receipt_no"],)
        ).fetchone()[0]
        assert jobs == 1
    sold = {r[0] for r in conn.execute("SELECT item FROM stock WHERE status = 'active'")}
    assert sold == {r[0] for r in conn.execute("SELECT item FROM sale_lines")}
    # Everything the process saw committed is there, under the same event id.
    for seen in reported:
        assert by_id[seen["event"]].payload["receipt_no"] == seen["receipt"]
    return events


def test_killed_terminal_loses_nothing_and_carries_on(tmp_path: Path) -> None:
    path = tmp_path / "terminal.db"
    seeded_store(path, stock=[voucher_item(n) for n in range(1, CARDS + 1)]).close()
    reported = _run_and_kill([str(path)], after_sales=25)
    store = Store(path)
    before = _check_whole(store, reported)
    assert len(before) - 1 >= len(reported) >= 25
    store.close()
    # A second run after the crash continues the same sequences.
    more = _run_and_kill([str(path)], after_sales=5)
    store = Store(path)
    after = _check_whole(store, reported + more)
    assert [e.id for e in after[: len(before)]] == [e.id for e in before]
    receipts = [r[0] for r in store.conn.execute("SELECT receipt_no FROM sales ORDER BY at")]
    assert len(set(receipts)) == len(receipts)
    store.close()


def test_killed_while_syncing_every_event_reaches_the_back_office_once(
    settings: Settings, session: Session, tmp_path: Path
) -> None:
    pool(session, cards=60)
    shop = channel(session, staff=False)
    add_staff(session, shop.dealer_id, "clerk1")  # who the worker sells as
    stocked_numbers(session, shop.outlet_code, 1, cards=60)
    office = OfficeServer(settings)
    office.start()
    try:
        path = tmp_path / "terminal.db"
        store = Store(path)
        save_registration(store, shop.terminal_id, shop.terminal_no)
        store.close()

        def synced() -> bool:
            # Killed only while the background sync is at work: the terminal has had some
            # events accepted (read beside the running process, as SQLite's WAL allows).
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
                query = "SELECT count(*) FROM events WHERE status = 'accepted'"
                return bool(conn.execute(query).fetchone()[0])

        reported = _run_and_kill(
            [str(path), office.url, shop.credential], after_sales=30, until=synced
        )
        store = Store(path)
        events = _check_whole(store, reported)
        # The background sync was at work when the process died.
        assert any(e.status == "accepted" for e in events)
        client = SyncClient(store, office.url, shop.credential)
        client.push()
        assert outbox.backlog(store) == 0
        assert {e.status for e in outbox.all_events(store)} <= {"accepted", "duplicate"}
        client.close()
        store.close()
    finally:
        office.stop()
    session.expire_all()
    at_office = session.exec(
        select(SyncEvent).where(SyncEvent.terminal_id == shop.terminal_id)
    ).all()
    assert sorted((e.id, e.seq) for e in at_office) == sorted((e.id, e.seq) for e in events)
    assert {e.result for e in at_office} == {"accepted"}
