"""The counter app: screens for sale, returns, stock, shift and figures, driven by the keyboard
and the scanner; devices and sync work in threads and report to the status bar."""

from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Header
from textual.worker import get_current_worker

from devices.display.screens import welcome_screen
from devices.ports import DeviceKind, DeviceStatus, PrinterState, ScanEvent
from pos_terminal import outbox
from pos_terminal.hardware import CounterHardware
from pos_terminal.screens.figures import FiguresScreen
from pos_terminal.screens.login import LoginScreen, clerk_name
from pos_terminal.screens.returns import ReturnScreen
from pos_terminal.screens.sale import SaleScreen
from pos_terminal.screens.shift import ShiftScreen
from pos_terminal.screens.status import CounterStatus, StatusBar
from pos_terminal.screens.stock import StockScreen
from pos_terminal.services.counter import CounterServices
from pos_terminal.services.login import Clerk
from pos_terminal.sync import SyncState, SyncWorker

NOTICE_SECONDS = 10

_STATUS_FIELDS = {
    DeviceKind.printer: "printer",
    DeviceKind.drawer: "drawer",
    DeviceKind.scanner: "scanner",
    DeviceKind.display: "display",
}


class CounterApp(App[None]):
    """The terminal at the counter. Screens call `services`; devices go through `hardware`."""

    CSS_PATH = "app.tcss"
    TITLE = "号卡 HaoKa"
    MODES: ClassVar = {
        "sale": SaleScreen,
        "returns": ReturnScreen,
        "stock": StockScreen,
        "shift": ShiftScreen,
        "figures": FiguresScreen,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "switch_mode('sale')", "销售 Sale", priority=True),
        Binding("f2", "switch_mode('returns')", "退货 Return", priority=True),
        Binding("f3", "switch_mode('stock')", "库存 Stock", priority=True),
        Binding("f4", "switch_mode('shift')", "班次 Shift", priority=True),
        Binding("ctrl+t", "switch_mode('figures')", "今日 Today"),
        Binding("f12", "lock", "锁屏 Lock", priority=True),
    ]

    def __init__(
        self,
        services: CounterServices,
        hardware: CounterHardware | None = None,
        *,
        sync: SyncWorker | None = None,
        status_interval: float = 5.0,
        notice: str | None = None,
        display_idle_after: float = 10.0,
    ) -> None:
        """`notice` is shown once at start (the demo's hints), until the first key or a few
        seconds; the customer display goes back to its welcome `display_idle_after` seconds
        after a refund."""
        super().__init__()
        self.notice = notice
        self.notice_up = False
        self.services = services
        self.hardware = hardware or CounterHardware(None)
        self.sync = sync
        self.status_interval = status_interval
        self.display_idle_after = display_idle_after
        self.shown_on_display = 0  # counts what the display was told to show
        self.counter_status = CounterStatus()

    def compose(self) -> ComposeResult:
        yield Header()

    def on_mount(self) -> None:
        who = self.services.identity()
        self.sub_title = f"{who.dealer_name} · {who.outlet_name} · 终端 {who.terminal_no}"
        self.switch_mode("sale")
        if self.services.login.current is None:
            self.push_screen(LoginScreen(), self.logged_in)
        else:
            self.logged_in(self.services.login.current)
        self.hardware.on_status = self.device_status_from_thread
        if self.hardware.scanner is not None:
            self.read_scans()
        self.count_outbox()
        if self.sync is not None:
            self.sync.on_change = lambda state: self.call_from_thread(self.show_sync, state)
            self.sync.start()
        self.set_interval(self.status_interval, self.poll_devices)
        self.poll_devices()
        if self.notice:
            self.notice_up = True
            self.notify(self.notice, timeout=NOTICE_SECONDS)

    def on_key(self) -> None:
        # The start notice sits over the screen's bottom right (the sale total): the first
        # key the screen does not take for itself (Enter, a function key) clears it.
        if self.notice_up:
            self.notice_up = False
            self.clear_notifications()

    def set_status(self, **changes: object) -> None:
        for name, value in changes.items():
            setattr(self.counter_status, name, value)
        for screen in self.screen_stack:
            for bar in screen.query(StatusBar):
                bar.refresh()

    def show_clerk(self) -> None:
        clerk = self.services.login.current
        self.set_status(clerk="—" if clerk is None else clerk_name(clerk))

    def logged_in(self, clerk: Clerk | None) -> None:
        self.show_clerk()
        if clerk is None:
            return
        self.notify(f"欢迎 {clerk.full_name or clerk.username}")
        if self.services.shifts.current() is None:
            self.switch_mode("shift")

    def action_lock(self) -> None:
        if self.services.login.current is None or self.services.login.locked:
            return
        self.services.login.lock()
        self.push_screen(LoginScreen(unlock=True), lambda clerk: self.show_clerk())

    # --- devices ----------------------------------------------------------------------------

    @work(thread=True, group="scanner")
    def read_scans(self) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            event = self.hardware.read_scan(0.5)
            if event is not None:
                self.call_from_thread(self.deliver_scan, event)

    def deliver_scan(self, event: ScanEvent) -> None:
        """A scan goes to the screen in front, once a clerk is logged in and not locked."""
        if event.code is None:
            self.bell()
            self.notify(f"{event.raw}: {event.error}", severity="error")
            return
        if self.services.login.current is None or self.services.login.locked:
            return
        on_scan = getattr(self.screen, "on_scan", None)
        if on_scan is not None:
            on_scan(event.code.value)

    def device_status_from_thread(self, status: DeviceStatus) -> None:
        try:
            self.call_from_thread(self.device_status, status)
        except RuntimeError:
            # Reported from the app's own thread: no hop needed.
            self.device_status(status)

    def device_status(self, status: DeviceStatus) -> None:
        """A device's report. A failure shows at once; "ok" only replaces a failure or
        nothing yet: the printer and a drawer on it show their polled state (online, open,
        closed), which a report of a print or a kick that went through must not overwrite."""
        field = _STATUS_FIELDS.get(status.kind)
        if field is None:
            return
        if not status.connected:
            self.set_status(**{field: f"✗ {status.detail}".strip()})
        elif getattr(self.counter_status, field).startswith(("✗", "—")):
            self.set_status(**{field: "ok"})

    def show_customer(self, lines: list[str], *, idle_after: bool = False) -> None:
        """Shows `lines` on the customer display; with `idle_after`, the welcome follows
        `display_idle_after` seconds later unless something else was shown meanwhile."""
        self.shown_on_display += 1
        self.update_display(lines)
        if idle_after:
            shown = self.shown_on_display
            self.set_timer(self.display_idle_after, lambda: self._idle_display(shown))

    def _idle_display(self, shown: int) -> None:
        if self.shown_on_display == shown:
            self.show_customer(welcome_screen())

    @work(thread=True, group="display")
    def update_display(self, lines: list[str]) -> None:
        self.hardware.show(lines)

    @work(thread=True, group="drawer")
    def kick_drawer(self) -> None:
        result = self.hardware.kick_drawer()
        if result is not None and not result.ok:
            self.call_from_thread(self.notify, f"钱箱 drawer: {result.message}", severity="error")
        elif result is not None and self.hardware.drawer is self.hardware.printer:
            # Its sensor now reads open: show it without waiting for the next poll.
            self.call_from_thread(self.poll_devices)

    @work(thread=True, group="printer", exclusive=True)
    def print_pending(self) -> None:
        results = self.hardware.print_pending(self.services.prints)
        if results and not results[-1].ok:
            self.call_from_thread(
                self.notify,
                f"小票待打印 receipt waits: {results[-1].message}",
                severity="warning",
            )
        self.call_from_thread(self._count_waiting)

    def _count_waiting(self) -> None:
        self.set_status(waiting_receipts=self.services.prints.waiting())

    @work(thread=True, group="status", exclusive=True)
    def poll_devices(self) -> None:
        # Gathered first and handed to the UI thread once: each hop waits for the UI.
        changes: dict[str, object] = {}
        status = self.hardware.printer_status()
        if status is not None:
            if status.state is not PrinterState.offline:
                # Offline, the printer's own report (✗ and why) stays: one text, no flicker.
                changes["printer"] = status.state.value
            if self.hardware.drawer is self.hardware.printer:
                changes["drawer"] = {True: "开 open", False: "关 closed", None: "?"}[
                    status.drawer_open
                ]
            if status.can_print and self.services.prints.waiting():
                self.call_from_thread(self.print_pending)
        for kind, device in (
            (DeviceKind.scanner, self.hardware.scanner),
            (DeviceKind.display, self.hardware.display),
        ):
            text = "—" if device is None else ("ok" if _connected(device) else "✗")
            changes[_STATUS_FIELDS[kind]] = text
        if self.hardware.drawer is None:
            changes["drawer"] = "—"
        self.call_from_thread(self.set_status, **changes)

    # --- sync -------------------------------------------------------------------------------

    def show_sync(self, state: SyncState) -> None:
        self.set_status(
            connection="online" if state.online else "offline",
            backlog=state.backlog,
            rejected=state.unseen_rejections,
            retrying=state.retrying,
        )

    def wake_sync(self) -> None:
        if self.sync is not None:
            self.sync.wake()
        else:
            self.count_outbox()

    def count_outbox(self) -> None:
        """Backlog and unseen rejections from the store, for a counter without a sync worker
        and after a manager acknowledges a rejection."""
        store = self.services.store
        self.set_status(
            backlog=outbox.backlog(store),
            rejected=len(outbox.unacknowledged_rejections(store)),
            retrying=outbox.retrying(store),
        )

    def on_unmount(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        self.hardware.close()


def _connected(device: object) -> bool:
    return bool(getattr(device, "connected", True))
