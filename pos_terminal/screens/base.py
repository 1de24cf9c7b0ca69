"""What every counter screen shares: the services, the clerk, messages, and scans."""

from textual.screen import Screen
from textual.widgets import Static

from pos_terminal.services.counter import CounterServices
from pos_terminal.services.errors import PosError
from pos_terminal.services.login import Clerk
from shared.money import MoneyError, parse_yuan


class Message(Static):
    """One line telling the clerk what just happened, red when something was refused."""

    DEFAULT_CSS = """
    Message { height: auto; padding: 0 1; color: $text-success; }
    Message.-error { color: $text-error; text-style: bold; }
    """

    def say(self, text: str, *, error: bool = False) -> None:
        self.set_class(error, "-error")
        self.update(text)


def money(text: str, what: str) -> int:
    """Yuan typed by the clerk → fen, or PosError naming the field."""
    try:
        return parse_yuan(text or "0")
    except MoneyError as error:
        raise PosError("bad_amount", f"{what}: {error}") from None


class CounterScreen(Screen[None]):
    """A main screen of the counter; scans reach `on_scan` whichever scanner they came from."""

    @property
    def services(self) -> CounterServices:
        return self.app.services  # type: ignore[attr-defined,no-any-return]

    def clerk(self) -> Clerk:
        return self.services.login.require_clerk()

    def say(self, text: str, *, error: bool = False) -> None:
        self.query_one(Message).say(text, error=error)

    def refuse(self, error: PosError) -> None:
        self.app.bell()
        self.say(error.message, error=True)

    def on_scan(self, code: str) -> None:
        """A scan arrived while this screen is showing; screens that take scans override it."""
        self.say(f"{code}: nothing to scan on this screen", error=True)
