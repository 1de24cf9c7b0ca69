"""The terminal's services and sync client against the real back office over HTTP (uvicorn on a
free port, SQLite and PostgreSQL): online and offline sales, back-off, duplicates, rejections."""

import json
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from backoffice.contracts.channel import DealerStatusChange, TerminalCreate
from backoffice.domain.channel import DealerStatus
from backoffice.models import Outlet, SyncEvent
from backoffice.services.channel import dealers, movements
from backoffice.services.counter import reconciliation
from pos_terminal import outbox
from pos_terminal.config import TerminalConfig
from pos_terminal.services.counter import open_counter, register
from pos_terminal.services.errors import BackOfficeRefused, Offline, PosError
from pos_terminal.services.login import LoginService
from pos_terminal.services.sale import Tender
from pos_terminal.sync import SyncState, SyncWorker
from shared.sync import PushRequest, RejectReason
from tests.backoffice.channel.helpers import Channel, resident_id, stocked_numbers
from tests.pos_terminal.helpers import CLERK, CLERK_PIN
from tests.pos_terminal.office import OfficeServer, free_port
from tests.pos_terminal.terminal import Terminal


def _office_status(session: Session, outlet: str) -> dict[str, str]:
    session.expire_all()
    return {i.item: i.status for i in movements.outlet_stock(session, outlet)}


