"""Today's figures at this terminal: sales by product, returns, sync backlog, and the events
the back office rejected, with their reasons. Not the cash the drawer should hold: the count
at closing is blind (the Z report shows it)."""

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Label, Static

from pos_terminal import outbox
from pos_terminal.screens.base import CounterScreen, Message
from pos_terminal.screens.dialogs import Approval, ApprovalDialog
from pos_terminal.screens.status import StatusBar
from pos_terminal.services.errors import PosError
from pos_terminal.services.receipts import local_time
from shared.money import format_fen

# The sales centre's decisions (shared.sync.ResolutionKind), as the clerk reads them.
DECISIONS = {
    "manual_sale": "已补录销售 booked as a sale",
    "refund": "请退款给顾客 refund the customer",
    "write_off": "已核销 written off",
    "note": "已处理 resolved",
}


def _decision(event: outbox.OutboxEvent) -> str:
    if event.resolution is None:
        return "待处理 open"
    told = DECISIONS.get(event.resolution, event.resolution)
    return f"{told}: {event.resolution_note}" if event.resolution_note else told


class FiguresScreen(CounterScreen):
    DEFAULT_CSS = """
    FiguresScreen #summary { margin: 0 1; height: auto; }
    FiguresScreen DataTable { margin: 0 1; height: 1fr; }
    FiguresScreen #rejected-title { margin: 1 1 0 1; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "refresh", "刷新 Refresh"),
        Binding("f6", "acknowledge", "店长确认 Acknowledge"),
    ]

    def compose(self) -> ComposeResult:
        yield Label("今日 Today", id="title")
        yield Static("", id="summary")
        yield DataTable(id="products", cursor_type="none")
        yield Label("后台拒绝 Rejected by the back office", id="rejected-title")
        yield DataTable(id="rejected", cursor_type="row")
        yield Message("")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#products", DataTable).add_columns(
            "商品 Product", "件数 Count", "金额 Amount"
        )
        self.query_one("#rejected", DataTable).add_columns(
            "#",
            "类型 Event",
            "时间 When",
            "原因 Reason",
            "说明 Message",
            "后台处理 Decision",
            "确认 Seen by",
        )
        self.action_refresh()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        figures = self.services.figures()
        self.query_one("#summary", Static).update(
            f"{figures.day}  销售 {figures.sales_count} 笔 {format_fen(figures.sales_total_fen)}   "
            f"退货 {figures.returns_count} 笔 {format_fen(figures.refunds_fen)}\n"
            f"待同步 to sync {figures.sync_backlog}   "
            f"被拒 rejected {figures.rejected_events}   待打印 receipts waiting "
            f"{figures.receipts_waiting}"
        )
        table = self.query_one("#products", DataTable)
        table.clear()
        for line in figures.products:
            table.add_row(line.label, str(line.count or 0), format_fen(line.amount_fen))
        zone = self.services.identity().timezone
        rejected = self.query_one("#rejected", DataTable)
        rejected.clear()
        for event in outbox.rejected_events(self.services.store):
            rejected.add_row(
                str(event.seq),
                event.type.value,
                local_time(event.occurred_at, zone),
                event.reason or "",
                event.message or "",
                _decision(event),
                event.acknowledged_by or "",
                key=str(event.seq),
            )

    def action_acknowledge(self) -> None:
        """A dealer manager confirms having seen the highlighted rejection (with the PIN)."""
        table = self.query_one("#rejected", DataTable)
        if table.row_count == 0:
            return
        seq = int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        seen_by = table.get_row_at(table.cursor_row)[-1]
        if seen_by:
            self.refuse(PosError("already_acknowledged", f"#{seq}: {seen_by} 已确认 already"))
            return

        def acknowledge(form: Approval) -> str:
            manager = self.services.login.approve(
                form.manager, form.pin, "acknowledge_rejection", {"seq": seq}
            )
            try:
                outbox.acknowledge_rejection(self.services.store, seq, manager.username)
            except ValueError as error:
                # Acknowledged meanwhile (another dialog on this row): nothing left to do.
                raise PosError("already_acknowledged", str(error)) from None
            return f"#{seq} 已确认 acknowledged by {manager.username}"

        def approved(done: str | None) -> None:
            self.action_refresh()
            if done is not None:
                self.app.count_outbox()  # type: ignore[attr-defined]
                self.say(done)

        title = f"确认被拒事件 Acknowledge rejection #{seq}"
        self.app.push_screen(ApprovalDialog(title, acknowledge), approved)
