"""Money as integer fen (分): formatting for people and parsing of typed yuan amounts."""

import re
from decimal import Decimal, InvalidOperation

FEN_PER_YUAN = 100

# Plain ASCII decimals only: Decimal() alone would also take "1e3", "1_000" and
# full-width digits, none of which a clerk means as an amount.
_PLAIN_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_SYMBOLS = ("¥", "￥")


class MoneyError(ValueError):
    """A text that is not a valid yuan amount."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f"amount {text!r}: {problem}")
        self.text = text
        self.problem = problem


def format_fen(fen: int, symbol: str = "¥") -> str:
    """1250 -> "¥12.50", -5 -> "-¥0.05"."""
    # bool is an int subclass; True as "¥0.01" would hide a bug.
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"amount in fen must be an int, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{symbol}{yuan}.{cents:02d}"


def parse_yuan(text: str) -> int:
    """Yuan text such as "12.5", "¥12.50", "￥12" or "-¥0.05" -> fen; else MoneyError."""
    if not isinstance(text, str):
        raise TypeError(f"amount must be a str, got {type(text).__name__}")
    body = text.strip()
    sign = ""
    if body[:1] in ("-", "+"):
        sign, body = body[0], body[1:]
    for symbol in _SYMBOLS:
        if body.startswith(symbol):
            body = body[len(symbol) :].lstrip()
            break
    if not body:
        raise MoneyError(text, "empty, no amount given")
    try:
        amount = Decimal(body)
    except InvalidOperation:
        raise MoneyError(text, "not a number") from None
    if not amount.is_finite():
        raise MoneyError(text, "not a finite amount")
    if not _PLAIN_AMOUNT.fullmatch(body):
        raise MoneyError(text, "not a plain decimal amount (digits with an optional '.')")
    _, _, decimals = body.partition(".")
    if len(decimals) > 2:
        raise MoneyError(text, "more than 2 decimal places (fen is the smallest unit)")
    fen = int(amount * FEN_PER_YUAN)
    return -fen if sign == "-" else fen
