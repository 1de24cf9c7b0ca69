"""USB HID keyboard-wedge scanners read through evdev: find, grab, decode, survive unplugging."""

import collections
import errno
import logging
import select
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from devices.ports import DeviceKind, DeviceStatus, ScanEvent, StatusCallback
from devices.scanner.decode import DoubleScanFilter, KeyDecoder, ScanProcessor

log = logging.getLogger(__name__)

EV_KEY = 0x01


class InputDeviceLike(Protocol):
    """The part of evdev.InputDevice the scanner uses."""

    path: str
    name: str
    fd: int

    @property
    def info(self) -> Any: ...

    def read(self) -> Iterable[Any]: ...

    def grab(self) -> None: ...

    def close(self) -> None: ...


def _evdev_list() -> list[str]:
    import evdev

    return list(evdev.list_devices())


def _evdev_open(path: str) -> InputDeviceLike:
    import evdev

    return evdev.InputDevice(path)


@dataclass(frozen=True)
class EvdevMatch:
    """Which input device is the scanner: a pinned path, a USB vendor:product, or a name."""

    path: str | None = None
    usb_id: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not (self.path or self.usb_id or self.name):
            raise ValueError("an evdev scanner needs a path, a vendor:product or a name")

    def __str__(self) -> str:
        return self.path or self.usb_id or f"name={self.name}"

    def matches(self, name: str, vendor: int, product: int) -> bool:
        """Whether a device found by listing is this scanner (a pinned path is opened directly)."""
        if self.usb_id is not None and self.usb_id.lower() != f"{vendor:04x}:{product:04x}":
            return False
        return self.name is None or self.name.casefold() in name.casefold()


class EvdevScanner:
    """A ScanSource over a keyboard-wedge scanner's evdev device, grabbed exclusively so its
    keystrokes never reach other windows.

    Unplugging makes the device's read raise OSError (ENODEV); the scanner then reports itself
    disconnected and looks for the device again on later reads, so a replugged scanner resumes
    without restarting the application.
    """

    def __init__(
        self,
        match: EvdevMatch,
        *,
        double_scan_window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_status: StatusCallback | None = None,
        grab: bool = True,
        reconnect_interval: float = 1.0,
        list_devices: Callable[[], list[str]] = _evdev_list,
        open_device: Callable[[str], InputDeviceLike] = _evdev_open,
        identifier: str | None = None,
    ) -> None:
        self.match = match
        self.name = identifier or f"evdev:{match}"
        self._processor = ScanProcessor(self.name, DoubleScanFilter(double_scan_window, clock))
        self._decoder = KeyDecoder()
        self._on_status = on_status
        self._grab = grab
        self._reconnect_interval = reconnect_interval
        self._list_devices = list_devices
        self._open_device = open_device
        self._device: InputDeviceLike | None = None
        self._next_attempt = 0.0
        self._pending: collections.deque[ScanEvent] = collections.deque()
        self._connected: bool | None = None

    @property
    def connected(self) -> bool:
        return self._device is not None

    def read(self, timeout: float) -> ScanEvent | None:
        deadline = time.monotonic() + timeout
        while True:
            if self._pending:
                return self._pending.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            device = self._device or self._try_connect()
            if device is None:
                time.sleep(max(0.0, min(remaining, self._next_attempt - time.monotonic())))
                continue
            readable, _, _ = select.select([device.fd], [], [], remaining)
            if readable:
                self._read_events(device)

    def close(self) -> None:
        if self._device is not None:
            self._release(self._device)
            self._device = None

    def _read_events(self, device: InputDeviceLike) -> None:
        try:
            events = list(device.read())
        except BlockingIOError:
            return
        except OSError as exc:
            reason = "unplugged" if exc.errno == errno.ENODEV else f"read failed: {exc}"
            self._disconnect(reason)
            return
        for event in events:
            if event.type != EV_KEY:
                continue
            code = self._decoder.feed(event.code, event.value)
            if code is not None and (scan := self._processor.process(code)) is not None:
                self._pending.append(scan)

    def _try_connect(self) -> InputDeviceLike | None:
        now = time.monotonic()
        if now < self._next_attempt:
            return None
        self._next_attempt = now + self._reconnect_interval
        try:
            device = self._find()
        except OSError as exc:
            self._publish(False, f"cannot open: {exc}")
            return None
        if device is None:
            self._publish(False, "not found")
            return None
        if self._grab:
            try:
                device.grab()
            except OSError as exc:
                self._release(device)
                self._publish(False, f"cannot grab {device.path}: {exc}")
                return None
        self._device = device
        self._decoder.reset()
        self._publish(True, f"{device.name} at {device.path}")
        return device

    def _find(self) -> InputDeviceLike | None:
        if self.match.path is not None:
            return self._open_device(self.match.path)
        for path in self._list_devices():
            try:
                device = self._open_device(path)
            except OSError:
                # Devices come and go while listing; others may not be readable by us.
                continue
            info = device.info
            if self.match.matches(device.name, info.vendor, info.product):
                return device
            self._release(device)
        return None

    def _disconnect(self, reason: str) -> None:
        if self._device is not None:
            self._release(self._device)
        self._device = None
        self._decoder.reset()
        self._next_attempt = 0.0
        self._publish(False, reason)

    @staticmethod
    def _release(device: InputDeviceLike) -> None:
        try:
            device.close()
        except OSError:
            log.debug("closing %s failed", device.path, exc_info=True)

    def _publish(self, connected: bool, detail: str) -> None:
        # Repeated "not found" while waiting for a replug is one state, not news.
        if self._connected is False and not connected:
            return
        self._connected = connected
        if self._on_status is not None:
            self._on_status(DeviceStatus(self.name, DeviceKind.scanner, connected, detail))
