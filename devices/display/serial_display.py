"""A customer pole display on a serial port, driven through one of the display command sets."""

import itertools
import logging

import serial

from devices.display.encoding import COLUMNS, ROWS, CommandSet, commands_for
from devices.ports import ActionResult, DeviceKind, DeviceStatus, StatusCallback

log = logging.getLogger(__name__)


class SerialDisplay:
    """A CustomerDisplay over pyserial; a lost port is reported and reopened on the next show.

    Each show rewrites both rows, so a display that was power-cycled in between catches up at
    once.
    """

    columns = COLUMNS
    rows = ROWS

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        command_set: CommandSet = "epson",
        fallback: str = "?",
        currency: str = "Y",
        brightness: int | None = None,
        on_status: StatusCallback | None = None,
        identifier: str | None = None,
        write_timeout: float = 1.0,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.name = identifier or f"serial:{port}"
        self.commands = commands_for(command_set, fallback=fallback, currency=currency)
        self._brightness = brightness
        self._on_status = on_status
        self._write_timeout = write_timeout
        self._serial: serial.Serial | None = None
        self._connected: bool | None = None
        self._ids = itertools.count(1)

    def show(self, lines: list[str]) -> ActionResult:
        action_id = f"{self.name}#{next(self._ids)}"
        try:
            payload = self.commands.screen(lines)
        except ValueError as exc:
            return ActionResult(action_id, ok=False, message=str(exc))
        try:
            port = self._serial or self._open()
            port.write(payload)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            self._drop(f"write to {self.port} failed: {exc}")
            # pyserial names the port when it cannot open it, not when a write fails.
            message = str(exc) if self.port in str(exc) else f"{self.port}: {exc}"
            return ActionResult(action_id, ok=False, message=message)
        return ActionResult(action_id, ok=True)

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _open(self) -> serial.Serial:
        port = serial.Serial(self.port, self.baudrate, write_timeout=self._write_timeout)
        setup = self.commands.initialize() + self.commands.clear()
        if self._brightness is not None:
            setup += self.commands.brightness(self._brightness)
        try:
            port.write(setup)
        except (serial.SerialException, OSError):
            port.close()
            raise
        self._serial = port
        self._publish(True, f"{self.port} at {self.baudrate} baud")
        return port

    def _drop(self, reason: str) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                log.debug("closing %s failed", self.port, exc_info=True)
        self._serial = None
        self._publish(False, reason)

    def _publish(self, connected: bool, detail: str) -> None:
        if self._connected is connected:
            return
        self._connected = connected
        if self._on_status is not None:
            self._on_status(DeviceStatus(self.name, DeviceKind.display, connected, detail))
