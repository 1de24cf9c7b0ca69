"""Pop-up forms: payment, real-name capture, number pick, a manager's approval, cash in/out,
and the question asked before an act that cannot be undone.

Each returns what the clerk entered (or None on Esc); the calling screen hands it to a
service, so checks live in one place and errors come back as the service's message. The
manager's approval runs the approved act itself, so a refused PIN leaves the form filled in."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from pos_terminal.screens.base import Message, money
from pos_terminal.services.errors import PosError
from pos_terminal.services.sale import Tender, settle
from pos_terminal.services.stock import StockEntry
from shared.money import format_fen

DIALOG_CSS = """
ModalScreen { align: center middle; }
ModalScreen > Vertical {
    width: 64; height: auto; max-height: 90%; border: thick $accent; background: $surface;
    padding: 1 2;
}
ModalScreen Label.title { text-style: bold; width: 100%; content-align: center middle; }
ModalScreen Input { margin: 0 0 1 0; }
"""


T = TypeVar("T")


class Dialog(ModalScreen[T | None], Generic[T]):
    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "取消 Cancel")]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def refuse(self, text: str) -> None:
        self.app.bell()
        self.query_one(Message).say(text, error=True)

    def focus_next_or(self, finish: bool) -> bool:
        """Enter moves to the next field; on the last one it finishes the form."""
        if not finish:
            self.focus_next()
        return finish


class PaymentDialog(Dialog[list[Tender]]):
    """Cash (what the customer hands over), card and wallet; any mix of them."""

    def __init__(self, total_fen: int) -> None:
        super().__init__()
        self.total_fen = total_fen

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"收款 Payment — 应收 {format_fen(self.total_fen)}", classes="title")
            yield Label("现金 Cash given")
            yield Input(placeholder="0.00", id="cash")
            yield Label("银行卡 Card")
            yield Input(placeholder="0.00", id="card")
            yield Label("移动支付 Wallet")
            yield Input(placeholder="0.00", id="wallet")
            yield Message("Tab 下一项 · Enter 确认 · Esc 取消")

    def on_mount(self) -> None:
        self.query_one("#cash", Input).value = format_fen(self.total_fen, symbol="")

    @on(Input.Submitted)
    def submitted(self) -> None:
        # Enter in any field takes the payment; Tab moves to the card and wallet fields.
        try:
            tenders = [
                Tender(method, money(self.query_one(f"#{method}", Input).value, method))
                for method in ("cash", "card", "wallet")
            ]
            # Blank fields are no payment; a negative one is refused by settle, not dropped.
            tenders = [t for t in tenders if t.amount_fen != 0]
            # The sale service's own check, so an underpayment is fixed here, form still open.
            settle(self.total_fen, tenders)
        except PosError as error:
            self.refuse(error.message)
            return
        self.dismiss(tenders)


class RealNameDialog(Dialog[str]):
    """实名制: the buyer's name and 18-character resident ID, as on the ID card. `record` is
    the sale service's check; the form stays open until it accepts, and returns what may be
    shown (the masked ID)."""

    def __init__(self, record: Callable[[str, str], str]) -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("实名登记 Real-name registration", classes="title")
            yield Label("姓名 Name")
            yield Input(id="name")
            yield Label("身份证号 Resident ID")
            yield Input(id="resident_id", max_length=18)
            yield Message("")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if not self.focus_next_or(event.input.id == "resident_id"):
            return
        try:
            shown = self.record(
                self.query_one("#name", Input).value, self.query_one("#resident_id", Input).value
            )
        except PosError as error:
            self.refuse(error.message)
            return
        self.dismiss(shown)


class NumberPickDialog(Dialog[str]):
    """Search the outlet's numbers by pattern (`*88`, `139*`, `1390575?888`) and pick one."""

    def __init__(self, search: Callable[[str], list[StockEntry]]) -> None:
        super().__init__()
        self.search = search

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("选号 Pick a number", classes="title")
            yield Input(placeholder="*88 尾号 · 139* 开头 · ? 任一位", id="pattern")
            yield DataTable(id="numbers", cursor_type="row")
            yield Message("Enter 搜索, ↓ 选择, Enter 确认")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("号码 Number", "等级 Grade", "价格 Price")

    @on(Input.Submitted, "#pattern")
    def find(self, event: Input.Submitted) -> None:
        try:
            found = self.search(event.value)
        except PosError as error:
            self.refuse(error.message)
            return
        table = self.query_one(DataTable)
        table.clear()
        for entry in found:
            price = format_fen(entry.price_fen) if entry.price_fen is not None else "—"
            table.add_row(entry.item, entry.grade_name or "", price, key=entry.item)
        self.query_one(Message).say(f"{len(found)} 个号码 numbers" if found else "没有 none")
        if found:
            table.focus()

    @on(DataTable.RowSelected)
    def picked(self, event: DataTable.RowSelected) -> None:
        self.dismiss(str(event.row_key.value))


