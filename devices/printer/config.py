"""How one receipt printer is reached and driven: the settings the TOML loader and CLI fill in."""

from dataclasses import dataclass
from typing import Literal


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
