"""Discovery interfaces over real sources where this machine has them (a sysfs-shaped tree,
real ptys, real TCP sockets) and driver claims by priority."""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.config import DevicesConfig, DrawerConfig, EvdevScannerConfig
from devices.discovery import (
    EvdevInterface,
    FileInterface,
    FoundDevice,
    MatchDriver,
    NetworkPrinterInterface,
    SerialInterface,
    UsbInterface,
    claim,
    configured_drivers,
    default_drivers,
    is_pinned,
    standard_interfaces,
)
from devices.ports import DeviceKind
from devices.printer import PrinterConfig
from devices.printer.config import parse_host_port
from devices.scanner import EvdevMatch
from devices.simulators.serial_scanner import SerialScannerSimulator
from tests.devices.helpers import FakeInterface


def usb_device(
    root: Path,
    name: str,
    vendor: str,
    product: str,
    *,
    classes: tuple[str, ...] = (),
    manufacturer: str = "",
    label: str = "",
) -> None:
    """Writes the files the kernel shows for one USB device under /sys/bus/usb/devices."""
    entry = root / name
    entry.mkdir(parents=True)
    (entry / "idVendor").write_text(vendor + "\n")
    (entry / "idProduct").write_text(product + "\n")
    if manufacturer:
        (entry / "manufacturer").write_text(manufacturer + "\n")
    if label:
        (entry / "product").write_text(label + "\n")
    for i, cls in enumerate(classes):
        iface = root / f"{name}:1.{i}"
        iface.mkdir()
        (iface / "bInterfaceClass").write_text(cls + "\n")
        (entry / f"{name}:1.{i}").symlink_to(iface)


def test_usb_devices_are_listed_with_ids_names_and_interface_classes(tmp_path: Path) -> None:
    usb_device(
        tmp_path, "1-1", "04b8", "0202", classes=("07",), manufacturer="EPSON", label="TM-T88V"
    )
    usb_device(tmp_path, "1-2", "0C2E", "0B61", classes=("03", "ff"))
    (tmp_path / "usb1").mkdir()  # a root hub without ids readable here
    found = UsbInterface(tmp_path).list_devices()
    assert set(found) == {"usb:1-1", "usb:1-2"}
    printer = found["usb:1-1"]
    assert (printer.usb_id, printer.name, printer.usb_classes) == (
        "04b8:0202",
        "EPSON TM-T88V",
        frozenset({7}),
    )
    assert found["usb:1-2"].usb_id == "0c2e:0b61"
    assert found["usb:1-2"].usb_classes == frozenset({3, 0xFF})


def test_usb_interface_on_a_machine_without_usb_lists_nothing(tmp_path: Path) -> None:
    assert UsbInterface(tmp_path / "absent").list_devices() == {}


def test_a_configured_pty_is_found_and_a_system_port_is_listed(tmp_path: Path) -> None:
    with SerialScannerSimulator(link=tmp_path / "ttyScanner") as sim:
        interface = SerialInterface(
            extra_paths=[sim.port, str(tmp_path / "ttyMissing")],
            comports=lambda: [("/dev/ttyUSB0", "USB-Serial", 0x067B, 0x2303)],
        )
        found = interface.list_devices()
    assert set(found) == {f"serial:{sim.port}", "serial:/dev/ttyUSB0"}
    assert found["serial:/dev/ttyUSB0"].usb_id == "067b:2303"
    assert found[f"serial:{sim.port}"].path == sim.port


def test_a_port_listed_twice_under_two_names_is_one_device(tmp_path: Path) -> None:
    with SerialScannerSimulator() as sim:
        link = tmp_path / "by-id-scanner"
        link.symlink_to(sim.port)
        found = SerialInterface(
            extra_paths=[str(link)], comports=lambda: [(sim.port, "n/a", None, None)]
        ).list_devices()
    assert list(found) == [f"serial:{link}"]


def test_the_real_comports_listing_runs() -> None:
    found = SerialInterface().list_devices()
    assert all(key == f"serial:{device.path}" for key, device in found.items())


def test_evdev_devices_are_listed_by_name_and_ids() -> None:
    interface = EvdevInterface(
        lister=lambda: [("/dev/input/event5", "Honeywell 1900", 0x0C2E, 0x0B61)]
    )
    assert interface.list_devices() == {
        "evdev:/dev/input/event5": FoundDevice(
            "evdev:/dev/input/event5", "evdev", "/dev/input/event5", "Honeywell 1900", "0c2e:0b61"
        )
    }


@pytest.fixture
def listening_port() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def test_network_printer_listed_while_its_port_accepts(listening_port: int) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    found = NetworkPrinterInterface(
        [f"127.0.0.1:{listening_port}", f"127.0.0.1:{dead_port}"], timeout=0.5
    ).list_devices()
    assert list(found) == [f"network:127.0.0.1:{listening_port}"]


