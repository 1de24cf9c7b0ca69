"""Shifts: float, cash in/out, X report without reset, blind close by denomination, Z numbers."""

import pytest

from devices.printer.encode import layout
from devices.printer.profiles import get_profile
from pos_terminal import outbox
from pos_terminal.services.errors import PosError
from pos_terminal.services.receipts import report_receipt
from pos_terminal.services.sale import Tender
from shared.sync import EventType, ShiftCloseEvent
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import CLERK, voucher


def _sell_card(counter: Counter, n: int, tenders: list[Tender]) -> None:
    draft = counter.sales.start(CLERK)
    counter.sales.scan(draft, voucher(n))
    counter.sales.complete(draft, tenders)


def test_open_with_a_counted_float_by_denomination(counter: Counter) -> None:
    shift = counter.shifts.open_shift(CLERK, {10_000: 1, 1_000: 5, 50: 2})
    assert shift.opening_float_fen == 15_100
    assert counter.shifts.current() == shift
    with pytest.raises(PosError) as twice:
        counter.shifts.open_shift(CLERK, 0)
    assert twice.value.code == "shift_already_open"
    [event] = outbox.all_events(counter.store)
    assert event.type == EventType.shift_open
    assert event.payload == {"shift_id": shift.id, "clerk": CLERK, "opening_float_fen": 15_100}


def test_cash_in_and_out_need_a_reason_and_an_open_shift(counter: Counter) -> None:
    with pytest.raises(PosError) as closed:
        counter.shifts.cash_in(CLERK, 1_000, "change from the bank")
    assert closed.value.code == "no_open_shift"
    counter.shifts.open_shift(CLERK, 10_000)
    with pytest.raises(PosError) as no_reason:
        counter.shifts.cash_out(CLERK, 1_000, "  ")
    assert no_reason.value.code == "reason_required"
    with pytest.raises(PosError) as too_much:
        counter.shifts.cash_out(CLERK, 10_001, "bank")
    assert too_much.value.code == "not_enough_cash"
    counter.shifts.cash_in(CLERK, 5_000, "change from the bank")
    counter.shifts.cash_out(CLERK, 2_000, "to the safe")
    types = [e.type for e in outbox.all_events(counter.store)]
    assert types == [EventType.shift_open, EventType.cash_in, EventType.cash_out]
    assert counter.shifts.x_report().expected_cash_fen == 13_000


def test_x_report_any_time_without_reset(open_counter: Counter) -> None:
    _sell_card(open_counter, 1, [Tender("cash", 10_000)])  # 50 yuan card, 50 change
    _sell_card(open_counter, 2, [Tender("card", 2_000), Tender("wallet", 3_000)])
    first = open_counter.shifts.x_report()
    second = open_counter.shifts.x_report()
    assert first.kind == "X" and first.z_number is None
    assert first.sales_count == second.sales_count == 2
    assert first.sales_total_fen == 10_000
    assert first.cash.cash_sales_fen == 5_000
    assert first.expected_cash_fen == 25_000
    assert {(line.label, line.amount_fen) for line in first.takings} == {
        ("现金 Cash", 5_000),
        ("银行卡 Card", 2_000),
        ("移动支付 Wallet", 3_000),
    }
    assert [(line.label, line.amount_fen, line.count) for line in first.products] == [
        ("voucher:5000", 10_000, 2)
    ]
    assert first.difference_fen is None
    assert open_counter.shifts.current() is not None


