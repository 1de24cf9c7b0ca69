"""Today's figures at this terminal: sales by product, returns, cash expected, sync backlog."""

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Label, Static

from pos_terminal.screens.base import CounterScreen, Message
from pos_terminal.screens.status import StatusBar
from shared.money import format_fen


class FiguresScreen(CounterScreen):
    DEFAULT_CSS = """
    FiguresScreen #summary { margin: 0 1; height: auto; }
    FiguresScreen DataTable { margin: 0 1; height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("f5", "refresh", "刷新 Refresh")]

    def compose(self) -> ComposeResult:
        yield Label("今日 Today", id="title")
        yield Static("", id="summary")
        yield DataTable(id="products", cursor_type="none")
        yield Message("")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("商品 Product", "件数 Count", "金额 Amount")
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        figures = self.services.figures()
        cash = "—" if figures.cash_expected_fen is None else format_fen(figures.cash_expected_fen)
        self.query_one("#summary", Static).update(
            f"{figures.day}  销售 {figures.sales_count} 笔 {format_fen(figures.sales_total_fen)}   "
            f"退货 {figures.returns_count} 笔 {format_fen(figures.refunds_fen)}\n"
            f"钱箱应有 cash expected {cash}   待同步 to sync {figures.sync_backlog}   "
            f"被拒 rejected {figures.rejected_events}   待打印 receipts waiting "
            f"{figures.receipts_waiting}"
        )
        table = self.query_one(DataTable)
        table.clear()
        for line in figures.products:
            table.add_row(line.label, str(line.count or 0), format_fen(line.amount_fen))
