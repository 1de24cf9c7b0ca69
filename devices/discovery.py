"""Device discovery: interfaces that list what is attached (USB, serial ports, evdev, network
printers) and drivers that claim the devices they can handle."""

import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from devices.config import DevicesConfig, SerialScannerConfig
from devices.ports import DeviceKind
from devices.printer.config import parse_host_port

log = logging.getLogger(__name__)

USB_CLASS_PRINTER = 0x07


@dataclass(frozen=True)
class FoundDevice:
    """One device an interface saw; `identifier` is stable across scans while it stays plugged."""

    identifier: str
    interface: str
    path: str = ""
    name: str = ""
    usb_id: str | None = None  # "04b8:0202"
    usb_classes: frozenset[int] = frozenset()


class Interface(Protocol):
    """Lists devices of one kind of bus; it never opens or drives them."""

    name: str

    def list_devices(self) -> dict[str, FoundDevice]: ...


class Driver(Protocol):
    """Claims the devices it can handle; the highest priority claimant wins."""

    name: str
    kind: DeviceKind
    priority: int

    def supported(self, device: FoundDevice) -> bool: ...


def claim(device: FoundDevice, drivers: Iterable[Driver]) -> Driver | None:
    """The highest-priority driver that supports the device, or None."""
    claimants = [driver for driver in drivers if driver.supported(device)]
    return max(claimants, key=lambda driver: driver.priority, default=None)


# --- interfaces -----------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


@dataclass
class UsbInterface:
    """USB devices from sysfs: vendor:product, product name and interface classes."""

    root: Path = Path("/sys/bus/usb/devices")
    name: str = "usb"

    def list_devices(self) -> dict[str, FoundDevice]:
        found: dict[str, FoundDevice] = {}
        if not self.root.is_dir():
            return found
        for entry in sorted(self.root.iterdir()):
            vendor, product = _read(entry / "idVendor"), _read(entry / "idProduct")
            if not (vendor and product):
                # Interface entries ("1-1:1.0") and unreadable ones carry no ids.
                continue
            classes = set()
            for iface in entry.glob(f"{entry.name}:*"):
                with contextlib.suppress(ValueError):
                    classes.add(int(_read(iface / "bInterfaceClass"), 16))
            label = " ".join(
                filter(None, (_read(entry / "manufacturer"), _read(entry / "product")))
            )
            identifier = f"usb:{entry.name}"
            found[identifier] = FoundDevice(
                identifier,
                self.name,
                path=str(entry),
                name=label,
                usb_id=f"{vendor}:{product}".lower(),
                usb_classes=frozenset(classes),
            )
        return found


def _comports() -> list[tuple[str, str, int | None, int | None]]:
    from serial.tools import list_ports

    return [(p.device, p.description, p.vid, p.pid) for p in list_ports.comports()]


@dataclass
class SerialInterface:
    """Serial ports the system lists, plus configured paths (ptys and by-id links are not
    listed by the system) that exist right now."""

    extra_paths: Sequence[str] = ()
    comports: Callable[[], list[tuple[str, str, int | None, int | None]]] = _comports
    name: str = "serial"

    def list_devices(self) -> dict[str, FoundDevice]:
        found: dict[str, FoundDevice] = {}
        seen: set[str] = set()
        for path in self.extra_paths:
            if os.path.exists(path):
                seen.add(os.path.realpath(path))
                found[f"serial:{path}"] = FoundDevice(f"serial:{path}", self.name, path=path)
        for device, description, vid, pid in self.comports():
            if os.path.realpath(device) in seen:
                continue
            usb_id = f"{vid:04x}:{pid:04x}" if vid is not None and pid is not None else None
            name = "" if description == "n/a" else description
            found[f"serial:{device}"] = FoundDevice(
                f"serial:{device}", self.name, path=device, name=name, usb_id=usb_id
            )
        return found


def _evdev_devices() -> list[tuple[str, str, int, int]]:
    import evdev

    devices = []
    for path in evdev.list_devices():
        try:
            device = evdev.InputDevice(path)
        except OSError:
            continue
        try:
            devices.append((path, device.name, device.info.vendor, device.info.product))
        finally:
            device.close()
    return devices


@dataclass
class EvdevInterface:
    """Input devices by name and USB ids; keyboard-wedge scanners are among them."""

    lister: Callable[[], list[tuple[str, str, int, int]]] = _evdev_devices
    name: str = "evdev"

    def list_devices(self) -> dict[str, FoundDevice]:
        return {
            f"evdev:{path}": FoundDevice(
                f"evdev:{path}",
                self.name,
                path=path,
                name=device_name,
                usb_id=f"{vendor:04x}:{product:04x}",
            )
            for path, device_name, vendor, product in self.lister()
        }