def test_close_with_a_blind_count_gives_difference_and_sequential_z(open_counter: Counter) -> None:
    _sell_card(open_counter, 1, [Tender("cash", 5_000)])
    open_counter.shifts.cash_out(CLERK, 1_000, "lunch float")
    # Expected 200 + 50 - 10 = 240 yuan; counted 239.40 yuan.
    count = {10_000: 2, 2_000: 1, 1_000: 1, 500: 1, 100: 4, 50: 0, 10: 4}
    z = open_counter.shifts.close_shift(CLERK, count)
    assert z.kind == "Z" and z.z_number == 1
    assert z.expected_cash_fen == 24_000
    assert z.counted_cash_fen == 23_940
    assert z.difference_fen == -60
    assert [(line.label, line.count) for line in z.counted][:3] == [
        ("¥100", 2),
        ("¥50", 0),
        ("¥20", 1),
    ]
    assert z.counted[-1] == type(z.counted[-1])("¥0.1", 40, 4)
    assert open_counter.shifts.current() is None
    close = outbox.all_events(open_counter.store)[-1].to_wire()
    assert isinstance(close, ShiftCloseEvent)
    assert (close.payload.counted_cash_fen, close.payload.z_number) == (23_940, 1)
    open_counter.shifts.open_shift(CLERK, 0)
    assert open_counter.shifts.close_shift(CLERK, {}).z_number == 2
    # A reprint of Z 1 shows the same figures.
    again = open_counter.shifts.z_report(1)
    assert (again.counted_cash_fen, again.difference_fen, again.sales_count) == (23_940, -60, 1)


def test_refused_counts(open_counter: Counter) -> None:
    with pytest.raises(PosError) as odd:
        open_counter.shifts.close_shift(CLERK, {300: 1})
    assert odd.value.code == "bad_denomination"
    with pytest.raises(PosError) as negative:
        open_counter.shifts.close_shift(CLERK, {100: -1})
    assert negative.value.code == "bad_count"
    assert open_counter.shifts.current() is not None


def test_expected_cash_counts_cash_refunds(open_counter: Counter) -> None:
    draft = open_counter.sales.start(CLERK)
    open_counter.sales.scan(draft, voucher(1))
    done = open_counter.sales.complete(draft, [Tender("cash", 5_000)])
    open_counter.returns.return_lines(CLERK, done.receipt_no, [1])
    report = open_counter.shifts.x_report()
    assert (report.cash.cash_sales_fen, report.cash.cash_refunds_fen) == (5_000, 5_000)
    assert report.expected_cash_fen == 20_000
    assert (report.returns_count, report.refunds_total_fen) == (1, 5_000)


def test_reports_print_as_receipts(open_counter: Counter) -> None:
    _sell_card(open_counter, 1, [Tender("cash", 5_000)])
    z = open_counter.shifts.close_shift(CLERK, {10_000: 2, 5_000: 1})
    receipt = report_receipt(z, "越城一号店", "Asia/Shanghai")
    assert receipt.number == "Z000001"
    rows = [getattr(row, "text", "") for row in layout(receipt, get_profile("80mm"))]
    text = "\n".join(rows)
    assert "Z 报表 No. 1" in text
    assert "差额 Difference" in text and "￥0.00" in text
    assert "应有现金 Expected" in text and "￥250.00" in text


def test_a_printed_x_report_before_the_count_keeps_it_blind(open_counter: Counter) -> None:
    _sell_card(open_counter, 1, [Tender("cash", 5_000)])
    receipt = report_receipt(open_counter.shifts.x_report(), "越城一号店", "Asia/Shanghai")
    text = "\n".join(getattr(row, "text", "") for row in layout(receipt, get_profile("80mm")))
    assert "现金销售 Cash sales" in text
    assert "应有现金" not in text and "差额" not in text


def test_z_report_is_queued_with_the_close_and_x_on_request(open_counter: Counter) -> None:
    assert open_counter.shifts.x_report().print_job_id is None
    x = open_counter.shifts.x_report(print_it=True)
    z = open_counter.shifts.close_shift(CLERK, {10_000: 2})
    jobs = open_counter.prints.pending()
    assert [(job.id, job.kind) for job in jobs] == [
        (x.print_job_id, "x_report"),
        (z.print_job_id, "z_report"),
    ]
    assert jobs[1].ref == jobs[1].receipt.number == "Z000001"
    assert jobs[1].receipt.header[0] == "越城一号店"
    open_counter.prints.reprint("Z000001")
    assert [job.ref for job in open_counter.prints.pending()][-1] == "Z000001"
