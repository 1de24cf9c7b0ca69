"""The print queue with the simulated TCP receipt printer: a sale stays committed when the printer
fails, its receipt waits and prints when the printer is back, and can be reprinted."""

from collections.abc import Iterator

import pytest

from devices.printer import EscposPrinter, PrinterConfig, open_printer
from devices.simulators.printer import PrinterSimulator
from pos_terminal.services.sale import CompletedSale, Tender
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import CLERK, voucher


@pytest.fixture
def simulator() -> Iterator[PrinterSimulator]:
    with PrinterSimulator(port=0) as sim:
        yield sim


@pytest.fixture
def printer(simulator: PrinterSimulator) -> Iterator[EscposPrinter]:
    printer = open_printer(
        PrinterConfig(transport="network", target=simulator.target, status_timeout=0.5)
    )
    yield printer
    printer.close()


def _sell(counter: Counter, n: int) -> CompletedSale:
    draft = counter.sales.start(CLERK)
    counter.sales.scan(draft, voucher(n))
    return counter.sales.complete(draft, [Tender("cash", 10_000)])


def test_receipt_waits_while_paper_is_out_then_prints(
    open_counter: Counter, simulator: PrinterSimulator, printer: EscposPrinter
) -> None:
    simulator.control("paper-out")
    sale = _sell(open_counter, 1)
    [failed] = open_counter.prints.drain(printer)
    assert not failed.ok and "paper_out" in failed.message
    # The sale is committed whatever the printer does.
    assert open_counter.returns.find(sale.receipt_no).total_fen == 5_000
    [waiting] = open_counter.prints.pending()
    assert (waiting.id, waiting.attempts) == (sale.print_job_id, 1)
    assert waiting.last_error == failed.message
    assert simulator.printer.receipts == []

    simulator.control("paper-ok")
    [printed] = open_counter.prints.drain(printer)
    assert printed.ok
    assert open_counter.prints.pending() == []
    [paper] = simulator.printer.wait_for_receipts(1)
    assert [b.text for b in paper.barcodes] == [sale.receipt_no]
    text = "\n".join(paper.lines)
    assert "合计 Total" in text and "找零 Change" in text
    change = next(line for line in paper.lines if line.startswith("找零"))
    assert change.endswith("￥50.00")  # paid 100 for a 50-yuan card


def test_jobs_print_in_order_and_stop_at_the_first_failure(
    open_counter: Counter, simulator: PrinterSimulator, printer: EscposPrinter
) -> None:
    first, second = _sell(open_counter, 1), _sell(open_counter, 2)
    simulator.control("cover-open")
    results = open_counter.prints.drain(printer)
    assert [r.ok for r in results] == [False]  # the second job was not tried out of turn
    simulator.control("cover-closed")
    assert [r.action_id for r in open_counter.prints.drain(printer)] == [
        first.print_job_id,
        second.print_job_id,
    ]
    receipts = simulator.printer.wait_for_receipts(2)
    assert [r.barcodes[0].text for r in receipts] == [first.receipt_no, second.receipt_no]


def test_an_unreachable_printer_leaves_the_job_queued(open_counter: Counter) -> None:
    sale = _sell(open_counter, 1)
    gone = open_printer(
        PrinterConfig(transport="network", target="127.0.0.1:9", status_timeout=0.2)
    )
    [result] = open_counter.prints.drain(gone)
    assert not result.ok
    assert [job.id for job in open_counter.prints.pending()] == [sale.print_job_id]


def test_reprint_queues_a_marked_copy(
    open_counter: Counter, simulator: PrinterSimulator, printer: EscposPrinter
) -> None:
    sale = _sell(open_counter, 1)
    open_counter.prints.drain(printer)
    copy_id = open_counter.prints.reprint(sale.receipt_no)
    assert copy_id != sale.print_job_id
    open_counter.prints.drain(printer)
    original, copy = simulator.printer.wait_for_receipts(2)
    assert copy.barcodes[0].text == sale.receipt_no
    assert "** 重印 COPY **" in copy.lines
    assert not any("重印" in line for line in original.lines)
    with pytest.raises(Exception, match="no receipt"):
        open_counter.prints.reprint("S0000000000000000")
