"""Serial barcode scanners (RS-232 or USB-COM) read through pyserial, with reconnect."""

import logging
import time
from collections.abc import Callable

import serial

from devices.ports import StatusCallback
from devices.scanner.decode import DoubleScanFilter, ScanProcessor, SerialDecoder, Suffix
from devices.scanner.reader import DeviceLost, ReconnectingScanner

log = logging.getLogger(__name__)


class SerialScanner(ReconnectingScanner[serial.Serial]):
    """A ScanSource over a serial port; a port that disappears (USB-COM unplugged) is reported
    disconnected and reopened on later reads once it is back."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        suffix: Suffix = "CR",
        double_scan_window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_status: StatusCallback | None = None,
        reconnect_interval: float = 1.0,
        identifier: str | None = None,
    ) -> None:
        name = identifier or f"serial:{port}"
        processor = ScanProcessor(name, DoubleScanFilter(double_scan_window, clock))
        super().__init__(name, processor, on_status, reconnect_interval)
        self.port = port
        self.baudrate = baudrate
        self._decoder = SerialDecoder(suffix)

    def _open(self) -> serial.Serial:
        try:
            return serial.Serial(self.port, self.baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceLost(f"cannot open {self.port}: {exc}") from None

    def _describe(self, handle: serial.Serial) -> str:
        return f"{self.port} at {self.baudrate} baud"

    def _fileno(self, handle: serial.Serial) -> int:
        return handle.fileno()

    def _read_codes(self, handle: serial.Serial) -> list[str]:
        try:
            data = handle.read(handle.in_waiting or 1)
        except (serial.SerialException, OSError) as exc:
            raise DeviceLost(f"port lost: {exc}") from None
        return self._decoder.feed(data)

    def _close(self, handle: serial.Serial) -> None:
        try:
            handle.close()
        except (serial.SerialException, OSError):
            log.debug("closing %s failed", self.port, exc_info=True)

    def _reset_decoder(self) -> None:
        self._decoder.reset()
