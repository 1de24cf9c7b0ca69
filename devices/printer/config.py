"""How one receipt printer is reached and driven: the settings the TOML loader and CLI fill in."""

from dataclasses import dataclass
from typing import Literal

RAW_PRINTING_PORT = 9100  # "JetDirect": what network receipt printers listen on


@dataclass(frozen=True)
class PrinterConfig:
    """One receipt printer: transport, address, paper width and how it prints Chinese."""

    transport: Literal["usb", "serial", "network", "file"]
    # "04b8:0202" (usb vendor:product), "/dev/ttyUSB0", "192.168.1.50:9100", "/dev/usb/lp0"
    target: str
    profile: str = "80mm"  # "58mm" (32 columns / 384 dots) | "80mm" (48 columns / 576 dots)
    chinese: Literal["native", "raster"] = "native"
    baudrate: int = 19200
    drawer_pin: int = 2  # 2 or 5
    status_timeout: float = 1.0  # seconds


def parse_host_port(target: str) -> tuple[str, int]:
    """ "192.168.1.50:9100" or "192.168.1.50" -> (host, port); the port defaults to 9100."""
    host, sep, port = target.rpartition(":")
    if not sep:
        return target, RAW_PRINTING_PORT
    if not (host and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"a network printer is host or host:port, got {target!r}")
    return host, int(port)
