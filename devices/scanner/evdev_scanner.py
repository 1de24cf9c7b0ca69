"""USB HID keyboard-wedge scanners read through evdev: find, grab, decode, survive unplugging."""

import errno
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from devices.ports import StatusCallback
from devices.scanner.decode import DoubleScanFilter, KeyDecoder, ScanProcessor
from devices.scanner.reader import DeviceLost, ReconnectingScanner

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


class EvdevScanner(ReconnectingScanner[InputDeviceLike]):
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
        name = identifier or f"evdev:{match}"
        processor = ScanProcessor(name, DoubleScanFilter(double_scan_window, clock))
        super().__init__(name, processor, on_status, reconnect_interval)
        self.match = match
        self._decoder = KeyDecoder()
        self._grab = grab
        self._list_devices = list_devices
        self._open_device = open_device

    def _open(self) -> InputDeviceLike:
        try:
            device = self._find()
        except OSError as exc:
            raise DeviceLost(f"cannot open: {exc}") from None
        if device is None:
            raise DeviceLost("not found")
        if self._grab:
            try:
                device.grab()
            except OSError as exc:
                self._close(device)
                raise DeviceLost(f"cannot grab {device.path}: {exc}") from None
        return device

    def _describe(self, handle: InputDeviceLike) -> str:
        return f"{handle.name} at {handle.path}"

    def _fileno(self, handle: InputDeviceLike) -> int:
        return handle.fd

    def _read_codes(self, handle: InputDeviceLike) -> list[str]:
        try:
            events = list(handle.read())
        except BlockingIOError:
            return []
        except OSError as exc:
            raise DeviceLost(
                "unplugged" if exc.errno == errno.ENODEV else f"read failed: {exc}"
            ) from None
        codes = []
        for event in events:
            if event.type != EV_KEY:
                continue
            if (code := self._decoder.feed(event.code, event.value)) is not None:
                codes.append(code)
        return codes

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
            self._close(device)
        return None

    def _close(self, handle: InputDeviceLike) -> None:
        try:
            handle.close()
        except OSError:
            log.debug("closing %s failed", handle.path, exc_info=True)

    def _reset_decoder(self) -> None:
        self._decoder.reset()
