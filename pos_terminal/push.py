"""Pushing the outbox so that no event holds up the others, and none is given up on for the
back office's own failures.

Events go in sequence order, in batches; a batch the back office cannot take as a whole is
sent again one event at a time. An event it refuses outright (the request is invalid or too
large: 400, 413, 422) is set aside here as rejected. One it fails on (a server error, no
answer, an unreadable answer) stays pending with all its data and is retried with back-off,
while the events behind it go on — all but those that touch what it touches (`touches`):
they wait for it, so that the back office still gets related events in the terminal's order."""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pos_terminal import outbox
from pos_terminal.services.errors import BackOfficeRefused, Offline
from shared.sync import EventResult, EventStatus, EventType, RejectReason

log = logging.getLogger(__name__)

# Answers that refuse a push for what it carries: malformed, too large, unprocessable.
REFUSED_AS_CONTENT = frozenset({400, 413, 422})
# Events failed on in a row, nothing answered between them: the back office is in trouble.
GIVE_UP_AFTER = 3


class ServerFailed(Offline):
    """The back office was reached but gave no usable answer: a server error, the connection
    lost before the answer, or something unreadable. The events stay pending."""


class PushFailed(ServerFailed):
    """The back office failed on every event it was sent and answered none: it may be down,
    or those events may be what it fails on. Something else it answers (a pull) tells which;
    then the walk's `unproven` failures are noted, to be retried with back-off."""

    def __init__(self, message: str, walk: "Walk") -> None:
        super().__init__(message)
        self.walk = walk


@dataclass(frozen=True)
class PushSummary:
    sent: int = 0
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    failed: int = 0  # the back office failed on them: pending, retried with back-off
    waiting: int = 0  # not sent: their retry is not due, or they wait for an event that is
    left: int = 0  # still pending afterwards


@dataclass(frozen=True)
class Failed:
    event: outbox.OutboxEvent
    why: str


def wire(event: outbox.OutboxEvent) -> dict[str, object]:
    """An event as stored, for the push: not validated here (the back office checks it), so
    that one this terminal cannot read back as valid still reaches the office, which files it
    for reconciliation."""
    return {
        "id": event.id,
        "seq": event.seq,
        "type": event.type.value,
        "occurred_at": event.occurred_at.isoformat(),
        "payload": event.payload,
    }


def about_the_events(failure: Exception) -> bool:
    """Whether a failed push may be the fault of what it carried: a server error, an unreadable
    answer, or the request refused as invalid or too large. Not an expired credential, a
    suspended dealer or a rate limit: those hold for any event."""
    if isinstance(failure, ServerFailed):
        return True
    return isinstance(failure, BackOfficeRefused) and failure.status_code in REFUSED_AS_CONTENT


# --- what must stay in order ------------------------------------------------------------------

SHELF = "shelf"


def touches(event: outbox.OutboxEvent) -> dict[str, bool] | None:
    """What the event reads or changes at the back office, each key with whether it changes it
    (True) or only relies on it (False). Two events are applied in the terminal's order when
    one changes something the other touches; events that only rely on the same thing (the
    sales of one shift) may pass each other. None: it cannot be told (an event stored
    unreadable), so it keeps its place against every other event.

    - a sale takes its items and its receipt number, in its shift: after the shift's opening,
      before its closing, before a return of that receipt or a later act on those items;
    - a return puts items back, relying on the sale of its receipt;
    - a delivery received, items sent back: their items (and the delivery's document);
    - a stock count compares the whole shelf, so it keeps its place against every act on items;
    - opening and closing a shift change it; cash in and out rely on it being open."""
    payload = event.payload
    try:
        keys: dict[str, bool] = {}
        match event.type:
            case EventType.sale:
                keys |= {_key("item", line["item"]): True for line in payload["lines"]}
                keys[_key("receipt", payload["receipt_no"])] = True
                if payload.get("shift_id") is not None:
                    keys[_key("shift", payload["shift_id"])] = False
                keys[SHELF] = False
            case EventType.sale_return:
                keys |= {_key("item", item): True for item in payload["items"]}
                keys[_key("receipt", payload["original_receipt_no"])] = False
                # Without its shift (an older terminal's), the back office books it in the
                # shift open at the time: then it cannot be told, and keeps its place.
                keys[_key("shift", payload["shift_id"])] = False
                keys[SHELF] = False
            case EventType.stock_receipt | EventType.stock_out:
                keys |= {_key("item", item): True for item in payload["items"]}
                if event.type == EventType.stock_receipt:
                    keys[_key("document", payload["document_number"])] = True
                keys[SHELF] = False
            case EventType.stock_count:
                keys[SHELF] = True
            case EventType.shift_open | EventType.shift_close:
                keys[_key("shift", payload["shift_id"])] = True
            case EventType.cash_in | EventType.cash_out:
                keys[_key("shift", payload["shift_id"])] = False
            case _:
                return None
    except (KeyError, TypeError):
        return None
    return keys


