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


class LoginScreen(ModalScreen[Clerk]):
    """Covers the counter until a clerk logs in (or, when locked, unlocks with a PIN)."""

    DEFAULT_CSS = DIALOG_CSS + "LoginScreen { background: $background; }"

    def __init__(self, *, unlock: bool = False) -> None:
        super().__init__()
        self.unlock = unlock

    def compose(self) -> ComposeResult:
        services = self.app.services  # type: ignore[attr-defined]
        who = services.identity()
        title = "已锁定 Locked" if self.unlock else "号卡 HaoKa 登录 Log in"
        with Vertical():
            yield Label(title, classes="title")
            yield Label(f"{who.outlet_name} · 终端 {who.terminal_no}", classes="title")
            yield Label("工号 Clerk")
            yield Input(id="clerk")
            yield Label("密码 PIN")
            yield Input(id="pin", password=True)
            yield Message("")

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
