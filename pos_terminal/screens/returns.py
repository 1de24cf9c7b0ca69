"""Returns: scan the receipt, pick the lines coming back (marked ✓), confirm, refund."""

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from devices.display.encoding import pair
from pos_terminal.screens.base import CounterScreen, Message
from pos_terminal.screens.dialogs import ConfirmDialog
from pos_terminal.screens.status import StatusBar
from pos_terminal.services.errors import PosError
from pos_terminal.services.receipts import METHOD_LABELS, local_time
from pos_terminal.services.returns import SaleRecord
from shared.money import format_fen


def refund_screen(refund_fen: int, method: str) -> list[str]:
    """What the customer display shows after a refund: the amount and how it is paid back."""
    return [pair("REFUND", format_fen(refund_fen, symbol="Y")), pair(method.upper(), "")]


class ReturnScreen(CounterScreen):
    DEFAULT_CSS = """
    ReturnScreen #receipt { margin: 0 1; }
    ReturnScreen #sale { margin: 0 1; height: auto; }
    ReturnScreen SelectionList { height: 1fr; margin: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f9", "refund", "退款 Refund"),
        Binding("escape", "clear", "清除 Clear"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sale: SaleRecord | None = None

    def compose(self) -> ComposeResult:
        yield Label("退货 Return", id="title")
        yield Input(placeholder="扫描小票条码 Scan the receipt barcode", id="receipt")
        yield Static("", id="sale")
        yield SelectionList[int](id="lines")
        yield Message("空格选择要退的行, F9 退款 — Space picks lines, F9 refunds")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#receipt", Input).focus()

    @on(Input.Submitted, "#receipt")
    def typed(self, event: Input.Submitted) -> None:
        event.input.value = ""
        if event.value.strip():
            self.on_scan(event.value.strip())

    def on_scan(self, code: str) -> None:
        try:
            sale = self.services.returns.find(code)
        except PosError as error:
            self.refuse(error)
            return
        self.sale = sale
        customer = f"  实名 {sale.customer_masked}" if sale.customer_masked else ""
        zone = self.services.identity().timezone
        self.query_one("#sale", Static).update(
            f"{sale.receipt_no}  {local_time(sale.at, zone)}  {sale.clerk}  "
            f"{format_fen(sale.total_fen)}{customer}\n"
            f"可退至 returns until {local_time(sale.return_until, zone)}"
        )
        lines = self.query_one(SelectionList)
        lines.clear_options()
        for line in sale.lines:
            label = self.line_label(line.line_no)
            lines.add_option(Selection(label, line.line_no, disabled=not line.returnable))
        returnable = [i for i, line in enumerate(sale.lines) if line.returnable]
        if returnable:
            lines.highlighted = returnable[0]
        lines.focus()
        self.say(f"{sum(line.returnable for line in sale.lines)} 行可退 lines can come back")

    @on(SelectionList.SelectionToggled)
    def mark(self, event: SelectionList.SelectionToggled[int]) -> None:
        """A picked line carries a ✓ in its text, not only a colour."""
        lines = event.selection_list
        lines.replace_option_prompt_at_index(
            event.selection_index, self.line_label(event.selection.value)
        )

    def line_label(self, line_no: int) -> str:
        assert self.sale is not None
        line = next(line for line in self.sale.lines if line.line_no == line_no)
        picked = line_no in self.query_one(SelectionList).selected
        label = f"{'[✓]' if picked else '[ ]'} {line.description}  {format_fen(line.price_fen)}"
        if line.refusal:
            label += f"  — 不可退 {line.refusal}"
        return label

    def action_refund(self) -> None:
        """F9: the refund's amount and method are shown and asked about before it is made."""
        if self.sale is None:
            self.say("先扫描小票 Scan the receipt first", error=True)
            return
        chosen = list(self.query_one(SelectionList).selected)
        try:
            self.clerk()
            quote = self.services.returns.quote(self.sale.receipt_no, chosen)
        except PosError as error:
            self.refuse(error)
            return
        method = METHOD_LABELS.get(quote.refund_method, quote.refund_method)
        lines = [
            *(f"{line.description}  {format_fen(line.price_fen)}" for line in quote.lines),
            f"退款 Refund {format_fen(quote.refund_fen)}  ·  {method}",
        ]

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.refund(chosen)

        self.app.push_screen(
            ConfirmDialog(f"退货 Return {quote.sale.receipt_no}", lines, "确认退款? Refund now?"),
            confirmed,
        )

    def refund(self, chosen: list[int]) -> None:
        assert self.sale is not None
        try:
            done = self.services.returns.return_lines(
                self.clerk().username, self.sale.receipt_no, chosen
            )
        except PosError as error:
            self.refuse(error)
            return
        self.action_clear()
        self.app.kick_drawer()  # type: ignore[attr-defined]
        self.app.show_customer(  # type: ignore[attr-defined]
            refund_screen(done.refund_fen, done.refund_method), idle_after=True
        )
        self.app.print_pending()  # type: ignore[attr-defined]
        self.app.wake_sync()  # type: ignore[attr-defined]
        method = METHOD_LABELS.get(done.refund_method, done.refund_method)
        self.say(f"已退 {len(done.items)} 件, 退款 refund {format_fen(done.refund_fen)} ({method})")

    def action_clear(self) -> None:
        self.sale = None
        self.query_one(SelectionList).clear_options()
        self.query_one("#sale", Static).update("")
        self.query_one("#receipt", Input).focus()
