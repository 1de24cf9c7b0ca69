"""Admission control: how many requests one office process works on at once.

Why a bound, and why this one. A route's database work runs on the thread pool (FastAPI
runs plain `def` routes and dependencies there), and a request may hold a pooled database
connection between two of its steps (its authentication, then its route), waiting for a
thread in between. Were every thread taken by requests waiting for a connection while every
connection was held by requests waiting for a thread, nothing would move until the pool's
timeout: a province's terminals pushing their backlogs at once did exactly that. Letting in
at most

    A <= worker threads            and   A <= connections // 2

requests makes it impossible: a request that waits for a thread leaves fewer than A - 1
threads to the others, so one is free (work that uses no connection, such as a static
file, ends by itself); and a request holds two connections at most at any moment (its
session, and the log-in limiter's counter), so 2·A connections never run short. Beyond A,
requests wait here, in the event loop, holding neither.

Pushes get a bound of their own below A, so that a herd of terminals leaves room for the
people using the office. A push past it waits `push_queue_seconds` at most, in a queue of
`push_queue_length` (so that the office always has the next push at hand), and is otherwise
answered 503 with a Retry-After estimated from the work in hand and the terminals recently
turned away (so that a herd spreads itself over the time the office needs for it); the
terminal honours it with jitter (pos_terminal/sync.py `busy_delay`). Other requests wait
up to `request_queue_seconds`, then get the same answer."""

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from backoffice.core.config import Settings

PUSH_PATH = "/api/v1/sync/push"
# What never touches the database: always let through.
_FREE = ("/static/", "/healthz")
MAX_RETRY_AFTER_SECONDS = 60
# Pushes worked on at once by one process, unless set: a push is mostly Python, waiting on
# the database now and then, so a few keep a core and the database busy; more only make
# each one slower (they share one interpreter lock).
DEFAULT_PUSHES = 4


@dataclass(frozen=True)
class Capacity:
    threads: int
    connections: int
    requests: int
    pushes: int

    @classmethod
    def of(cls, settings: Settings) -> "Capacity":
        connections = settings.db_pool_size + settings.db_max_overflow
        safe = max(1, min(settings.worker_threads, connections // 2))
        requests = min(settings.max_requests_in_flight or safe, safe)
        pushes = min(settings.max_pushes_in_flight or DEFAULT_PUSHES, requests * 3 // 4 or 1)
        return cls(settings.worker_threads, connections, requests, pushes)


class _Gate:
    """Slots with a queue of at most `queue` waiting: `enter` waits up to `wait` seconds for
    a slot, False if none came or the queue was full."""

    def __init__(self, slots: int, queue: int) -> None:
        self.slots = asyncio.Semaphore(slots)
        self.queue = queue
        self.waiting = 0

    async def enter(self, wait: float) -> bool:
        if not self.slots.locked():
            await self.slots.acquire()
            return True
        if wait <= 0 or self.waiting >= self.queue:
            return False
        self.waiting += 1
        try:
            await asyncio.wait_for(self.slots.acquire(), wait)
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        return True

    def leave(self) -> None:
        self.slots.release()


class Admission:
    """ASGI middleware: the bounds above, per process."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.capacity = Capacity.of(settings)
        self.push_wait = settings.push_queue_seconds
        self.push_queue = settings.push_queue_length or 16 * self.capacity.pushes
        self.request_wait = settings.request_queue_seconds
        self._requests: _Gate | None = None
        self._pushes: _Gate | None = None
        self.in_flight_pushes = 0
        # Mean seconds a push takes once let in (exponentially weighted), and when the
        # pushes turned away are expected back, in order.
        self.push_seconds = 0.05
        self.turned_away: deque[float] = deque()

    def _gates(self) -> tuple[_Gate, _Gate]:
        # Made on the first request, inside the server's event loop.
        if self._requests is None or self._pushes is None:
            # Anything but pushes may queue without bound (people, not a herd); pushes as
            # many as keep the office busy while the others are told when to come back.
            self._requests = _Gate(self.capacity.requests, queue=1_000_000)
            self._pushes = _Gate(self.capacity.pushes, queue=self.push_queue)
        return self._requests, self._pushes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_FREE):
            await self.app(scope, receive, send)
            return
        requests, pushes = self._gates()
        is_push = scope["path"] == PUSH_PATH
        if is_push and not await pushes.enter(self.push_wait):
            await self._busy(scope, receive, send, pushes)
            return
        if not await requests.enter(self.push_wait if is_push else self.request_wait):
            if is_push:
                pushes.leave()
            await self._busy(scope, receive, send, requests)
            return
        started = time.monotonic()
        if is_push:
            self.in_flight_pushes += 1
        try:
            await self.app(scope, receive, send)
        finally:
            requests.leave()
            if is_push:
                self.in_flight_pushes -= 1
                pushes.leave()
                took = time.monotonic() - started
                self.push_seconds = 0.9 * self.push_seconds + 0.1 * took

    def retry_after(self, now: float, queued: int) -> int:
        """Seconds until the office is likely to have room for this push in its queue: the
        pushes in hand, those waiting, and those turned away that have not come back yet,
        served `pushes` at a time at the recent pace. Each push turned away joins that
        virtual queue, so the next one is told a little later: a herd is spread over the
        time it needs."""
        while self.turned_away and self.turned_away[0] <= now:
            self.turned_away.popleft()
        ahead = self.in_flight_pushes + queued + len(self.turned_away)
        # Back when there is room in the queue, not when served: the queue keeps the
        # office busy meanwhile.
        estimate = max(0, ahead + 1 - self.push_queue) * self.push_seconds / self.capacity.pushes
        return max(1, min(MAX_RETRY_AFTER_SECONDS, math.ceil(estimate)))

    async def _busy(self, scope: Scope, receive: Receive, send: Send, gate: _Gate) -> None:
        now = time.monotonic()
        seconds = self.retry_after(now, gate.waiting)
        # Expected back then (the deque stays in order: a later push is told no sooner).
        self.turned_away.append(max(now + seconds, self.turned_away[-1] if self.turned_away else 0))
        answer = JSONResponse(
            {
                "code": "busy",
                "message": f"the back office is busy; try again in {seconds} s",
                "retry_after": seconds,
            },
            status_code=503,
            headers={"Retry-After": str(seconds)},
        )
        await answer(scope, receive, send)
