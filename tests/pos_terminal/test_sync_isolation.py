"""The terminal is never stuck behind one event, and loses none to the back office's failures.
A batch the back office cannot take is sent again one event at a time. An event it refuses
outright is set aside as rejected. One it fails on (a server error, a lost connection) stays
pending with all its data and is retried with back-off, while the events behind it go through
— but for those that touch what it touches, which wait so that the order holds. Once the back
office takes it, it is applied exactly once. A back office failing on everything notes nothing."""

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from pos_terminal import outbox
from pos_terminal.screens.status import CounterStatus
from pos_terminal.services.errors import BackOfficeRefused, Offline
from pos_terminal.store import Store
from pos_terminal.sync import PULL_PATH, PUSH_PATH, SyncClient, SyncWorker
from shared.codes import format_receipt_number
from shared.ids import new_id
from shared.sync import (
    CashMovePayload,
    Customer,
    EventType,
    Payment,
    ReturnPayload,
    SaleLine,
    SalePayload,
    ShiftClosePayload,
    ShiftOpenPayload,
    StockCountPayload,
)
from tests.pos_terminal.helpers import (
    CLERK,
    TERMINAL_NO,
    Clock,
    msisdn,
    pull_response,
    resident_id,
)

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


class Office:
    """A back office applying each event once (a resend is answered `duplicate`), in the order
    it gets them, that fails on any push carrying an event of `failing`: with a server error,
    or by dropping the connection before it answers. Pulls work."""

    def __init__(self, failure: str = "500") -> None:
        self.failure = failure
        self.failing: set[str] = set()
        self.pushes: list[list[int]] = []
        self.applied: list[int] = []
        self.pulls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == PULL_PATH:
            self.pulls += 1
            return httpx.Response(200, json=pull_response([]).model_dump(mode="json"))
        assert request.url.path == PUSH_PATH
        events = json.loads(request.content)["events"]
        self.pushes.append([e["seq"] for e in events])
        if any(e["id"] in self.failing for e in events):
            if self.failure == "reset":
                raise httpx.ReadError("connection reset by peer", request=request)
            return httpx.Response(int(self.failure), text="Internal Server Error")
        results = []
        for e in events:
            first = e["seq"] not in self.applied
            if first:
                self.applied.append(e["seq"])
            status = (
                {"status": "accepted"} if first else {"status": "duplicate", "original": "accepted"}
            )
            results.append({"id": e["id"], "seq": e["seq"]} | status)
        return httpx.Response(200, json={"results": results})


def _receipt(n: int) -> str:
    return format_receipt_number(TERMINAL_NO, n)


def _sale(shift: str, n: int, *, buyer: bool = False) -> SalePayload:
    return SalePayload(
        sale_id=new_id(),
        receipt_no=_receipt(n),
        clerk=CLERK,
        shift_id=shift,
        lines=[
            SaleLine(
                item_kind="number",
                item=msisdn(n),
                product="number:STD",
                price_fen=5_000,
                price_list_version=1,
            )
        ],
        payments=[Payment(method="cash", amount_fen=5_000)],
        customer=Customer(name="王五", resident_id=resident_id()) if buyer else None,
    )


def _day(tmp_path: Path, clock: Clock) -> Store:
    """A counter's day, waiting to be pushed: 1 shift opened, 2 a number sold to a registered
    buyer, 3 another number sold, 4 the first sale returned, 5 cash in, 6 a stock count,
    7 the shift closed."""
    store = Store(tmp_path / "terminal.db", clock=clock)
    shift = new_id()
    acts = [
        (EventType.shift_open, ShiftOpenPayload(shift_id=shift, clerk=CLERK, opening_float_fen=0)),
        (EventType.sale, _sale(shift, 1, buyer=True)),
        (EventType.sale, _sale(shift, 2)),
        (
            EventType.sale_return,
            ReturnPayload(
                return_id=new_id(),
                original_receipt_no=_receipt(1),
                clerk=CLERK,
                items=[msisdn(1)],
                refund_fen=5_000,
                shift_id=shift,
            ),
        ),
        (EventType.cash_in, CashMovePayload(shift_id=shift, amount_fen=100, reason="change")),
        (EventType.stock_count, StockCountPayload(clerk=CLERK, items=[msisdn(2)])),
        (
            EventType.shift_close,
            ShiftClosePayload(shift_id=shift, counted_cash_fen=100, z_number=1),
        ),
    ]
    with store.write() as conn:
        for kind, payload in acts:
            outbox.record_event(conn, kind, payload, store.now())
    return store


