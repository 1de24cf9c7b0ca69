"""The sale screen: scan or type, lines, total, real name, payment, change, receipt."""

import asyncio
from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Label, Static

from devices.display.screens import change_screen, item_screen, total_screen, welcome_screen
from pos_terminal.screens.base import CounterScreen, Message
from pos_terminal.screens.dialogs import (
    Approval,
    ApprovalDialog,
    NumberPickDialog,
    PaymentDialog,
    RealNameDialog,
)
from pos_terminal.screens.status import StatusBar
from pos_terminal.services.errors import PosError
from pos_terminal.services.sale import CompletedSale, DraftLine, SaleDraft, Tender
from pos_terminal.services.stock import NUMBER
from shared.money import format_fen

SaleStep = Callable[[SaleDraft], object]


def display_name(line: DraftLine) -> str:
    """What the pole display can show of an item (it has no Chinese font)."""
    if line.entry.item_kind == NUMBER:
        return line.entry.item
    face = line.entry.product.partition(":")[2]
    return f"CARD {int(face) // 100}" if face.isdigit() else "CARD"


class SaleScreen(CounterScreen):
    DEFAULT_CSS = """
    SaleScreen #scan { margin: 0 1; }
    SaleScreen DataTable { height: 1fr; margin: 0 1; }
    SaleScreen #totals { height: 3; margin: 0 1; }
    SaleScreen #total { width: 1fr; content-align: right middle; text-style: bold; }
    SaleScreen #customer { width: 1fr; content-align: left middle; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f7", "pick_number", "选号 Pick"),
        Binding("f8", "real_name", "实名 Real name"),
        Binding("f9", "pay", "收款 Pay"),
        Binding("f10", "override", "改价 Price"),
        Binding("f11", "no_sale", "开钱箱 Drawer"),
        Binding("delete", "remove_line", "删行 Remove"),
        Binding("escape", "cancel_sale", "取消 Cancel"),
        Binding("ctrl+r", "reprint", "补打 Reprint"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.draft: SaleDraft | None = None
        self.last_receipt: str | None = None
        # Scans and picks may reserve the number at the back office (network I/O): they run
        # one at a time, in the order they came, off the UI thread.
        self.steps: asyncio.Queue[tuple[str, SaleStep]] = asyncio.Queue()
        self.idle = True

    def compose(self) -> ComposeResult:
        yield Label("销售 Sale", id="title")
        yield Input(placeholder="扫码或输入号码 / ICCID / 卡号 — Scan or type", id="scan")
        yield DataTable(id="lines", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="totals"):
            yield Static("", id="customer")
            yield Static(f"合计 Total {format_fen(0)}", id="total")
        yield Message("")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("#", "商品 Item", "价格 Price", "备注 Note")
        self.query_one("#scan", Input).focus()
        self.run_worker(self.run_steps(), name="sale-steps")

    # --- scanning ---------------------------------------------------------------------------

    @on(Input.Submitted, "#scan")
    def typed(self, event: Input.Submitted) -> None:
        code = event.value.strip()
        event.input.value = ""
        if code:
            self.on_scan(code)

    def on_scan(self, code: str) -> None:
        self.steps.put_nowait((code, lambda draft: self.services.sales.scan(draft, code)))

    def steps_waiting(self) -> bool:
        """True while a scan, pick or removal is queued or running: the draft may still change,
        so paying now would settle a total that is already out of date."""
        if self.steps.empty() and self.idle:
            return False
        self.say("请稍候 a scan is still being processed", error=True)
        return True

    async def run_steps(self) -> None:
        while True:
            what, step = await self.steps.get()
            self.idle = False
            try:
                await self.run_step(what, step)
            finally:
                self.idle = True
                self.steps.task_done()

    async def run_step(self, what: str, step: SaleStep) -> None:
        try:
            draft = self.current_draft()
            line = await asyncio.to_thread(step, draft)
        except PosError as error:
            self.refuse(error)
            return
        self.refresh_lines()
        if isinstance(line, DraftLine):
            self.say(f"{line.description}  {format_fen(line.price_fen)}")
            self.app.show_customer(  # type: ignore[attr-defined]
                item_screen(display_name(line), line.price_fen, draft.total_fen)
            )
        elif isinstance(line, str):
            self.say(line)
        elif what:
            self.say(what)

    def current_draft(self) -> SaleDraft:
        if self.draft is None:
            self.draft = self.services.sales.start(self.clerk().username)
        return self.draft

    def refresh_lines(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        lines = self.draft.lines if self.draft else []
        for number, line in enumerate(lines, 1):
            note = "改价 override" if line.override else ""
            table.add_row(str(number), line.description, format_fen(line.price_fen), note)
        total = self.draft.total_fen if self.draft else 0
        self.query_one("#total", Static).update(f"合计 Total {format_fen(total)}")
        masked = self.draft.customer_masked if self.draft else None
        self.query_one("#customer", Static).update(f"实名 {masked}" if masked else "")

    # --- actions ----------------------------------------------------------------------------

    def action_pick_number(self) -> None:
        def picked(msisdn: str | None) -> None:
            if msisdn:
                self.steps.put_nowait(
                    (msisdn, lambda draft: self.services.sales.add_number(draft, msisdn))
                )

        self.app.push_screen(NumberPickDialog(self.services.sales.search_numbers), picked)

    def action_real_name(self, then_pay: bool = False) -> None:
        if self.draft is None or not self.draft.needs_real_name:
            self.say("实名登记只用于号卡 Real name is for number sales", error=True)
            return

        draft = self.draft

        def entered(shown: str | None) -> None:
            if shown is None:
                return
            self.refresh_lines()
            self.say(f"实名 {shown}")
            if then_pay:
                self.action_pay()

        def record(name: str, resident_id: str) -> str:
            return self.services.sales.set_customer(draft, name, resident_id)

        self.app.push_screen(RealNameDialog(record), entered)

    def action_pay(self) -> None:
        if self.steps_waiting():
            return
        draft = self.draft
        if draft is None or not draft.lines:
            self.say("请先扫码 Scan something to sell", error=True)
            return
        if draft.needs_real_name and draft.customer is None:
            self.action_real_name(then_pay=True)
            return
        self.app.show_customer(total_screen(draft.total_fen, items=len(draft.lines)))  # type: ignore[attr-defined]

        def paid(tenders: list[Tender] | None) -> None:
            if tenders is not None:
                self.complete(draft, tenders)

        self.app.push_screen(PaymentDialog(draft.total_fen), paid)

    def complete(self, draft: SaleDraft, tenders: list[Tender]) -> None:
        try:
            sale = self.services.sales.complete(draft, tenders)
        except PosError as error:
            self.refuse(error)
            return
        self.draft = None
        self.refresh_lines()
        self.after_sale(sale)

    def after_sale(self, sale: CompletedSale) -> None:
        # Committed already: what follows (drawer, display, receipt) may fail without loss.
        app = self.app
        if sale.opens_drawer:
            app.kick_drawer()  # type: ignore[attr-defined]
        app.show_customer(change_screen(sale.tendered_fen, sale.change_fen))  # type: ignore[attr-defined]
        app.print_pending()  # type: ignore[attr-defined]
        app.wake_sync()  # type: ignore[attr-defined]
        self.last_receipt = sale.receipt_no
        self.say(
            f"已收款 {sale.receipt_no}  合计 {format_fen(sale.total_fen)}  "
            f"找零 Change {format_fen(sale.change_fen)}"
        )

    def action_reprint(self) -> None:
        """The last receipt again, marked as a copy (a torn or jammed printout)."""
        if self.last_receipt is None:
            self.say("还没有小票 No receipt yet", error=True)
            return
        try:
            self.services.prints.reprint(self.last_receipt)
        except PosError as error:
            self.refuse(error)
            return
        self.app.print_pending()  # type: ignore[attr-defined]
        self.say(f"补打 reprinting {self.last_receipt}")

    def selected_index(self) -> int | None:
        table = self.query_one(DataTable)
        if self.draft is None or not self.draft.lines:
            return None
        return min(table.cursor_row, len(self.draft.lines) - 1)

    def action_remove_line(self) -> None:
        index = self.selected_index()
        if index is None:
            return

        def remove(draft: SaleDraft) -> None:
            self.services.sales.remove_line(draft, index)

        self.steps.put_nowait(("已删除 line removed", remove))

    def action_cancel_sale(self) -> None:
        if self.draft is None or not self.draft.lines:
            return

        def cancel(draft: SaleDraft) -> None:
            while draft.lines:
                self.services.sales.remove_line(draft, len(draft.lines) - 1)
            self.draft = None

        self.steps.put_nowait(("已取消 sale cancelled", cancel))
        self.app.show_customer(welcome_screen())  # type: ignore[attr-defined]

    def action_override(self) -> None:
        if self.steps_waiting():
            return
        index = self.selected_index()
        if index is None or self.draft is None:
            self.say("选择要改价的行 Pick a line first", error=True)
            return
        draft = self.draft

        def override(form: Approval) -> str:
            # Online this asks the back office (network I/O): the dialog runs it off the UI
            # thread. No scan changes the draft meanwhile: scans reach the screen in front.
            assert form.amount_fen is not None  # the form asks for the price
            price = form.amount_fen
            changed = self.services.sales.override_price(
                draft, index, price, manager=form.manager, pin=form.pin, reason=form.reason
            )
            how = "联网审批 approved" if changed.approval_expires_at else "离线 offline, 待复核"
            return f"第 {index + 1} 行改价 {format_fen(price)} ({form.manager}, {how})"

        def approved(done: str | None) -> None:
            if done is not None:
                self.refresh_lines()
                self.say(done)

        line = draft.lines[index]
        (low, high), (off_low, off_high) = self.services.sales.override_range(line)
        title = f"改价 Price override: {line.description} {format_fen(line.list_price_fen)}"
        hint = (
            f"可批 allowed {format_fen(low)}–{format_fen(high)}; "
            f"离线 offline {format_fen(off_low)}–{format_fen(off_high)}"
        )
        self.app.push_screen(ApprovalDialog(title, override, "新价格 New price", hint), approved)

    def action_no_sale(self) -> None:
        try:
            clerk = self.clerk().username
        except PosError as error:
            self.refuse(error)
            return

        def open_drawer(form: Approval) -> str:
            self.services.sales.approve_no_sale(
                clerk, manager=form.manager, pin=form.pin, reason=form.reason
            )
            return f"钱箱已打开 drawer opened ({form.manager}: {form.reason})"

        def approved(done: str | None) -> None:
            if done is not None:
                self.app.kick_drawer()  # type: ignore[attr-defined]
                self.say(done)

        title = "开钱箱 Open the drawer (no sale)"
        self.app.push_screen(ApprovalDialog(title, open_drawer), approved)
