"""The simulated counter `make demo` runs: its config, the display mirrored to a file, and
scans written to its named pipe arriving on the serial scanner (real ptys, real TCP)."""

import threading
import time
from pathlib import Path

from devices.config import load_config
from devices.display.serial_display import SerialDisplay
from devices.printer import open_printer
from devices.scanner.serial_scanner import SerialScanner
from devices.simulators.counter import SimulatedCounter


def _eventually(check, timeout: float = 3.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_config_points_at_the_running_simulators(tmp_path: Path) -> None:
    with SimulatedCounter(tmp_path) as counter:
        config = load_config(counter.config)
        assert config.printer is not None and config.printer.target == counter.printer.target
        printer = open_printer(config.printer)
        try:
            assert printer.status().can_print
        finally:
            printer.close()
        assert config.display is not None and config.display.port == counter.display.port


def test_display_is_mirrored_and_the_scan_pipe_scans(tmp_path: Path) -> None:
    with SimulatedCounter(tmp_path, mirror=True) as counter:
        display = SerialDisplay(counter.display.port, command_set="epson")
        assert display.show(["13905758888", "TOTAL Y125.00"]).ok
        assert _eventually(
            lambda: (
                counter.display_file.read_text().splitlines()
                == ["13905758888         ", "TOTAL Y125.00       "]
            )
        )
        display.close()

        scanner = SerialScanner(counter.scanner.port)
        assert scanner.read(0.2) is None  # opens the port; nothing scanned yet
        with open(counter.scan_pipe, "w", encoding="ascii") as pipe:
            pipe.write("13905758888\n")
        event = scanner.read(3.0)
        scanner.close()
        assert event is not None and event.ok and event.code is not None
        assert event.code.value == "13905758888"


def test_stopping_at_once_leaves_no_scan_pipe_reader_behind(tmp_path: Path) -> None:
    # The reader used to block in open() on the FIFO; a stop that came before it got there
    # could not wake it, so stop() waited out its join timeout and the thread stayed.
    for _ in range(5):
        started = time.monotonic()
        with SimulatedCounter(tmp_path, mirror=True):
            pass
        assert time.monotonic() - started < 1.5
        assert not [t for t in threading.enumerate() if t.name == "_read_scan_pipe"]


def test_the_scan_pipe_takes_several_codes_and_lines_in_pieces(tmp_path: Path) -> None:
    with SimulatedCounter(tmp_path, mirror=True) as counter:
        scanner = SerialScanner(counter.scanner.port)
        try:
            assert scanner.read(0.2) is None
            with open(counter.scan_pipe, "w", encoding="ascii") as pipe:
                pipe.write("13905758888\n1380013")
                pipe.flush()
                pipe.write("8000\n")
            first, second = scanner.read(3.0), scanner.read(3.0)
        finally:
            scanner.close()
    assert [e.raw for e in (first, second) if e is not None] == ["13905758888", "13800138000"]
