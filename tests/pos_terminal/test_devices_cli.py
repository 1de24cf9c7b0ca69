"""`haoka-pos devices list` and `devices test` against the simulators: a TCP ESC/POS printer,
a pty pole display and a pty serial scanner."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devices.config import load_config
from devices.printer import open_printer
from devices.simulators.counter import SimulatedCounter
from devices.simulators.serial_scanner import SerialScannerSimulator
from pos_terminal.cli import app


@pytest.fixture
def counter(tmp_path: Path) -> Iterator[SimulatedCounter]:
    with SimulatedCounter(
        tmp_path,
        control_port=None,
        display_commands="cd5220",
        scanner_suffix="CRLF",
        drawer_pin=5,
        status_timeout=0.5,
    ) as counter:
        yield counter


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["devices", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def rows(output: str) -> dict[str, list[str]]:
    """Table rows by their first cell (the device kind)."""
    table = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if len(cells) == 5:
            table[cells[0]] = cells[1:]
    return table


def test_list_shows_every_configured_device_and_its_status(counter: SimulatedCounter) -> None:
    code, output = run("list", "--config", str(counter.config))
    assert code == 0, output
    table = rows(output)
    assert table["printer"] == [counter.printer.target, "network", "", "online ready"]
    assert table["scanner"] == [counter.scanner.port, "serial", "", "present"]
    assert table["display"] == [counter.display.port, "serial", "", "present"]
    assert table["drawer"] == ["via the printer", "config", "", "via printer, closed"]


def test_list_reports_paper_out_and_devices_that_are_gone(counter: SimulatedCounter) -> None:
    counter.printer.control("paper-out")
    counter.scanner.unplug()
    code, output = run("list", "--config", str(counter.config))
    assert code == 0, output
    table = rows(output)
    assert table["printer"][-1].startswith("paper_out")
    assert table["scanner"] == [counter.scanner.port, "config", "", "not found"]


def test_list_reports_the_drawer_sensor_the_printer_reads(counter: SimulatedCounter) -> None:
    kick = open_printer(load_config(counter.config).printer)  # type: ignore[arg-type]
    try:
        assert kick.kick("open-for-list").ok
    finally:
        kick.close()
    _, output = run("list", "--config", str(counter.config))
    assert rows(output)["drawer"][-1] == "via printer, open"
    counter.printer.stop()  # no printer, nothing to read the drawer's sensor with
    _, output = run("list", "--config", str(counter.config))
    assert rows(output)["drawer"][-1] == "printer not found"


def test_list_takes_the_config_from_the_environment(
    counter: SimulatedCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAOKA_DEVICES_CONFIG", str(counter.config))
    code, output = run("list")
    assert code == 0 and "display" in rows(output)


def keep_scanning(
    scanner: SerialScannerSimulator, code: str
) -> tuple[threading.Event, threading.Thread]:
    """Scans `code` every 0.2 s: the command opens the port only when it gets to the scan step,
    and a code sent before that is gone (opening a serial port flushes its input)."""
    stop = threading.Event()

    def scan() -> None:
        while not stop.wait(0.2):
            scanner.scan(code)

    thread = threading.Thread(target=scan)
    thread.start()
    return stop, thread


def test_test_prints_kicks_shows_and_reads_a_scan(counter: SimulatedCounter) -> None:
    stop, thread = keep_scanning(counter.scanner, "89860012345678901238")
    try:
        code, output = run("test", "--config", str(counter.config), "--scan-timeout", "5")
    finally:
        stop.set()
        thread.join()
    assert code == 0, output
    assert "ok printer: test receipt printed (online" in output
    assert "ok drawer: kicked pin 5; sensor: open" in output
    assert "ok display: test lines written (cd5220)" in output
    assert "ok scanner: scanned iccid 89860012345678901238" in output
    [receipt] = counter.printer.printer.wait_for_receipts(1)
    assert any("HaoKa" in line for line in receipt.lines)
    assert [kick.pin for kick in counter.printer.printer.wait_for_kicks(1)] == [5]
    assert counter.display.lines == ["HaoKa display test  ", "0123456789 ABCDEFGHI"]
    assert counter.display.screen.unknown == []


def test_test_reports_each_failure_and_exits_non_zero(counter: SimulatedCounter) -> None:
    counter.printer.control("paper-out")
    counter.display.stop()
    code, output = run("test", "--config", str(counter.config), "--scan-timeout", "0.3")
    assert code == 1
    assert "FAILED printer: cannot print" in output
    assert "ok drawer: kicked pin 5" in output
    assert "FAILED display:" in output and "ttyDisplay" in output
    assert "FAILED scanner: no scan within 0.3 s" in output
    assert counter.printer.printer.receipts == []


def test_test_reports_an_unreadable_code_as_a_working_scanner(counter: SimulatedCounter) -> None:
    stop, thread = keep_scanning(counter.scanner, "HELLO")
    try:
        code, output = run("test", "--config", str(counter.config), "--scan-timeout", "5")
    finally:
        stop.set()
        thread.join()
    assert code == 0, output
    assert "ok scanner: read 'HELLO', not a valid code" in output


def test_without_a_config_every_step_is_skipped() -> None:
    code, output = run("test")
    assert code == 0
    for device in ("printer", "drawer", "display", "scanner"):
        assert f"skipped {device}: no [{device}] in the devices file" in output


def test_a_bad_config_is_named_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "devices.toml"
    config.write_text('[display]\nport = "/dev/ttyS1"\ncommand_set = "vfd"\n')
    for command in ("list", "test"):
        result = CliRunner().invoke(app, ["devices", command, "--config", str(config)])
        assert result.exit_code == 2
        assert f"{config}: display.command_set: must be one of epson, cd5220" in result.output
