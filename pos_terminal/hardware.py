"""The counter's devices as the app uses them: scans in; receipts, drawer and display out.

Every device is optional (a counter without a pole display still sells) and every call is
blocking I/O, so the app makes these calls from worker threads. A device that fails is
reported through `on_status`; it never takes a sale down with it."""

import contextlib
import logging
from collections.abc import Callable

from devices.config import DevicesConfig
from devices.display.serial_display import SerialDisplay
from devices.factory import open_display, open_drawer, open_scanner
from devices.ports import (
    ActionResult,
    CashDrawer,
    DeviceKind,
    DeviceStatus,
    PrinterState,
    PrinterStatus,
    ScanEvent,
    ScanSource,
)
from devices.printer import EscposPrinter, PrinterUnavailable, open_printer
from pos_terminal.services.printing import PrintQueue
from shared.ids import new_id

log = logging.getLogger(__name__)


class CounterHardware:
    """Opens what the devices file names; `None` devices are simply not there."""

    def __init__(
        self,
        config: DevicesConfig | None,
        on_status: Callable[[DeviceStatus], None] | None = None,
    ) -> None:
        self.config = config or DevicesConfig()
        # Replaceable after start-up: the app routes device reports to its status bar.
        self.on_status: Callable[[DeviceStatus], None] = on_status or (lambda status: None)
        self.printer: EscposPrinter | None = None
        self.display: SerialDisplay | None = None
        self.drawer: CashDrawer | None = None
        self.scanner: ScanSource | None = None
        if self.config.printer is not None:
            try:
                self.printer = open_printer(self.config.printer)
            except (PrinterUnavailable, ValueError) as error:
                self._report(DeviceKind.printer, "printer", False, str(error))
        if self.config.display is not None:
            self.display = open_display(self.config.display, self._publish)
        try:
            self.drawer = open_drawer(self.config, self.printer)
        except PrinterUnavailable as error:
            self._report(DeviceKind.drawer, "drawer", False, str(error))
        self.scanner = open_scanner(self.config, self._publish)

    def _publish(self, status: DeviceStatus) -> None:
        self.on_status(status)

    def _report(self, kind: DeviceKind, identifier: str, connected: bool, detail: str) -> None:
        self._publish(DeviceStatus(identifier, kind, connected, detail))

    def read_scan(self, timeout: float) -> ScanEvent | None:
        return self.scanner.read(timeout) if self.scanner is not None else None

    def show(self, lines: list[str]) -> None:
        if self.display is not None:
            result = self.display.show(lines)
            if not result.ok:
                log.info("customer display: %s", result.message)

    def kick_drawer(self) -> ActionResult | None:
        if self.drawer is None:
            return None
        result = self.drawer.kick(new_id())
        self._report(DeviceKind.drawer, "drawer", result.ok, result.message or "kicked")
        return result

    def printer_status(self) -> PrinterStatus | None:
        if self.printer is None:
            return None
        status = self.printer.status()
        self._report(
            DeviceKind.printer,
            "printer",
            status.state is not PrinterState.offline,
            f"{status.state.value} {status.detail}".strip(),
        )
        return status

    def print_pending(self, queue: PrintQueue) -> list[ActionResult]:
        """Prints what waits in the queue; without a printer the receipts keep waiting."""
        if self.printer is None:
            return []
        results = queue.drain(self.printer)
        if results and not results[-1].ok:
            self._report(DeviceKind.printer, "printer", False, results[-1].message)
        return results

    def close(self) -> None:
        for device in (self.scanner, self.display, self.printer):
            if device is not None:
                with contextlib.suppress(OSError):
                    device.close()
        drawer = self.drawer
        if drawer is not None and drawer is not self.printer and hasattr(drawer, "close"):
            with contextlib.suppress(OSError):
                drawer.close()
