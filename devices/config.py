"""The devices TOML file: which scanner, printer, drawer and customer display this counter has."""

import math
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

from devices.display.encoding import COMMAND_SETS, CommandSet
from devices.printer.config import PrinterConfig, parse_host_port
from devices.scanner.decode import SUFFIX_BYTES, Suffix
from devices.scanner.evdev_scanner import EvdevMatch

_USB_ID = re.compile(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}")
_MISSING: Any = object()
_MAX_STATUS_TIMEOUT = 10.0


class ConfigError(ValueError):
    """A devices file that cannot be used; names the file, the key and the problem."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class EvdevScannerConfig:
    """A USB keyboard-wedge scanner, found through evdev."""

    match: EvdevMatch
    grab: bool = True
    double_scan_window: float = 1.0


@dataclass(frozen=True)
class SerialScannerConfig:
    """A scanner on a serial port (RS-232 or USB-COM)."""

    port: str
    baudrate: int = 9600
    suffix: Suffix = "CR"
    double_scan_window: float = 1.0


ScannerConfig = EvdevScannerConfig | SerialScannerConfig


@dataclass(frozen=True)
class DrawerConfig:
    """The cash drawer: behind the printer's drawer port, or on its own serial port."""

    via: Literal["printer", "serial"]
    pin: int = 2
    port: str | None = None
    baudrate: int = 9600
    # Serial drawers vary by model (see its manual): the bytes that open it, the query its
    # open sensor answers with one byte, and the bits of that byte set while it is open.
    open_command: bytes = b"\x07"
    status_query: bytes | None = None
    open_mask: int = 0x01


@dataclass(frozen=True)
class DisplayConfig:
    """The customer pole display on a serial port."""

    port: str
    baudrate: int = 9600
    command_set: CommandSet = "epson"
    fallback: str = "?"
    currency: str = "Y"
    brightness: int | None = None


@dataclass(frozen=True)
class DevicesConfig:
    """Everything pinned in one devices file; a missing section means "not configured"."""

    source: str = ""
    scanner: ScannerConfig | None = None
    printer: PrinterConfig | None = None
    drawer: DrawerConfig | None = None
    display: DisplayConfig | None = None

    def serial_paths(self) -> list[str]:
        """Configured serial ports, which discovery must look at even if the system does not
        list them (ptys, by-id links)."""
        paths = []
        if isinstance(self.scanner, SerialScannerConfig):
            paths.append(self.scanner.port)
        if self.printer is not None and self.printer.transport == "serial":
            paths.append(self.printer.target)
        if self.drawer is not None and self.drawer.port is not None:
            paths.append(self.drawer.port)
        if self.display is not None:
            paths.append(self.display.port)
        return paths


class _Section:
    """Typed reads from one table, each error naming its dotted key; `done` refuses leftovers
    (a misspelt key would otherwise be silently ignored)."""

    def __init__(self, source: str, name: str, data: object) -> None:
        if not isinstance(data, dict):
            raise ConfigError(source, name, f"must be a table, got {_kind(data)}")
        self.source, self.name, self.data = source, name, dict(data)

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, f"{self.name}.{key}", problem)

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data.pop(key)
        if default is _MISSING:
            raise self.error(key, "is required")
        return default

    def text(self, key: str, default: Any = _MISSING, choices: tuple[str, ...] = ()) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value:
            raise self.error(key, f"must be a non-empty string, got {_kind(value)}")
        if choices and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def integer(self, key: str, default: Any, low: int, high: int) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {_kind(value)}")
        if not low <= value <= high:
            raise self.error(key, f"must be {low} to {high}, got {value}")
        return value

    def seconds(self, key: str, default: float, at_most: float | None = None) -> float:
        """A duration; with `at_most`, a wait that must also be above zero and that short."""
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number of seconds, got {_kind(value)}")
        # TOML has inf and nan: an infinite double-scan window would drop every repeat forever.
        if not math.isfinite(value):
            raise self.error(key, f"must be a finite number of seconds, got {value}")
        if value < 0:
            raise self.error(key, f"must not be negative, got {value}")
        if at_most is not None and not 0 < value <= at_most:
            raise self.error(key, f"must be above 0 and at most {at_most:g} s, got {value}")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {_kind(value)}")
        return value

    def done(self) -> None:
        if self.data:
            key = sorted(self.data)[0]
            raise self.error(key, "is not a known setting")


def _kind(value: object) -> str:
    if isinstance(value, str):
        return f"{value!r}" if value else "an empty string"
    return {dict: "a table", list: "an array", bool: "a boolean"}.get(type(value), repr(value))


def _ascii_text(section: _Section, key: str, default: str) -> str:
    value = section.text(key, default)
    if not (value.isascii() and value.isprintable()):
        raise section.error(
            key, f"must be printable ASCII (the display shows nothing else), got {value!r}"
        )
    return value


