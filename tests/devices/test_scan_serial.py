"""The serial scanner over real ptys (the shipped simulator): suffixes, chunked input, double
scans, error events, and reconnecting after the port disappears."""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.ports import DeviceKind, DeviceStatus
from devices.scanner import SerialScanner
from devices.simulators.serial_scanner import SerialScannerSimulator
from shared.codes import CodeKind


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SerialScannerSimulator]:
    with SerialScannerSimulator("CR", link=tmp_path / "ttyScanner") as sim:
        yield sim


def test_simulator_port_is_a_real_tty(simulator: SerialScannerSimulator) -> None:
    fd = os.open(simulator.port, os.O_RDWR | os.O_NOCTTY)
    try:
        assert os.isatty(fd)
    finally:
        os.close(fd)


@pytest.mark.parametrize("suffix", ["CR", "LF", "CRLF"])
def test_codes_arrive_with_each_suffix(suffix: str) -> None:
    with SerialScannerSimulator(suffix) as sim:  # type: ignore[arg-type]
        scanner = SerialScanner(sim.port, baudrate=115200, suffix=suffix)  # type: ignore[arg-type]
        try:
            assert scanner.read(0.05) is None  # opens the port
            sim.scan("89860012345678901238")
            sim.scan("13800138000")
            first, second = scanner.read(1.0), scanner.read(1.0)
        finally:
            scanner.close()
    assert first is not None and first.code is not None and first.code.kind == CodeKind.iccid
    assert second is not None and second.code is not None and second.code.kind == CodeKind.msisdn


def test_a_code_written_in_pieces_is_one_scan(simulator: SerialScannerSimulator) -> None:
    scanner = SerialScanner(simulator.port)
    try:
        scanner.read(0.05)
        simulator.send(b"S00001200")
        assert scanner.read(0.1) is None
        simulator.send(b"00003455\r")
        event = scanner.read(1.0)
    finally:
        scanner.close()
    assert event is not None and event.code is not None
    assert event.code.kind == CodeKind.receipt


def test_double_scan_is_dropped_within_the_window_only(simulator: SerialScannerSimulator) -> None:
    clock = [100.0]
    scanner = SerialScanner(simulator.port, double_scan_window=2.0, clock=lambda: clock[0])
    try:
        scanner.read(0.05)
        simulator.scan("13800138000")
        simulator.scan("13800138000")
        assert scanner.read(1.0) is not None
        assert scanner.read(0.2) is None
        clock[0] += 2.5
        simulator.scan("13800138000")
        again = scanner.read(1.0)
    finally:
        scanner.close()
    assert again is not None and again.raw == "13800138000"


def test_garbage_gives_an_error_event_and_the_scanner_keeps_going(
    simulator: SerialScannerSimulator,
) -> None:
    scanner = SerialScanner(simulator.port)
    try:
        scanner.read(0.05)
        simulator.send(b"\x00\xfe12\r13800138000\r")
        bad, good = scanner.read(1.0), scanner.read(1.0)
    finally:
        scanner.close()
    assert bad is not None and not bad.ok and bad.error is not None
    assert bad.error.value == "\x00\ufffd12"
    assert good is not None and good.ok


def test_a_missing_port_is_reported_once_then_found_when_it_appears(tmp_path: Path) -> None:
    statuses: list[DeviceStatus] = []
    link = tmp_path / "ttyLater"
    scanner = SerialScanner(str(link), on_status=statuses.append, reconnect_interval=0.05)
    try:
        assert scanner.read(0.2) is None
        assert [s.connected for s in statuses] == [False]
        assert "cannot open" in statuses[0].detail and str(link) in statuses[0].detail
        with SerialScannerSimulator(link=link) as sim:
            assert scanner.read(0.2) is None
            assert scanner.connected
            sim.scan("13800138000")
            event = scanner.read(1.0)
    finally:
        scanner.close()
    assert event is not None and event.ok
    assert [s.connected for s in statuses] == [False, True]


def test_unplugged_port_is_reported_and_scanning_resumes_after_replug(
    simulator: SerialScannerSimulator,
) -> None:
    statuses: list[DeviceStatus] = []
    scanner = SerialScanner(
        simulator.port, on_status=statuses.append, reconnect_interval=0.05, identifier="till-1"
    )
    try:
        scanner.read(0.05)
        simulator.scan("13800138000")
        assert scanner.read(1.0) is not None
        simulator.send(b"1390")  # half a code, then the cable is pulled
        simulator.unplug()
        assert scanner.read(0.3) is None
        assert not scanner.connected
        simulator.plug()
        deadline = time.monotonic() + 2
        while not scanner.connected and time.monotonic() < deadline:
            scanner.read(0.05)
        simulator.scan("13900139000")
        event = scanner.read(1.0)
    finally:
        scanner.close()
    assert event is not None and event.raw == "13900139000" and event.ok
    assert [(s.identifier, s.kind, s.connected) for s in statuses] == [
        ("till-1", DeviceKind.scanner, True),
        ("till-1", DeviceKind.scanner, False),
        ("till-1", DeviceKind.scanner, True),
    ]
    assert statuses[1].detail.startswith("port lost")


def test_read_returns_on_time_when_the_line_is_quiet(simulator: SerialScannerSimulator) -> None:
    scanner = SerialScanner(simulator.port)
    try:
        started = time.monotonic()
        assert scanner.read(0.25) is None
        elapsed = time.monotonic() - started
    finally:
        scanner.close()
    assert 0.24 <= elapsed < 1.5


def test_simulator_refuses_to_scan_while_unplugged(simulator: SerialScannerSimulator) -> None:
    simulator.unplug()
    assert not os.path.lexists(simulator.port)
    with pytest.raises(RuntimeError, match="unplugged"):
        simulator.scan("13800138000")
