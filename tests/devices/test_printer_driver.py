"""The printer driver over real transports: TCP, a pty as serial port, a file; the USB guard,
and a real USB printer where this machine has one."""

import os
import select
import socket
import sys
import threading
import time
import types

import escpos.printer
import pytest

from devices.config import load_config
from devices.discovery import USB_CLASS_PRINTER, UsbInterface
from devices.escpos.decode import DrawerKick, decode
from devices.factory import open_drawer
from devices.ports import PrinterState
from devices.printer import (
    PrinterConfig,
    PrinterUnavailable,
    SerialDrawer,
    encode_receipt,
    open_printer,
    test_receipt,
)
from devices.printer.links import UsbLink
from devices.simulators._pty import PtyPort
from devices.simulators.printer import PrinterSimulator, SerialPrinterSimulator

RECEIPT = test_receipt()


@pytest.fixture
def simulator(tmp_path):
    with PrinterSimulator(port=0, out_dir=tmp_path) as running:
        yield running


@pytest.fixture
def printer(simulator):
    connected = open_printer(PrinterConfig("network", simulator.target, status_timeout=0.5))
    yield connected
    connected.close()


def test_network_printer_prints_the_encoded_receipt(simulator, printer):
    result = printer.print_receipt("sale-1", RECEIPT)
    assert result.ok and not result.repeated
    (printed,) = simulator.printer.wait_for_receipts(1)
    assert printed.barcodes[0].text == RECEIPT.number
    assert bytes(simulator.printer.received).endswith(encode_receipt(RECEIPT, "80mm"))


def test_a_repeated_job_id_is_not_printed_twice(simulator, printer):
    assert printer.print_receipt("sale-1", RECEIPT).ok
    again = printer.print_receipt("sale-1", RECEIPT)
    assert again.ok and again.repeated
    printer.status()  # a round trip, so a second receipt would have arrived by now
    assert len(simulator.printer.receipts) == 1


def test_reprint_sends_the_stored_bytes_again(simulator, printer):
    payload = encode_receipt(RECEIPT, "58mm")
    assert printer.print_bytes("sale-1", payload).ok
    assert printer.reprint("sale-1").ok
    first, second = simulator.printer.wait_for_receipts(2)
    assert first.lines == second.lines
    assert bytes(simulator.printer.received).count(payload) == 2
    assert not printer.reprint("never-printed").ok


def test_status_online_then_paper_near_end_paper_out_cover_open(simulator, printer):
    assert printer.status().state == PrinterState.online
    simulator.control("paper-near-end")
    assert printer.status().state == PrinterState.paper_near_end
    simulator.control("paper-out")
    assert printer.status().state == PrinterState.paper_out
    simulator.control("paper-ok")
    simulator.control("cover-open")
    assert printer.status().state == PrinterState.cover_open


def test_paper_out_refuses_the_job_and_the_same_id_prints_after_reloading(simulator, printer):
    simulator.control("paper-out")
    refused = printer.print_receipt("sale-1", RECEIPT)
    assert not refused.ok
    assert refused.message == f"cannot print: network printer {simulator.target}: paper out"
    assert simulator.printer.receipts == []
    simulator.control("paper-ok")
    retried = printer.print_receipt("sale-1", RECEIPT)
    assert retried.ok and not retried.repeated
    assert len(simulator.printer.wait_for_receipts(1)) == 1


def test_a_printer_that_stops_answering_is_offline_within_the_timeout(simulator, printer):
    simulator.control("offline")
    started = time.monotonic()
    status = printer.status()
    elapsed = time.monotonic() - started
    assert status.state == PrinterState.offline
    assert status.drawer_open is None
    assert 0.5 <= elapsed < 1.5
    assert not printer.print_receipt("sale-1", RECEIPT).ok
    simulator.control("online")
    assert printer.status().state == PrinterState.online


def test_a_port_that_accepts_but_never_answers_is_offline_after_the_timeout():
    # The kernel completes the handshake from the backlog; nothing ever reads or answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        printer = open_printer(PrinterConfig("network", f"127.0.0.1:{port}", status_timeout=0.3))
        started = time.monotonic()
        status = printer.status()
        elapsed = time.monotonic() - started
        printer.close()
    assert status.state == PrinterState.offline
    assert "no answer within 0.3 s" in status.detail
    assert 0.3 <= elapsed < 1.0


