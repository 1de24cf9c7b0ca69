"""The status bar: the clerk logged in, printer, drawer, scanner, display, connection and
events waiting to sync."""

from dataclasses import dataclass

from textual.widgets import Static


@dataclass
class CounterStatus:
    """What the bar shows; the app updates it from device and sync threads."""

    clerk: str = "—"  # who is logged in: every act is done in this clerk's name
    printer: str = "—"
    drawer: str = "—"
    scanner: str = "—"
    display: str = "—"
    connection: str = "offline"
    backlog: int = 0
    waiting_receipts: int = 0
    rejected: int = 0  # not yet acknowledged by a manager (Ctrl+T lists them)
    retrying: int = 0  # waiting events the back office failed on: kept, sent again later

    def line(self) -> str:
        receipts = f"  待打印 {self.waiting_receipts}" if self.waiting_receipts else ""
        retrying = f"  重试 retrying {self.retrying}" if self.retrying else ""
        rejected = f"  被拒 rejected {self.rejected}" if self.rejected else ""
        return (
            f"营业员 {self.clerk}  "
            f"打印机 {self.printer}  钱箱 {self.drawer}  扫描枪 {self.scanner}  "
            f"顾客屏 {self.display}  网络 {self.connection}  待同步 {self.backlog}"
            f"{retrying}{receipts}{rejected}"
        )


class StatusBar(Static):
    """One line above the key help on every main screen, drawn from the app's CounterStatus."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def render(self) -> str:
        return self.app.counter_status.line()  # type: ignore[attr-defined,no-any-return]
