"""Drawing a receipt on a dot grid as a printer would: text cells, Code 128 bars, QR modules.

The raster fallback of the encoder and the simulator's PNG rendering both draw here, so a
receipt looks the same whichever path produced it."""

import math
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont

from devices.escpos.commands import Align
from devices.escpos.text import cell_width

CJK_FONT_PACKAGE = "fonts-wqy-zenhei"
_FONT_FAMILY = "WenQuanYi Zen Hei"
_KNOWN_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
# The geometry of an ESC/POS font A with a 24-dot Chinese font: 12 dots per column,
# 24-dot glyphs and the default line spacing of 30 dots.
DOTS_PER_COLUMN = 12
GLYPH_DOTS = 24
LINE_DOTS = 30
_FONT_DOTS = 22  # a little under the cell so proportional Latin glyphs fit their 12 dots
QUIET_ZONE_MODULES = 10


class FontMissingError(RuntimeError):
    """No CJK font to draw Chinese text with."""


@lru_cache(maxsize=1)
def find_cjk_font() -> Path:
    """The WenQuanYi Zen Hei font file (Debian package fonts-wqy-zenhei), or a known CJK font."""
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{family}\n%{file}", _FONT_FAMILY],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split("\n")
        # fc-match always answers with some font; only take it when it is the one asked for.
        if len(found) == 2 and _FONT_FAMILY in found[0] and Path(found[1]).is_file():
            return Path(found[1])
    for candidate in _KNOWN_FONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FontMissingError(
        f"no CJK font found for printing Chinese as an image: install the Debian package "
        f"{CJK_FONT_PACKAGE} (apt-get install {CJK_FONT_PACKAGE})"
    )


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(find_cjk_font()), size)


@lru_cache(maxsize=4096)
def _glyph(char: str, width: int, height: int) -> Image.Image:
    """One character drawn in its cells, enlarged `width` × `height` times."""
    cell = cell_width(char) * DOTS_PER_COLUMN
    font = _font(_FONT_DOTS)
    # A few Latin glyphs (M, W) are wider than their cell: squeeze, never clip.
    drawn = max(cell, math.ceil(font.getlength(char)))
    glyph = Image.new("1", (drawn, GLYPH_DOTS), 1)
    # Centred on the cell's middle so every glyph shares one baseline.
    middle = (drawn / 2, GLYPH_DOTS / 2)
    ImageDraw.Draw(glyph).text(middle, char, font=font, fill=0, anchor="mm")
    return glyph.resize((cell * width, GLYPH_DOTS * height), Image.Resampling.NEAREST)


def qr_matrix(payload: bytes, error_level: str = "M") -> list[list[bool]]:
    """The modules of the QR code for payload, without a quiet zone."""
    levels = {
        "L": qrcode.constants.ERROR_CORRECT_L,
        "M": qrcode.constants.ERROR_CORRECT_M,
        "Q": qrcode.constants.ERROR_CORRECT_Q,
        "H": qrcode.constants.ERROR_CORRECT_H,
    }
    code = qrcode.QRCode(error_correction=levels[error_level], border=0)
    code.add_data(payload)
    code.make(fit=True)
    return code.get_matrix()


@dataclass(frozen=True)
class TextRun:
    """Text printed in one character size."""

    text: str
    width: int = 1
    height: int = 1


class ReceiptCanvas:
    """A strip of paper `width_dots` wide that grows downwards as things are printed on it."""

    def __init__(self, width_dots: int) -> None:
        self.width_dots = width_dots
        self._bands: list[Image.Image] = []

    def _band(self, height: int) -> Image.Image:
        band = Image.new("1", (self.width_dots, height), 1)
        self._bands.append(band)
        return band

    def _left(self, content_width: int, align: Align) -> int:
        free = max(0, self.width_dots - content_width)
        return {Align.left: 0, Align.center: free // 2, Align.right: free}[align]

    def text_line(self, runs: list[TextRun], align: Align = Align.left) -> None:
        """One printed line; each character sits in its own cells so columns line up."""
        tallest = max((run.height for run in runs), default=1)
        band = self._band(LINE_DOTS * tallest)
        total = sum(
            cell_width(char) * DOTS_PER_COLUMN * run.width for run in runs for char in run.text
        )
        x = self._left(total, align)
        for run in runs:
            for char in run.text:
                cell = cell_width(char) * DOTS_PER_COLUMN
                if not char.isspace():
                    glyph = _glyph(char, run.width, run.height)
                    band.paste(glyph, (x, band.height - LINE_DOTS * run.height))
                x += cell * run.width

    def feed(self, dots: int) -> None:
        self._band(dots)

    def barcode(
        self, modules: str, module_width: int, height: int, hri: str | None, align: Align
    ) -> None:
        """Bars of a linear barcode, with its human-readable text below when given."""
        band = self._band(height)
        x = self._left(len(modules) * module_width, align)
        draw = ImageDraw.Draw(band)
        for i, module in enumerate(modules):
            if module == "1":
                left = x + i * module_width
                draw.rectangle([left, 0, left + module_width - 1, height - 1], fill=0)
        if hri is not None:
            self.text_line([TextRun(hri)], align)

    def qr(self, matrix: list[list[bool]], module_size: int, align: Align) -> None:
        """A QR code with its quiet zone of four modules above and below."""
        side = len(matrix) * module_size
        self.feed(4 * module_size)
        band = self._band(side)
        x = self._left(side, align)
        draw = ImageDraw.Draw(band)
        for row, cells in enumerate(matrix):
            for col, dark in enumerate(cells):
                if dark:
                    left, top = x + col * module_size, row * module_size
                    draw.rectangle(
                        [left, top, left + module_size - 1, top + module_size - 1], fill=0
                    )
        self.feed(4 * module_size)

    def image(self, picture: Image.Image, align: Align = Align.left) -> None:
        band = self._band(picture.height)
        band.paste(picture.convert("1"), (self._left(picture.width, align), 0))

    def render(self) -> Image.Image:
        """The whole strip as a black-on-white image."""
        height = sum(band.height for band in self._bands)
        strip = Image.new("1", (self.width_dots, max(height, 1)), 1)
        top = 0
        for band in self._bands:
            strip.paste(band, (0, top))
            top += band.height
        return strip