def test_host_port_defaults_to_9100_and_a_bad_port_is_refused() -> None:
    assert parse_host_port("192.168.1.50") == ("192.168.1.50", 9100)
    assert parse_host_port("printer.local:9101") == ("printer.local", 9101)
    for bad in ("printer.local:lp", "printer.local:0", "printer.local:65536", ":9100"):
        with pytest.raises(ValueError, match="host or host:port"):
            parse_host_port(bad)


def test_fake_interface_replays_its_scans_and_repeats_the_last() -> None:
    a = FoundDevice("fake:a", "fake")
    b = FoundDevice("fake:b", "fake")
    interface = FakeInterface([[a], [a, b]])
    assert list(interface.list_devices()) == ["fake:a"]
    assert list(interface.list_devices()) == ["fake:a", "fake:b"]
    assert list(interface.list_devices()) == ["fake:a", "fake:b"]


def test_highest_priority_claim_wins_and_unsupported_devices_stay_unclaimed() -> None:
    printer = FoundDevice("usb:1-1", "usb", usb_id="04b8:0202", usb_classes=frozenset({7}))
    generic = MatchDriver("usb printer", DeviceKind.printer, 10, interface="usb", usb_class=7)
    pinned = MatchDriver("receipt printer", DeviceKind.printer, 100, usb_id="04B8:0202")
    other = MatchDriver("other", DeviceKind.printer, 500, usb_id="1234:5678")
    assert claim(printer, [generic, pinned, other]) is pinned
    assert claim(printer, [generic]) is generic
    assert claim(FoundDevice("usb:1-2", "usb", usb_id="0c2e:0b61"), [generic, pinned]) is None


def test_default_drivers_claim_printer_class_usb_and_scanner_named_input() -> None:
    drivers = default_drivers()
    scanner = claim(
        FoundDevice("evdev:/dev/input/event5", "evdev", name="USB Barcode Reader"), drivers
    )
    printer = claim(FoundDevice("usb:1-1", "usb", usb_classes=frozenset({7})), drivers)
    keyboard = claim(FoundDevice("evdev:/dev/input/event0", "evdev", name="AT keyboard"), drivers)
    assert scanner is not None and scanner.kind == DeviceKind.scanner
    assert printer is not None and printer.kind == DeviceKind.printer
    assert keyboard is None


def test_path_claims_follow_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "ttyACM0"
    target.touch()
    link = tmp_path / "usb-Scanner-if00"
    link.symlink_to(target)
    driver = MatchDriver("scanner", DeviceKind.scanner, 100, interface="serial", path=str(link))
    assert driver.supported(FoundDevice(f"serial:{target}", "serial", path=str(target)))
    assert not driver.supported(FoundDevice("serial:/dev/ttyS0", "serial", path="/dev/ttyS0"))
    assert os.path.realpath(link) == str(target)


def test_configured_devices_are_claimed_by_pinned_drivers_over_the_defaults(
    tmp_path: Path,
) -> None:
    lp0 = tmp_path / "lp0"
    lp0.touch()
    config = DevicesConfig(
        scanner=EvdevScannerConfig(EvdevMatch(usb_id="0C2E:0B61")),
        printer=PrinterConfig("file", str(lp0)),
        drawer=DrawerConfig(via="serial", port="/dev/ttyS1"),
    )
    drivers = configured_drivers(config)
    scanner = claim(
        FoundDevice("evdev:/dev/input/event5", "evdev", name="Barcode Scanner", usb_id="0c2e:0b61"),
        drivers,
    )
    other_scanner = claim(
        FoundDevice("evdev:/dev/input/event6", "evdev", name="Barcode Scanner", usb_id="05e0:1200"),
        drivers,
    )
    [printer_file] = FileInterface([str(lp0), str(tmp_path / "lp1")]).list_devices().values()
    printer = claim(printer_file, drivers)
    drawer = claim(FoundDevice("serial:/dev/ttyS1", "serial", path="/dev/ttyS1"), drivers)
    assert scanner is not None and is_pinned(scanner) and scanner.kind == DeviceKind.scanner
    assert other_scanner is not None and not is_pinned(other_scanner)
    assert printer is not None and is_pinned(printer) and printer.kind == DeviceKind.printer
    assert drawer is not None and drawer.kind == DeviceKind.drawer


def test_a_configured_usb_printer_is_claimed_by_vendor_and_product() -> None:
    drivers = configured_drivers(DevicesConfig(printer=PrinterConfig("usb", "04b8:0202")))
    epson = claim(FoundDevice("usb:1-1", "usb", usb_id="04b8:0202"), drivers)
    assert epson is not None and is_pinned(epson)
    assert claim(FoundDevice("usb:1-2", "usb", usb_id="0416:5011"), drivers) is None


def test_standard_interfaces_know_the_configured_network_printer(listening_port: int) -> None:
    target = f"127.0.0.1:{listening_port}"
    interfaces = standard_interfaces(DevicesConfig(printer=PrinterConfig("network", target)))
    network = next(i for i in interfaces if i.name == "network")
    assert list(network.list_devices()) == [f"network:{target}"]
    assert {i.name for i in interfaces} == {"usb", "serial", "evdev", "network", "file"}