def test_sell_online_then_offline_and_drain_the_backlog(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    items = stocked_numbers(session, shop.outlet_code, 3, cards=2)
    numbers, cards = items[:3], items[3:]
    pos = Terminal(tmp_path / "t.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    assert pos.login.login(CLERK, CLERK_PIN).online
    assert {e.item for e in pos.sales.search_numbers("*")} == set(numbers)
    pos.shifts.open_shift(CLERK, 10_000)

    # Online: the number is held at the back office while it is in the sale.
    draft = pos.sales.start(CLERK)
    line = pos.sales.scan(draft, numbers[0])
    assert line.reservation_id is not None
    assert _office_status(session, shop.outlet_code)[numbers[0]] == "reserved"
    pos.sales.set_customer(draft, "张三", resident_id())
    first = pos.sales.complete(draft, [Tender("cash", 10_000)])
    assert (first.total_fen, first.change_fen) == (5_000, 5_000)  # list price of number:STD
    assert pos.client.push().accepted == 2  # shift open, sale

    # Back office down: log in offline, sell from the outlet's own stock.
    office.stop()
    offline = LoginService(pos.store, pin_key=pos.pin_key, refresh=pos.client.pull)
    assert not offline.login(CLERK, CLERK_PIN).online
    draft = pos.sales.start(CLERK)
    assert pos.sales.scan(draft, numbers[1]).reservation_id is None
    pos.sales.scan(draft, cards[0])
    pos.sales.set_customer(draft, "李四", resident_id("11010519491231002"))
    pos.sales.complete(draft, [Tender("card", draft.total_fen)])
    pos.shifts.cash_out(CLERK, 1_000, "to the safe")
    with pytest.raises(Offline):
        pos.client.push()
    worker = SyncWorker(pos.client, interval=0.1, base_backoff=0.5, max_backoff=4)
    assert not worker.run_once().online
    assert worker.run_once().backlog == 2
    assert worker.delay() == 1.0  # doubled after the second failure

    office.start()
    # The backlog reaches the office but the answer is lost (a timeout, a crash before the
    # answers were stored): the next cycle sends the same events, with the same ids, again.
    lost = PushRequest(events=[e.to_wire() for e in outbox.pending_events(pos.store, 100)])
    reply = httpx.post(
        f"{office.url}/api/v1/sync/push",
        content=lost.model_dump_json(),
        headers={"Authorization": f"Bearer {shop.credential}", "Content-Type": "application/json"},
    )
    assert reply.status_code == 200, reply.text
    state = worker.run_once()
    assert (state.online, state.backlog, state.last_error) == (True, 0, None)
    assert worker.delay() == 0.1
    at_office = _office_status(session, shop.outlet_code)
    assert (at_office[numbers[0]], at_office[numbers[1]], at_office[numbers[2]]) == (
        "sold",
        "sold",
        "in_stock",
    )
    assert (at_office[cards[0]], at_office[cards[1]]) == ("active", "in_stock")
    assert [e.status for e in outbox.all_events(pos.store)] == ["accepted"] * 2 + ["duplicate"] * 2
    # The pull that followed the push agrees with what the terminal did.
    assert (pos.status(numbers[1]), pos.status(cards[0])) == ("sold", "active")
    events_at_office = session.exec(
        select(SyncEvent).where(SyncEvent.terminal_id == shop.terminal_id)
    ).all()
    assert len(events_at_office) == 4
    pos.close()


def test_a_number_sold_offline_twice_is_rejected_and_kept_with_its_reason(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    numbers = stocked_numbers(session, shop.outlet_code, 2)
    second = dealers.register_terminal(
        session, TerminalCreate(outlet=shop.outlet_code, name="counter 2"), "admin1"
    )
    a = Terminal(tmp_path / "a.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    b = Terminal(
        tmp_path / "b.db",
        office,
        second.terminal.id,
        second.terminal.terminal_no,
        second.credential,
    )
    for pos in (a, b):
        pos.client.pull()
        pos.shifts.open_shift(CLERK, 0)
    # While B holds a number in a sale, A (online) cannot put it in a sale of its own.
    held_by_b = b.sales.start(CLERK)
    b.sales.scan(held_by_b, numbers[1])
    with pytest.raises(PosError) as held:
        a.sales.scan(a.sales.start(CLERK), numbers[1])
    assert held.value.code == "number_unavailable"
    # Terminal A loses its network and sells numbers[0]; B, online, sells it too.
    a.client.http.base_url = f"http://127.0.0.1:{free_port()}"  # type: ignore[assignment]
    a.sell(numbers[0])
    b.sell(numbers[0])
    assert b.client.push().accepted == 2
    assert _office_status(session, shop.outlet_code)[numbers[0]] == "sold"

    a.client.http.base_url = office.url  # type: ignore[assignment]
    pushed = a.client.push()
    assert (pushed.accepted, pushed.rejected) == (1, 1)
    [rejected] = outbox.rejected_events(a.store)
    assert rejected.type == "sale"
    assert rejected.reason == RejectReason.item_already_sold
    assert rejected.message
    a.client.pull()
    assert a.status(numbers[0]) == "sold"
    # The status bar warns until a manager has acknowledged it.
    assert SyncWorker(a.client).run_once().unseen_rejections == 1
    a.close()
    b.close()


def test_a_suspended_dealer_stops_the_terminal_selling(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    stocked_numbers(session, shop.outlet_code, 1, cards=1)
    pos = Terminal(tmp_path / "t.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    pos.client.pull()
    pos.shifts.open_shift(CLERK, 0)
    pos.sales.start(CLERK)
    dealers.change_dealer_status(
        session, "D1", DealerStatusChange(status=DealerStatus.suspended, reason="unpaid"), "s1"
    )
    worker = SyncWorker(pos.client)
    state = worker.run_once()
    assert state.online and "suspended" in (state.last_error or "")
    with pytest.raises(PosError) as refused:
        pos.sales.start(CLERK)
    assert refused.value.code == "dealer_suspended"
    pos.close()


def test_push_sends_batches_in_sequence_order(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    stocked_numbers(session, shop.outlet_code, 1, cards=1)
    pos = Terminal(tmp_path / "t.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    pos.client.batch = 2
    sent: list[list[int]] = []

    def record(request: httpx.Request) -> None:
        if request.url.path.endswith("/push"):
            sent.append([e["seq"] for e in json.loads(request.content)["events"]])

    pos.client.http.event_hooks["request"].append(record)
    pos.client.pull()
    pos.shifts.open_shift(CLERK, 0)
    for n in range(4):
        pos.shifts.cash_in(CLERK, 100 + n, "coins")
    summary = pos.client.push()
    assert sent == [[1, 2], [3, 4], [5]]
    assert (summary.sent, summary.accepted, summary.left) == (5, 5, 0)
    assert pos.client.push().sent == 0
    pos.close()


def test_removing_a_held_number_from_the_sale_releases_it(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    [number] = stocked_numbers(session, shop.outlet_code, 1)
    pos = Terminal(tmp_path / "t.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    pos.client.pull()
    pos.shifts.open_shift(CLERK, 0)
    draft = pos.sales.start(CLERK)
    pos.sales.scan(draft, number)
    assert _office_status(session, shop.outlet_code)[number] == "reserved"
    pos.sales.remove_line(draft, 0)
    assert _office_status(session, shop.outlet_code)[number] == "in_stock"
    pos.close()


def test_register_then_open_the_counter(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    [number] = stocked_numbers(session, shop.outlet_code, 1)
    config = TerminalConfig(data_dir=tmp_path / "pos", backoffice_url=office.url)
    with pytest.raises(BackOfficeRefused) as wrong:
        register(config, shop.terminal_id, shop.terminal_no, "not-a-credential")
    assert wrong.value.status_code == 401
    assert config.read_credential() is None
    pulled = register(config, shop.terminal_id, shop.terminal_no, shop.credential)
    assert pulled.full and pulled.stock_changes == 1
    counter = open_counter(config)
    try:
        me = counter.identity()
        assert (me.terminal_no, me.outlet_code, me.dealer_status) == (
            shop.terminal_no,
            shop.outlet_code,
            "active",
        )
        assert counter.login.login(CLERK, CLERK_PIN).online
        counter.shifts.open_shift(CLERK, 0)
        draft = counter.sales.start(CLERK)
        assert counter.sales.scan(draft, number).reservation_id is not None
        assert counter.figures().sync_backlog == 1
        assert counter.sync_worker().run_once().backlog == 0
    finally:
        counter.close()


def test_background_sync_drains_after_each_act_and_survives_a_failing_cycle(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    stocked_numbers(session, shop.outlet_code, 1, cards=2)
    pos = Terminal(tmp_path / "t.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    pos.client.pull()
    states: list[SyncState] = []
    real_sync_once = pos.client.sync_once
    calls = 0

    def first_cycle_breaks() -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("disk full")
        return real_sync_once()

    pos.client.sync_once = first_cycle_breaks  # type: ignore[method-assign]
    worker = SyncWorker(pos.client, interval=30, base_backoff=0.05, on_change=states.append)
    worker.start()
    try:
        pos.shifts.open_shift(CLERK, 0)
        card = pos.store.conn.execute(
            "SELECT item FROM stock WHERE item_kind = 'voucher' LIMIT 1"
        ).fetchone()[0]
        pos.sell(card)
        worker.wake()
        deadline = time.monotonic() + 10
        # Done when a cycle after the sale has reported (push, then pull, then the state):
        # the broken first cycle reports too, offline.
        while (
            outbox.backlog(pos.store) or not states or not states[-1].online
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert outbox.backlog(pos.store) == 0
        assert calls >= 2 and states and states[-1].online
        # The broken cycle reached the status bar too, before the next one cleared it.
        assert states[0].last_error == "sync failed: disk full"
        assert states[-1].last_error is None
    finally:
        worker.stop()
    pos.close()


def test_without_reservation_quota_the_outlet_still_sells_its_own_numbers(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    [number] = stocked_numbers(session, shop.outlet_code, 1)
    outlet = session.get(Outlet, shop.outlet_id)
    assert outlet is not None
    outlet.reservation_quota = 0
    session.add(outlet)
    session.commit()
    pos = Terminal(tmp_path / "t.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    pos.client.pull()
    pos.shifts.open_shift(CLERK, 0)
    draft = pos.sales.start(CLERK)
    assert pos.sales.scan(draft, number).reservation_id is None
    pos.sales.set_customer(draft, "张三", resident_id())
    pos.sales.complete(draft, [Tender("cash", draft.total_fen)])
    assert pos.client.push().accepted == 2
    assert _office_status(session, shop.outlet_code)[number] == "sold"
    pos.close()


def test_price_overrides_approved_online_and_offline_reach_the_office(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    numbers = stocked_numbers(session, shop.outlet_code, 2)
    pos = Terminal(tmp_path / "t.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    pos.client.pull()
    pos.shifts.open_shift(CLERK, 0)
    # Online the office checks the manager's PIN and signs the approval the sale carries.
    draft = pos.sales.start(CLERK)
    pos.sales.scan(draft, numbers[0])
    with pytest.raises(PosError) as wrong:
        pos.sales.override_price(draft, 0, 4_500, manager="boss1", pin="0000", reason="老客户")
    assert wrong.value.code == "approval_refused"
    line = pos.sales.override_price(draft, 0, 4_500, manager="boss1", pin="1357", reason="老客户")
    assert line.approval_expires_at is not None
    pos.sales.set_customer(draft, "张三", resident_id())
    online = pos.sales.complete(draft, [Tender("cash", 4_500)])
    # Offline the PIN is checked here, against the verifier the pull brought.
    pos.client.http.base_url = f"http://127.0.0.1:{free_port()}"  # type: ignore[assignment]
    draft = pos.sales.start(CLERK)
    pos.sales.scan(draft, numbers[1])
    line = pos.sales.override_price(draft, 0, 4_800, manager="boss1", pin="1357", reason="熟客")
    assert line.approval_expires_at is None and line.override and not line.override.approval
    pos.sales.set_customer(draft, "李四", resident_id())
    offline = pos.sales.complete(draft, [Tender("cash", 4_800)])
    pos.client.http.base_url = office.url  # type: ignore[assignment]
    assert pos.client.push().accepted == 3
    # The office verified the first; the second waits in the queue for review.
    (queued,) = reconciliation.reconciliation_queue(session)
    assert (queued.result, queued.reason) == ("accepted", "override_offline")
    assert queued.payload["receipt_no"] == offline.receipt_no != online.receipt_no
    pos.close()
