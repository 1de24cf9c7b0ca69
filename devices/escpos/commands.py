"""Byte builders for the ESC/POS commands HaoKa sends, named after what they do on paper."""

from enum import IntEnum

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"
DLE = b"\x10"
LF = b"\n"

INITIALIZE = ESC + b"@"
CHINESE_ON = FS + b"&"
CHINESE_OFF = FS + b"."
PARTIAL_CUT = GS + b"V\x01"


class Align(IntEnum):
    left = 0
    center = 1
    right = 2


class StatusRequest(IntEnum):
    """The `n` of DLE EOT n: which status byte the printer answers with."""

    printer = 1
    offline_cause = 2
    error_cause = 3
    paper = 4


def align(where: Align) -> bytes:
    """ESC a n."""
    return ESC + b"a" + bytes([where])


def character_size(width: int = 1, height: int = 1) -> bytes:
    """GS ! n: width and height multipliers 1..8."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError(f"character size {width}x{height} is outside 1..8")
    return GS + b"!" + bytes([(width - 1) << 4 | (height - 1)])


def feed_lines(lines: int) -> bytes:
    """ESC d n: print the buffer and feed n lines."""
    if not 0 <= lines <= 255:
        raise ValueError(f"cannot feed {lines} lines")
    return ESC + b"d" + bytes([lines])


def drawer_kick(pin: int, on_ms: int = 50, off_ms: int = 500) -> bytes:
    """ESC p m t1 t2: pulse drawer pin 2 (m=0) or pin 5 (m=1); t1, t2 in 2 ms units."""
    if pin not in (2, 5):
        raise ValueError(f"a drawer hangs on pin 2 or 5, not {pin}")
    t1, t2 = on_ms // 2, off_ms // 2
    if not (1 <= t1 <= 255 and 1 <= t2 <= 255):
        raise ValueError(f"drawer pulse {on_ms}/{off_ms} ms is outside 2..510 ms")
    return ESC + b"p" + bytes([0 if pin == 2 else 1, t1, t2])


def status_query(request: StatusRequest) -> bytes:
    """DLE EOT n: a real-time request the printer answers at once with one byte."""
    return DLE + b"\x04" + bytes([request])


def code128(data: bytes, height: int = 80, module_width: int = 2) -> bytes:
    """A Code 128 barcode with its human-readable text below (GS h, GS w, GS H, GS f, GS k 73).

    `data` is in the ESC/POS form that starts with a code-set selection ("{B", "{C")."""
    if not 1 <= len(data) <= 255:
        raise ValueError("Code 128 data must be 1..255 bytes")
    return (
        GS
        + b"h"
        + bytes([height])
        + GS
        + b"w"
        + bytes([module_width])
        + GS
        + b"H\x02"  # HRI below the bars
        + GS
        + b"f\x00"
        + GS
        + b"k"
        + bytes([73, len(data)])
        + data
    )


_QR_ERROR_LEVELS = {"L": 48, "M": 49, "Q": 50, "H": 51}


def _qr_function(fn: int, payload: bytes) -> bytes:
    size = len(payload) + 2
    return GS + b"(k" + bytes([size & 0xFF, size >> 8, 49, fn]) + payload


def qr_code(payload: bytes, module_size: int = 6, error_level: str = "M") -> bytes:
    """A QR code printed by the printer itself: model 2, module size, error level, store, print."""
    if not 1 <= module_size <= 16:
        raise ValueError(f"QR module size {module_size} is outside 1..16")
    if len(payload) > 7089:
        raise ValueError("QR payload is too long")
    return (
        _qr_function(65, b"2\x00")
        + _qr_function(67, bytes([module_size]))
        + _qr_function(69, bytes([_QR_ERROR_LEVELS[error_level]]))
        + _qr_function(80, b"0" + payload)
        + _qr_function(81, b"0")
    )


def raster_image(width_bytes: int, height: int, bits: bytes) -> bytes:
    """GS v 0: a raster bit image, one bit per dot, 1 = black, rows of `width_bytes` bytes."""
    if len(bits) != width_bytes * height:
        raise ValueError("raster data does not match its size")
    return (
        GS
        + b"v0\x00"
        + bytes([width_bytes & 0xFF, width_bytes >> 8, height & 0xFF, height >> 8])
        + bits
    )
