"""Chinese receipt text: what a GBK printer can print, how many columns it takes, and padding."""

import unicodedata

# A Chinese-mode printer has a full-width yen glyph in GBK (A3A4) but prints the
# Latin-1 "¥" through whatever single-byte code page is active, i.e. as garbage.
_SUBSTITUTES = {"¥": "￥"}
# Replacement marks, both in GBK: a wide box for a wide character so the row keeps its width.
NARROW_REPLACEMENT = "?"
WIDE_REPLACEMENT = "□"


def _fits_gbk(char: str) -> bool:
    try:
        char.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def cell_width(char: str) -> int:
    """Columns one character of printable text takes: ASCII one, every double-byte GBK glyph two.

    East Asian width says the same for Hanzi (W) and full-width forms (F); GBK's Greek, pinyin
    and symbols such as "·" are "ambiguous" (A) there, and a Chinese printer draws them wide."""
    if ord(char) < 0x80:
        return 1
    return 2 if unicodedata.east_asian_width(char) in ("W", "F", "A") or _fits_gbk(char) else 1


def printable(text: str) -> str:
    """The text as a GBK printer in Chinese mode will print it; never raises.

    "¥" becomes "￥"; control characters (which would be read as commands) and characters
    outside GBK become a visible replacement of the same width."""
    out = []
    for char in text:
        char = _SUBSTITUTES.get(char, char)
        if ord(char) < 0x80:
            out.append(char if char.isprintable() else NARROW_REPLACEMENT)
        elif unicodedata.category(char) != "Cc" and _fits_gbk(char):
            out.append(char)
        elif unicodedata.east_asian_width(char) in ("W", "F"):
            out.append(WIDE_REPLACEMENT)
        else:
            out.append(NARROW_REPLACEMENT)
    return "".join(out)


def width(text: str) -> int:
    """Columns a printable text takes."""
    return sum(cell_width(char) for char in text)


def encode_gbk(text: str) -> bytes:
    """Bytes for a Chinese-mode printer: printable(text) in GBK."""
    return printable(text).encode("gbk")


def fit(text: str, columns: int) -> list[str]:
    """Splits printable text into rows of at most `columns` columns: Latin words move whole to
    the next row when they can, Hanzi break anywhere, and a Hanzi is never halved."""
    rows, current = [], ""
    for char in text:
        if width(current) + cell_width(char) > columns:
            head, space, tail = current.rpartition(" ")
            in_word = char != " " and ord(char) < 0x80 and current[-1:].isascii()
            if in_word and space and head and tail.isascii():
                rows.append(head)
                current = tail
            else:
                rows.append(current)
                current = ""
            if char == " ":
                continue  # a break swallows the space it happens at
        current += char
    if current or not rows:
        rows.append(current)
    return rows


def two_columns(left: str, right: str, columns: int) -> list[str]:
    """Rows with `left` at the left edge and `right` flush with the right edge, `columns` wide.

    A left text too long to share the row gets rows of its own; the right text then ends the
    last row, or a row of its own if even that is full."""
    right_width = width(right)
    if right_width > columns:
        raise ValueError(f"{right!r} is wider than {columns} columns")
    rows = fit(left, columns)
    last = rows[-1]
    gap = columns - width(last) - right_width
    if gap >= 1 or (gap == 0 and not last):
        rows[-1] = last + " " * gap + right
    else:
        rows.append(" " * (columns - right_width) + right)
    return rows