@dataclass(frozen=True)
class Approval:
    manager: str
    pin: str
    reason: str
    amount_fen: int | None = None


# Refusals that mean the manager code or PIN was not accepted (here or by the back office).
_WRONG_PIN = {"bad_login", "approval_refused"}


class ApprovalDialog(Dialog[str]):
    """A dealer manager approves with code and PIN; `amount_label` asks for a price too, and
    `hint` says which prices may be approved. `act` is the approved act (the service's call,
    run off the UI thread: it may check the PIN, or ask the back office); the form stays open
    with what was typed until it succeeds or the clerk cancels, and returns act's message."""

    def __init__(
        self,
        title: str,
        act: Callable[[Approval], str],
        amount_label: str | None = None,
        hint: str = "",
    ) -> None:
        super().__init__()
        self.title_text, self.amount_label, self.hint = title, amount_label, hint
        self.act = act
        self.checking = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            if self.hint:
                yield Label(self.hint, id="hint")
            if self.amount_label:
                yield Label(self.amount_label)
                yield Input(placeholder="0.00", id="amount")
            yield Label("原因 Reason")
            yield Input(id="reason")
            yield Label("店长工号 Manager")
            yield Input(id="manager")
            yield Label("店长密码 PIN")
            yield Input(id="pin", password=True)
            yield Message("")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if self.checking or not self.focus_next_or(event.input.id == "pin"):
            return
        amount = None
        if self.amount_label:
            try:
                amount = money(self.query_one("#amount", Input).value, "price")
            except PosError as error:
                self.refuse(error.message)
                return
        form = Approval(
            self.query_one("#manager", Input).value,
            self.query_one("#pin", Input).value,
            self.query_one("#reason", Input).value,
            amount,
        )
        self.checking = True
        self.query_one(Message).say("正在核对 checking…")
        self.check(form)

    @work(thread=True)
    def check(self, form: Approval) -> None:
        try:
            done = self.act(form)
        except PosError as error:
            self.app.call_from_thread(self.refused, error)
            return
        self.app.call_from_thread(self.dismiss, done)

    def refused(self, error: PosError) -> None:
        """Everything typed stays but the PIN, which is asked for again."""
        self.checking = False
        pin = self.query_one("#pin", Input)
        pin.value = ""
        if error.code in _WRONG_PIN:
            self.refuse(
                "店长工号或密码错误, 请店长重新输入密码, 或 Esc 取消 — wrong manager code or "
                "PIN: the manager types the PIN again, or Esc cancels"
            )
            pin.focus()
            return
        self.refuse(f"{error.message} — 改正后店长重新输入密码 correct it, then the PIN again")
        first = "#amount" if self.amount_label else "#reason"
        self.query_one("#manager" if error.code == "not_a_manager" else first, Input).focus()


class ConfirmDialog(Dialog[bool]):
    """Asks before an act that cannot be undone, with the figures it will be done with:
    Enter or Y confirms (True), Esc cancels (None)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "confirm", "确认 Confirm"),
        Binding("y", "confirm", "确认 Confirm", show=False),
    ]

    def __init__(self, title: str, lines: list[str], question: str) -> None:
        super().__init__()
        self.title_text, self.lines, self.question = title, lines, question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Static("\n".join(self.lines), id="figures")
            yield Label(self.question, id="question")
            yield Message("Enter / Y 确认 Confirm · Esc 取消 Cancel")

    def action_confirm(self) -> None:
        self.dismiss(True)


@dataclass(frozen=True)
class CashMove:
    amount_fen: int
    reason: str


class CashMoveDialog(Dialog[CashMove]):
    """Cash put into or taken out of the drawer during a shift, with its reason."""

    def __init__(self, title: str) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Label("金额 Amount")
            yield Input(placeholder="0.00", id="amount")
            yield Label("原因 Reason")
            yield Input(id="reason")
            yield Message("")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        if not self.focus_next_or(event.input.id == "reason"):
            return
        try:
            amount = money(self.query_one("#amount", Input).value, "amount")
        except PosError as error:
            self.refuse(error.message)
            return
        self.dismiss(CashMove(amount, self.query_one("#reason", Input).value))