def _buyer_id(store: Store, seq: int) -> str:
    event = outbox.get_event(store, seq)
    assert event is not None
    return str(event.payload["customer"]["resident_id"])  # type: ignore[index]


@pytest.mark.parametrize("failure", ["500", "502", "reset"])
def test_an_event_the_office_keeps_failing_on_is_kept_retried_and_taken_once(
    tmp_path: Path, failure: str
) -> None:
    clock = Clock()
    store = _day(tmp_path, clock)
    office = Office(failure)
    sale = outbox.get_event(store, 2)
    assert sale is not None
    office.failing.add(sale.id)
    client = SyncClient(
        store, "http://office", "cred", retry_first=10, transport=httpx.MockTransport(office)
    )
    worker = SyncWorker(client)

    state = worker.run_once()
    # The batch, then each event alone. The sale failed on stays pending, its buyer's full ID
    # kept; the events that do not touch it went through; those that do (its return, the
    # count of the shelf, the shift's close) wait for it.
    assert office.pushes == [[1, 2, 3, 4, 5, 6, 7], [1], [2], [3], [5]]
    assert office.applied == [1, 3, 5]
    accepted, pending = "accepted", "pending"
    statuses = [e.status for e in outbox.all_events(store)]
    assert statuses == [accepted, pending, accepted, pending, accepted, pending, pending]
    assert _buyer_id(store, 2) == resident_id()
    assert (state.online, state.backlog, state.retrying, state.unseen_rejections) == (True, 4, 1, 0)
    assert state.last_error is None
    assert "重试 retrying 1" in CounterStatus(backlog=4, retrying=state.retrying).line()
    failed = outbox.get_event(store, 2)
    assert failed is not None and failed.failures == 1
    assert failed.retry_at == clock.now + timedelta(seconds=10) and failed.failure

    # Not due yet: nothing is sent, the pulls go on.
    clock.advance(seconds=5)
    assert worker.run_once().retrying == 1 and len(office.pushes) == 5 and office.pulls == 2

    # Due: it fails again, while a later act goes through: still pending, never rejected.
    clock.advance(seconds=10)
    with store.write() as conn:
        outbox.record_event(
            conn,
            EventType.shift_open,
            ShiftOpenPayload(shift_id=new_id(), clerk=CLERK, opening_float_fen=0),
            store.now(),
        )
    state = worker.run_once()
    assert office.pushes[5:] == [[2], [8]] and office.applied == [1, 3, 5, 8]
    assert (state.retrying, state.unseen_rejections, outbox.rejected_count(store)) == (1, 0, 0)
    failed = outbox.get_event(store, 2)
    assert failed is not None and (failed.status, failed.failures) == ("pending", 2)
    assert failed.retry_at == clock.now + timedelta(seconds=20)  # backing off
    assert _buyer_id(store, 2) == resident_id()

    # The back office is fixed: the sale is taken once, then the events that waited for it.
    office.failing.clear()
    clock.advance(hours=1)
    state = worker.run_once()
    assert office.pushes[7:] == [[2], [4, 6, 7]]
    assert office.applied == [1, 3, 5, 8, 2, 4, 6, 7]
    assert (state.backlog, state.retrying, state.unseen_rejections) == (0, 0, 0)
    assert {e.status for e in outbox.all_events(store)} == {"accepted"}
    # Answered: now, and only now, the terminal keeps the buyer's ID masked.
    assert "*" in _buyer_id(store, 2)


