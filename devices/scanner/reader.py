"""The read loop both scanner sources share: timed reads, scans queued one per call, reopening a
lost device, and a status published only when it changes."""

import collections
import select
import time
from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from devices.ports import DeviceKind, DeviceStatus, ScanEvent, StatusCallback
from devices.scanner.decode import ScanProcessor

Handle = TypeVar("Handle")


class DeviceLost(Exception):
    """The open device stopped working (unplugged, read error); says why."""


class ReconnectingScanner(ABC, Generic[Handle]):
    """A ScanSource over one device that may come and go.

    Subclasses open, read and close the device; this class waits on its file descriptor within
    the caller's timeout, retries a missing device every `reconnect_interval` seconds, and
    drops the half-read code of a device that was lost."""

    def __init__(
        self,
        name: str,
        processor: ScanProcessor,
        on_status: StatusCallback | None,
        reconnect_interval: float,
    ) -> None:
        self.name = name
        self._processor = processor
        self._on_status = on_status
        self._reconnect_interval = reconnect_interval
        self._handle: Handle | None = None
        self._next_attempt = 0.0
        self._pending: collections.deque[ScanEvent] = collections.deque()
        self._connected: bool | None = None

    # --- what a device kind provides -------------------------------------------------------

    @abstractmethod
    def _open(self) -> Handle:
        """Opens the device; raises DeviceLost saying why it cannot."""

    @abstractmethod
    def _describe(self, handle: Handle) -> str:
        """The status detail of an opened device."""

    @abstractmethod
    def _fileno(self, handle: Handle) -> int: ...

    @abstractmethod
    def _read_codes(self, handle: Handle) -> list[str]:
        """The codes completed by what the device has to read; raises DeviceLost."""

    @abstractmethod
    def _close(self, handle: Handle) -> None:
        """Closes the device, never raising: it may already be gone."""

    @abstractmethod
    def _reset_decoder(self) -> None:
        """Forgets a half-read code."""

    # --- the loop ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._handle is not None

    def read(self, timeout: float) -> ScanEvent | None:
        """The next scan, waiting at most `timeout` seconds; None on silence."""
        deadline = time.monotonic() + timeout
        while True:
            if self._pending:
                return self._pending.popleft()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            handle = self._handle if self._handle is not None else self._try_open()
            if handle is None:
                time.sleep(max(0.0, min(remaining, self._next_attempt - time.monotonic())))
                continue
            try:
                readable, _, _ = select.select([self._fileno(handle)], [], [], remaining)
                codes = self._read_codes(handle) if readable else []
            except DeviceLost as lost:
                self._disconnect(str(lost))
                continue
            except OSError as error:  # select on a descriptor the device took with it
                self._disconnect(f"device lost: {error}")
                continue
            for code in codes:
                if (scan := self._processor.process(code)) is not None:
                    self._pending.append(scan)

    def close(self) -> None:
        if self._handle is not None:
            self._close(self._handle)
            self._handle = None

    def _try_open(self) -> Handle | None:
        now = time.monotonic()
        if now < self._next_attempt:
            return None
        self._next_attempt = now + self._reconnect_interval
        try:
            handle = self._open()
        except DeviceLost as problem:
            self._publish(False, str(problem))
            return None
        self._handle = handle
        self._reset_decoder()
        self._publish(True, self._describe(handle))
        return handle

    def _disconnect(self, reason: str) -> None:
        if self._handle is not None:
            self._close(self._handle)
        self._handle = None
        self._reset_decoder()
        self._next_attempt = 0.0  # a replugged device is looked for at once
        self._publish(False, reason)

    def _publish(self, connected: bool, detail: str) -> None:
        # Repeated failed attempts while the device is away are one state, not news.
        if self._connected is False and not connected:
            return
        self._connected = connected
        if self._on_status is not None:
            self._on_status(DeviceStatus(self.name, DeviceKind.scanner, connected, detail))
