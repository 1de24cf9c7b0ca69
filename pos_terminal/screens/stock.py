"""Stock: receive a delivery (note, then items), count the shelf, send items back to the centre."""

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, Label, RadioButton, RadioSet, Static

from pos_terminal.screens.base import CounterScreen, Message
from pos_terminal.screens.status import StatusBar
from pos_terminal.services.errors import PosError
from pos_terminal.services.stock import ScanSession, StockDocumentResult

MODES = {"receive": "入库 Stock-in", "count": "盘点 Count", "out": "退库 Stock-out"}


def result_text(result: StockDocumentResult) -> str:
    lines = [f"{MODES.get(result.kind, result.kind)}: {len(result.scanned)} 件 scanned"]
    if result.document_number:
        lines[0] += f"  ({result.document_number})"
    if result.missing:
        lines.append(f"缺少 missing {len(result.missing)}: " + ", ".join(result.missing[:20]))
    if result.unexpected:
        lines.append(
            f"多出 unexpected {len(result.unexpected)}: " + ", ".join(result.unexpected[:20])
        )
    if not (result.missing or result.unexpected):
        lines.append("无差异 no discrepancies")
    return "\n".join(lines)


class StockScreen(CounterScreen):
    DEFAULT_CSS = """
    StockScreen RadioSet { margin: 0 1; }
    StockScreen Input { margin: 0 1; }
    StockScreen #progress, StockScreen #result { margin: 0 1; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f9", "finish", "完成 Finish"),
        Binding("escape", "restart", "重来 Start over"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.mode = "receive"
        self.session: ScanSession | None = None
        self.out_items: list[str] = []

    def compose(self) -> ComposeResult:
        yield Label("库存 Stock", id="title")
        with RadioSet(id="mode"):
            for key, label in MODES.items():
                yield RadioButton(label, value=key == "receive", name=key)
        yield Input(placeholder="扫出库单, 再扫商品 Scan the note, then items", id="code")
        yield Input(placeholder="退库原因 Reason (stock-out)", id="reason")
        yield Static("", id="progress")
        yield Static("", id="result")
        yield Message("")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#code", Input).focus()

    @on(RadioSet.Changed)
    def mode_changed(self, event: RadioSet.Changed) -> None:
        self.mode = event.pressed.name or "receive"
        self.action_restart()

    @on(Input.Submitted, "#code")
    def typed(self, event: Input.Submitted) -> None:
        event.input.value = ""
        if event.value.strip():
            self.on_scan(event.value.strip())

    def on_scan(self, code: str) -> None:
        stock = self.services.stock
        try:
            if self.mode == "out":
                self.out_items.append(stock.lookup(code).item)
                count = len(dict.fromkeys(self.out_items))
            elif self.session is None and self.mode == "receive":
                self.session = stock.start_receipt(code)
                expected = stock.expected_in_transit(self.session)
                self.say(f"出库单 {self.session.document_number}: 应到 {len(expected)} 件 expected")
                self.show_progress()
                return
            else:
                if self.session is None:
                    self.session = stock.start_count()
                if not stock.scan(self.session, code):
                    self.say(f"{code} 已扫过 already scanned", error=True)
                    return
                count = len(self.session.scanned)
        except PosError as error:
            self.refuse(error)
            return
        self.say(f"{code} ✓")
        self.show_progress(count)

    def show_progress(self, count: int = 0) -> None:
        self.query_one("#progress", Static).update(f"已扫 scanned {count}")

    def action_finish(self) -> None:
        stock, clerk = self.services.stock, self.clerk().username
        try:
            if self.mode == "out":
                reason = self.query_one("#reason", Input).value
                result = stock.stock_out(clerk, self.out_items, reason)
            elif self.mode == "receive":
                if self.session is None:
                    raise PosError("no_document", "scan the delivery note first")
                result = stock.finish_receipt(clerk, self.session)
            else:
                result = stock.finish_count(clerk, self.session or stock.start_count())
        except PosError as error:
            self.refuse(error)
            return
        self.query_one("#result", Static).update(result_text(result))
        self.session, self.out_items = None, []
        self.show_progress()
        self.app.wake_sync()  # type: ignore[attr-defined]
        self.say("已记录, 将同步到后台 recorded; it syncs to the back office")

    def action_restart(self) -> None:
        self.session, self.out_items = None, []
        self.show_progress()
        self.query_one("#result", Static).update("")
        self.query_one("#code", Input).focus()
