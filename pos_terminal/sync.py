"""The sync client: pushes the outbox in order, pulls stock, prices, grades, clerks and dealer
status with a cursor, reserves numbers, and keeps trying with back-off while offline."""

import json
import logging
import math
import random
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from pos_terminal import outbox
from pos_terminal.push import Failed, PushFailed, PushSummary, ServerFailed, Walk, wire
from pos_terminal.services.errors import BackOfficeRefused, Busy, Offline
from pos_terminal.services.terminal import (
    DEALER,
    LAST_PULL_AT,
    LAST_PUSH_AT,
    OUTLET,
    OVERRIDE_CAPS,
    PRICE_LIST_VERSION,
    PULL_CURSOR,
)
from pos_terminal.store import Store, set_meta, to_text
from shared.sync import (
    MAX_EVENTS_PER_PUSH,
    ApprovalGranted,
    ApprovalRequest,
    EventResult,
    EventStatus,
    PullResponse,
    PushRequest,
    PushResponse,
    Reservation,
    ReserveRequest,
)

log = logging.getLogger(__name__)

PUSH_PATH = "/api/v1/sync/push"
PULL_PATH = "/api/v1/sync/pull"
RESERVE_PATH = "/api/v1/sync/reservations"
APPROVAL_PATH = "/api/v1/sync/approvals"
DEALER_SUSPENDED = "dealer_suspended"
# Failures before a request reaches the back office; any later one may be about the request.
UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)

M = TypeVar("M", bound=BaseModel)
# The longest a terminal waits after "busy" answers in a row (the office's own Retry-After
# is never cut short).
MAX_BUSY_DELAY_SECONDS = 300.0