def test_a_printer_that_refuses_connections_is_offline_at_once():
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    printer = open_printer(PrinterConfig("network", f"127.0.0.1:{port}"))
    started = time.monotonic()
    status = printer.status()
    assert status.state == PrinterState.offline
    assert time.monotonic() - started < 0.5
    result = printer.print_receipt("sale-1", RECEIPT)
    assert not result.ok and not result.repeated


def test_printer_reconnects_after_the_printer_comes_back(tmp_path):
    with PrinterSimulator(port=0) as first:
        target = first.target
        port = first.port
        printer = open_printer(PrinterConfig("network", target, status_timeout=0.3))
        assert printer.status().state == PrinterState.online
    assert printer.status().state == PrinterState.offline
    with PrinterSimulator(port=port) as second:
        assert printer.print_receipt("sale-1", RECEIPT).ok
        assert len(second.printer.wait_for_receipts(1)) == 1
    printer.close()


@pytest.mark.parametrize("pin, mode_byte", [(2, 0), (5, 1)])
def test_drawer_kick_on_the_configured_pin_and_sensor_reported(simulator, pin, mode_byte):
    printer = open_printer(PrinterConfig("network", simulator.target, drawer_pin=pin))
    assert printer.is_open() is False
    result = printer.kick("drawer-1")
    assert result.ok and f"pin {pin}" in result.message
    assert printer.is_open() is True
    assert b"\x1bp" + bytes([mode_byte]) + b"\x19\xfa" in simulator.printer.received
    assert printer.kick("drawer-1").repeated
    assert simulator.printer.drawer_kicks == [DrawerKick(pin, 50, 500)]
    simulator.control("drawer-closed")
    assert printer.is_open() is False
    printer.close()


def test_drawer_pin_must_be_2_or_5():
    with pytest.raises(ValueError, match="2 or 5"):
        open_printer(PrinterConfig("network", "127.0.0.1:9", drawer_pin=3))


def test_serial_printer_over_a_pty_prints_and_reports_status():
    with SerialPrinterSimulator(profile="58mm") as simulator:
        config = PrinterConfig(
            "serial", simulator.path, profile="58mm", baudrate=9600, status_timeout=0.3
        )
        printer = open_printer(config)
        assert printer.status().state == PrinterState.online
        assert printer.print_receipt("sale-1", RECEIPT).ok
        (printed,) = simulator.printer.wait_for_receipts(1)
        assert "-" * 32 in printed.lines
        simulator.printer.control("paper-out")
        assert printer.status().state == PrinterState.paper_out
        simulator.printer.control("offline")
        started = time.monotonic()
        assert printer.status().state == PrinterState.offline
        assert time.monotonic() - started < 1.0
        printer.close()


class _SerialDrawerOnPty:
    """The drawer end of a pty: opens on BEL, answers "?" with 1 when open, 0 when shut."""

    def __init__(self) -> None:
        self.port = PtyPort()
        self.port.plug()
        self.received = bytearray()
        self.open = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        master = self.port.master
        while not self._stop.is_set():
            if not select.select([master], [], [], 0.05)[0]:
                continue
            for byte in os.read(master, 64):
                self.received.append(byte)
                if byte == 0x07:
                    self.open = True
                elif byte == ord("?"):
                    os.write(master, b"\x01" if self.open else b"\x00")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.port.unplug()


def test_serial_drawer_opens_on_its_byte_and_reports_its_sensor():
    far_end = _SerialDrawerOnPty()
    try:
        drawer = SerialDrawer(far_end.port.path, status_query=b"?", timeout=0.5)
        assert drawer.is_open() is False
        result = drawer.kick("drawer-1")
        assert result.ok
        assert drawer.is_open() is True
        assert drawer.kick("drawer-1").repeated
        assert bytes(far_end.received).count(b"\x07") == 1
        drawer.close()
    finally:
        far_end.stop()