def test_an_event_alone_the_office_fails_on_is_retried_while_pulls_go_on(tmp_path: Path) -> None:
    """Nothing else went through to show that the back office works: the pull does."""
    clock = Clock()
    store = _day(tmp_path, clock)
    office = Office()
    office.failing.update(e.id for e in outbox.all_events(store)[:1])
    client = SyncClient(
        store, "http://office", "cred", retry_first=10, transport=httpx.MockTransport(office)
    )
    worker = SyncWorker(client)
    state = worker.run_once()
    # The shift's opening failed: everything else of the shift waits for it.
    assert office.pushes == [[1, 2, 3, 4, 5, 6, 7], [1]] and office.pulls == 1
    assert (state.online, state.retrying, state.backlog) == (True, 1, 7)
    assert outbox.get_event(store, 1).failures == 1  # type: ignore[union-attr]
    clock.advance(seconds=10)
    worker.run_once()
    assert office.pushes[2:] == [[1]] and outbox.get_event(store, 1).failures == 2  # type: ignore[union-attr]
    office.failing.clear()
    clock.advance(seconds=20)
    state = worker.run_once()
    assert office.pushes[3:] == [[1], [2, 3, 4, 5, 6, 7]]
    assert office.applied == [1, 2, 3, 4, 5, 6, 7] and (state.backlog, state.retrying) == (0, 0)


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


def test_a_sale_refused_outright_keeps_its_buyers_id(tmp_path: Path) -> None:
    """The back office holds no copy of an event it refused: the terminal's is the only one."""
    store = _day(tmp_path, Clock())
    refused = outbox.get_event(store, 2)
    assert refused is not None

    def answer(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
        if any(e["id"] == refused.id for e in events):
            return httpx.Response(413, json={"code": "too_large", "message": "too large"})
        return _accept(events)

    client = SyncClient(store, "http://office", "cred", transport=_office(answer, []))
    assert client.push().rejected == 1
    assert outbox.get_event(store, 2).status == "rejected"  # type: ignore[union-attr]
    assert _buyer_id(store, 2) == resident_id()


def test_an_unreadable_answer_is_treated_like_a_failure_of_the_batch(tmp_path: Path) -> None:
    store = _store(tmp_path, events=2)
    answers = iter([httpx.Response(200, json={"results": "garbage"})])

    def answer(events: list[dict]) -> httpx.Response:  # type: ignore[type-arg]
        return next(answers, None) or _accept(events)

    client = SyncClient(store, "http://office", "cred", transport=_office(answer, []))
    assert client.push().accepted == 2 and outbox.backlog(store) == 0


def _down(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, text="database unavailable")


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    ("office", "pushes"),
    [
        # The batch, then each event alone until three failed in a row: the office is down.
        (_down, [4, 1, 1, 1]),
        # Never reached: nothing was about the events.
        (_unreachable, [4]),
    ],
)
def test_a_back_office_failing_on_everything_sets_nothing_aside(
    tmp_path: Path, office: Callable[[httpx.Request], httpx.Response], pushes: list[int]
) -> None:
    store = Store(tmp_path / "terminal.db")
    with store.write() as conn:
        for _ in range(4):  # four shifts: no event waits for another
            payload = ShiftOpenPayload(shift_id=new_id(), clerk=CLERK, opening_float_fen=0)
            outbox.record_event(conn, EventType.shift_open, payload, store.now())
    seen: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == PUSH_PATH:
            seen.append(len(json.loads(request.content)["events"]))
        return office(request)

    client = SyncClient(store, "http://office", "cred", transport=httpx.MockTransport(handle))
    state = SyncWorker(client).run_once()  # its pull fails too: nothing is noted as failed
    assert (state.online, state.backlog, state.retrying) == (False, 4, 0)
    assert seen == pushes
    with pytest.raises(Offline):
        client.push()
    assert _statuses(store) == [("pending", None)] * 4
    assert all(e.failures == 0 and e.retry_at is None for e in outbox.all_events(store))


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
