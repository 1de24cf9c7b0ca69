"""Pure scan decoding: evdev key events and serial bytes to code text, the double-scan filter,
and classification of each code into a ScanEvent."""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from evdev import ecodes

from devices.ports import ScanEvent
from shared.codes import CodeError, classify_code

KEY_UP = 0
KEY_DOWN = 1

# Shown in place of a key the US layout table does not know, so the code fails validation
# visibly instead of silently losing a character.
UNKNOWN_KEY = "\ufffd"

Suffix = Literal["CR", "LF", "CRLF"]
SUFFIX_BYTES: dict[str, bytes] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n"}

# Keyboard-wedge scanners type as a US keyboard: (unshifted, shifted) per key.
_KEYMAP: dict[int, tuple[str, str]] = {
    **{getattr(ecodes, f"KEY_{c}"): (c.lower(), c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    **{
        getattr(ecodes, f"KEY_{d}"): (d, s) for d, s in zip("1234567890", "!@#$%^&*()", strict=True)
    },
    **{getattr(ecodes, f"KEY_KP{d}"): (d, d) for d in "0123456789"},
    ecodes.KEY_MINUS: ("-", "_"),
    ecodes.KEY_EQUAL: ("=", "+"),
    ecodes.KEY_LEFTBRACE: ("[", "{"),
    ecodes.KEY_RIGHTBRACE: ("]", "}"),
    ecodes.KEY_SEMICOLON: (";", ":"),
    ecodes.KEY_APOSTROPHE: ("'", '"'),
    ecodes.KEY_GRAVE: ("`", "~"),
    ecodes.KEY_BACKSLASH: ("\\", "|"),
    ecodes.KEY_COMMA: (",", "<"),
    ecodes.KEY_DOT: (".", ">"),
    ecodes.KEY_SLASH: ("/", "?"),
    ecodes.KEY_SPACE: (" ", " "),
    ecodes.KEY_KPMINUS: ("-", "-"),
    ecodes.KEY_KPPLUS: ("+", "+"),
    ecodes.KEY_KPASTERISK: ("*", "*"),
    ecodes.KEY_KPSLASH: ("/", "/"),
    ecodes.KEY_KPDOT: (".", "."),
}
_SHIFT_KEYS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
_ENTER_KEYS = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER})
# Modifiers and lock keys some scanners send around a code; they type nothing themselves.
_SILENT_KEYS = frozenset(
    {
        ecodes.KEY_LEFTCTRL,
        ecodes.KEY_RIGHTCTRL,
        ecodes.KEY_LEFTALT,
        ecodes.KEY_RIGHTALT,
        ecodes.KEY_LEFTMETA,
        ecodes.KEY_RIGHTMETA,
        ecodes.KEY_NUMLOCK,
        ecodes.KEY_SCROLLLOCK,
    }
)


@dataclass
class KeyDecoder:
    """Turns a keyboard-wedge scanner's key events into codes, one per Enter."""

    _chars: list[str] = field(default_factory=list)
    _shift: set[int] = field(default_factory=set)
    _caps: bool = False

    def feed(self, key: int, value: int) -> str | None:
        """One EV_KEY event (key code, 0 up / 1 down / 2 hold); returns a code on Enter."""
        if key in _SHIFT_KEYS:
            if value == KEY_UP:
                self._shift.discard(key)
            else:
                self._shift.add(key)
            return None
        # Kernel autorepeat (hold) would double a digit; a scanner never holds a key on purpose.
        if value != KEY_DOWN:
            return None
        if key in _ENTER_KEYS:
            code = "".join(self._chars)
            self._chars.clear()
            return code
        if key == ecodes.KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if key in _SILENT_KEYS:
            return None
        pair = _KEYMAP.get(key)
        if pair is None:
            self._chars.append(UNKNOWN_KEY)
            return None
        shifted = bool(self._shift)
        if self._caps and pair[0].isalpha():
            shifted = not shifted
        self._chars.append(pair[1] if shifted else pair[0])
        return None

    def reset(self) -> None:
        """Forgets a half-typed code and held keys (after an unplug)."""
        self._chars.clear()
        self._shift.clear()
        self._caps = False


def decode_key_events(events: Iterable[tuple[int, int]]) -> list[str]:
    """Every complete code in a stream of (key code, value) EV_KEY events."""
    decoder = KeyDecoder()
    return [code for key, value in events if (code := decoder.feed(key, value)) is not None]


@dataclass
class SerialDecoder:
    """Splits a serial scanner's byte stream into codes at the configured suffix."""

    suffix: Suffix = "CR"
    # A scanner set to a different suffix would otherwise grow the buffer forever.
    max_length: int = 512
    _buffer: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        if self.suffix not in SUFFIX_BYTES:
            known = ", ".join(SUFFIX_BYTES)
            raise ValueError(f"suffix must be one of {known}, got {self.suffix!r}")

    def feed(self, data: bytes) -> list[str]:
        """Adds bytes as they arrive; returns the codes completed by them."""
        self._buffer += data
        terminator = SUFFIX_BYTES[self.suffix]
        codes: list[str] = []
        while True:
            end = self._buffer.find(terminator)
            if end < 0:
                break
            codes.append(_text(self._buffer[:end]))
            del self._buffer[: end + len(terminator)]
        if len(self._buffer) > self.max_length:
            codes.append(_text(self._buffer))
            self._buffer.clear()
        # A CRLF scanner read with a CR suffix leaves an LF before the next code: not a code.
        return [code for code in codes if code]

    def reset(self) -> None:
        self._buffer.clear()


def _text(raw: bytes | bytearray) -> str:
    return bytes(raw).decode("ascii", errors="replace").strip()


def decode_serial(data: bytes, suffix: Suffix = "CR") -> list[str]:
    """Every complete code in a chunk of serial bytes."""
    return SerialDecoder(suffix).feed(data)


@dataclass
class DoubleScanFilter:
    """Drops a code read again within `window` seconds of its previous read.

    The window runs from the last read, not the last accepted one, so a trigger held over one
    barcode (the scanner re-reading it every few hundred ms) yields the code once.
    """

    window: float = 1.0
    clock: Callable[[], float] = time.monotonic
    _last_code: str | None = None
    _last_time: float = 0.0

    def accept(self, code: str) -> bool:
        now = self.clock()
        repeated = code == self._last_code and now - self._last_time < self.window
        self._last_code, self._last_time = code, now
        return not repeated


def classify_scan(raw: str, source: str) -> ScanEvent:
    """The scan as a classified code, or an error event saying why the code was refused."""
    try:
        return ScanEvent(raw=raw, source=source, code=classify_code(raw))
    except CodeError as exc:
        return ScanEvent(raw=raw, source=source, error=exc)
    except ValueError as exc:
        return ScanEvent(raw=raw, source=source, error=CodeError("barcode", raw, str(exc)))


@dataclass
class ScanProcessor:
    """What every scanner does with a decoded code: drop double scans, then classify."""

    source: str
    double_scan: DoubleScanFilter = field(default_factory=DoubleScanFilter)

    def process(self, raw: str) -> ScanEvent | None:
        """The scan event for a code, or None when it is a double scan."""
        if not self.double_scan.accept(raw):
            return None
        return classify_scan(raw, self.source)
