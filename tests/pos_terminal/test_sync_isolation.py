"""The terminal is never stuck behind one event, whatever the back office answers: a batch it
cannot take is sent again one event at a time; an event refused outright, or failed on again
once later events went through, is set aside as rejected; a back office failing on everything
sets nothing aside."""

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pos_terminal import outbox
from pos_terminal.services.errors import BackOfficeRefused, Offline
from pos_terminal.store import Store
from pos_terminal.sync import PUSH_PATH, SyncClient
from shared.ids import new_id
from shared.sync import CashMovePayload, EventType, ShiftOpenPayload
from tests.pos_terminal.helpers import CLERK

Answer = Callable[[list[dict]], httpx.Response]  # type: ignore[type-arg]


def _office(answer: Answer, seen: list[int]) -> httpx.MockTransport:
    """A back office whose answer to each push is `answer(events)`; `seen` counts the events
    of each push."""

    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == PUSH_PATH
        events = json.loads(request.content)["events"]
        seen.append(len(events))
        return answer(events)

    return httpx.MockTransport(handle)


def _accept(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
    return httpx.Response(
        200,
        json={"results": [{"id": e["id"], "seq": e["seq"], "status": "accepted"} for e in events]},
    )


def _store(tmp_path: Path, events: int = 5) -> Store:
    """A terminal with a shift open and `events - 1` cash movements waiting."""
    store = Store(tmp_path / "terminal.db")
    shift = new_id()
    with store.write() as conn:
        outbox.record_event(
            conn,
            EventType.shift_open,
            ShiftOpenPayload(shift_id=shift, clerk=CLERK, opening_float_fen=0),
            store.now(),
        )
        for n in range(1, events):
            outbox.record_event(
                conn,
                EventType.cash_in,
                CashMovePayload(shift_id=shift, amount_fen=n, reason="change"),
                store.now(),
            )
    return store


def _statuses(store: Store) -> list[tuple[str, str | None]]:
    return [(e.status, e.reason) for e in outbox.all_events(store)]


def test_one_event_the_office_fails_on_is_set_aside_and_the_rest_go_through(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    poison = outbox.all_events(store)[2].id
    seen: list[int] = []

    def answer(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
        if any(e["id"] == poison for e in events):
            return httpx.Response(500, text="Internal Server Error")
        return _accept(events)

    client = SyncClient(store, "http://office", "cred", transport=_office(answer, seen))
    summary = client.push()
    assert (summary.accepted, summary.rejected, summary.left) == (4, 1, 0)
    assert (
        _statuses(store)
        == [("accepted", None)] * 2 + [("rejected", "malformed_event")] + [("accepted", None)] * 2
    )
    (set_aside,) = outbox.rejected_events(store)
    assert set_aside.id == poison and "back office error 500" in (set_aside.message or "")
    # The batch, then each event alone, and the suspect once more after the next went through.
    assert seen == [5, 1, 1, 1, 1, 1, 1]
    # Nothing is left to send: the next cycle is quiet.
    assert client.push().sent == 0


def test_an_event_refused_outright_is_set_aside_at_once(tmp_path: Path) -> None:
    store = _store(tmp_path, events=3)
    poison = outbox.all_events(store)[0].id
    seen: list[int] = []

    def answer(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
        if any(e["id"] == poison for e in events):
            return httpx.Response(422, json={"code": "invalid_request", "message": "no"})
        return _accept(events)

    client = SyncClient(store, "http://office", "cred", transport=_office(answer, seen))
    assert client.push().left == 0
    assert _statuses(store) == [
        ("rejected", "malformed_event"),
        ("accepted", None),
        ("accepted", None),
    ]
    assert seen == [3, 1, 1, 1]


def test_an_unreadable_answer_is_treated_like_a_failure_of_the_batch(tmp_path: Path) -> None:
    store = _store(tmp_path, events=2)
    answers = iter([httpx.Response(200, json={"results": "garbage"})])

    def answer(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
        return next(answers, None) or _accept(events)

    client = SyncClient(store, "http://office", "cred", transport=_office(answer, []))
    assert client.push().accepted == 2 and outbox.backlog(store) == 0


def test_a_back_office_failing_on_everything_sets_nothing_aside(tmp_path: Path) -> None:
    store = _store(tmp_path, events=3)
    seen: list[int] = []

    def down(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
        return httpx.Response(503, text="database unavailable")

    client = SyncClient(store, "http://office", "cred", transport=_office(down, seen))
    with pytest.raises(Offline):
        client.push()
    assert _statuses(store) == [("pending", None)] * 3
    assert seen == [3, 1, 1, 1]


@pytest.mark.parametrize("status, code", [(401, "terminal_revoked"), (429, "rate_limited")])
def test_refusals_about_the_terminal_set_nothing_aside(
    tmp_path: Path, status: int, code: str
) -> None:
    store = _store(tmp_path, events=2)
    seen: list[int] = []

    def refuse(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
        return httpx.Response(status, json={"code": code, "message": "not now"})

    client = SyncClient(store, "http://office", "cred", transport=_office(refuse, seen))
    with pytest.raises(BackOfficeRefused):
        client.push()
    assert _statuses(store) == [("pending", None)] * 2 and seen == [2]


def test_an_event_stored_unreadable_is_still_sent_for_the_office_to_file(tmp_path: Path) -> None:
    store = _store(tmp_path, events=2)
    with store.write() as conn:
        conn.execute(
            "UPDATE events SET payload = ? WHERE seq = 2",
            (json.dumps({"shift_id": "x", "amount_fen": -1, "reason": "a\x00b"}),),
        )
    sent: list[dict] = []  # type: ignore[type-arg]

    def answer(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
        sent.extend(events)
        return _accept(events)

    client = SyncClient(store, "http://office", "cred", transport=_office(answer, []))
    assert client.push().accepted == 2
    assert sent[1]["payload"]["reason"] == "a\x00b"
