"""The TCP printer simulator: receipts saved as text and PNG, control port, CLI, bad bytes."""

import re
import socket
import subprocess
import sys
import time

import zxingcpp
from PIL import Image

from devices.escpos.commands import StatusRequest
from devices.escpos.status import PrinterCondition
from devices.ports import PrinterState
from devices.printer import PrinterConfig, open_printer, test_receipt
from devices.simulators.printer import PrinterSimulator

RECEIPT = test_receipt()


def _exchange(port: int, data: bytes, expect: int, timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(data)
        answer = b""
        while len(answer) < expect:
            chunk = conn.recv(64)
            if not chunk:
                break
            answer += chunk
        return answer


def test_each_receipt_is_saved_as_text_and_a_scannable_png(tmp_path):
    with PrinterSimulator(port=0, out_dir=tmp_path, profile="58mm") as simulator:
        printer = open_printer(PrinterConfig("network", simulator.target, profile="58mm"))
        assert printer.print_receipt("sale-1", RECEIPT).ok
        assert printer.print_receipt("sale-2", RECEIPT).ok
        simulator.printer.wait_for_receipts(2)
        printer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "receipt-0001.bin",
        "receipt-0001.png",
        "receipt-0001.txt",
        "receipt-0002.bin",
        "receipt-0002.png",
        "receipt-0002.txt",
    ]
    text = (tmp_path / "receipt-0001.txt").read_text(encoding="utf-8")
    assert "合计 Total              ￥320.00" in text
    assert f"[Code 128: {RECEIPT.number}]" in text
    with Image.open(tmp_path / "receipt-0001.png") as image:
        assert image.width == 384
        found = {r.text for r in zxingcpp.read_barcodes(image)}
    assert found == {RECEIPT.number, RECEIPT.qr_payload}


def test_status_queries_are_answered_on_the_wire():
    with PrinterSimulator(port=0) as simulator:
        assert _exchange(simulator.port, b"\x10\x04\x01\x10\x04\x04", 2) == b"\x12\x12"
        simulator.control("paper-out")
        assert _exchange(simulator.port, b"\x10\x04\x02\x10\x04\x04", 2) == b"\x32\x7e"
        assert simulator.printer.status_queries == [1, 4, 2, 4]


def test_control_port_changes_the_printer_condition():
    with PrinterSimulator(port=0, control_port=0) as simulator:
        printer = open_printer(PrinterConfig("network", simulator.target, status_timeout=0.3))
        assert simulator.control_port is not None
        assert _exchange(simulator.control_port, b"cover-open\n", 3) == b"ok\n"
        assert printer.status().state == PrinterState.cover_open
        reply = _exchange(simulator.control_port, b"explode\n", 10)
        assert reply.startswith(b"error: unknown printer control 'explode'")
        printer.close()


def test_bytes_it_cannot_read_are_recorded_and_printing_continues():
    with PrinterSimulator(port=0) as simulator:
        with socket.create_connection(("127.0.0.1", simulator.port)) as conn:
            conn.sendall(b"\x1b\x99garbage")
            conn.sendall(b"\x1b@after\n\x1dV\x01")
            (printed,) = simulator.printer.wait_for_receipts(1)
        assert printed.lines == ["Ögarbage", "after"]  # like a printer: garbage, then on
        assert len(simulator.printer.errors) == 1
        assert "ESC b'\\x99'" in simulator.printer.errors[0]


def test_a_status_request_it_does_not_know_is_recorded_and_later_ones_are_answered():
    with PrinterSimulator(port=0) as simulator:
        with socket.create_connection(("127.0.0.1", simulator.port), timeout=2) as conn:
            conn.sendall(b"\x10\x04\x41\x10\x04\x01")
            assert conn.recv(1) == bytes([PrinterCondition().answer(StatusRequest.printer)])
        assert simulator.printer.status_queries == [StatusRequest.printer]
        assert "DLE EOT 65" in simulator.printer.errors[0]


def test_command_line_simulator_starts_paper_out_and_serves(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devices.simulators.printer",
            "--port",
            "0",
            "--out",
            str(tmp_path),
            "--paper-out",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        match = re.search(r"simulated printer on 127\.0\.0\.1:(\d+)", line)
        assert match, line
        port = int(match.group(1))
        printer = open_printer(PrinterConfig("network", f"127.0.0.1:{port}"))
        assert printer.status().state == PrinterState.paper_out
        printer.close()
    finally:
        process.terminate()
        process.wait(timeout=5)
        process.stderr.close()


def test_stopping_the_simulator_closes_open_connections():
    simulator = PrinterSimulator(port=0).start()
    conn = socket.create_connection(("127.0.0.1", simulator.port))
    conn.sendall(b"\x10\x04\x01")
    assert conn.recv(1) == b"\x12"  # the connection is being served
    started = time.monotonic()
    simulator.stop()
    assert time.monotonic() - started < 2
    conn.settimeout(2)
    assert conn.recv(1) == b""
    conn.close()
