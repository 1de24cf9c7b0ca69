"""An ESC/POS interpreter: bytes in, printed lines, barcodes, QR codes, images, cuts and kicks out.

It reads a byte stream the way a Chinese receipt printer does (Chinese mode switches GBK
double-byte text on and off; without it, bytes above 0x7F go through the code page), keeps
incomplete commands until more bytes arrive, and draws receipts as text or as an image. The
printer simulator prints through it and the tests check the encoder with it."""

from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from devices.escpos import code128
from devices.escpos.commands import Align, StatusRequest
from devices.escpos.raster import (
    DOTS_PER_COLUMN,
    QUIET_ZONE_MODULES,
    ReceiptCanvas,
    TextRun,
    qr_matrix,
)
from devices.escpos.text import width

_CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 16: "cp1252", 17: "cp866", 19: "cp858"}
_QR_LEVELS = {48: "L", 49: "M", 50: "Q", 51: "H"}


class DecodeError(ValueError):
    """Bytes the interpreter does not understand; says where."""


@dataclass
class PrintedLine:
    runs: list[TextRun]
    align: Align = Align.left

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)

    @property
    def columns(self) -> int:
        """Columns the line takes on paper, enlarged characters counted at their size."""
        return sum(width(run.text) * run.width for run in self.runs)


@dataclass
class PrintedBarcode:
    text: str
    modules: str
    module_width: int
    height: int
    hri_below: bool
    align: Align


@dataclass
class PrintedQr:
    payload: bytes
    module_size: int
    error_level: str
    align: Align


@dataclass
class PrintedImage:
    image: Image.Image
    align: Align


PrintedItem = PrintedLine | PrintedBarcode | PrintedQr | PrintedImage