def test_serial_drawer_without_a_sensor_reports_unknown():
    far_end = _SerialDrawerOnPty()
    try:
        drawer = SerialDrawer(far_end.port.path)
        assert drawer.kick("drawer-1").ok
        assert drawer.is_open() is None
        drawer.close()
    finally:
        far_end.stop()


def test_serial_drawer_on_a_missing_port_says_which():
    with pytest.raises(PrinterUnavailable, match="/dev/does-not-exist"):
        SerialDrawer("/dev/does-not-exist")


def test_file_printer_writes_exactly_the_encoded_bytes(tmp_path):
    device = tmp_path / "lp0"
    printer = open_printer(PrinterConfig("file", str(device), profile="58mm"))
    assert printer.status().state == PrinterState.online
    assert "no status channel" in printer.status().detail
    assert printer.print_receipt("sale-1", RECEIPT).ok
    printer.close()
    assert device.read_bytes() == encode_receipt(RECEIPT, "58mm")
    assert decode(device.read_bytes()).receipts[0].barcodes[0].text == RECEIPT.number


def test_file_printer_in_a_missing_directory_is_offline(tmp_path):
    printer = open_printer(PrinterConfig("file", str(tmp_path / "no" / "lp0")))
    assert printer.status().state == PrinterState.offline
    assert not printer.print_receipt("sale-1", RECEIPT).ok


def test_usb_without_pyusb_says_what_to_install(monkeypatch):
    """USB printing itself is not exercised: this machine has no USB printer."""
    monkeypatch.setitem(sys.modules, "usb", None)
    monkeypatch.setitem(sys.modules, "usb.core", None)
    with pytest.raises(PrinterUnavailable, match="pyusb"):
        open_printer(PrinterConfig("usb", "04b8:0202"))


def test_usb_writes_have_a_deadline(monkeypatch):
    """Without one, libusb waits forever on a printer that stops taking bytes (paper out)."""
    fake_usb = types.ModuleType("usb")
    fake_usb.core = types.ModuleType("usb.core")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "usb", fake_usb)
    monkeypatch.setitem(sys.modules, "usb.core", fake_usb.core)  # type: ignore[attr-defined]
    made = []
    # python-escpos's Usb cannot be made without pyusb; record how the link makes it instead.
    monkeypatch.setattr(escpos.printer, "Usb", lambda *ids, **options: made.append((ids, options)))
    UsbLink("04b8:0202")
    assert made == [((0x04B8, 0x0202), {"timeout": 10_000})]  # ms, as pyusb counts


@pytest.mark.hardware
def test_a_real_usb_printer_answers_a_status_query():
    """The USB transport end to end, where this machine has a USB printer and pyusb."""
    usb_id = next(
        (
            found.usb_id
            for found in UsbInterface().list_devices().values()
            if USB_CLASS_PRINTER in found.usb_classes
        ),
        None,
    )
    if usb_id is None:
        pytest.skip("no USB printer-class device on this machine")
    pytest.importorskip("usb.core", reason="pyusb is not installed, so USB cannot be driven")
    printer = open_printer(PrinterConfig("usb", usb_id, status_timeout=1.0))
    try:
        status = printer.status()
    finally:
        printer.close()
    assert status.state != PrinterState.offline, status.detail


def test_usb_target_must_be_vendor_colon_product():
    with pytest.raises(ValueError, match="vendor:product"):
        open_printer(PrinterConfig("usb", "epson"))


def test_a_serial_drawer_from_devices_toml_uses_its_sensor_settings(tmp_path):
    far_end = _SerialDrawerOnPty()
    try:
        path = tmp_path / "devices.toml"
        path.write_text(
            f'[drawer]\nvia = "serial"\nport = "{far_end.port.path}"\n'
            'open_command = "07"\nstatus_query = "3F"\nopen_mask = 1\n'
        )
        config = load_config(path)
        assert (config.drawer.status_query, config.drawer.open_mask) == (b"?", 1)
        drawer = open_drawer(config, None)
        assert drawer is not None
        assert drawer.is_open() is False
        assert drawer.kick("drawer-1").ok
        assert drawer.is_open() is True
        drawer.close()
    finally:
        far_end.stop()
