"""What the counter's receipts say once printed, read back from the ESC/POS bytes with the
independent decoder: tendered cash and change, return slips with their own number, X and Z
reports with product names, and X reports numbered from the terminal's own sequence."""

import pytest

from devices.escpos.decode import PrintedReceipt, decode
from devices.printer import encode_receipt
from pos_terminal.services.errors import PosError
from pos_terminal.services.printing import PrintJob
from pos_terminal.services.returns import format_return_number
from pos_terminal.services.sale import CompletedSale, Tender
from pos_terminal.store import Store
from tests.pos_terminal.conftest import Counter, make_counter
from tests.pos_terminal.helpers import (
    CLERK,
    TERMINAL_NO,
    msisdn,
    resident_id,
    voucher,
)


def _printed(job: PrintJob, profile: str = "80mm") -> PrintedReceipt:
    (paper,) = decode(encode_receipt(job.receipt, profile)).receipts
    return paper


def _line(paper: PrintedReceipt, start: str) -> str:
    (line,) = [line for line in paper.lines if line.startswith(start)]
    return line


def _sell(counter: Counter, codes: list[str], tenders: list[Tender]) -> CompletedSale:
    draft = counter.sales.start(CLERK)
    for code in codes:
        counter.sales.scan(draft, code)
    if any(code.startswith("139") for code in codes):
        counter.sales.set_customer(draft, "王五", resident_id())
    return counter.sales.complete(draft, tenders)


def test_a_cash_sale_prints_the_cash_tendered_the_change_and_the_total(
    open_counter: Counter,
) -> None:
    sale = _sell(open_counter, [voucher(1), voucher(3, 10_000)], [Tender("cash", 20_000)])
    paper = _printed(open_counter.prints.get(sale.print_job_id))
    assert _line(paper, "合计 Total").endswith(" ￥150.00")
    assert _line(paper, "现金收款 Cash tendered").endswith(" ￥200.00")
    assert _line(paper, "找零 Change").endswith(" ￥50.00")
    # The cash kept (tendered less change) is not printed beside the change.
    assert [line for line in paper.lines if line.endswith("￥150.00")] == [
        _line(paper, "合计 Total")
    ]
    assert [b.text for b in paper.barcodes] == [sale.receipt_no]


def test_card_payments_print_as_paid_and_cash_as_tendered(open_counter: Counter) -> None:
    sale = _sell(
        open_counter,
        [voucher(1), voucher(3, 10_000)],
        [Tender("card", 10_000), Tender("cash", 10_000)],
    )
    paper = _printed(open_counter.prints.get(sale.print_job_id), "58mm")
    assert _line(paper, "银行卡 Card").endswith(" ￥100.00")
    assert _line(paper, "现金收款 Cash tendered").endswith(" ￥100.00")
    assert _line(paper, "找零 Change").endswith(" ￥50.00")
    assert _line(paper, "合计 Total").endswith(" ￥150.00")


def test_a_card_only_sale_prints_no_cash_line(open_counter: Counter) -> None:
    sale = _sell(open_counter, [voucher(1)], [Tender("wallet", 5_000)])
    paper = _printed(open_counter.prints.get(sale.print_job_id))
    assert _line(paper, "移动支付 Wallet").endswith(" ￥50.00")
    assert not [line for line in paper.lines if "现金" in line]
    assert _line(paper, "找零 Change").endswith(" ￥0.00")


def test_a_return_slip_has_its_own_number_and_names_the_sale(open_counter: Counter) -> None:
    sale = _sell(open_counter, [voucher(1), voucher(2)], [Tender("cash", 10_000)])
    first = open_counter.returns.return_lines(CLERK, sale.receipt_no, [1])
    second = open_counter.returns.return_lines(CLERK, sale.receipt_no, [2])
    assert (first.return_no, second.return_no) == (
        format_return_number(TERMINAL_NO, 1),
        format_return_number(TERMINAL_NO, 2),
    )
    assert first.return_no != sale.receipt_no
    job = open_counter.prints.get(first.print_job_id)
    assert job.ref == first.return_no
    paper = _printed(job)
    assert paper.lines[0] == "退货单 Return"
    assert f"No. {first.return_no}" in paper.lines
    assert f"原小票 Original {sale.receipt_no}" in paper.lines
    assert [b.text for b in paper.barcodes] == [first.return_no]
    assert not [line for line in paper.lines if line.startswith("No. S")]
    # The sale's own number still reprints the sale receipt, the slip's number the slip.
    open_counter.prints.reprint(sale.receipt_no)
    assert _printed(open_counter.prints.pending()[-1]).lines[0] == "号卡 HaoKa 销售小票"
    open_counter.prints.reprint(first.return_no)
    assert [b.text for b in _printed(open_counter.prints.pending()[-1]).barcodes] == [
        first.return_no
    ]
    # A slip scanned at the returns screen is refused as what it is: not a sale receipt.
    with pytest.raises(PosError) as refused:
        open_counter.returns.find(first.return_no)
    assert refused.value.code == "bad_code"


def test_x_and_z_reports_print_product_names_not_codes(open_counter: Counter) -> None:
    _sell(
        open_counter,
        [msisdn(2), msisdn(88), voucher(1), voucher(3, 10_000)],
        [Tender("cash", 30_000)],
    )
    x = open_counter.shifts.x_report(print_it=True)
    z = open_counter.shifts.close_shift(CLERK, {10_000: 4, 5_000: 1})
    for job_id in (x.print_job_id, z.print_job_id):
        assert job_id is not None
        paper = _printed(open_counter.prints.get(job_id))
        text = "\n".join(paper.lines)
        assert "number:" not in text and "voucher:" not in text
        assert _line(paper, "普通号").endswith("x1  ￥50.00")
        assert _line(paper, "四级靓号").endswith("x1  ￥100.00")
        assert _line(paper, "充值卡 ￥50.00").endswith("x1  ￥50.00")
        assert _line(paper, "充值卡 ￥100.00").endswith("x1  ￥100.00")
    assert _line(paper, "点钞 ￥100").endswith("x4  ￥400.00")


def test_x_reports_are_numbered_from_the_terminals_own_sequence(
    open_counter: Counter, term_store: Store
) -> None:
    open_counter.shifts.x_report()  # shown on screen only: no number used
    first = open_counter.shifts.x_report(print_it=True)
    second = open_counter.shifts.x_report(print_it=True)
    jobs = [open_counter.prints.get(x.print_job_id or "") for x in (first, second)]
    assert [(job.ref, job.receipt.number) for job in jobs] == [
        ("X000001", "X000001"),
        ("X000002", "X000002"),
    ]
    paper = _printed(jobs[0])
    assert paper.lines[:2] == ["X 报表 (不清零)", "X报表号 1"]
    assert [b.text for b in paper.barcodes] == ["X000001"]
    open_counter.prints.reprint("X000001")  # a copy keeps its number and takes none
    assert open_counter.prints.pending()[-1].receipt.number == "X000001"
    open_counter.shifts.close_shift(CLERK, {10_000: 2})
    # Across shifts and a restart of the terminal the sequence goes on.
    path, clock = term_store.path, open_counter.clock
    term_store.close()
    reopened = Store(path, clock=clock)
    try:
        counter = make_counter(reopened, clock)
        counter.shifts.open_shift(CLERK, 20_000)
        third = counter.shifts.x_report(print_it=True)
        paper = _printed(counter.prints.get(third.print_job_id or ""))
        assert paper.lines[1] == "X报表号 3"
        assert [b.text for b in paper.barcodes] == ["X000003"]
    finally:
        reopened.close()
