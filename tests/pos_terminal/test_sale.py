"""The sale service: scan to line, search, real name, override, payments, commit with its event."""

import json

import httpx
import pytest

from pos_terminal import outbox
from pos_terminal.services.errors import Offline, PosError
from pos_terminal.services.sale import SaleService, Tender, settle
from pos_terminal.sync import SyncClient, apply_pull
from shared.codes import format_receipt_number
from shared.sync import EventType, SaleEvent
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import (
    CLERK,
    CLERK_PIN,
    MANAGER,
    MANAGER_PIN,
    TERMINAL_NO,
    default_stock,
    iccid,
    msisdn,
    pull_response,
    resident_id,
    voucher,
)


def _status(counter: Counter, item: str) -> str:
    row = counter.store.conn.execute("SELECT status FROM stock WHERE item = ?", (item,)).fetchone()
    return row[0]


def test_scanned_number_card_and_sim_become_lines_with_grade_and_list_price(
    open_counter: Counter,
) -> None:
    sales = open_counter.sales
    draft = sales.start(CLERK)
    nice = sales.scan(draft, msisdn(1688))
    card = sales.scan(draft, voucher(1))
    by_sim = sales.scan(draft, iccid(1))
    assert (nice.entry.grade_code, nice.entry.grade_name, nice.price_fen) == (
        "G3",
        "三级靓号",
        60_000,
    )
    assert "三级靓号" in nice.description and msisdn(1688) in nice.description
    assert (card.entry.item_kind, card.price_fen) == ("voucher", 5_000)
    assert "¥50" in card.description
    # The SIM's barcode sells the number it is paired with.
    assert by_sim.entry.item == msisdn(1)
    assert draft.total_fen == 60_000 + 5_000 + 5_000
    removed = sales.remove_line(draft, 1)
    assert removed.entry.item == voucher(1)
    assert [line.entry.item for line in draft.lines] == [msisdn(1688), msisdn(1)]
    assert draft.total_fen == 65_000


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("13905719999", "unknown_item"),  # valid number, not in this outlet
        ("12345", "bad_code"),
        ("S0000120000003455", "not_an_item"),  # a receipt barcode
    ],
)
def test_scans_that_are_not_sellable_items_are_refused(
    open_counter: Counter, code: str, error: str
) -> None:
    draft = open_counter.sales.start(CLERK)
    with pytest.raises(PosError) as refused:
        open_counter.sales.scan(draft, code)
    assert refused.value.code == error
    assert draft.lines == []


def test_the_same_item_twice_and_an_item_already_sold_are_refused(open_counter: Counter) -> None:
    sales = open_counter.sales
    draft = sales.start(CLERK)
    sales.scan(draft, voucher(1))
    with pytest.raises(PosError, match="already in this sale"):
        sales.scan(draft, voucher(1))
    sales.complete(draft, [Tender("card", 5_000)])
    with pytest.raises(PosError) as refused:
        sales.scan(sales.start(CLERK), voucher(1))
    assert refused.value.code == "not_for_sale"


def test_number_search_by_pattern_in_outlet_stock(open_counter: Counter) -> None:
    found = open_counter.sales.search_numbers("*88")
    assert [e.item for e in found] == [msisdn(88), msisdn(1688), msisdn(5088)]
    assert [e.item for e in open_counter.sales.search_numbers("*688")] == [msisdn(1688)]
    assert [e.item for e in open_counter.sales.search_numbers("13905715*")] == [msisdn(5088)]
    assert [e.item for e in open_counter.sales.search_numbers("13905715?88")] == [msisdn(5088)]
    # Plain digits shorter than a number mean "contains".
    assert {e.item for e in open_counter.sales.search_numbers("168")} == {msisdn(1688)}
    with pytest.raises(PosError) as bad:
        open_counter.sales.search_numbers("*8a8")
    assert bad.value.code == "bad_pattern"
    draft = open_counter.sales.start(CLERK)
    picked = open_counter.sales.add_number(draft, found[0].item)
    assert picked.entry.grade_code == "G4"


def test_sold_numbers_drop_out_of_the_search(open_counter: Counter) -> None:
    sales = open_counter.sales
    draft = sales.start(CLERK)
    sales.add_number(draft, msisdn(88))
    sales.set_customer(draft, "王五", resident_id())
    sales.complete(draft, [Tender("cash", 10_000)])
    assert [e.item for e in sales.search_numbers("*88")] == [msisdn(1688), msisdn(5088)]


