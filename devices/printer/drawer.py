"""A cash drawer on its own serial port, for counters whose printer has no drawer connector."""

import threading

import serial

from devices.ports import ActionResult
from devices.printer.driver import RecentActions
from devices.printer.links import PrinterUnavailable


class SerialDrawer:
    """A serial cash drawer: it opens when it receives `open_command`.

    Most serial drawers open on any byte (BEL, Ctrl-G, is a common factory setting). Those
    with an open sensor answer `status_query` with one byte whose `open_mask` bits are set
    while the drawer is open; both vary by model, so they come from the drawer's manual.
    Without a `status_query` the sensor is unknown and is_open() is None."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        open_command: bytes = b"\x07",
        status_query: bytes | None = None,
        open_mask: int = 0x01,
        timeout: float = 1.0,
    ) -> None:
        if not open_command:
            raise ValueError("a serial drawer needs at least one byte to open on")
        self.port = port
        self._open_command = open_command
        self._status_query = status_query
        self._open_mask = open_mask
        self._timeout = timeout
        self._lock = threading.Lock()
        self._kicks = RecentActions()
        try:
            self._serial = serial.Serial(
                port, baudrate=baudrate, timeout=timeout, write_timeout=timeout
            )
        except serial.SerialException as error:
            raise PrinterUnavailable(f"serial drawer {port}: {error}") from None

    def kick(self, action_id: str) -> ActionResult:
        """Sends the open command; a repeated action id is ignored."""
        with self._lock:
            if action_id in self._kicks:
                return ActionResult(action_id, ok=True, message="already kicked", repeated=True)
            try:
                self._serial.write(self._open_command)
                self._serial.flush()
            except serial.SerialException as error:
                return ActionResult(action_id, ok=False, message=f"{self.port}: {error}")
            self._kicks.add(action_id, b"")
            return ActionResult(action_id, ok=True, message=f"drawer on {self.port} kicked")

    def is_open(self) -> bool | None:
        """The sensor's answer; None without a sensor or when the drawer does not answer."""
        if self._status_query is None:
            return None
        with self._lock:
            try:
                self._serial.reset_input_buffer()
                self._serial.write(self._status_query)
                answer = self._serial.read(1)
            except serial.SerialException:
                return None
        return bool(answer[0] & self._open_mask) if answer else None

    def close(self) -> None:
        self._serial.close()
