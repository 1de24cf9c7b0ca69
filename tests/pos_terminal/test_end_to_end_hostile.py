"""End to end: a terminal process is never stuck behind one event. An event carrying a NUL
character is rejected by the real back office as malformed while the rest of the backlog is
applied; an event the back office fails on (a fault put in front of it) is kept and retried
while later events go through, and taken exactly once when the fault is gone. Real HTTP,
SQLite and PostgreSQL."""

import json
import os
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

from sqlmodel import Session, select
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backoffice.models import Sale, SyncEvent
from tests.backoffice.channel.helpers import Channel, stocked_numbers
from tests.pos_terminal.office import OfficeServer
from tests.pos_terminal.test_end_to_end import _terminal

CARDS = 2
PUSH = "/api/v1/sync/push"


def _register(office: OfficeServer, shop: Channel, data: Path) -> None:
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


def _sell_offline(office: OfficeServer, shop: Channel, session: Session, data: Path) -> dict:  # type: ignore[type-arg]
    """Registers the terminal, then sells every card with the back office down: a shift
    opened and CARDS sales wait in the terminal's outbox."""
    stocked_numbers(session, shop.outlet_code, 1, cards=CARDS)
    _register(office, shop, data)
    office.stop()
    sold = _terminal(data, "sell")
    assert sold["backlog"] == 1 + CARDS
    return sold


def _events(data: Path) -> list[tuple[int, str, str]]:
    with closing(sqlite3.connect(data / "terminal.db")) as conn:
        return conn.execute("SELECT seq, id, status FROM events ORDER BY seq").fetchall()


def test_an_event_with_a_nul_is_rejected_and_the_backlog_drains(
    office: OfficeServer, shop: Channel, session: Session, tmp_path: Path
) -> None:
    data = tmp_path / "pos"
    sold = _sell_offline(office, shop, session, data)
    # The first sale's clerk picked up a NUL on its way (a bad scan, a corrupt keyboard buffer).
    with closing(sqlite3.connect(data / "terminal.db")) as conn, conn:
        seq, payload = conn.execute(
            "SELECT seq, payload FROM events WHERE type = 'sale' ORDER BY seq LIMIT 1"
        ).fetchone()
        body = json.loads(payload)
        body["clerk"] += "\x00"
        conn.execute("UPDATE events SET payload = ? WHERE seq = ?", (json.dumps(body), seq))

    office.start()
    drained = _terminal(data, "drain")
    assert drained["backlog_seen"][-1] == 0 and drained["rejected"] == 1, drained
    statuses = {s: status for s, _, status in _events(data)}
    assert statuses[seq] == "rejected" and list(statuses.values()).count("accepted") == CARDS

    session.expire_all()
    receipts = session.exec(select(Sale.receipt_no).where(Sale.terminal_id == shop.terminal_id))
    assert sorted(receipts.all()) == sorted(r for r in sold["sold"] if r != body["receipt_no"])
    filed = session.exec(
        select(SyncEvent).where(SyncEvent.terminal_id == shop.terminal_id, SyncEvent.seq == seq)
    ).one()
    assert (filed.result, filed.reason, filed.resolution) == ("rejected", "malformed_event", "open")
    assert "\x00" not in filed.payload and "clerk" in (filed.message or "")


def _failing_on(event_id: str, failing: threading.Event) -> "type":
    """A fault in front of the back office: while `failing` is set, any push carrying
    `event_id` gets a 500, as a bug in the back office would answer; everything else reaches
    the app."""

    class Fault:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] != PUSH:
                await self.app(scope, receive, send)
                return
            messages: list[Message] = []
            while not messages or messages[-1].get("more_body"):
                messages.append(await receive())
            if failing.is_set() and any(event_id.encode() in m.get("body", b"") for m in messages):
                await PlainTextResponse("Internal Server Error", 500)(scope, receive, send)
                return

            async def replay() -> Message:
                return messages.pop(0) if messages else await receive()

            await self.app(scope, replay, send)

    return Fault


def test_an_event_the_back_office_fails_on_is_kept_retried_and_taken_once(
    office: OfficeServer, shop: Channel, session: Session, tmp_path: Path
) -> None:
    data = tmp_path / "pos"
    sold = _sell_offline(office, shop, session, data)
    with (data / "terminal.toml").open("a", encoding="utf-8") as settings:
        settings.write("push_retry_seconds = 0.0\n")  # no back-off to wait out in a test
    (_, poison, _) = _events(data)[1]  # the first sale
    with closing(sqlite3.connect(data / "terminal.db")) as conn:
        (payload,) = conn.execute("SELECT payload FROM events WHERE id = ?", (poison,)).fetchone()

    failing = threading.Event()
    failing.set()
    office.wrap = _failing_on(poison, failing)
    office.start()
    drained = _terminal(data, "drain", "1")
    # The other sale went through; the one failed on waits, neither rejected nor changed.
    assert drained["backlog_seen"][-1] == 1 and drained["rejected"] == 0, drained
    assert drained["retrying"] == 1, drained
    statuses = [(event_id, status) for _, event_id, status in _events(data)]
    assert (poison, "pending") in statuses
    assert [s for e, s in statuses if e != poison] == ["accepted"] * CARDS
    with closing(sqlite3.connect(data / "terminal.db")) as conn:
        row = conn.execute("SELECT payload, failures FROM events WHERE id = ?", (poison,))
        kept, failures = row.fetchone()
    assert kept == payload and failures >= 1
    session.expire_all()
    receipts = session.exec(select(Sale.receipt_no).where(Sale.terminal_id == shop.terminal_id))
    assert len(receipts.all()) == CARDS - 1
    assert session.exec(select(SyncEvent).where(SyncEvent.id == poison)).first() is None

    # The back office is fixed: the sale is taken, once.
    failing.clear()
    drained = _terminal(data, "drain")
    assert drained["backlog_seen"][-1] == 0 and drained["rejected"] == 0, drained
    assert drained["retrying"] == 0
    assert {status for _, _, status in _events(data)} == {"accepted"}
    session.expire_all()
    receipts = session.exec(select(Sale.receipt_no).where(Sale.terminal_id == shop.terminal_id))
    assert sorted(receipts.all()) == sorted(sold["sold"])
    filed = session.exec(select(SyncEvent).where(SyncEvent.id == poison)).all()
    assert [e.result for e in filed] == ["accepted"]