@dataclass
class NetworkPrinterInterface:
    """Configured network printers, listed while their TCP port accepts a connection."""

    targets: Sequence[str] = ()
    timeout: float = 0.5
    name: str = "network"

    def list_devices(self) -> dict[str, FoundDevice]:
        found: dict[str, FoundDevice] = {}
        for target in self.targets:
            try:
                with socket.create_connection(parse_host_port(target), timeout=self.timeout):
                    pass
            except (OSError, ValueError):
                continue
            found[f"network:{target}"] = FoundDevice(f"network:{target}", self.name, path=target)
        return found


# --- drivers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchDriver:
    """A driver that claims devices by interface and any of path, USB id, name or USB class."""

    name: str
    kind: DeviceKind
    priority: int
    interface: str | None = None
    path: str | None = None
    usb_id: str | None = None
    name_contains: tuple[str, ...] = ()
    usb_class: int | None = None

    def supported(self, device: FoundDevice) -> bool:
        if self.interface is not None and device.interface != self.interface:
            return False
        if self.path is not None and not _same_path(self.path, device.path):
            return False
        if self.usb_id is not None and (device.usb_id or "") != self.usb_id.lower():
            return False
        if self.name_contains and not any(
            word.casefold() in device.name.casefold() for word in self.name_contains
        ):
            return False
        return self.usb_class is None or self.usb_class in device.usb_classes


def _same_path(a: str, b: str) -> bool:
    return a == b or (bool(b) and os.path.realpath(a) == os.path.realpath(b))


def default_drivers() -> list[Driver]:
    """What is claimed without configuration: USB printer-class devices and input devices that
    call themselves scanners. Configured devices claim at a higher priority."""
    return [
        MatchDriver(
            "usb printer", DeviceKind.printer, 10, interface="usb", usb_class=USB_CLASS_PRINTER
        ),
        MatchDriver(
            "evdev scanner",
            DeviceKind.scanner,
            10,
            interface="evdev",
            name_contains=("scanner", "barcode"),
        ),
    ]


@dataclass
class FileInterface:
    """Configured device files (a line printer's /dev/usb/lp0), listed while they exist."""

    paths: Sequence[str] = ()
    name: str = "file"

    def list_devices(self) -> dict[str, FoundDevice]:
        return {
            f"file:{path}": FoundDevice(f"file:{path}", self.name, path=path)
            for path in self.paths
            if os.path.exists(path)
        }


# Configured devices outrank the generic claims of default_drivers().
PINNED_PRIORITY = 100


def configured_drivers(config: DevicesConfig) -> list[Driver]:
    """Drivers claiming exactly the devices the configuration pins, then the defaults."""
    drivers: list[Driver] = []
    scanner = config.scanner
    if isinstance(scanner, SerialScannerConfig):
        drivers.append(
            _pinned("scanner", DeviceKind.scanner, interface="serial", path=scanner.port)
        )
    elif scanner is not None:
        match = scanner.match
        drivers.append(
            _pinned(
                "scanner",
                DeviceKind.scanner,
                interface="evdev",
                path=match.path,
                usb_id=match.usb_id,
                name_contains=(match.name,) if match.name else (),
            )
        )
    printer = config.printer
    if printer is not None:
        if printer.transport == "usb":
            drivers.append(
                _pinned("printer", DeviceKind.printer, interface="usb", usb_id=printer.target)
            )
        else:
            interface = {"serial": "serial", "network": "network", "file": "file"}[
                printer.transport
            ]
            drivers.append(
                _pinned("printer", DeviceKind.printer, interface=interface, path=printer.target)
            )
    if config.drawer is not None and config.drawer.port is not None:
        drivers.append(
            _pinned("drawer", DeviceKind.drawer, interface="serial", path=config.drawer.port)
        )
    if config.display is not None:
        drivers.append(
            _pinned("display", DeviceKind.display, interface="serial", path=config.display.port)
        )
    return [*drivers, *default_drivers()]


def is_pinned(driver: Driver) -> bool:
    """Whether the driver claims a device because the configuration names it."""
    return driver.priority >= PINNED_PRIORITY


def _pinned(name: str, kind: DeviceKind, **match: Any) -> MatchDriver:
    return MatchDriver(f"configured {name}", kind, PINNED_PRIORITY, **match)


def standard_interfaces(config: DevicesConfig) -> list[Interface]:
    """Every real interface, told about the configured ports it could not find by itself."""
    printer = config.printer
    network = [printer.target] if printer is not None and printer.transport == "network" else []
    files = [printer.target] if printer is not None and printer.transport == "file" else []
    timeout = printer.status_timeout if printer is not None else 0.5
    return [
        UsbInterface(),
        SerialInterface(extra_paths=config.serial_paths()),
        EvdevInterface(),
        NetworkPrinterInterface(network, timeout=timeout),
        FileInterface(files),
    ]
