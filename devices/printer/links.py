"""The byte pipes to a printer, each a thin wrapper over a python-escpos transport.

python-escpos opens the device and writes; reading status within a deadline differs per
transport (socket timeout, serial timeout, USB endpoint timeout), so each link adds that."""

import socket
import time
from collections.abc import Callable
from typing import Protocol

from escpos.exceptions import DeviceNotFoundError
from escpos.printer import File, Network, Serial

_WRITE_TIMEOUT = 10.0  # a printer that stops taking bytes (paper out mid-job) must not hang us


class PrinterUnavailable(OSError):
    """The printer cannot be reached, or its transport cannot be used on this machine."""


class Link(Protocol):
    description: str
    can_read: bool

    def open(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def read(self, timeout: float) -> bytes:
        """Whatever bytes arrive within `timeout` seconds; b"" when none."""
        ...

    def discard_input(self) -> None:
        """Drops bytes already received, such as a late answer to an earlier status query."""
        ...

    def close(self) -> None: ...


def _opened(transport: Serial | File, description: str) -> None:
    try:
        transport.open()
    except DeviceNotFoundError as error:
        raise PrinterUnavailable(f"{description}: {error}") from None


class NetworkLink:
    """A printer on TCP port 9100 (raw printing, "JetDirect")."""

    can_read = True

    def __init__(self, host: str, port: int, connect_timeout: float) -> None:
        self.description = f"network printer {host}:{port}"
        self._address = (host, port)
        self._connect_timeout = connect_timeout
        self._transport = Network(host, port, timeout=connect_timeout)
        self._socket: socket.socket | None = None

    def open(self) -> None:
        # Network.open() drops its socket unclosed when the connection is refused, so the
        # socket is made here and handed to the transport.
        try:
            self._socket = socket.create_connection(self._address, self._connect_timeout)
        except OSError as error:
            raise PrinterUnavailable(f"{self.description}: {error}") from None
        self._socket.settimeout(_WRITE_TIMEOUT)
        self._transport.device = self._socket

    def write(self, data: bytes) -> None:
        self._transport._raw(data)

    def read(self, timeout: float) -> bytes:
        assert self._socket is not None
        self._socket.settimeout(max(timeout, 0.001))
        try:
            data = self._socket.recv(64)
        except TimeoutError:
            return b""
        finally:
            self._socket.settimeout(_WRITE_TIMEOUT)
        if not data:
            raise PrinterUnavailable(f"{self.description} closed the connection")
        return data

    def discard_input(self) -> None:
        assert self._socket is not None
        self._socket.setblocking(False)
        try:
            while self._socket.recv(64):
                pass
        except BlockingIOError:
            pass
        finally:
            self._socket.settimeout(_WRITE_TIMEOUT)

    def close(self) -> None:
        self._transport.close()
        self._socket = None


class SerialLink:
    """A printer on an RS-232 or USB-serial port."""

    can_read = True

    def __init__(self, port: str, baudrate: int) -> None:
        self.description = f"serial printer {port} at {baudrate} baud"
        self._transport = Serial(port, baudrate=baudrate, timeout=_WRITE_TIMEOUT)

    def open(self) -> None:
        _opened(self._transport, self.description)
        self._transport.device.write_timeout = _WRITE_TIMEOUT

    def write(self, data: bytes) -> None:
        self._transport._raw(data)

    def read(self, timeout: float) -> bytes:
        device = self._transport.device
        device.timeout = timeout
        first = device.read(1)
        return first + device.read(device.in_waiting) if first else b""

    def discard_input(self) -> None:
        self._transport.device.reset_input_buffer()

    def close(self) -> None:
        self._transport.close()


class FileLink:
    """A printer device file such as /dev/usb/lp0; write-only, so it has no status."""

    can_read = False

    def __init__(self, path: str) -> None:
        self.description = f"printer device file {path}"
        self._transport = File(path)

    def open(self) -> None:
        _opened(self._transport, self.description)

    def write(self, data: bytes) -> None:
        self._transport._raw(data)

    def read(self, timeout: float) -> bytes:
        return b""

    def discard_input(self) -> None:
        pass

    def close(self) -> None:
        self._transport.close()


def parse_usb_id(target: str) -> tuple[int, int]:
    """ "04b8:0202" -> (0x04B8, 0x0202)."""
    vendor, sep, product = target.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(vendor, 16), int(product, 16)
    except ValueError:
        raise ValueError(f"USB printer must be vendor:product in hex, got {target!r}") from None


class UsbLink:
    """A printer that speaks USB printer class directly, through pyusb and libusb.

    Driven end to end only by a hardware test, skipped where no USB printer is attached (the
    build machine has none); elsewhere the tests check the guard and the write deadline."""

    can_read = True

    def __init__(self, target: str) -> None:
        self.description = f"USB printer {target}"
        self._ids = parse_usb_id(target)
        try:
            import usb.core  # noqa: F401  (python-escpos needs it; checked here to say so)
        except ImportError:
            raise PrinterUnavailable(
                f"{self.description}: USB printing needs pyusb (pip install pyusb) and "
                "libusb (Debian package libusb-1.0-0)"
            ) from None
        from escpos.printer import Usb

        # python-escpos's default of 0 is "no timeout" to libusb: a printer that stops taking
        # bytes would block the write forever. pyusb counts in milliseconds.
        self._transport = Usb(*self._ids, timeout=int(_WRITE_TIMEOUT * 1000))

    def open(self) -> None:
        import usb.core

        try:
            self._transport.open()
        except usb.core.NoBackendError:
            raise PrinterUnavailable(
                f"{self.description}: no libusb backend (Debian package libusb-1.0-0)"
            ) from None
        except DeviceNotFoundError as error:
            raise PrinterUnavailable(f"{self.description}: {error}") from None

    def write(self, data: bytes) -> None:
        self._transport._raw(data)

    def read(self, timeout: float) -> bytes:
        import usb.core

        transport = self._transport
        deadline_ms = max(1, int(timeout * 1000))
        try:
            return bytes(transport.device.read(transport.in_ep, 64, deadline_ms))
        except usb.core.USBTimeoutError:
            return b""

    def discard_input(self) -> None:
        while self.read(0.01):
            pass

    def close(self) -> None:
        self._transport.close()


def wait_for_byte(link: Link, accept: Callable[[int], bool], timeout: float) -> int | None:
    """The first received byte `accept` takes within `timeout` seconds, skipping stray bytes."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        for value in link.read(remaining):
            if accept(value):
                return value
    return None