def _retry_after(reply: httpx.Response) -> float | None:
    """The Retry-After of an answer in seconds (the HTTP-date form is not used here)."""
    value = reply.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def busy_delay(retry_after: float, times: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the back office answered "busy" `times` times in a row: never
    sooner than its Retry-After, a quarter longer each further time (up to
    MAX_BUSY_DELAY_SECONDS), and spread at random over up to half as long again, so that a
    herd of terminals turned away together does not come back together."""
    grown = max(1.0, retry_after) * 1.25 ** min(max(times, 1) - 1, 24)
    base = max(retry_after, min(MAX_BUSY_DELAY_SECONDS, grown))
    return base * (1.0 + (rng or random).random() / 2)


def _parse(model: type[M], body: object, what: str) -> M:
    """An answer this terminal cannot read counts as no answer: Offline, try again later."""
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise Offline(f"back office sent a malformed {what} answer: {error}") from error


@dataclass(frozen=True)
class PullSummary:
    full: bool
    stock_changes: int
    price_list_version: int
    clerks: int
    dealer_status: str
    resolutions: int = 0  # rejected events the sales centre decided on


class SyncClient:
    """Speaks to the back office over HTTP with the terminal's device credential.

    Network failures and 5xx answers raise Offline (try again later): ServerFailed when the
    back office was reached but gave no usable answer. Other error answers raise
    BackOfficeRefused with the back office's stable error code.

    An event the back office fails on is sent again after `retry_first` seconds, then twice
    as long each time, up to `retry_max`."""

    def __init__(
        self,
        store: Store,
        base_url: str,
        credential: str,
        *,
        batch: int = 200,
        timeout: float = 10.0,
        retry_first: float = 10.0,
        retry_max: float = 300.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.store = store
        self.batch = max(1, min(batch, MAX_EVENTS_PER_PUSH))
        self.retry_first = max(0.0, retry_first)
        self.retry_max = max(self.retry_first, retry_max)
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {credential}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            reply = self.http.request(method, path, **kwargs)
        except UNREACHABLE as error:
            raise Offline(f"back office unreachable: {error}") from error
        except httpx.TransportError as error:
            # Sent, but the answer never came (a reset, a timeout): it may be about the request.
            raise ServerFailed(f"back office gave no answer: {error!r}") from error
        if reply.status_code == 503 and (wait := _retry_after(reply)) is not None:
            raise Busy(f"back office busy, asked to call again in {wait:.0f} s", wait)
        if reply.status_code >= 500:
            raise ServerFailed(f"back office error {reply.status_code}")
        if reply.status_code >= 400:
            try:
                body = reply.json()
            except json.JSONDecodeError:
                body = {}
            code = body.get("code", f"http_{reply.status_code}") if isinstance(body, dict) else ""
            message = body.get("message", reply.text) if isinstance(body, dict) else reply.text
            raise BackOfficeRefused(str(code), str(message)[:500], reply.status_code)
        try:
            return reply.json()
        except json.JSONDecodeError as error:
            # Something between us and the office (a captive portal, a proxy) answered.
            raise Offline(f"{path} answered with something other than JSON") from error

    # --- push ------------------------------------------------------------------------------

    def _send(self, events: list[outbox.OutboxEvent]) -> list[EventResult]:
        """Posts events and returns the answers that are about them. Raises ServerFailed when
        the back office failed on them, BackOfficeRefused when it refused the request."""
        # Sent as stored: an event this terminal cannot read back as valid still reaches the
        # back office, which files it for reconciliation instead of it blocking the queue.
        request = PushRequest(events=[wire(e) for e in events])
        body = self._call(
            "POST",
            PUSH_PATH,
            content=request.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        try:
            response = PushResponse.model_validate(body)
        except ValidationError as error:
            raise ServerFailed(f"back office sent a malformed push answer: {error}") from error
        sent = {(e.id, e.seq) for e in events}
        return [r for r in response.results if (r.id, r.seq) in sent]

    def _store(self, results: list[EventResult], from_office: bool = True) -> None:
        outbox.store_results(self.store, results, from_office=from_office)
        for result in results:
            if result.status == EventStatus.rejected:
                log.warning(
                    "event %s (seq %s) rejected: %s %s",
                    result.id,
                    result.seq,
                    result.reason,
                    result.message,
                )

    def _send_noted(self, events: list[outbox.OutboxEvent]) -> list[EventResult]:
        outbox.note_attempt(self.store, [e.seq for e in events])
        return self._send(events)

    def _pending(self) -> Iterator[list[outbox.OutboxEvent]]:
        """The pending events in sequence order, a batch at a time, read as the push goes:
        events recorded meanwhile are included."""
        after = 0
        while page := outbox.pending_events(self.store, self.batch, after):
            yield page
            after = page[-1].seq

    def push(self) -> PushSummary:
        """Sends every pending event once (push.py): in order and in batches; one the back
        office fails on is kept, to be retried, and does not hold up the events behind it
        unless they touch what it touches. Raises PushFailed when the back office failed on
        everything it was sent and answered nothing."""
        walk = Walk(
            send=self._send_noted,
            keep=self._store,
            note=self.note_failures,
            now=self.store.now(),
            batch=self.batch,
        )
        walk.through(self._pending())
        if walk.sent:
            with self.store.write() as conn:
                set_meta(conn, LAST_PUSH_AT, to_text(self.store.now()))
        return walk.summary(left=outbox.backlog(self.store))

    def note_failures(self, failed: list[Failed]) -> None:
        """Events the back office failed on, while it works: pending still, sent again after
        a back-off that doubles with each failure."""
        outbox.note_failures(
            self.store, [(f.event, f.why, self.retry_delay(f.event.failures + 1)) for f in failed]
        )

    def retry_delay(self, failures: int) -> timedelta:
        seconds = min(self.retry_max, self.retry_first * 2 ** min(failures - 1, 30))
        return timedelta(seconds=seconds)

    # --- pull ------------------------------------------------------------------------------

    def pull(self) -> PullSummary:
        """Fetches what changed since the stored cursor and applies it in one transaction."""
        cursor = self.store.get_meta(PULL_CURSOR)
        params = {"since": cursor} if cursor else {}
        try:
            body = self._call("GET", PULL_PATH, params=params)
        except BackOfficeRefused as refused:
            if refused.code == DEALER_SUSPENDED:
                # A suspended dealer's terminals get no pull at all: the refusal is the news.
                _note_dealer_status(self.store, "suspended")
            raise
        return apply_pull(self.store, _parse(PullResponse, body, "pull"))

    # --- reservations ----------------------------------------------------------------------

    def reserve(self, msisdn: str, clerk: str) -> Reservation:
        request = ReserveRequest(msisdn=msisdn, clerk=clerk)
        body = self._call(
            "POST",
            RESERVE_PATH,
            content=request.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        return _parse(Reservation, body, "reservation")

    def cancel_reservation(self, reservation_id: str) -> None:
        self._call("DELETE", f"{RESERVE_PATH}/{reservation_id}")

    # --- override approvals ----------------------------------------------------------------

    def approve_override(self, request: ApprovalRequest) -> ApprovalGranted:
        """The back office's signed approval of a price override (it checks the manager's
        PIN); BackOfficeRefused with its reason, Offline when unreachable."""
        body = self._call(
            "POST",
            APPROVAL_PATH,
            content=request.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )
        return _parse(ApprovalGranted, body, "approval")

    def sync_once(self) -> tuple[PushSummary, PullSummary]:
        """Push first, so the pull already reflects this terminal's own acts. When the push
        got nothing through, the pull tells why: if the back office answers it, it is the
        events sent that it fails on; they are noted, to be retried with back-off, and the
        events behind them go next time. If not, it is down: nothing is noted."""
        try:
            pushed = self.push()
        except PushFailed as failed:
            pulled = self.pull()
            self.note_failures(failed.walk.unproven)
            return failed.walk.summary(left=outbox.backlog(self.store)), pulled
        return pushed, self.pull()


def _note_dealer_status(store: Store, status: str) -> None:
    with store.write() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (DEALER,)).fetchone()
        dealer = json.loads(row[0]) if row else {}
        dealer["status"] = status
        set_meta(conn, DEALER, json.dumps(dealer, ensure_ascii=False))


def apply_pull(store: Store, response: PullResponse) -> PullSummary:
    """Applies a pull. Items with a local act the back office has not answered keep their
    local status: the pull may predate that act."""
    now = to_text(store.now())
    with store.write() as conn:
        set_meta(conn, OUTLET, response.outlet.model_dump_json())
        set_meta(conn, DEALER, response.dealer.model_dump_json())
        set_meta(conn, PRICE_LIST_VERSION, str(response.price_list.version))
        caps = response.override_caps
        set_meta(conn, OVERRIDE_CAPS, caps.model_dump_json() if caps is not None else "")
        set_meta(conn, PULL_CURSOR, response.cursor)
        set_meta(conn, LAST_PULL_AT, now)
        conn.execute("DELETE FROM prices")
        conn.executemany(
            "INSERT INTO prices (product, retail_fen, dealer_fen) VALUES (?, ?, ?)",
            [(p.product, p.retail_fen, p.dealer_fen) for p in response.price_list.prices],
        )
        conn.execute("DELETE FROM grades")
        conn.executemany(
            "INSERT INTO grades (code, name, rank, selection_fee_fen, prestore_fen, "
            "min_monthly_fen, lockin_months) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    g.code,
                    g.name,
                    g.rank,
                    g.selection_fee_fen,
                    g.prestore_fen,
                    g.min_monthly_fen,
                    g.lockin_months,
                )
                for g in response.grades
            ],
        )
        _apply_clerks(conn, response)
        changes = _apply_stock(conn, response, now)
        settled = outbox.store_resolutions(conn, response.resolutions)
    for decision in response.resolutions:
        # The kind only: the sales centre's note stays in the terminal's database.
        log.info(
            "event %s (seq %s) resolved by the back office: %s",
            decision.id,
            decision.seq,
            decision.kind.value,
        )
    return PullSummary(
        full=response.full,
        stock_changes=changes,
        price_list_version=response.price_list.version,
        clerks=len(response.clerks),
        dealer_status=response.dealer.status,
        resolutions=settled,
    )


def _apply_clerks(conn: sqlite3.Connection, response: PullResponse) -> None:
    # The list is complete: a clerk who left must not log in offline with an old verifier.
    names = [c.username for c in response.clerks]
    conn.execute(f"DELETE FROM clerks WHERE username NOT IN ({','.join('?' * len(names))})", names)
    conn.executemany(
        "INSERT INTO clerks (username, full_name, role, pin_verifier) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (username) DO UPDATE SET full_name = excluded.full_name, "
        "role = excluded.role, pin_verifier = excluded.pin_verifier, pin_hash = NULL",
        [(c.username, c.full_name, c.role, c.pin_verifier) for c in response.clerks],
    )


def _apply_stock(conn: sqlite3.Connection, response: PullResponse, now: str) -> int:
    if response.full:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS pulled (item TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM pulled")
        conn.executemany(
            "INSERT OR IGNORE INTO pulled (item) VALUES (?)",
            [(s.item,) for s in response.stock if s.in_outlet],
        )
        conn.execute(
            "DELETE FROM stock WHERE local_seq IS NULL AND item NOT IN (SELECT item FROM pulled)"
        )
        conn.execute("DELETE FROM pulled")
    gone = [(s.item,) for s in response.stock if not s.in_outlet]
    conn.executemany("DELETE FROM stock WHERE item = ? AND local_seq IS NULL", gone)
    here = [s for s in response.stock if s.in_outlet]
    conn.executemany(
        "INSERT INTO stock (item, item_kind, product, status, iccid, document_number, item_rev, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (item) DO UPDATE SET item_kind = excluded.item_kind, "
        "product = excluded.product, status = excluded.status, iccid = excluded.iccid, "
        "document_number = excluded.document_number, updated_at = excluded.updated_at "
        "WHERE stock.local_seq IS NULL",
        [
            (
                s.item,
                s.item_kind,
                s.product,
                s.status,
                s.iccid,
                s.document_number,
                s.item[::-1],
                now,
            )
            for s in here
        ],
    )
    return len(response.stock)


class SyncWorker:
    """Runs sync cycles in a background thread: every `interval` seconds, at once after
    wake(), and after a failure with exponential back-off up to `max_backoff` seconds."""

    def __init__(
        self,
        client: SyncClient,
        *,
        interval: float = 5.0,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
        on_change: Callable[["SyncState"], None] | None = None,
    ) -> None:
        self.client = client
        self.interval = interval
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.on_change = on_change
        self.failures = 0
        self.busy_times = 0  # "busy" answers in a row
        self.busy_wait = 0.0
        self.state = SyncState(
            online=False,
            backlog=outbox.backlog(client.store),
            last_error=None,
            last_success=None,
            retrying=outbox.retrying(client.store),
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def delay(self) -> float:
        """Seconds until the next cycle: the interval, the back-off after failures, or what
        a busy back office asked for (with jitter: busy_delay)."""
        if self.busy_times:
            return self.busy_wait
        if self.failures == 0:
            return self.interval
        return min(self.max_backoff, self.base_backoff * 2 ** (self.failures - 1))

    def run_once(self) -> "SyncState":
        """One cycle; never raises for network trouble, which is the normal offline case."""
        try:
            self.client.sync_once()
        except Busy as busy:
            self.busy_times += 1
            self.busy_wait = busy_delay(busy.retry_after, self.busy_times)
            self.state = SyncState(
                online=True,
                backlog=outbox.backlog(self.client.store),
                last_error=str(busy),
                last_success=self.state.last_success,
                unseen_rejections=_unseen(self.client.store),
                retrying=outbox.retrying(self.client.store),
            )
        except (Offline, BackOfficeRefused) as error:
            self.busy_times = 0
            self.failures += 1
            self.state = SyncState(
                online=isinstance(error, BackOfficeRefused),
                backlog=outbox.backlog(self.client.store),
                last_error=str(error),
                last_success=self.state.last_success,
                unseen_rejections=_unseen(self.client.store),
                retrying=outbox.retrying(self.client.store),
            )
        else:
            self.failures = self.busy_times = 0
            self.state = SyncState(
                online=True,
                backlog=outbox.backlog(self.client.store),
                last_error=None,
                last_success=self.client.store.now(),
                unseen_rejections=_unseen(self.client.store),
                retrying=outbox.retrying(self.client.store),
            )
        self._publish()
        return self.state

    def _publish(self) -> None:
        if self.on_change is not None:
            self.on_change(self.state)

    def wake(self) -> None:
        """Sync now (after a sale), without waiting for the interval."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="haoka-sync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as error:
                # A bug or a locked database must not silently end syncing for the day.
                log.exception("sync cycle failed")
                self.failures += 1
                self.state = SyncState(
                    online=self.state.online,
                    backlog=self.state.backlog,
                    last_error=f"sync failed: {error}",
                    last_success=self.state.last_success,
                    unseen_rejections=self.state.unseen_rejections,
                    retrying=self.state.retrying,
                )
                # The status bar shows it: the clerk knows sales are not reaching the office.
                try:
                    self._publish()
                except Exception:
                    log.exception("status update failed")
            if self.busy_times:
                # A busy office asked for this pause: a sale in the meantime does not cut it
                # short (it would bring the whole herd back at once).
                self._stop.wait(self.delay())
            else:
                self._wake.wait(self.delay())
            self._wake.clear()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)


@dataclass(frozen=True)
class SyncState:
    """For the status bar: connection, events waiting, the last problem."""

    online: bool
    backlog: int
    last_error: str | None
    last_success: datetime | None
    unseen_rejections: int = 0  # rejected events no manager has acknowledged yet
    retrying: int = 0  # waiting events the back office failed on, being retried


def _unseen(store: Store) -> int:
    return len(outbox.unacknowledged_rejections(store))
