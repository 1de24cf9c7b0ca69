"""Log-in and lock: clerk code and PIN, checked online or against the cached PIN hashes."""

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from pos_terminal.screens.base import Message
from pos_terminal.screens.dialogs import DIALOG_CSS
from pos_terminal.services.errors import PosError
from pos_terminal.services.login import Clerk


def clerk_name(clerk: Clerk) -> str:
    """How the counter names a clerk: full name and code."""
    return f"{clerk.full_name} {clerk.username}" if clerk.full_name else clerk.username


class LoginScreen(ModalScreen[Clerk]):
    """Covers the counter until a clerk logs in (or, when locked, unlocks with a PIN: the
    clerk's own or a manager's, and the counter stays the locking clerk's)."""

    DEFAULT_CSS = DIALOG_CSS + "LoginScreen { background: $background; }"

    def __init__(self, *, unlock: bool = False) -> None:
        super().__init__()
        self.unlock = unlock

    def compose(self) -> ComposeResult:
        services = self.app.services  # type: ignore[attr-defined]
        who = services.identity()
        on_shift = services.login.current if self.unlock else None
        title = "号卡 HaoKa 登录 Log in"
        hint = ""
        if on_shift is not None:
            title = f"已锁定 Locked — {clerk_name(on_shift)}"
            name = on_shift.username
            hint = f"{name} 或店长输入密码解锁 — {name} or a manager enters a PIN"
        with Vertical():
            yield Label(title, classes="title")
            yield Label(f"{who.outlet_name} · 终端 {who.terminal_no}", classes="title")
            yield Label("工号 Clerk")
            yield Input(on_shift.username if on_shift else "", id="clerk")
            yield Label("密码 PIN")
            yield Input(id="pin", password=True)
            yield Message(hint)

    def on_mount(self) -> None:
        if self.query_one("#clerk", Input).value:
            self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#clerk")
    def next_field(self) -> None:
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    def submitted(self) -> None:
        self.query_one(Message).say("正在登录 checking…")
        self.check(self.query_one("#clerk", Input).value, self.query_one("#pin", Input).value)

    @work(thread=True, exclusive=True)
    def check(self, username: str, pin: str) -> None:
        # A log-in first refreshes the clerk list from the back office: network I/O.
        login = self.app.services.login  # type: ignore[attr-defined]
        try:
            clerk = login.unlock(username, pin) if self.unlock else login.login(username, pin).clerk
        except PosError as error:
            self.app.call_from_thread(self.refused, error.message)
            return
        self.app.call_from_thread(self.dismiss, clerk)

    def refused(self, text: str) -> None:
        self.app.bell()
        pin = self.query_one("#pin", Input)
        pin.value = ""
        pin.focus()
        self.query_one(Message).say(text, error=True)
