"""The ESC/POS interpreter on hand-written byte streams, so it is checked apart from our encoder."""

import re

import pytest
import zxingcpp
from PIL import Image

from devices.escpos.commands import Align
from devices.escpos.decode import (
    DecodeError,
    DrawerKick,
    EscposInterpreter,
    PrintedReceipt,
    StatusQuery,
    decode,
)

GBK_HEJI = b"\xba\xcf\xbc\xc6"  # 合计
GBK_YEN = b"\xa3\xa4"  # ￥


def test_chinese_mode_reads_gbk_double_bytes():
    data = b"\x1b@\x1c&" + GBK_HEJI + b" " + GBK_YEN + b"5.00\n"
    (receipt,) = decode(data).receipts
    assert receipt.lines == ["合计 ￥5.00"]
    assert receipt.chinese_mode


def test_without_chinese_mode_gbk_bytes_print_as_code_page_garbage():
    # What python-escpos's own text path produces on a Chinese printer: no FS &.
    (receipt,) = decode(b"\x1b@" + GBK_HEJI + b"\n").receipts
    assert receipt.lines == ["║╧╝╞"]


def test_fs_dot_leaves_chinese_mode():
    (receipt,) = decode(b"\x1c&" + GBK_HEJI + b"\x1c." + b"\xa3\n").receipts
    assert receipt.lines == ["合计ú"]


def test_alignment_and_character_size_are_recorded_per_line():
    data = b"\x1ba\x01\x1d!\x11AB\n\x1ba\x02\x1d!\x00C\n"
    (receipt,) = decode(data).receipts
    first, second = receipt.items
    assert (first.text, first.align, first.runs[0].width, first.runs[0].height) == (
        "AB",
        Align.center,
        2,
        2,
    )
    assert first.columns == 4
    assert (second.text, second.align, second.runs[0].width) == ("C", Align.right, 1)


def test_a_cut_ends_a_receipt_and_the_next_starts_fresh():
    decoded = decode(b"one\n\x1dV\x01two\n\x1dVB\x03three")
    assert [r.lines for r in decoded.receipts] == [["one"], ["two"], ["three"]]
    assert [r.cut for r in decoded.receipts] == [True, True, False]


def test_drawer_kicks_and_status_queries_are_events():
    decoded = decode(b"\x1bp\x00\x19\xfa\x10\x04\x01\x1bp\x01\x32\x64\x10\x04\x04")
    assert decoded.drawer_kicks == [DrawerKick(2, 50, 500), DrawerKick(5, 100, 200)]
    assert decoded.status_queries == [1, 4]


def test_commands_split_across_chunks_wait_for_the_rest():
    interpreter = EscposInterpreter()
    stream = b"\x1c&" + GBK_HEJI + b"\n\x10\x04\x01\x1dV\x01"
    events = []
    for i in range(len(stream)):
        events += interpreter.feed(stream[i : i + 1])
    assert StatusQuery(1) in events
    (receipt,) = [e for e in events if isinstance(e, PrintedReceipt)]
    assert receipt.lines == ["合计"]
    assert not interpreter.has_pending_bytes


def test_native_code128_with_code_set_c_renders_scannable_bars():
    data = b"\x1dh\x50\x1dw\x02\x1dH\x02\x1dk\x49\x0d{BS{C\x00\x00\x0c\x00\x00\x00\x22\x37"
    (receipt,) = decode(data).receipts
    (barcode,) = receipt.barcodes
    assert barcode.text == "S0000120000003455"
    assert (barcode.height, barcode.module_width, barcode.hri_below) == (80, 2, True)
    results = zxingcpp.read_barcodes(receipt.to_image(384))
    assert [r.text for r in results] == ["S0000120000003455"]


def test_native_qr_renders_scannable_modules():
    store = b"\x1d(k\x05\x00\x31\x50\x30S1"
    data = b"\x1d(k\x03\x00\x31\x43\x06" + store + b"\x1d(k\x03\x00\x31\x51\x30"
    (receipt,) = decode(data).receipts
    (qr,) = receipt.qr_codes
    assert (qr.payload, qr.module_size) == (b"S1", 6)
    assert [r.text for r in zxingcpp.read_barcodes(receipt.to_image(384))] == ["S1"]


def test_raster_bits_set_are_black_dots():
    # 16 dots wide, 2 rows: first row left byte black, second row right byte black.
    data = b"\x1dv0\x00\x02\x00\x02\x00" + b"\xff\x00" + b"\x00\xff"
    (receipt,) = decode(data).receipts
    (picture,) = receipt.images
    image = picture.image.convert("L")
    assert image.getpixel((0, 0)) == 0 and image.getpixel((8, 0)) == 255
    assert image.getpixel((0, 1)) == 255 and image.getpixel((15, 1)) == 0


def test_text_rendering_aligns_lines_in_columns():
    (receipt,) = decode(b"\x1ba\x01AB\n\x1ba\x02CD\n\x1dV\x01").receipts
    assert receipt.to_text(8) == "   AB\n      CD\n-------- cut\n"


def test_unknown_commands_are_reported_with_their_offset():
    with pytest.raises(DecodeError, match="offset 2"):
        decode(b"ok\x1b\x99\x00")
    with pytest.raises(DecodeError, match="ends inside"):
        decode(b"\x1dk\x49\x05{B")


def test_lenient_interpreter_prints_a_bad_command_as_text_and_carries_on():
    interpreter = EscposInterpreter(strict=False)
    events = interpreter.feed(b"\x1b\x99X\n\x1dV\x01")
    (receipt,) = [e for e in events if isinstance(e, PrintedReceipt)]
    assert receipt.lines == ["\xd6X"]  # ESC dropped, 0x99 printed through code page 437
    assert interpreter.errors == ["unknown command ESC b'\\x99' at offset 0"]


def test_receipt_image_has_the_paper_width():
    (receipt,) = decode(b"A\n").receipts
    image = receipt.to_image(576)
    assert isinstance(image, Image.Image)
    assert image.width == 576


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"\x1ba\x07X\n", "ESC a 7 at offset 0"),
        (b"\x1d(k\x00\x00X\n", "too short for its cn and fn"),
        (b"\x1d(k\x02\x00\x31\x43X\n", "QR function 67 at offset 0 lacks its parameter"),
        (b"\x1d(k\x03\x00\x31\x43\x00X\n", "QR module size 0"),
        (b"\x1d(k\x03\x00\x31\x45\x99X\n", "QR error level 153"),
        (b"\x1dw\x00X\n", "GS w 0"),
        (b"\x1dh\x00X\n", "GS h 0"),
        (b"\x10\x04\x41X\n", "DLE EOT 65 at offset 0"),
    ],
)
def test_out_of_range_parameters_are_decode_errors_not_crashes(data, problem):
    """The simulator reads whatever a client sends: a bad parameter must not kill it, nor
    leave a code it cannot draw (a QR of 0-dot modules) in the receipt."""
    with pytest.raises(DecodeError, match=re.escape(problem)):
        decode(data)
    interpreter = EscposInterpreter(strict=False)
    events = interpreter.feed(data + b"\x1d(k\x03\x00\x31\x51\x30\x1dk\x49\x03{B1\x1dV\x01")
    assert problem in interpreter.errors[0]
    (receipt,) = [e for e in events if isinstance(e, PrintedReceipt)]
    assert receipt.to_image(384).width == 384  # the QR and barcode after it still draw