@dataclass
class PrintedReceipt:
    """What came out of the printer up to a cut (or up to now, when `cut` is False)."""

    items: list[PrintedItem] = field(default_factory=list)
    cut: bool = False
    chinese_mode: bool = False

    @property
    def lines(self) -> list[str]:
        return [item.text for item in self.items if isinstance(item, PrintedLine)]

    @property
    def barcodes(self) -> list[PrintedBarcode]:
        return [item for item in self.items if isinstance(item, PrintedBarcode)]

    @property
    def qr_codes(self) -> list[PrintedQr]:
        return [item for item in self.items if isinstance(item, PrintedQr)]

    @property
    def images(self) -> list[PrintedImage]:
        return [item for item in self.items if isinstance(item, PrintedImage)]

    def to_text(self, columns: int) -> str:
        """A plain-text rendering: lines aligned in `columns`, codes and images as brackets."""
        out = []
        for item in self.items:
            if isinstance(item, PrintedLine):
                free = max(0, columns - item.columns)
                pad = {Align.left: 0, Align.center: free // 2, Align.right: free}[item.align]
                out.append((" " * pad + item.text).rstrip())
            elif isinstance(item, PrintedBarcode):
                out.append(f"[Code 128: {item.text}]")
            elif isinstance(item, PrintedQr):
                out.append(f"[QR: {item.payload.decode('utf-8', 'replace')}]")
            else:
                out.append(f"[image {item.image.width}x{item.image.height} dots]")
        if self.cut:
            out.append("-" * columns + " cut")
        return "\n".join(out) + "\n"

    def to_image(self, width_dots: int) -> Image.Image:
        """The receipt as printed on paper `width_dots` wide, barcodes and QR codes included."""
        canvas = ReceiptCanvas(width_dots)
        for item in self.items:
            if isinstance(item, PrintedLine):
                canvas.text_line(item.runs, item.align)
            elif isinstance(item, PrintedBarcode):
                canvas.feed(QUIET_ZONE_MODULES)
                hri = item.text if item.hri_below else None
                canvas.barcode(item.modules, item.module_width, item.height, hri, item.align)
            elif isinstance(item, PrintedQr):
                matrix = qr_matrix(item.payload, item.error_level)
                canvas.qr(matrix, item.module_size, item.align)
            else:
                canvas.image(item.image, item.align)
        canvas.feed(DOTS_PER_COLUMN * 2)
        return canvas.render()


@dataclass(frozen=True)
class StatusQuery:
    """A DLE EOT n the printer must answer at once."""

    request: int


@dataclass(frozen=True)
class DrawerKick:
    pin: int
    on_ms: int
    off_ms: int


Event = StatusQuery | DrawerKick | PrintedReceipt


class _Incomplete(Exception):
    """The buffer ends inside a command; wait for more bytes."""


class EscposInterpreter:
    """Consumes a byte stream in any chunks and reports status queries, kicks and cut receipts.

    Strict, it raises DecodeError on bytes it does not understand; otherwise it does what a
    printer does: drops the byte that starts it, reads on, and notes the problem in `errors`."""

    def __init__(self, *, strict: bool = True) -> None:
        self.strict = strict
        self.errors: list[str] = []
        self._pending = b""
        self._events: list[Event] = []
        self.receipt = PrintedReceipt()
        self._reset()
        self._commands: dict[bytes, Callable[[bytes, int], int]] = {
            b"\x1b": self._esc,
            b"\x1d": self._gs,
            b"\x1c": self._fs,
            b"\x10": self._dle,
        }

    def _reset(self) -> None:
        self.chinese = False
        self.code_page = 0
        self.align = Align.left
        self.size = (1, 1)
        self.bold = False
        self.barcode_height = 162
        self.barcode_module = 3
        self.hri_below = False
        self.qr_module = 3
        self.qr_level = "L"
        self.qr_data = b""
        self._runs: list[TextRun] = []
        self._line_align: Align | None = None

    @property
    def has_pending_bytes(self) -> bool:
        return bool(self._pending)

    def uncut(self) -> PrintedReceipt | None:
        """What was printed since the last cut, if anything; a half line is printed first."""
        self._flush_line()
        return self.receipt if self.receipt.items else None

    def feed(self, data: bytes) -> list[Event]:
        """Interprets what can be interpreted; an incomplete command waits for the next feed."""
        buf = self._pending + data
        self._events = []
        i = 0
        while i < len(buf):
            try:
                i = self._step(buf, i)
            except _Incomplete:
                break
            except DecodeError as error:
                if self.strict:
                    raise
                self.errors.append(str(error))
                i += 1
        self._pending = buf[i:]
        return self._events

    # --- the byte stream ---------------------------------------------------------------

    def _need(self, buf: bytes, end: int) -> None:
        if len(buf) < end:
            raise _Incomplete

    def _step(self, buf: bytes, i: int) -> int:
        byte = buf[i]
        prefix = buf[i : i + 1]
        if prefix in self._commands:
            self._need(buf, i + 2)
            return self._commands[prefix](buf, i)
        if byte == 0x0A:
            self._print_line()
            return i + 1
        if byte in (0x0D, 0x00):
            return i + 1
        if byte == 0x09:
            self._add_text(" ")
            return i + 1
        if byte < 0x20:
            raise DecodeError(f"unknown control byte 0x{byte:02x} at offset {i}")
        if byte < 0x80:
            self._add_text(chr(byte))
            return i + 1
        if not self.chinese:
            codec = _CODE_PAGES.get(self.code_page, "cp437")
            self._add_text(bytes([byte]).decode(codec, "replace"))
            return i + 1
        self._need(buf, i + 2)
        self._add_text(buf[i : i + 2].decode("gbk", "replace"))
        return i + 2

    def _add_text(self, text: str) -> None:
        if self._line_align is None:
            self._line_align = self.align
        width, height = self.size
        if self._runs and (self._runs[-1].width, self._runs[-1].height) == (width, height):
            last = self._runs.pop()
            text = last.text + text
        self._runs.append(TextRun(text, width, height))

    def _print_line(self) -> None:
        align = self.align if self._line_align is None else self._line_align
        runs = self._runs or [TextRun("", *self.size)]
        self.receipt.items.append(PrintedLine(runs, align))
        self._runs, self._line_align = [], None

    def _flush_line(self) -> None:
        if self._runs:
            self._print_line()

    def _cut(self) -> None:
        self._flush_line()
        self.receipt.cut = True
        self._events.append(self.receipt)
        self.receipt = PrintedReceipt(chinese_mode=self.chinese)

    # --- command groups -----------------------------------------------------------------

    def _esc(self, buf: bytes, i: int) -> int:
        cmd = buf[i + 1 : i + 2]
        if cmd == b"@":
            self._flush_line()
            self._reset()
            return i + 2
        if cmd == b"2":
            return i + 2
        if cmd == b"p":
            self._need(buf, i + 5)
            pin = 2 if buf[i + 2] in (0, 48) else 5
            self._events.append(DrawerKick(pin, buf[i + 3] * 2, buf[i + 4] * 2))
            return i + 5
        self._need(buf, i + 3)
        n = buf[i + 2]
        if cmd == b"a":
            if n not in (0, 1, 2, 48, 49, 50):
                raise DecodeError(f"ESC a {n} at offset {i}: alignment is 0..2 or 48..50")
            self.align = Align(n - 48 if n >= 48 else n)
        elif cmd == b"E":
            self.bold = bool(n & 1)
        elif cmd == b"!":
            self.bold = bool(n & 0x08)
            self.size = (2 if n & 0x20 else 1, 2 if n & 0x10 else 1)
        elif cmd == b"d":
            self._flush_line()
            for _ in range(n):
                self._print_line()
        elif cmd == b"t":
            self.code_page = n
        elif cmd not in (b"3", b"J", b"M", b"-", b"R", b"G", b"V", b"{"):
            raise DecodeError(f"unknown command ESC {cmd!r} at offset {i}")
        return i + 3

    def _fs(self, buf: bytes, i: int) -> int:
        cmd = buf[i + 1 : i + 2]
        if cmd == b"&":
            self.chinese = True
            self.receipt.chinese_mode = True
            return i + 2
        if cmd == b".":
            self.chinese = False
            return i + 2
        if cmd in (b"!", b"C", b"W", b"-"):
            self._need(buf, i + 3)
            return i + 3
        raise DecodeError(f"unknown command FS {cmd!r} at offset {i}")

    def _dle(self, buf: bytes, i: int) -> int:
        cmd = buf[i + 1]
        if cmd in (0x04, 0x05):
            self._need(buf, i + 3)
            if cmd == 0x04:
                request = buf[i + 2]
                if request not in set(StatusRequest):
                    raise DecodeError(f"DLE EOT {request} at offset {i}: a status request is 1..4")
                self._events.append(StatusQuery(request))
            return i + 3
        if cmd == 0x14:
            self._need(buf, i + 5)
            if buf[i + 2] == 1:
                pin = 2 if buf[i + 3] == 0 else 5
                self._events.append(DrawerKick(pin, buf[i + 4] * 100, buf[i + 4] * 100))
            return i + 5
        raise DecodeError(f"unknown real-time command DLE 0x{cmd:02x} at offset {i}")

    def _gs(self, buf: bytes, i: int) -> int:
        cmd = buf[i + 1 : i + 2]
        if cmd == b"V":
            self._need(buf, i + 3)
            m = buf[i + 2]
            end = i + 4 if m in (65, 66, 97, 98, 103, 104) else i + 3
            self._need(buf, end)
            self._cut()
            return end
        if cmd == b"k":
            return self._barcode(buf, i)
        if cmd == b"(":
            return self._function(buf, i)
        if cmd == b"v":
            return self._raster(buf, i)
        if cmd in (b"L", b"W"):
            self._need(buf, i + 4)
            return i + 4
        self._need(buf, i + 3)
        n = buf[i + 2]
        if cmd == b"!":
            self.size = ((n >> 4) + 1, (n & 0x0F) + 1)
        elif cmd == b"h":
            if n == 0:
                raise DecodeError(f"GS h 0 at offset {i}: a barcode is 1..255 dots high")
            self.barcode_height = n
        elif cmd == b"w":
            if not 1 <= n <= 6:
                raise DecodeError(f"GS w {n} at offset {i}: the bar width is 1..6 dots")
            self.barcode_module = n
        elif cmd == b"H":
            self.hri_below = n in (2, 3, 50, 51)
        elif cmd not in (b"f", b"B", b"a", b"b", b"I", b"r"):
            raise DecodeError(f"unknown command GS {cmd!r} at offset {i}")
        return i + 3

    def _barcode(self, buf: bytes, i: int) -> int:
        self._need(buf, i + 3)
        kind = buf[i + 2]
        if kind != 73:
            raise DecodeError(f"barcode type {kind} at offset {i}: only Code 128 (73) is read")
        self._need(buf, i + 4)
        end = i + 4 + buf[i + 3]
        self._need(buf, end)
        try:
            symbol = code128.symbol(buf[i + 4 : end])
        except code128.Code128Error as error:
            raise DecodeError(f"barcode at offset {i}: {error}") from None
        self._flush_line()
        self.receipt.items.append(
            PrintedBarcode(
                symbol.text,
                symbol.modules,
                self.barcode_module,
                self.barcode_height,
                self.hri_below,
                self.align,
            )
        )
        return end

    def _function(self, buf: bytes, i: int) -> int:
        self._need(buf, i + 5)
        group = buf[i + 2 : i + 3]
        end = i + 5 + buf[i + 3] + (buf[i + 4] << 8)
        self._need(buf, end)
        if group != b"k":
            if group == b"L":
                raise DecodeError(f"GS ( L graphics at offset {i} are not read; use GS v 0")
            return end
        if end - i < 7:
            raise DecodeError(f"GS ( k at offset {i} is too short for its cn and fn bytes")
        cn, fn, args = buf[i + 5], buf[i + 6], buf[i + 7 : end]
        if cn != 49:
            raise DecodeError(f"2D code type {cn} at offset {i}: only QR (49) is read")
        if fn in (67, 69, 80, 81) and not args:
            raise DecodeError(f"QR function {fn} at offset {i} lacks its parameter")
        if fn == 67:
            if not 1 <= args[0] <= 16:
                raise DecodeError(f"QR module size {args[0]} at offset {i} is outside 1..16")
            self.qr_module = args[0]
        elif fn == 69:
            if args[0] not in _QR_LEVELS:
                raise DecodeError(f"QR error level {args[0]} at offset {i} is not 48..51")
            self.qr_level = _QR_LEVELS[args[0]]
        elif fn == 80:
            self.qr_data = args[1:]
        elif fn == 81:
            self._flush_line()
            self.receipt.items.append(
                PrintedQr(self.qr_data, self.qr_module, self.qr_level, self.align)
            )
        return end

    def _raster(self, buf: bytes, i: int) -> int:
        self._need(buf, i + 8)
        if buf[i + 2] not in (0, 48):  # "v0"
            raise DecodeError(f"unknown command GS v {buf[i + 2]} at offset {i}")
        width_bytes = buf[i + 4] | buf[i + 5] << 8
        height = buf[i + 6] | buf[i + 7] << 8
        end = i + 8 + width_bytes * height
        self._need(buf, end)
        # In ESC/POS a set bit is a black dot; in a PIL "1" image a set bit is white.
        bits = Image.frombytes("1", (width_bytes * 8, height), buf[i + 8 : end])
        picture = ImageOps.invert(bits.convert("L")).convert("1")
        self._flush_line()
        self.receipt.items.append(PrintedImage(picture, self.align))
        return end


@dataclass
class Decoded:
    """Everything a byte stream asked of the printer."""

    receipts: list[PrintedReceipt]
    status_queries: list[int]
    drawer_kicks: list[DrawerKick]


def decode(data: bytes) -> Decoded:
    """Interprets a whole byte stream; a trailing incomplete command is an error.

    The receipts are those ended by a cut, plus what was printed after the last cut."""
    interpreter = EscposInterpreter()
    events = interpreter.feed(data)
    if interpreter.has_pending_bytes:
        raise DecodeError("the data ends inside a command")
    receipts = [event for event in events if isinstance(event, PrintedReceipt)]
    unfinished = interpreter.uncut()
    if unfinished is not None:
        receipts.append(unfinished)
    return Decoded(
        receipts,
        [event.request for event in events if isinstance(event, StatusQuery)],
        [event for event in events if isinstance(event, DrawerKick)],
    )