def _key(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{kind}: {type(value).__name__}")
    return f"{kind}:{value.upper() if kind == 'receipt' else value}"


@dataclass
class Held:
    """What the events left behind in this push touch: a later event touching the same thing
    is left behind too (and what it touches with it)."""

    keys: dict[str, bool] = field(default_factory=dict)
    everything: bool = False

    def blocks(self, event: outbox.OutboxEvent) -> bool:
        if self.everything:
            return True
        if not self.keys:
            return False
        mine = touches(event)
        if mine is None:
            return bool(self.keys)
        return any(
            key in self.keys and (changes or self.keys[key]) for key, changes in mine.items()
        )

    def add(self, event: outbox.OutboxEvent) -> None:
        mine = touches(event)
        if mine is None:
            self.everything = True
            return
        for key, changes in mine.items():
            self.keys[key] = self.keys.get(key, False) or changes


# --- one push ---------------------------------------------------------------------------------

Send = Callable[[list[outbox.OutboxEvent]], list[EventResult]]
Keep = Callable[[list[EventResult], bool], None]  # answers, whether they are the office's
Note = Callable[[list[Failed]], None]


@dataclass
class Walk:
    """One push: every pending event once, in sequence order. Failures are noted against an
    event (and its retry put off) only once the back office has answered something in this
    push, which shows that it works and that it is the event it fails on."""

    send: Send
    keep: Keep
    note: Note
    now: datetime
    batch: int
    held: Held = field(default_factory=Held)
    results: list[EventResult] = field(default_factory=list)
    sent: set[int] = field(default_factory=set)
    failed: list[Failed] = field(default_factory=list)
    unproven: list[Failed] = field(default_factory=list)
    waiting: int = 0
    proven: bool = False
    in_a_row: int = 0

    def through(self, pages: Iterable[list[outbox.OutboxEvent]]) -> None:
        run: list[outbox.OutboxEvent] = []
        for page in pages:
            for event in page:
                if self._waits(event):
                    continue
                if event.failures:
                    # Failed on before: alone, so that a new failure is its own, and after
                    # the events before it, so that the order stays.
                    self._flush(run)
                    run = []
                    if not self._waits(event):
                        self._alone(event)
                    continue
                run.append(event)
                if len(run) >= self.batch:
                    self._flush(run)
                    run = []
        self._flush(run)
        if self.unproven:
            raise PushFailed(
                f"back office failed on every event it was sent: {self.unproven[-1].why}", self
            )

    def summary(self, left: int) -> PushSummary:
        counts = {status: sum(r.status == status for r in self.results) for status in EventStatus}
        return PushSummary(
            sent=len(self.sent),
            accepted=counts[EventStatus.accepted],
            duplicate=counts[EventStatus.duplicate],
            rejected=counts[EventStatus.rejected],
            failed=len(self.failed),
            waiting=self.waiting,
            left=left,
        )

    def _waits(self, event: outbox.OutboxEvent) -> bool:
        """Whether the event is left for later: its retry is not due yet, or it touches what
        an event left behind touches."""
        due = event.retry_at is None or event.retry_at <= self.now
        if due and not self.held.blocks(event):
            return False
        self.held.add(event)
        self.waiting += 1
        return True

    def _send(self, events: list[outbox.OutboxEvent]) -> list[EventResult]:
        self.sent.update(e.seq for e in events)
        return self.send(events)

    def _flush(self, run: list[outbox.OutboxEvent]) -> None:
        if len(run) <= 1:
            for event in run:
                self._alone(event)
            return
        try:
            answered = self._send(run)
        except (ServerFailed, BackOfficeRefused) as failure:
            if not about_the_events(failure):
                raise
            log.warning(
                "a batch of %d events failed (%s); sending them one by one", len(run), failure
            )
            for event in run:
                if not self._waits(event):
                    self._alone(event)
            return
        self._answered(answered, from_office=True)

    def _alone(self, event: outbox.OutboxEvent) -> None:
        try:
            answered = self._send([event])
        except BackOfficeRefused as refused:
            if refused.status_code not in REFUSED_AS_CONTENT:
                raise
            self._answered([set_aside(event, refused)], from_office=False)
        except ServerFailed as failure:
            self._failed(event, failure)
        else:
            self._answered(answered, from_office=True)

    def _answered(self, results: list[EventResult], *, from_office: bool) -> None:
        self.keep(results, from_office)
        self.results += results
        self.in_a_row = 0
        if not self.proven:
            self.proven = True
            if self.unproven:
                self.note(self.unproven)
                self.unproven = []

    def _failed(self, event: outbox.OutboxEvent, failure: Exception) -> None:
        self.held.add(event)
        why = str(failure)[:500]
        log.warning("event %s (seq %s) kept to retry: %s", event.id, event.seq, why)
        failed = Failed(event, why)
        self.failed.append(failed)
        if self.proven:
            self.note([failed])
        else:
            self.unproven.append(failed)
        self.in_a_row += 1
        if self.in_a_row >= GIVE_UP_AFTER:
            if self.unproven:
                raise PushFailed(
                    f"back office failed on {self.in_a_row} events in a row: {why}", self
                )
            raise ServerFailed(f"back office failed on {self.in_a_row} events in a row: {why}")


def set_aside(event: outbox.OutboxEvent, refused: BackOfficeRefused) -> EventResult:
    """An event the back office refuses outright, as a rejection: the clerk and the manager
    see it with the reason, and the queue moves on."""
    why = refused.message or str(refused)
    log.error("event %s (seq %s) set aside: %s", event.id, event.seq, why)
    return EventResult(
        id=event.id,
        seq=event.seq,
        status=EventStatus.rejected,
        reason=RejectReason.malformed_event,
        message=f"the back office could not take this event: {why}"[:500],
    )
