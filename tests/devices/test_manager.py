"""The device manager: scans diffed into plug/unplug, claims, and one status callback that
hears each change once."""

import threading
from pathlib import Path

import pytest

from devices.config import DevicesConfig, DisplayConfig, SerialScannerConfig
from devices.discovery import (
    FoundDevice,
    MatchDriver,
    SerialInterface,
    configured_drivers,
)
from devices.manager import DeviceManager
from devices.ports import DeviceKind, DeviceStatus
from devices.simulators.display import DisplaySimulator
from devices.simulators.serial_scanner import SerialScannerSimulator
from tests.devices.helpers import FakeInterface

SCANNER = FoundDevice("evdev:/dev/input/event5", "evdev", name="Barcode Scanner")
PRINTER = FoundDevice("usb:1-1", "usb", usb_id="04b8:0202", usb_classes=frozenset({7}))
MOUSE = FoundDevice("evdev:/dev/input/event2", "evdev", name="Logitech mouse")
DRIVERS = [
    MatchDriver("scanner", DeviceKind.scanner, 10, interface="evdev", name_contains=("scanner",)),
    MatchDriver("printer", DeviceKind.printer, 10, interface="usb", usb_class=7),
]


def brief(statuses: list[DeviceStatus]) -> list[tuple[str, DeviceKind, bool]]:
    return [(s.identifier, s.kind, s.connected) for s in statuses]


def test_successive_scans_give_plug_and_unplug_events() -> None:
    statuses: list[DeviceStatus] = []
    interface = FakeInterface([[SCANNER], [SCANNER, PRINTER, MOUSE], [PRINTER, MOUSE], []])
    manager = DeviceManager([interface], DRIVERS, statuses.append)

    first = manager.scan()
    assert [m.identifier for m in first.plugged] == [SCANNER.identifier] and not first.unplugged
    second = manager.scan()
    assert [m.identifier for m in second.plugged] == [PRINTER.identifier, MOUSE.identifier]
    third = manager.scan()
    assert [m.identifier for m in third.unplugged] == [SCANNER.identifier]
    manager.scan()

    assert brief(statuses) == [
        (SCANNER.identifier, DeviceKind.scanner, True),
        (PRINTER.identifier, DeviceKind.printer, True),
        (SCANNER.identifier, DeviceKind.scanner, False),
        (PRINTER.identifier, DeviceKind.printer, False),
    ]
    assert statuses[1].extra == {"interface": "usb", "driver": "printer"}


def test_unclaimed_devices_are_tracked_but_not_published() -> None:
    statuses: list[DeviceStatus] = []
    manager = DeviceManager([FakeInterface([[MOUSE]])], DRIVERS, statuses.append)
    manager.scan()
    assert statuses == []
    assert manager.devices[MOUSE.identifier].driver is None


def test_an_unchanged_scan_publishes_nothing() -> None:
    statuses: list[DeviceStatus] = []
    manager = DeviceManager([FakeInterface([[SCANNER]])], DRIVERS, statuses.append)
    manager.scan()
    diff = manager.scan()
    assert diff.plugged == () and diff.unplugged == ()
    assert len(statuses) == 1


class BrokenInterface:
    name = "broken"

    def __init__(self) -> None:
        self.calls = 0

    def list_devices(self) -> dict[str, FoundDevice]:
        self.calls += 1
        if self.calls > 1:
            raise PermissionError("/dev/input: permission denied")
        return {SCANNER.identifier: SCANNER}


def test_a_failing_interface_keeps_its_last_list_instead_of_unplugging_everything(
    caplog: pytest.LogCaptureFixture,
) -> None:
    statuses: list[DeviceStatus] = []
    manager = DeviceManager([BrokenInterface()], DRIVERS, statuses.append)
    manager.scan()
    diff = manager.scan()
    assert diff.unplugged == ()
    assert SCANNER.identifier in manager.devices
    assert "listing broken devices failed" in caplog.text


def test_reports_from_drivers_are_published_only_when_they_change() -> None:
    statuses: list[DeviceStatus] = []
    manager = DeviceManager([], [], statuses.append)
    paper_out = DeviceStatus("usb:1-1", DeviceKind.printer, True, "paper out")
    manager.report(DeviceStatus("usb:1-1", DeviceKind.printer, True, "online"))
    manager.report(paper_out)
    manager.report(paper_out)
    assert [s.detail for s in statuses] == ["online", "paper out"]
    assert manager.statuses["usb:1-1"] == paper_out


def test_a_failing_subscriber_does_not_stop_the_manager(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[DeviceStatus] = []

    def subscriber(status: DeviceStatus) -> None:
        calls.append(status)
        raise RuntimeError("status bar gone")

    manager = DeviceManager([FakeInterface([[SCANNER], [SCANNER, PRINTER]])], DRIVERS, subscriber)
    manager.scan()
    manager.scan()
    assert len(calls) == 2
    assert "status callback failed" in caplog.text


def test_watch_scans_until_stopped() -> None:
    seen = threading.Event()
    statuses: list[DeviceStatus] = []

    def on_status(status: DeviceStatus) -> None:
        statuses.append(status)
        if not status.connected:
            seen.set()

    manager = DeviceManager([FakeInterface([[SCANNER], []])], DRIVERS, on_status)
    stop = threading.Event()
    worker = threading.Thread(target=manager.watch, args=(stop, 0.01))
    worker.start()
    try:
        assert seen.wait(2)
    finally:
        stop.set()
        worker.join(2)
    assert not worker.is_alive()
    assert brief(statuses) == [
        (SCANNER.identifier, DeviceKind.scanner, True),
        (SCANNER.identifier, DeviceKind.scanner, False),
    ]


def test_configured_ptys_are_discovered_and_claimed_then_unplugged(tmp_path: Path) -> None:
    """Real serial ptys, pinned by path in the configuration, as the CLI wires them."""
    statuses: list[DeviceStatus] = []
    with (
        SerialScannerSimulator(link=tmp_path / "scanner") as scanner,
        DisplaySimulator(link=tmp_path / "display") as display,
    ):
        config = DevicesConfig(
            scanner=SerialScannerConfig(port=scanner.port),
            display=DisplayConfig(port=display.port),
        )
        interface = SerialInterface(extra_paths=config.serial_paths(), comports=list)
        manager = DeviceManager([interface], configured_drivers(config), statuses.append)
        manager.scan()
        scanner.unplug()
        manager.scan()
    assert brief(statuses) == [
        (f"serial:{tmp_path / 'scanner'}", DeviceKind.scanner, True),
        (f"serial:{tmp_path / 'display'}", DeviceKind.display, True),
        (f"serial:{tmp_path / 'scanner'}", DeviceKind.scanner, False),
    ]