def test_real_name_is_validated_masked_and_required_for_numbers(open_counter: Counter) -> None:
    sales = open_counter.sales
    draft = sales.start(CLERK)
    sales.scan(draft, msisdn(2))
    with pytest.raises(PosError) as missing:
        sales.complete(draft, [Tender("cash", 5_000)])
    assert missing.value.code == "real_name_required"
    wrong = resident_id()[:-1] + ("0" if resident_id()[-1] != "0" else "1")
    with pytest.raises(PosError) as bad:
        sales.set_customer(draft, "王五", wrong)
    assert bad.value.code == "bad_resident_id" and "check character" in bad.value.message
    with pytest.raises(PosError):
        sales.set_customer(draft, "  ", resident_id())
    shown = sales.set_customer(draft, "王五", resident_id().lower())
    assert shown == "王五 330602********1238"
    done = sales.complete(draft, [Tender("cash", 5_000)])
    # The back office gets the full ID; the printed receipt only the masked one.
    payload = outbox.get_event(open_counter.store, 2).payload  # type: ignore[union-attr]
    assert payload["customer"] == {"name": "王五", "resident_id": resident_id()}
    printed = "\n".join(done.receipt.footer)
    assert "330602********1238" in printed and resident_id() not in printed
    assert "王*" in printed and "王五" not in printed


def test_a_card_only_sale_needs_no_real_name(open_counter: Counter) -> None:
    draft = open_counter.sales.start(CLERK)
    open_counter.sales.scan(draft, voucher(1))
    assert not draft.needs_real_name
    done = open_counter.sales.complete(draft, [Tender("wallet", 5_000)])
    assert done.change_fen == 0 and not done.opens_drawer


def test_complete_commits_sale_stock_event_and_receipt_job_together(open_counter: Counter) -> None:
    sales = open_counter.sales
    draft = sales.start(CLERK)
    sales.scan(draft, msisdn(1688))
    sales.scan(draft, voucher(3, 10000))
    sales.set_customer(draft, "王五", resident_id())
    done = sales.complete(draft, [Tender("card", 20_000), Tender("cash", 60_000)])
    assert done.total_fen == 70_000
    assert done.change_fen == 10_000
    assert [(p.method, p.amount_fen) for p in done.payments] == [("card", 20_000), ("cash", 50_000)]
    assert done.receipt_no == format_receipt_number(TERMINAL_NO, 1)
    assert _status(open_counter, msisdn(1688)) == "sold"
    assert _status(open_counter, voucher(3, 10000)) == "active"  # cards activate when sold (POSA)
    events = outbox.all_events(open_counter.store)
    assert [e.type for e in events] == [EventType.shift_open, EventType.sale]
    wire = events[1].to_wire()
    assert isinstance(wire, SaleEvent)
    assert wire.id == done.event_id and wire.seq == 2
    assert wire.payload.receipt_no == done.receipt_no
    lines = [(line.item, line.price_fen, line.price_list_version) for line in wire.payload.lines]
    assert lines == [(msisdn(1688), 60_000, 1), (voucher(3, 10000), 10_000, 1)]
    assert sum(p.amount_fen for p in wire.payload.payments) == done.total_fen
    job = open_counter.prints.get(done.print_job_id)
    assert job.status == "pending" and job.receipt.number == done.receipt_no
    assert job.receipt.change_fen == 10_000
    second = sales.start(CLERK)
    sales.scan(second, voucher(2))
    assert sales.complete(second, [Tender("cash", 5_000)]).receipt_no == format_receipt_number(
        TERMINAL_NO, 2
    )


def test_a_failing_commit_leaves_nothing_behind(open_counter: Counter) -> None:
    sales = open_counter.sales
    draft = sales.start(CLERK)
    sales.scan(draft, voucher(1))
    # Between scan and payment a pull says the card left the outlet.
    stock = [s for s in default_stock() if s.item != voucher(1)]
    apply_pull(open_counter.store, pull_response(stock, cursor="c2"))
    with pytest.raises(PosError) as gone:
        sales.complete(draft, [Tender("cash", 5_000)])
    assert gone.value.code == "not_for_sale"
    conn = open_counter.store.conn
    assert conn.execute("SELECT count(*) FROM sales").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM print_jobs").fetchone()[0] == 0
    assert [e.type for e in outbox.all_events(open_counter.store)] == [EventType.shift_open]
    # The receipt number was not used up either.
    sales.remove_line(draft, 0)
    sales.scan(draft, voucher(2))
    assert sales.complete(draft, [Tender("cash", 5_000)]).receipt_no == format_receipt_number(
        TERMINAL_NO, 1
    )


@pytest.mark.parametrize(
    ("tenders", "payments", "change"),
    [
        ([Tender("cash", 10_000)], [("cash", 7_000)], 3_000),
        ([Tender("cash", 7_000)], [("cash", 7_000)], 0),
        ([Tender("card", 7_000)], [("card", 7_000)], 0),
        (
            [Tender("wallet", 2_000), Tender("cash", 10_000)],
            [("wallet", 2_000), ("cash", 5_000)],
            5_000,
        ),
        ([Tender("card", 3_000), Tender("wallet", 4_000)], [("card", 3_000), ("wallet", 4_000)], 0),
        ([Tender("card", 6_000), Tender("cash", 1_000)], [("card", 6_000), ("cash", 1_000)], 0),
    ],
)
def test_settle_payments_and_change(
    tenders: list[Tender], payments: list[tuple[str, int]], change: int
) -> None:
    recorded, owed = settle(7_000, tenders)
    assert [(p.method, p.amount_fen) for p in recorded] == payments
    assert owed == change


