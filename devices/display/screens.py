"""What the customer display shows during a sale: item and price, total, paid and change."""

from devices.display.encoding import COLUMNS, fit, pair, transliterate
from shared.money import format_fen


def _amount(fen: int, currency: str) -> str:
    return format_fen(fen, symbol=currency)


def _name(name: str, fallback: str, currency: str) -> str:
    return transliterate(name, fallback=fallback, currency=currency).strip()


def welcome_screen(top: str = "WELCOME", bottom: str = "", *, fallback: str = "?") -> list[str]:
    """The idle screen between sales, centred."""
    return [_name(line, fallback, "Y").center(COLUMNS)[:COLUMNS] for line in (top, bottom)]


def item_screen(
    name: str,
    price_fen: int,
    total_fen: int,
    *,
    quantity: int = 1,
    currency: str = "Y",
    fallback: str = "?",
) -> list[str]:
    """While scanning: the item just added with its price, and the running total below."""
    price = _amount(price_fen, currency)
    if quantity != 1:
        price = f"{quantity}x{price}"
    return [
        pair(_name(name, fallback, currency), price),
        pair("TOTAL", _amount(total_fen, currency)),
    ]


def total_screen(total_fen: int, *, items: int | None = None, currency: str = "Y") -> list[str]:
    """Before payment: the amount due."""
    bottom = fit("") if items is None else pair("ITEMS", str(items))
    return [pair("TOTAL", _amount(total_fen, currency)), bottom]


def change_screen(paid_fen: int, change_fen: int, *, currency: str = "Y") -> list[str]:
    """After payment: what the customer paid and the change due back."""
    return [
        pair("PAID", _amount(paid_fen, currency)),
        pair("CHANGE", _amount(change_fen, currency)),
    ]
