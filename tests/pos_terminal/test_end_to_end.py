"""End to end: a terminal registered with `haoka-pos register` sells in its own process while
the back office is down; when the back office is back, the backlog drains, and the back office
holds the sales and the sold stock (real HTTP, SQLite and PostgreSQL)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import Session, select

from backoffice.models import Sale, Voucher
from pos_terminal.config import load_config
from pos_terminal.services.counter import open_counter
from pos_terminal.services.sale import Tender
from tests.backoffice.channel.helpers import Channel, stocked_numbers
from tests.pos_terminal.helpers import CLERK, CLERK_PIN
from tests.pos_terminal.office import OfficeServer

ROOT = Path(__file__).resolve().parents[2]
CARDS = 2


def terminal_main() -> None:
    """The terminal process. `sell`: log in and sell every card on the shelf, whatever the
    network does; `drain [n]`: sync until no more than n events (0) wait. Prints one JSON line
    of what it saw."""
    counter = open_counter(load_config())
    try:
        if sys.argv[1] == "sell":
            online = counter.login.login(CLERK, CLERK_PIN).online
            counter.shifts.open_shift(CLERK, 0)
            sold = []
            cards = [
                row[0]
                for row in counter.store.conn.execute(
                    "SELECT item FROM stock WHERE status = 'in_stock' AND item_kind = 'voucher'"
                )
            ]
            for card in cards:
                draft = counter.sales.start(CLERK)
                counter.sales.scan(draft, card)
                sold.append(counter.sales.complete(draft, [Tender("cash", draft.total_fen)]))
            state = counter.sync_worker().run_once()
            report = {
                "online_login": online,
                "sold": [s.receipt_no for s in sold],
                "cards": cards,
                "backlog": state.backlog,
                "online": state.online,
            }
        else:
            worker = counter.sync_worker()
            until = int(sys.argv[2]) if len(sys.argv) > 2 else 0
            deadline = time.monotonic() + 30
            seen = [worker.run_once().backlog]
            while seen[-1] > until and time.monotonic() < deadline:
                seen.append(worker.run_once().backlog)
            report = {
                "backlog_seen": seen[-3:],
                "error": worker.state.last_error,
                "rejected": counter.figures().rejected_events,
                "retrying": worker.state.retrying,
            }
    finally:
        counter.close()
    print(json.dumps(report), flush=True)


def _terminal(data_dir: Path, *args: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tests.pos_terminal.test_end_to_end import terminal_main; terminal_main()",
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "HAOKA_POS_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_sell_offline_then_the_backlog_drains_into_the_back_office(
    office: OfficeServer, shop: Channel, session: Session, tmp_path: Path
) -> None:
    stocked_numbers(session, shop.outlet_code, 1, cards=CARDS)
    data = tmp_path / "pos"
    registered = subprocess.run(
        [
            str(Path(sys.executable).with_name("haoka-pos")),
            "register",
            office.url,
            "--terminal-no",
            str(shop.terminal_no),
            "--credential",
            shop.credential,
        ],
        env={**os.environ, "HAOKA_POS_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert registered.returncode == 0, registered.stdout + registered.stderr

    office.stop()
    offline = _terminal(data, "sell")
    assert offline["online_login"] is False  # the cached PIN hash let the clerk in
    assert len(offline["sold"]) == CARDS and offline["online"] is False
    assert offline["backlog"] == 1 + CARDS  # shift opened, then the sales

    office.start()
    drained = _terminal(data, "drain")
    assert drained["backlog_seen"][-1] == 0 and drained["rejected"] == 0, drained

    session.expire_all()
    receipts = session.exec(
        select(Sale.receipt_no).where(Sale.terminal_id == shop.terminal_id)
    ).all()
    assert sorted(receipts) == sorted(offline["sold"])
    statuses = session.exec(
        select(Voucher.status).where(Voucher.serial.in_(offline["cards"]))  # type: ignore[attr-defined]
    ).all()
    assert statuses == ["active"] * CARDS  # cards are activated when their sale is accepted
