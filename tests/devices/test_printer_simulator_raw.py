"""The printer simulator keeps each job's raw ESC/POS bytes (receipt-NNNN.bin), so any printed
receipt can be decoded again on its own: over a real pty, and however the bytes are chunked."""

import pytest

from devices.escpos.decode import decode
from devices.escpos.text import width
from devices.printer import (
    AmountLine,
    PrinterConfig,
    Receipt,
    encode_receipt,
    open_printer,
    test_receipt,
)
from devices.simulators.printer import SerialPrinterSimulator, SimulatedPrinter

RECEIPT = test_receipt()
SECOND = Receipt(
    number="S0000120000000017",
    title="退货单 Return",
    header=("越城一号店",),
    totals=(AmountLine("退款 Refund", -5_000),),
)


def test_a_receipt_printed_over_a_pty_is_saved_as_bytes_that_decode_to_it(tmp_path):
    with SerialPrinterSimulator(profile="58mm", out_dir=tmp_path) as simulator:
        config = PrinterConfig("serial", simulator.path, profile="58mm", status_timeout=0.5)
        printer = open_printer(config)
        assert printer.print_receipt("sale-1", RECEIPT).ok
        assert printer.print_receipt("return-1", SECOND).ok
        first, second = simulator.printer.wait_for_receipts(2)
        printer.close()
    raw = [(tmp_path / f"receipt-000{n}.bin").read_bytes() for n in (1, 2)]
    assert raw == simulator.printer.jobs
    # Each file holds its own job, cut and all, and nothing of the other one.
    assert raw[0].endswith(encode_receipt(RECEIPT, "58mm"))
    assert raw[1].endswith(encode_receipt(SECOND, "58mm"))
    assert encode_receipt(SECOND, "58mm") not in raw[0]
    (again,) = decode(raw[0]).receipts
    assert again.lines == first.lines
    assert [b.text for b in again.barcodes] == [RECEIPT.number]
    (again,) = decode(raw[1]).receipts
    assert again.lines == second.lines
    refund = next(line for line in again.lines if line.startswith("退款 Refund"))
    assert refund.endswith(" -￥50.00") and width(refund) == 32


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_jobs_split_at_their_cuts_whatever_the_chunks(tmp_path, chunk):
    jobs = [
        encode_receipt(RECEIPT, "80mm"),
        b"\x10\x04\x01" + encode_receipt(SECOND, "80mm", "raster"),
        b"\x1b@A\n\x1dVA\x03",  # a cut with a feed byte after it
        b"\x1b@B\n\x1dV\x00",
    ]
    stream = b"".join(jobs)
    printer = SimulatedPrinter("80mm", tmp_path)
    for start in range(0, len(stream), chunk):
        printer.receive(stream[start : start + chunk])
    assert printer.jobs == jobs
    assert [path.read_bytes() for path in sorted(tmp_path.glob("*.bin"))] == jobs
    assert [decode(job).receipts[0].lines for job in jobs] == [r.lines for r in printer.receipts]
