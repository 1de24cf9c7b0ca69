"""A busy back office (503 with Retry-After, as its admission control answers past its
bound): the terminal keeps its events pending without counting a failure against them, waits
at least as long as it was asked, with jitter, and longer after each busy answer in a row;
a sale in the meantime does not cut the wait short."""

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from backoffice.core.config import Settings
from pos_terminal import outbox
from pos_terminal.services.errors import Busy
from pos_terminal.services.shift import ShiftService
from pos_terminal.services.terminal import save_registration
from pos_terminal.store import Store
from pos_terminal.sync import (
    MAX_BUSY_DELAY_SECONDS,
    PUSH_PATH,
    SyncClient,
    SyncWorker,
    busy_delay,
)
from tests.backoffice.channel.helpers import Channel
from tests.pos_terminal.office import OfficeServer


def test_busy_delay_honours_retry_after_spreads_and_grows() -> None:
    rng = random.Random(7)
    first = [busy_delay(4.0, 1, rng) for _ in range(200)]
    assert all(4.0 <= d <= 6.0 for d in first)
    assert len({round(d, 3) for d in first}) > 150  # a herd comes back spread out
    assert min(busy_delay(4.0, 3, rng) for _ in range(50)) >= 4.0 * 1.25**2
    assert max(busy_delay(4.0, 40, rng) for _ in range(50)) <= MAX_BUSY_DELAY_SECONDS * 1.5
    # A Retry-After beyond the terminal's own cap is still honoured.
    assert busy_delay(900.0, 1, rng) >= 900.0


class BusyFront:
    """In front of the office: its next `times` pushes answered as the admission control
    answers past its bound."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.times = 0
        self.pushes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PUSH_PATH:
            self.pushes += 1
            if self.times > 0:
                self.times -= 1
                busy = JSONResponse(
                    {"code": "busy", "message": "busy", "retry_after": 7},
                    status_code=503,
                    headers={"Retry-After": "7"},
                )
                await busy(scope, receive, send)
                return
        await self.app(scope, receive, send)


@pytest.fixture
def busy_office(settings: Settings) -> Iterator[tuple[OfficeServer, list[BusyFront]]]:
    fronts: list[BusyFront] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        fronts.append(BusyFront(app))
        return fronts[-1]

    server = OfficeServer(settings, wrap=wrap)
    server.start()
    yield server, fronts
    server.stop()


def test_a_busy_office_leaves_the_events_pending_and_is_called_back_later(
    busy_office: tuple[OfficeServer, list[BusyFront]],
    session: Session,
    shop: Channel,
    tmp_path: Path,
) -> None:
    office, (front,) = busy_office
    store = Store(tmp_path / "t.db")
    save_registration(store, shop.terminal_id, shop.terminal_no)
    client = SyncClient(store, office.url, shop.credential, timeout=30.0)
    client.pull()
    ShiftService(store).open_shift("clerk1", 10_000)
    assert outbox.backlog(store) == 1

    front.times = 2
    with pytest.raises(Busy) as busy:
        client.push()
    assert busy.value.retry_after == 7.0
    # Pending, and not counted as a failure of the event (no back-off of its own).
    assert outbox.backlog(store) == 1 and outbox.retrying(store) == 0

    worker = SyncWorker(client, interval=0.1)
    state = worker.run_once()
    assert state.online and state.backlog == 1 and "busy" in (state.last_error or "")
    assert 7.0 <= worker.delay() <= 7.0 * 1.5
    state = worker.run_once()  # the office takes it now
    assert (state.online, state.backlog, state.last_error) == (True, 0, None)
    assert worker.delay() == 0.1
    assert front.pushes == 3

    # Running: after a busy answer, a sale's wake-up does not bring the push forward.
    ShiftService(store).cash_in("clerk1", 500, "change")
    front.times = 1
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while front.pushes < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert front.pushes == 4 and worker.busy_times == 1
        worker.wake()
        time.sleep(1.0)
        assert front.pushes == 4 and outbox.backlog(store) == 1
    finally:
        worker.stop()
    client.close()
    store.close()
