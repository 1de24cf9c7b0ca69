"""The receipt printer driver: jobs printed once, reprints, DLE EOT status, the drawer kick."""

import contextlib
import threading
from collections import OrderedDict

from devices.escpos import commands
from devices.escpos.commands import StatusRequest
from devices.escpos.status import OFFLINE, interpret, is_status_byte
from devices.ports import ActionResult, PrinterState, PrinterStatus
from devices.printer.config import PrinterConfig, parse_host_port
from devices.printer.encode import encode_receipt
from devices.printer.links import (
    FileLink,
    Link,
    NetworkLink,
    PrinterUnavailable,
    SerialLink,
    UsbLink,
    wait_for_byte,
)
from devices.printer.profiles import get_profile
from devices.printer.receipt import Receipt

_RECENT_ACTIONS = 200


class RecentActions:
    """The last few action ids with what they carried, oldest forgotten first."""

    def __init__(self, size: int = _RECENT_ACTIONS) -> None:
        self._size = size
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def __contains__(self, action_id: str) -> bool:
        return action_id in self._items

    def get(self, action_id: str) -> bytes | None:
        return self._items.get(action_id)

    def add(self, action_id: str, payload: bytes) -> None:
        self._items[action_id] = payload
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class EscposPrinter:
    """An ESC/POS receipt printer and the cash drawer on its kick connector.

    It connects on first use and again after an error, so a printer switched on after the
    terminal just starts working. Every call is safe from several threads."""

    def __init__(
        self, config: PrinterConfig, link: Link, *, drawer_open_when_high: bool = True
    ) -> None:
        if config.drawer_pin not in (2, 5):
            raise ValueError(f"drawer_pin must be 2 or 5, not {config.drawer_pin}")
        if config.chinese not in ("native", "raster"):
            raise ValueError(f"chinese must be 'native' or 'raster', not {config.chinese!r}")
        self.config = config
        self.profile = get_profile(config.profile)
        self._link = link
        self._drawer_open_when_high = drawer_open_when_high
        self._lock = threading.Lock()
        self._connected = False
        self._jobs = RecentActions()
        self._kicks = RecentActions()

    @property
    def description(self) -> str:
        return self._link.description

    # --- connection ------------------------------------------------------------------------

    def _ensure_connected(self) -> None:
        if not self._connected:
            self._link.open()
            self._connected = True

    def _where(self, problem: object) -> str:
        """A problem named with the printer it happened on (a socket error alone does not)."""
        text = str(problem)
        return text if self.description in text else f"{self.description}: {text}"

    def _disconnect(self) -> None:
        if self._connected:
            self._connected = False
            # A link that fails to close is already gone; the next use reconnects anyway.
            with contextlib.suppress(OSError):
                self._link.close()

    def _send(self, data: bytes) -> None:
        """Writes data, dropping the connection on failure so the next call reconnects."""
        try:
            self._ensure_connected()
            self._link.write(data)
        except OSError:
            self._disconnect()
            raise

    # --- status ----------------------------------------------------------------------------

    def _query(self, request: StatusRequest) -> int | None:
        self._send(commands.status_query(request))
        return wait_for_byte(self._link, is_status_byte, self.config.status_timeout)

    def _status(self) -> PrinterStatus:
        if not self._link.can_read:
            try:
                self._ensure_connected()
            except OSError as error:
                return PrinterStatus(PrinterState.offline, detail=self._where(error))
            return PrinterStatus(
                PrinterState.online, detail=f"{self.description} has no status channel"
            )
        try:
            self._ensure_connected()
            self._link.discard_input()
            printer = self._query(StatusRequest.printer)
            if printer is None:
                return PrinterStatus(
                    PrinterState.offline,
                    detail=f"no answer within {self.config.status_timeout:g} s",
                )
            cause = self._query(StatusRequest.offline_cause) if printer & OFFLINE else None
            paper = self._query(StatusRequest.paper)
        except OSError as error:
            self._disconnect()
            return PrinterStatus(PrinterState.offline, detail=self._where(error))
        return interpret(printer, cause, paper, drawer_open_when_high=self._drawer_open_when_high)

    def status(self) -> PrinterStatus:
        """Asks the printer (DLE EOT 1, 2, 4); each answer is awaited at most status_timeout."""
        with self._lock:
            return self._status()

    # --- printing --------------------------------------------------------------------------

    def print_bytes(self, job_id: str, payload: bytes) -> ActionResult:
        """Sends an encoded job once: a job id already printed is not printed again.

        A job is refused while the printer cannot print, so it can be retried with its id."""
        with self._lock:
            if job_id in self._jobs:
                return ActionResult(job_id, ok=True, message="already printed", repeated=True)
            return self._print(job_id, payload)

    def _print(self, job_id: str, payload: bytes) -> ActionResult:
        status = self._status()
        if not status.can_print:
            message = f"cannot print: {self._where(status.detail)}"
            return ActionResult(job_id, ok=False, message=message)
        try:
            self._send(payload)
        except OSError as error:
            return ActionResult(job_id, ok=False, message=self._where(error))
        self._jobs.add(job_id, payload)
        return ActionResult(job_id, ok=True, message=f"printed on {self.description}")

    def print_receipt(self, job_id: str, receipt: Receipt) -> ActionResult:
        """Encodes the receipt for this printer's paper and Chinese mode, then prints it once."""
        payload = encode_receipt(receipt, self.profile, self.config.chinese)
        return self.print_bytes(job_id, payload)

    def reprint(self, job_id: str) -> ActionResult:
        """Sends a printed job's stored bytes again (a customer's lost receipt)."""
        with self._lock:
            payload = self._jobs.get(job_id)
            if payload is None:
                return ActionResult(job_id, ok=False, message=f"no printed job {job_id!r}")
            return self._print(job_id, payload)

    # --- cash drawer -----------------------------------------------------------------------

    def kick(self, action_id: str) -> ActionResult:
        """Opens the drawer with a pulse on the configured pin; a repeated action id is ignored."""
        with self._lock:
            if action_id in self._kicks:
                return ActionResult(action_id, ok=True, message="already kicked", repeated=True)
            try:
                self._send(commands.drawer_kick(self.config.drawer_pin))
            except OSError as error:
                return ActionResult(action_id, ok=False, message=self._where(error))
            self._kicks.add(action_id, b"")
            return ActionResult(action_id, ok=True, message=f"kicked pin {self.config.drawer_pin}")

    def is_open(self) -> bool | None:
        """The drawer sensor as the printer reports it; None when the printer does not answer."""
        return self.status().drawer_open

    def close(self) -> None:
        with self._lock:
            self._disconnect()


def open_printer(config: PrinterConfig) -> EscposPrinter:
    """The printer `config` describes, connected on first use.

    Raises PrinterUnavailable at once only when the transport cannot work on this machine
    (USB without pyusb); a printer that is merely off shows up as offline in status()."""
    link: Link
    if config.transport == "network":
        host, port = parse_host_port(config.target)
        link = NetworkLink(host, port, connect_timeout=config.status_timeout)
    elif config.transport == "serial":
        link = SerialLink(config.target, config.baudrate)
    elif config.transport == "file":
        link = FileLink(config.target)
    elif config.transport == "usb":
        link = UsbLink(config.target)
    else:
        raise ValueError(f"unknown printer transport {config.transport!r}")
    return EscposPrinter(config, link)


__all__ = ["EscposPrinter", "PrinterUnavailable", "RecentActions", "open_printer"]