@pytest.mark.parametrize(
    ("tenders", "code"),
    [
        ([Tender("cash", 6_999)], "underpaid"),
        ([Tender("card", 8_000)], "overpaid_by_card"),
        ([Tender("card", 5_000), Tender("wallet", 3_000)], "overpaid_by_card"),
        ([Tender("cash", 0)], "bad_payment"),
        ([], "no_payment"),
    ],
)
def test_settle_refuses_wrong_payments(tenders: list[Tender], code: str) -> None:
    with pytest.raises(PosError) as refused:
        settle(7_000, tenders)
    assert refused.value.code == code


def test_no_sale_outside_an_open_shift(counter: Counter) -> None:
    with pytest.raises(PosError) as refused:
        counter.sales.start(CLERK)
    assert refused.value.code == "no_open_shift"
    counter.shifts.open_shift(CLERK, 0)
    draft = counter.sales.start(CLERK)
    counter.sales.scan(draft, voucher(1))
    counter.shifts.close_shift(CLERK, {})
    with pytest.raises(PosError) as closed:
        counter.sales.complete(draft, [Tender("cash", 5_000)])
    assert closed.value.code == "no_open_shift"


def test_a_suspended_dealer_cannot_sell(open_counter: Counter) -> None:
    apply_pull(open_counter.store, pull_response(default_stock(), dealer_status="suspended"))
    with pytest.raises(PosError) as refused:
        open_counter.sales.start(CLERK)
    assert refused.value.code == "dealer_suspended"


def test_price_override_needs_a_managers_pin_and_a_reason_and_is_audited(
    open_counter: Counter,
) -> None:
    sales = open_counter.sales
    draft = sales.start(CLERK)
    sales.scan(draft, msisdn(1688))
    with pytest.raises(PosError) as clerk_pin:
        sales.override_price(draft, 0, 50_000, manager=CLERK, pin=CLERK_PIN, reason="loyal")
    assert clerk_pin.value.code == "not_a_manager"
    with pytest.raises(PosError) as wrong_pin:
        sales.override_price(draft, 0, 50_000, manager=MANAGER, pin="0000", reason="loyal")
    assert wrong_pin.value.code == "bad_login"
    with pytest.raises(PosError) as no_reason:
        sales.override_price(draft, 0, 50_000, manager=MANAGER, pin=MANAGER_PIN, reason=" ")
    assert no_reason.value.code == "reason_required"
    assert draft.total_fen == 60_000
    line = sales.override_price(
        draft, 0, 50_000, manager=MANAGER, pin=MANAGER_PIN, reason="老客户 loyal customer"
    )
    assert (line.list_price_fen, line.price_fen) == (60_000, 50_000)
    sales.set_customer(draft, "王五", resident_id())
    done = sales.complete(draft, [Tender("cash", 50_000)])
    assert done.total_fen == 50_000
    wire = outbox.get_event(open_counter.store, 2).to_wire()  # type: ignore[union-attr]
    assert isinstance(wire, SaleEvent)
    override = wire.payload.lines[0].override
    assert override is not None and override.approved_by == MANAGER
    assert override.reason == "老客户 loyal customer"
    audit = open_counter.store.conn.execute(
        "SELECT actor, action, detail FROM audit WHERE action LIKE 'price_override%' ORDER BY id"
    ).fetchall()
    assert [(a["actor"], a["action"]) for a in audit] == [
        (MANAGER, "price_override"),
        (MANAGER, "price_override_sold"),
    ]
    assert json.loads(audit[1]["detail"])["receipt_no"] == done.receipt_no


def test_no_sale_drawer_opening_needs_a_manager(open_counter: Counter) -> None:
    with pytest.raises(PosError):
        open_counter.sales.approve_no_sale(CLERK, manager=CLERK, pin=CLERK_PIN, reason="change")
    open_counter.sales.approve_no_sale(CLERK, manager=MANAGER, pin=MANAGER_PIN, reason="change")
    actions = [r[0] for r in open_counter.store.conn.execute("SELECT action FROM audit")]
    assert "no_sale_drawer" in actions


@pytest.mark.parametrize(
    "answer",
    [
        {"id": 7},
        # No time zone: it could not be compared with the terminal's UTC clock.
        {"id": "r1", "msisdn": msisdn(1688), "status": "active", "expires_at": "2026-11-20T02:30"},
    ],
)
def test_a_reservation_answer_the_terminal_cannot_read_sells_from_local_stock(
    open_counter: Counter, answer: dict[str, object]
) -> None:
    """A proxy or a newer back office answering something else must not break the scan."""
    garbled = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    client = SyncClient(open_counter.store, "http://office", "secret", transport=garbled)
    sales = SaleService(open_counter.store, open_counter.login, reserver=client)
    draft = sales.start(CLERK)
    line = sales.scan(draft, msisdn(1688))
    assert line.reservation_id is None
    with pytest.raises(Offline, match="malformed reservation answer"):
        client.reserve(msisdn(1688), CLERK)
    client.close()