def _scanner(section: _Section) -> ScannerConfig:
    kind = section.text("type", choices=("evdev", "serial"))
    window = section.seconds("double_scan_window", 1.0)
    if kind == "serial":
        config: ScannerConfig = SerialScannerConfig(
            port=section.text("port"),
            baudrate=section.integer("baudrate", 9600, 300, 921600),
            suffix=section.text("suffix", "CR", tuple(SUFFIX_BYTES)),
            double_scan_window=window,
        )
    else:
        path = section.text("path", None)
        usb_id = section.text("usb", None)
        name = section.text("name", None)
        if usb_id is not None and not _USB_ID.fullmatch(usb_id):
            raise section.error(
                "usb", f"must be vendor:product in hex, like 0c2e:0b61, got {usb_id!r}"
            )
        if not (path or usb_id or name):
            raise section.error("path", "an evdev scanner needs one of path, usb or name")
        config = EvdevScannerConfig(
            EvdevMatch(path=path, usb_id=usb_id, name=name),
            grab=section.flag("grab", True),
            double_scan_window=window,
        )
    section.done()
    return config


def _printer(section: _Section) -> PrinterConfig:
    transport = section.text("transport", choices=("usb", "serial", "network", "file"))
    target = section.text("target")
    if transport == "usb" and not _USB_ID.fullmatch(target):
        raise section.error("target", f"a USB printer is vendor:product in hex, got {target!r}")
    if transport == "network":
        try:
            parse_host_port(target)
        except ValueError:
            raise section.error("target", f"must be host or host:port, got {target!r}") from None
    config = PrinterConfig(
        transport=transport,
        target=target,
        profile=section.text("profile", "80mm", ("58mm", "80mm")),
        chinese=section.text("chinese", "native", ("native", "raster")),
        baudrate=section.integer("baudrate", 19200, 300, 921600),
        drawer_pin=section.integer("drawer_pin", 2, 2, 5),
        # A status query runs before every job: a long wait would hang the sale it prints.
        status_timeout=section.seconds("status_timeout", 1.0, at_most=_MAX_STATUS_TIMEOUT),
    )
    if config.drawer_pin not in (2, 5):
        raise section.error("drawer_pin", f"must be 2 or 5, got {config.drawer_pin}")
    section.done()
    return config


def _drawer(section: _Section, printer: PrinterConfig | None) -> DrawerConfig:
    via = section.text("via", choices=("printer", "serial"))
    if via == "printer":
        if printer is None:
            raise section.error("via", "is printer, but there is no [printer] section")
        pin = section.integer("pin", printer.drawer_pin, 2, 5)
        if pin not in (2, 5):
            raise section.error("pin", f"must be 2 or 5, got {pin}")
        section.done()
        return DrawerConfig(via="printer", pin=pin)
    config = DrawerConfig(
        via="serial",
        port=section.text("port"),
        baudrate=section.integer("baudrate", 9600, 300, 921600),
        open_command=_hex_bytes(section, "open_command", "07"),
        status_query=_hex_bytes(section, "status_query", None),
        open_mask=section.integer("open_mask", 0x01, 1, 255),
    )
    section.done()
    return config


def _hex_bytes(section: _Section, key: str, default: str | None) -> bytes | None:
    """Bytes written in hex, spaces allowed: "1B 70 00" or "07"."""
    value = section.text(key, default)
    if value is None:
        return None
    try:
        data = bytes.fromhex(value)
    except ValueError:
        data = b""
    if not data or len(data) > 16:
        raise section.error(key, f'must be 1 to 16 bytes in hex, e.g. "1B 70 00", got {value!r}')
    return data


def _display(section: _Section) -> DisplayConfig:
    config = DisplayConfig(
        port=section.text("port"),
        baudrate=section.integer("baudrate", 9600, 300, 921600),
        command_set=section.text("command_set", "epson", COMMAND_SETS),
        fallback=_ascii_text(section, "fallback", "?"),
        currency=_ascii_text(section, "currency", "Y"),
        brightness=section.integer("brightness", None, 1, 4),
    )
    section.done()
    return config


_SECTIONS = ("scanner", "printer", "drawer", "display")


def parse_config(data: dict[str, Any], source: str = "<devices>") -> DevicesConfig:
    """Checks a parsed TOML document and builds the devices configuration from it."""
    for key in sorted(data):
        if key not in _SECTIONS:
            raise ConfigError(
                source, key, f"is not a known section (known: {', '.join(_SECTIONS)})"
            )
    scanner = _scanner(_Section(source, "scanner", data["scanner"])) if "scanner" in data else None
    printer = _printer(_Section(source, "printer", data["printer"])) if "printer" in data else None
    drawer = None
    if "drawer" in data:
        drawer = _drawer(_Section(source, "drawer", data["drawer"]), printer)
        if drawer.via == "printer" and printer is not None:
            # One pin setting: the drawer section's, which the printer then kicks.
            printer = replace(printer, drawer_pin=drawer.pin)
    display = _display(_Section(source, "display", data["display"])) if "display" in data else None
    return DevicesConfig(
        source=source, scanner=scanner, printer=printer, drawer=drawer, display=display
    )


def load_config(path: str | Path) -> DevicesConfig:
    """Reads a devices TOML file; every problem is a ConfigError naming file, key and problem."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(source, "", f"cannot be read: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(source, "", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "", f"is not valid TOML: {exc}") from None
    return parse_config(cast(dict[str, Any], data), source)
