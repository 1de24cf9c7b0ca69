"""Receipt model → ESC/POS bytes, with Chinese text through our own encoder; no I/O.

A receipt is first laid out as rows of printable text in the profile's columns, then written
either as native commands (Chinese mode, GBK, GS ! sizes, GS k barcode, GS ( k QR) or, for
printers without a Chinese font, drawn as one raster image sent with GS v 0."""

from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps

from devices.escpos import code128, commands
from devices.escpos.commands import Align
from devices.escpos.raster import QUIET_ZONE_MODULES, ReceiptCanvas, TextRun, qr_matrix
from devices.escpos.text import encode_gbk, fit, printable, two_columns
from devices.printer.profiles import PrinterProfile, get_profile
from devices.printer.receipt import Receipt
from shared.money import format_fen

ChineseMode = Literal["native", "raster"]

QR_ERROR_LEVEL = "M"
_FEED_BEFORE_CUT = 4
# Printers buffer a raster image whole; bands keep each GS v 0 well inside small buffers.
_RASTER_BAND_DOTS = 256


@dataclass(frozen=True)
class TextRow:
    """One printed line of printable text."""

    text: str
    align: Align = Align.left
    width: int = 1
    height: int = 1


@dataclass(frozen=True)
class BarcodeRow:
    text: str


@dataclass(frozen=True)
class QrRow:
    payload: str


Row = TextRow | BarcodeRow | QrRow


def _centered(text: str, columns: int, size: int = 1) -> list[TextRow]:
    pieces = fit(printable(text), columns // size)
    return [TextRow(piece, Align.center, size, size) for piece in pieces]


def _amount_rows(label: str, fen: int, columns: int, height: int = 1) -> list[TextRow]:
    rows = two_columns(printable(label), printable(format_fen(fen)), columns)
    return [TextRow(row, height=height) for row in rows]


def layout(receipt: Receipt, profile: PrinterProfile) -> list[Row]:
    """The receipt as rows: what each printed line says, in the profile's columns."""
    columns = profile.columns
    rule = TextRow("-" * columns)
    rows: list[Row] = [*_centered(receipt.title, columns, size=2)]
    for line in receipt.header:
        rows += _centered(line, columns)
    rows.append(TextRow(printable(f"No. {receipt.number}")))
    rows.append(rule)
    for item in receipt.items:
        quantity_and_amount = printable(f"x{item.quantity}  {format_fen(item.amount_fen)}")
        name = printable(item.name)
        rows += [TextRow(text) for text in two_columns(name, quantity_and_amount, columns)]
    rows.append(rule)
    for index, total in enumerate(receipt.totals):
        due = index == len(receipt.totals) - 1
        rows += _amount_rows(total.label, total.amount_fen, columns, height=2 if due else 1)
    for payment in receipt.payments:
        rows += _amount_rows(payment.label, payment.amount_fen, columns)
    if receipt.change_fen is not None:
        rows += _amount_rows("找零 Change", receipt.change_fen, columns)
    rows.append(rule)
    rows.append(BarcodeRow(receipt.number))
    if receipt.qr_payload:
        rows.append(QrRow(receipt.qr_payload))
    for line in receipt.footer:
        rows += _centered(line, columns)
    return rows


def _native(rows: list[Row], profile: PrinterProfile) -> bytes:
    out = bytearray(commands.INITIALIZE + commands.CHINESE_ON)
    align, size = Align.left, (1, 1)
    for row in rows:
        wanted_align = row.align if isinstance(row, TextRow) else Align.center
        if wanted_align != align:
            out += commands.align(wanted_align)
            align = wanted_align
        if isinstance(row, TextRow):
            if (row.width, row.height) != size:
                size = (row.width, row.height)
                out += commands.character_size(*size)
            out += encode_gbk(row.text) + commands.LF
        elif isinstance(row, BarcodeRow):
            data = code128.escpos_data(row.text)
            out += commands.code128(data, profile.barcode_height, profile.barcode_module)
        else:
            out += commands.qr_code(row.payload.encode("utf-8"), profile.qr_module, QR_ERROR_LEVEL)
    return bytes(out)


def render_image(receipt: Receipt, profile: PrinterProfile | str) -> Image.Image:
    """The receipt drawn as the printer would print it (black on white, profile.dots wide)."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    canvas = ReceiptCanvas(profile.dots)
    for row in layout(receipt, profile):
        if isinstance(row, TextRow):
            canvas.text_line([TextRun(row.text, row.width, row.height)], row.align)
        elif isinstance(row, BarcodeRow):
            bars = code128.symbol(code128.escpos_data(row.text)).modules
            canvas.feed(QUIET_ZONE_MODULES)
            module, height = profile.barcode_module, profile.barcode_height
            canvas.barcode(bars, module, height, row.text, Align.center)
        else:
            matrix = qr_matrix(row.payload.encode("utf-8"), QR_ERROR_LEVEL)
            canvas.qr(matrix, profile.qr_module, Align.center)
    return canvas.render()


def _raster(receipt: Receipt, profile: PrinterProfile) -> bytes:
    picture = render_image(receipt, profile)
    # ESC/POS raster bits are 1 for a black dot; PIL's "1" mode stores white as 1.
    dots = ImageOps.invert(picture.convert("L")).convert("1")
    out = bytearray(commands.INITIALIZE)
    for top in range(0, dots.height, _RASTER_BAND_DOTS):
        band = dots.crop((0, top, dots.width, min(top + _RASTER_BAND_DOTS, dots.height)))
        out += commands.raster_image(dots.width // 8, band.height, band.tobytes())
    return bytes(out)


def encode_receipt(
    receipt: Receipt, profile: PrinterProfile | str, chinese: ChineseMode = "native"
) -> bytes:
    """ESC/POS bytes that print `receipt` and cut the paper.

    chinese="native" uses the printer's Chinese font (FS &, GBK); "raster" sends the whole
    receipt as an image, for printers that have no Chinese font."""
    profile = get_profile(profile) if isinstance(profile, str) else profile
    if chinese == "native":
        body = _native(layout(receipt, profile), profile)
    elif chinese == "raster":
        body = _raster(receipt, profile)
    else:
        raise ValueError(f"chinese must be 'native' or 'raster', not {chinese!r}")
    return body + commands.feed_lines(_FEED_BEFORE_CUT) + commands.PARTIAL_CUT
