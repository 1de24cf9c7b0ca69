"""Pure encoders for 2×20 pole displays: ASCII transliteration and the Epson ESC/POS display
and CD5220 command sets."""

import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Protocol

CommandSet = Literal["epson", "cd5220"]
COMMAND_SETS: tuple[CommandSet, ...] = ("epson", "cd5220")
COLUMNS = 20
ROWS = 2

ESC = b"\x1b"
US = b"\x1f"
CLR = b"\x0c"
HOME = b"\x0b"
CR = b"\r"

# Punctuation that NFKC leaves non-ASCII but has an obvious ASCII stand-in.
_ASCII_STAND_INS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u00b7": ".",
    "\u3002": ".",
    "\u3001": ",",
    "\u00d7": "x",
}


def transliterate(text: str, *, fallback: str = "?", currency: str = "Y") -> str:
    """Text a pole display can show: printable ASCII only.

    The yen sign (¥ and full-width ￥) becomes `currency`: the displays' default code pages
    have no yen sign at a portable position, so the ASCII letter is the one choice that looks
    the same on every model. Full-width forms become ASCII, accents are dropped, and each run
    of other characters (Hanzi, for one) becomes a single `fallback`, so a Chinese item name
    shrinks to a short placeholder instead of filling the line with question marks.
    """
    out: list[str] = []
    replaced = False
    for ch in text:
        if ch in "¥￥":
            piece = currency
        elif ch in "\t\r\n":
            piece = " "
        else:
            piece = _ASCII_STAND_INS.get(ch) or _ascii_form(ch)
        if piece:
            out.append(piece)
            replaced = False
        elif not replaced:
            out.append(fallback)
            replaced = True
    return "".join(out)


def _ascii_form(ch: str) -> str:
    if " " <= ch <= "~":
        return ch
    folded = unicodedata.normalize("NFKC", ch)
    if folded and all(" " <= c <= "~" for c in folded):
        return folded
    stripped = "".join(c for c in unicodedata.normalize("NFKD", ch) if " " <= c <= "~")
    return stripped


def fit(text: str, columns: int = COLUMNS) -> str:
    """Cut or pad to exactly `columns` characters."""
    return text[:columns].ljust(columns)


def pair(label: str, value: str, columns: int = COLUMNS) -> str:
    """Label at the left, value at the right; the label is cut first when both do not fit."""
    value = value[:columns]
    room = columns - len(value) - 1
    label = label[: max(room, 0)]
    return (label + " " * (columns - len(label) - len(value)) + value)[:columns]


class DisplayCommands(Protocol):
    """Bytes for one pole display command set; nothing here does I/O."""

    columns: int
    rows: int

    def initialize(self) -> bytes: ...

    def clear(self) -> bytes: ...

    def home(self) -> bytes: ...

    def move(self, column: int, row: int) -> bytes: ...

    def write_line(self, row: int, text: str) -> bytes: ...

    def brightness(self, level: int) -> bytes: ...

    def screen(self, lines: list[str]) -> bytes: ...


@dataclass(frozen=True)
class _Commands(ABC):
    columns: int = COLUMNS
    rows: int = ROWS
    fallback: str = "?"
    currency: str = "Y"

    def _text(self, text: str) -> bytes:
        ascii_text = transliterate(text, fallback=self.fallback, currency=self.currency)
        return fit(ascii_text, self.columns).encode("ascii")

    def _check(self, column: int, row: int) -> None:
        if not (1 <= column <= self.columns and 1 <= row <= self.rows):
            raise ValueError(
                f"cursor ({column}, {row}) is outside the {self.columns}x{self.rows} display"
            )

    @staticmethod
    def _level(level: int) -> int:
        if not 1 <= level <= 4:
            raise ValueError(f"brightness must be 1 to 4, got {level}")
        return level

    @abstractmethod
    def write_line(self, row: int, text: str) -> bytes:
        """Positions at the start of `row` (1-based) and writes `text`, cut or padded."""

    def screen(self, lines: list[str]) -> bytes:
        """Rewrites every row; rows not given are blanked, extra lines are an error."""
        if len(lines) > self.rows:
            raise ValueError(f"the display has {self.rows} rows, got {len(lines)} lines")
        padded = [*lines, *[""] * (self.rows - len(lines))]
        return b"".join(self.write_line(row, text) for row, text in enumerate(padded, 1))


@dataclass(frozen=True)
class EpsonDisplayCommands(_Commands):
    """Epson ESC/POS customer display commands (DM-D series and compatibles)."""

    def initialize(self) -> bytes:
        # ESC @ resets; US MD1 picks overwrite mode, so writing the last column of the bottom
        # row does not scroll the screen up.
        return ESC + b"@" + US + b"\x01"

    def clear(self) -> bytes:
        return CLR

    def home(self) -> bytes:
        return HOME

    def move(self, column: int, row: int) -> bytes:
        self._check(column, row)
        return US + b"$" + bytes([column, row])

    def write_line(self, row: int, text: str) -> bytes:
        return self.move(1, row) + self._text(text)

    def brightness(self, level: int) -> bytes:
        return US + b"X" + bytes([self._level(level)])


@dataclass(frozen=True)
class CD5220Commands(_Commands):
    """CD5220 pole display commands (the usual set of no-name VFD poles)."""

    def initialize(self) -> bytes:
        # ESC DC1 is overwrite mode, for the same reason as on the Epson set.
        return ESC + b"@" + ESC + b"\x11"

    def clear(self) -> bytes:
        return CLR

    def home(self) -> bytes:
        return ESC + b"[H"

    def move(self, column: int, row: int) -> bytes:
        self._check(column, row)
        return ESC + b"l" + bytes([column, row])

    def write_line(self, row: int, text: str) -> bytes:
        # ESC Q A / ESC Q B write a whole upper / lower line in string mode, ended by CR.
        if row not in (1, 2) or row > self.rows:
            raise ValueError(f"CD5220 string mode writes row 1 or 2, got {row}")
        return ESC + b"Q" + (b"A" if row == 1 else b"B") + self._text(text) + CR

    def brightness(self, level: int) -> bytes:
        return ESC + b"*" + bytes([self._level(level)])


def commands_for(
    command_set: CommandSet, *, fallback: str = "?", currency: str = "Y"
) -> DisplayCommands:
    """The encoder for a configured command set."""
    encoders = {"epson": EpsonDisplayCommands, "cd5220": CD5220Commands}
    if command_set not in encoders:
        known = ", ".join(COMMAND_SETS)
        raise ValueError(f"unknown display command set {command_set!r} (known: {known})")
    return encoders[command_set](fallback=fallback, currency=currency)
