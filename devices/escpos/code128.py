"""Code 128 in ESC/POS form: the GS k data for a text, and the bars for GS k data."""

from dataclasses import dataclass

from barcode.charsets.code128 import CODES, STOP

_START = {b"A": 103, b"B": 104, b"C": 105}
_SHIFT_TO = {b"A": 101, b"B": 100, b"C": 99}  # the symbol that switches to that set
_FINAL_BAR = "11"


class Code128Error(ValueError):
    """Data that is not valid ESC/POS Code 128."""


def escpos_data(text: str) -> bytes:
    """The GS k 73 data for printable ASCII text: code set B, with runs of 4+ digits in code set C
    (two digits per byte), which keeps a receipt number narrow enough for 58 mm paper."""
    if not text or not all(" " <= char <= "~" for char in text):
        raise Code128Error(f"Code 128 text must be printable ASCII, got {text!r}")
    out, current, i = bytearray(), b"", 0
    while i < len(text):
        run = 0
        while i + run < len(text) and text[i + run].isdigit():
            run += 1
        run -= run % 2
        if run >= 4:
            if current != b"C":
                out += b"{C"
                current = b"C"
            out += bytes(int(text[j : j + 2]) for j in range(i, i + run, 2))
            i += run
            continue
        if current != b"B":
            out += b"{B"
            current = b"B"
        out += b"{{" if text[i] == "{" else text[i].encode("ascii")
        i += 1
    return bytes(out)


@dataclass(frozen=True)
class Code128Symbol:
    """A decoded GS k 73 payload: its text and the bars a printer draws (1 = bar, 0 = space)."""

    text: str
    modules: str


def symbol(data: bytes) -> Code128Symbol:
    """Reads ESC/POS Code 128 data ("{A", "{B", "{C" select code sets, "{{" is a brace)."""
    if data[:1] != b"{" or data[1:2] not in _START:
        raise Code128Error("Code 128 data must start with {A, {B or {C")
    current = data[1:2]
    values, text, i = [_START[current]], [], 2
    while i < len(data):
        byte = data[i : i + 1]
        if byte == b"{":  # 123 is never a code set C value, so a brace is always an escape there
            following = data[i + 1 : i + 2]
            if following in _START:
                if following != current:
                    values.append(_SHIFT_TO[following])
                    current = following
                i += 2
                continue
            if following == b"{" and current != b"C":
                values.append(ord("{") - 32)
                text.append("{")
                i += 2
                continue
            raise Code128Error(f"unsupported Code 128 escape {data[i : i + 2]!r}")
        value = data[i]
        if current == b"C":
            if value > 99:
                raise Code128Error(f"code set C byte {value} is not 0..99")
            values.append(value)
            text.append(f"{value:02d}")
        elif current == b"B":
            if not 32 <= value <= 127:
                raise Code128Error(f"code set B byte {value} is outside 32..127")
            values.append(value - 32)
            text.append(chr(value))
        else:
            if value > 95:
                raise Code128Error(f"code set A byte {value} is outside 0..95")
            values.append(value + 64 if value < 32 else value - 32)
            text.append(chr(value))
        i += 1
    checksum = (values[0] + sum(pos * v for pos, v in enumerate(values[1:], start=1))) % 103
    bars = "".join(CODES[v] for v in [*values, checksum]) + STOP + _FINAL_BAR
    return Code128Symbol("".join(text), bars)
