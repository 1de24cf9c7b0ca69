"""Pushing past an event the back office cannot take: the events as sent, how a failed push
is told apart from an unreachable office, and the one-at-a-time fallback that sets such an
event aside so that it never holds up the others."""

import logging
from collections.abc import Callable

from pos_terminal import outbox
from pos_terminal.services.errors import BackOfficeRefused, Offline
from shared.sync import EventResult, EventStatus, RejectReason

log = logging.getLogger(__name__)

# Answers that refuse a push for what it carries: malformed, too large, unprocessable.
REFUSED_AS_CONTENT = frozenset({400, 413, 422})


class ServerFailed(Offline):
    """The back office answered, but with a server error or something unreadable."""


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


Send = Callable[[list[outbox.OutboxEvent]], list[EventResult]]
Store = Callable[[list[EventResult]], None]


def one_by_one(events: list[outbox.OutboxEvent], send: Send, store: Store) -> list[EventResult]:
    """Each event alone, in order, each answer stored as it comes. One the back office refuses
    outright (its request is invalid, too large) is set aside as rejected at once. One it fails
    on (a server error, an unreadable answer) is suspect: once a later event has gone through —
    so the back office works — it is sent once more, and set aside if it fails again. Nothing
    answered at all means the back office is in trouble: Offline, try later."""
    results: list[EventResult] = []
    suspects: list[outbox.OutboxEvent] = []
    last: Exception | None = None
    for event in events:
        try:
            answered = send([event])
        except (ServerFailed, BackOfficeRefused) as failure:
            if not about_the_events(failure):
                raise
            last = failure
            if isinstance(failure, BackOfficeRefused):
                results += set_aside(event, failure, store)
            else:
                suspects.append(event)
            continue
        store(answered)
        results += answered
        if answered and suspects:
            for suspect in suspects:
                try:
                    again = send([suspect])
                except (ServerFailed, BackOfficeRefused) as failure:
                    if not about_the_events(failure):
                        raise
                    results += set_aside(suspect, failure, store)
                else:
                    store(again)
                    results += again
            suspects = []
    if not results and last is not None:
        raise Offline(f"back office failed on every event: {last}") from last
    return results


def set_aside(event: outbox.OutboxEvent, failure: Exception, store: Store) -> list[EventResult]:
    """Marks an event the back office will not take as rejected here: the clerk and the
    manager see it with the reason, and the queue moves on."""
    why = getattr(failure, "message", None) or str(failure)
    result = EventResult(
        id=event.id,
        seq=event.seq,
        status=EventStatus.rejected,
        reason=RejectReason.malformed_event,
        message=f"the back office could not take this event: {why}"[:500],
    )
    log.error("event %s (seq %s) set aside: %s", event.id, event.seq, why)
    store([result])
    return [result]
