"""Serial barcode scanners (RS-232 or USB-COM) read through pyserial, with reconnect."""

import collections
import logging
import select
import time
from collections.abc import Callable

import serial

from devices.ports import DeviceKind, DeviceStatus, ScanEvent, StatusCallback
from devices.scanner.decode import DoubleScanFilter, ScanProcessor, SerialDecoder, Suffix

log = logging.getLogger(__name__)


class SerialScanner:
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
        self.port = port
        self.baudrate = baudrate
        self.name = identifier or f"serial:{port}"
        self._decoder = SerialDecoder(suffix)
        self._processor = ScanProcessor(self.name, DoubleScanFilter(double_scan_window, clock))
        self._on_status = on_status
        self._reconnect_interval = reconnect_interval
        self._serial: serial.Serial | None = None
        self._next_attempt = 0.0
        self._pending: collections.deque[ScanEvent] = collections.deque()
        self._connected: bool | None = None

    @property
    def connected(self) -> bool:
        return self._serial is not None

    def read(self, timeout: float) -> ScanEvent | None:
        deadline = time.monotonic() + timeout
        while True:
            if self._pending:
                return self._pending.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            port = self._serial or self._try_open()
            if port is None:
                time.sleep(max(0.0, min(remaining, self._next_attempt - time.monotonic())))
                continue
            try:
                readable, _, _ = select.select([port.fileno()], [], [], remaining)
                data = port.read(port.in_waiting or 1) if readable else b""
            except (serial.SerialException, OSError) as exc:
                self._disconnect(f"port lost: {exc}")
                continue
            for code in self._decoder.feed(data):
                if (scan := self._processor.process(code)) is not None:
                    self._pending.append(scan)

    def close(self) -> None:
        if self._serial is not None:
            self._close_port(self._serial)
            self._serial = None

    def _try_open(self) -> serial.Serial | None:
        now = time.monotonic()
        if now < self._next_attempt:
            return None
        self._next_attempt = now + self._reconnect_interval
        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=0)
        except (serial.SerialException, OSError, ValueError) as exc:
            self._publish(False, f"cannot open {self.port}: {exc}")
            return None
        self._decoder.reset()
        self._publish(True, f"{self.port} at {self.baudrate} baud")
        return self._serial

    def _disconnect(self, reason: str) -> None:
        if self._serial is not None:
            self._close_port(self._serial)
        self._serial = None
        self._decoder.reset()
        self._next_attempt = 0.0
        self._publish(False, reason)

    def _close_port(self, port: serial.Serial) -> None:
        try:
            port.close()
        except (serial.SerialException, OSError):
            log.debug("closing %s failed", self.port, exc_info=True)

    def _publish(self, connected: bool, detail: str) -> None:
        # Repeated failed reopen attempts while the port is away are one state, not news.
        if self._connected is False and not connected:
            return
        self._connected = connected
        if self._on_status is not None:
            self._on_status(DeviceStatus(self.name, DeviceKind.scanner, connected, detail))
