"""A herd of terminals at an office process of tiny capacity (4 threads, 2 connections):
pushes and pulls at once, over real HTTP. Without admission control the requests that hold a
connection between their authentication and their route wait for a thread while every thread
waits for a connection, and nothing moves until the pool's timeout (then 500s). With it every
request is answered at once or turned away with 503 and Retry-After, and every event gets in."""

import threading
import time
from random import Random

import httpx
from sqlmodel import Session, func, select

from backoffice.api.admission import Admission, Capacity
from backoffice.core.config import Settings
from backoffice.models import MobileNumber, SyncEvent
from pos_terminal.sync import busy_delay
from shared.sync import PushRequest
from tests.backoffice.channel.helpers import (
    channel,
    pool,
    sale_event,
    second_terminal,
    stocked_numbers,
)
from tests.pos_terminal.office import OfficeServer

TERMINALS = 8
CLIENTS_PER_TERMINAL = 4
SALES_PER_TERMINAL = 3


def test_capacity_lets_in_no_more_than_threads_and_half_the_connections() -> None:
    def capacity(**changes: object) -> Capacity:
        return Capacity.of(Settings(database_url="sqlite://", **changes))  # type: ignore[arg-type]

    default = capacity()
    assert (default.threads, default.connections) == (40, 30)
    assert default.requests == 15 and default.pushes == 4
    # Asking for more than is safe gets what is safe.
    asked = capacity(max_requests_in_flight=100, max_pushes_in_flight=100)
    assert (asked.requests, asked.pushes) == (15, 11)
    assert capacity(worker_threads=4, db_pool_size=2, db_max_overflow=0).requests == 1
    assert capacity(worker_threads=8, db_pool_size=50, db_max_overflow=0).requests == 8


def test_each_push_turned_away_is_told_to_come_back_a_little_later() -> None:
    admission = Admission(lambda *_: None, Settings(database_url="sqlite://"))  # type: ignore[arg-type]
    admission.push_seconds = 0.5
    assert admission.retry_after(100.0, queued=0) == 1
    told = []
    for _ in range(200):
        seconds = admission.retry_after(100.0, queued=0)
        told.append(seconds)
        admission.turned_away.append(100.0 + seconds)
    # 200 pushes ahead, 4 at a time, half a second each, less the 64 that fit the queue:
    # the last is told 17 s.
    assert told == sorted(told) and told[0] == 1 and told[-1] == 17
    # Once they are due back they no longer count.
    assert admission.retry_after(118.0, queued=0) == 1


def test_a_herd_of_pushes_and_pulls_never_deadlocks(settings: Settings, session: Session) -> None:
    pool(session)
    first = channel(session)
    shops = [first] + [second_terminal(session, first) for _ in range(TERMINALS - 1)]
    items = stocked_numbers(session, first.outlet_code, TERMINALS * SALES_PER_TERMINAL)
    bodies = {
        shop.credential: PushRequest(
            events=[
                sale_event(shop.terminal_no, seq, [("number", item, 5_000)])
                for seq, item in enumerate(
                    items[t * SALES_PER_TERMINAL : (t + 1) * SALES_PER_TERMINAL], start=1
                )
            ]
        ).model_dump_json()
        for t, shop in enumerate(shops)
    }
    tiny = settings.model_copy(
        update={
            "worker_threads": 4,
            "db_pool_size": 2,
            "db_max_overflow": 0,
            "db_pool_timeout_seconds": 5.0,
            "push_queue_seconds": 0.2,
            "request_queue_seconds": 30.0,
        }
    )
    office = OfficeServer(tiny)
    office.start()
    answers: list[tuple[str, int, float, str | None]] = []
    lock = threading.Lock()
    start = threading.Barrier(TERMINALS * CLIENTS_PER_TERMINAL)

    def terminal(credential: str, body: str, seed: int) -> None:
        rng = Random(seed)
        headers = {"Authorization": f"Bearer {credential}", "Content-Type": "application/json"}
        with httpx.Client(base_url=office.url, timeout=60) as http:
            start.wait()
            for busy in range(1, 100):
                began = time.monotonic()
                reply = http.post("/api/v1/sync/push", content=body, headers=headers)
                took = time.monotonic() - began
                after = reply.headers.get("Retry-After")
                with lock:
                    answers.append(("push", reply.status_code, took, after))
                if reply.status_code != 503:
                    break
                time.sleep(busy_delay(float(after or 0), busy, rng))
            began = time.monotonic()
            reply = http.get("/api/v1/sync/pull", headers=headers)
            with lock:
                answers.append(("pull", reply.status_code, time.monotonic() - began, None))

    threads = [
        threading.Thread(target=terminal, args=(credential, body, n * 100 + k))
        for n, (credential, body) in enumerate(bodies.items())
        for k in range(CLIENTS_PER_TERMINAL)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        office.stop()
    statuses = {(kind, status) for kind, status, _, _ in answers}
    assert statuses <= {("push", 200), ("push", 503), ("pull", 200)}, answers
    # Every client's push got in (none failed on the pool's timeout), and each turning away
    # said when to come back.
    assert sum(1 for kind, status, _, _ in answers if (kind, status) == ("push", 200)) == len(
        threads
    )
    assert all(int(after) >= 1 for _, status, _, after in answers if status == 503)
    session.expire_all()
    sold = session.exec(
        select(func.count()).select_from(MobileNumber).where(MobileNumber.status == "sold")
    ).one()
    stored = session.exec(select(func.count()).select_from(SyncEvent)).one()
    assert (sold, stored) == (len(items), len(items))
