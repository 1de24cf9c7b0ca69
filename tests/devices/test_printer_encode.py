"""Receipt → ESC/POS bytes: exact sequences, and decoded back to the intended lines and codes."""

import pytest
import zxingcpp

from devices.escpos.decode import PrintedLine, decode
from devices.escpos.text import width
from devices.printer import (
    AmountLine,
    ItemLine,
    Receipt,
    encode_receipt,
    get_profile,
    render_image,
)
from devices.printer import receipt as receipt_module
from shared.codes import format_receipt_number

NUMBER = format_receipt_number(12, 345)  # S0000120000003455


def sale(**changes) -> Receipt:
    fields = dict(
        number=NUMBER,
        title="号卡",
        header=("绍兴 Outlet 01",),
        items=(ItemLine("号卡 13800138000", 1, 12500), ItemLine("Top-up 充值卡", 2, 20000)),
        totals=(AmountLine("合计 Total", 32500),),
        payments=(AmountLine("现金 Cash", 35000),),
        change_fen=2500,
        footer=("谢谢 Thanks",),
        qr_payload=NUMBER,
    )
    fields.update(changes)
    return Receipt(**fields)


def test_native_receipt_starts_chinese_mode_and_ends_with_feed_and_cut():
    data = encode_receipt(sale(), "58mm")
    assert data.startswith(b"\x1b@" + b"\x1c&")
    assert data.endswith(b"\x1bd\x04" + b"\x1dV\x01")


def test_native_receipt_bytes_for_title_total_and_codes():
    data = encode_receipt(sale(), "58mm")
    # Title centred and double size, in GBK.
    assert b"\x1ba\x01\x1d!\x11" + "号卡".encode("gbk") + b"\n" in data
    # The amount due is double height: GS ! 0x01, and "￥" is GBK A3A4.
    assert b"\x1d!\x01" + "合计 Total".encode("gbk") + b" " * 14 + b"\xa3\xa4325.00\n" in data
    assert b"\x1dk\x49\x0d{BS{C\x00\x00\x0c\x00\x00\x00\x22\x37" in data
    assert b"\x1d(k\x14\x00\x31\x50\x30" + NUMBER.encode() in data
    assert "¥".encode("latin-1") not in data.replace(b"\xa3\xa4", b"")


def test_chinese_and_english_receipt_decodes_to_exactly_the_intended_lines():
    (printed,) = decode(encode_receipt(sale(), "58mm")).receipts
    assert printed.lines == [
        "号卡",
        "绍兴 Outlet 01",
        "No. S0000120000003455",
        "-" * 32,
        "号卡 13800138000    x1  ￥125.00",
        "Top-up 充值卡       x2  ￥200.00",
        "-" * 32,
        "合计 Total              ￥325.00",
        "现金 Cash               ￥350.00",
        "找零 Change              ￥25.00",
        "-" * 32,
        "谢谢 Thanks",
        *[""] * 4,  # the feed before the cut
    ]
    assert printed.cut


@pytest.mark.parametrize("profile", ["58mm", "80mm"])
def test_amount_rows_fill_the_paper_width_exactly(profile):
    columns = get_profile(profile).columns
    (printed,) = decode(encode_receipt(sale(), profile)).receipts
    amount_rows = [
        item for item in printed.items if isinstance(item, PrintedLine) and "￥" in item.text
    ]
    assert len(amount_rows) == 5
    for row in amount_rows:
        assert width(row.text) == columns
        assert row.columns == columns  # the double-height total is still one column wide each


def test_enlarged_lines_use_gs_exclamation_sizes():
    (printed,) = decode(encode_receipt(sale(), "80mm")).receipts
    lines = [item for item in printed.items if isinstance(item, PrintedLine)]

    def size(starts: str) -> tuple[int, int]:
        run = next(line for line in lines if line.text.startswith(starts)).runs[0]
        return run.width, run.height

    assert size("号卡") == (2, 2)
    assert size("合计") == (1, 2)
    assert size("现金") == (1, 1)


def test_characters_outside_gbk_are_replaced_not_fatal():
    receipt = sale(items=(ItemLine("靓号 🎉 Straße", 1, 100),))
    (printed,) = decode(encode_receipt(receipt, "58mm")).receipts
    assert "靓号 □ Stra?e" + " " * 8 + "x1  ￥1.00" in printed.lines


def test_long_item_names_wrap_and_keep_the_amount_right_aligned():
    receipt = sale(items=(ItemLine("号卡 13800138000 三级靓号 Starter pack", 1, 12500),))
    (printed,) = decode(encode_receipt(receipt, "58mm")).receipts
    assert "号卡 13800138000 三级靓号" in printed.lines
    assert "Starter pack        x1  ￥125.00" in printed.lines


def test_amounts_must_be_integer_fen():
    with pytest.raises(TypeError, match="integer fen"):
        ItemLine("x", 1, 1.5)
    with pytest.raises(TypeError, match="integer fen"):
        AmountLine("x", True)


def test_unknown_profile_or_chinese_mode_is_refused():
    with pytest.raises(ValueError, match="58mm, 80mm"):
        encode_receipt(sale(), "76mm")
    with pytest.raises(ValueError, match="chinese"):
        encode_receipt(sale(), "80mm", chinese="gb18030")


@pytest.mark.parametrize("profile", ["58mm", "80mm"])
@pytest.mark.parametrize("chinese", ["native", "raster"])
def test_barcode_and_qr_decode_to_the_receipt_number(profile, chinese):
    """Native GS k / GS ( k drawn by the simulator's renderer, or our own raster image: an
    independent decoder must read the receipt number from both."""
    dots = get_profile(profile).dots
    (printed,) = decode(encode_receipt(sale(), profile, chinese)).receipts
    found = {(r.format.name, r.text) for r in zxingcpp.read_barcodes(printed.to_image(dots))}
    assert found == {("Code128", NUMBER), ("QRCode", NUMBER)}


def test_raster_receipt_is_only_images_without_chinese_mode():
    data = encode_receipt(sale(), "80mm", chinese="raster")
    assert b"\x1c&" not in data
    (printed,) = decode(data).receipts
    assert printed.images and not printed.barcodes and not printed.qr_codes
    assert {picture.image.width for picture in printed.images} == {576}
    assert printed.lines == [""] * 4


def test_raster_and_native_draw_the_same_receipt():
    (printed,) = decode(encode_receipt(sale(), "58mm", "native")).receipts
    native = printed.to_image(384)
    drawn = render_image(sale(), "58mm")
    top = drawn.height
    assert native.crop((0, 0, 384, top)).tobytes() == drawn.tobytes()


def test_test_receipt_prints_on_both_paper_widths():
    receipt = receipt_module.test_receipt()
    for profile in ("58mm", "80mm"):
        (printed,) = decode(encode_receipt(receipt, profile)).receipts
        assert any("￥320.00" in line for line in printed.lines)
        assert printed.barcodes[0].text == receipt.number
