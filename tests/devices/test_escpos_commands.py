"""Exact bytes of the ESC/POS commands, Chinese text encoding and Code 128 data."""

import pytest

from devices.escpos import code128, commands
from devices.escpos.commands import Align, StatusRequest
from devices.escpos.text import encode_gbk, fit, printable, two_columns, width


def test_command_bytes_match_the_escpos_manual():
    assert commands.INITIALIZE == b"\x1b\x40"
    assert commands.CHINESE_ON == b"\x1c\x26"
    assert commands.CHINESE_OFF == b"\x1c\x2e"
    assert commands.align(Align.center) == b"\x1b\x61\x01"
    assert commands.align(Align.right) == b"\x1b\x61\x02"
    assert commands.character_size(1, 1) == b"\x1d\x21\x00"
    assert commands.character_size(2, 2) == b"\x1d\x21\x11"
    assert commands.character_size(1, 2) == b"\x1d\x21\x01"
    assert commands.character_size(8, 8) == b"\x1d\x21\x77"
    assert commands.PARTIAL_CUT == b"\x1d\x56\x01"
    assert commands.feed_lines(4) == b"\x1b\x64\x04"


def test_drawer_kick_on_pin_2_and_pin_5():
    assert commands.drawer_kick(2) == b"\x1b\x70\x00\x19\xfa"
    assert commands.drawer_kick(5, on_ms=100, off_ms=200) == b"\x1b\x70\x01\x32\x64"
    with pytest.raises(ValueError, match="pin 2 or 5"):
        commands.drawer_kick(3)


@pytest.mark.parametrize(
    "request_, expected",
    [
        (StatusRequest.printer, b"\x10\x04\x01"),
        (StatusRequest.offline_cause, b"\x10\x04\x02"),
        (StatusRequest.paper, b"\x10\x04\x04"),
    ],
)
def test_status_queries_are_dle_eot_n(request_, expected):
    assert commands.status_query(request_) == expected


def test_character_size_refuses_sizes_the_printer_does_not_have():
    with pytest.raises(ValueError):
        commands.character_size(9, 1)


def test_code128_command_sets_height_width_hri_below_and_length():
    assert commands.code128(b"{B12", height=80, module_width=2) == (
        b"\x1dh\x50\x1dw\x02\x1dH\x02\x1df\x00\x1dk\x49\x04{B12"
    )


def test_qr_command_selects_model_2_size_level_then_stores_and_prints():
    assert commands.qr_code(b"S1", module_size=6, error_level="M") == (
        b"\x1d(k\x04\x00\x31\x41\x32\x00"
        b"\x1d(k\x03\x00\x31\x43\x06"
        b"\x1d(k\x03\x00\x31\x45\x31"
        b"\x1d(k\x05\x00\x31\x50\x30S1"
        b"\x1d(k\x03\x00\x31\x51\x30"
    )


def test_raster_image_header_is_gs_v_0_with_little_endian_sizes():
    assert commands.raster_image(2, 3, b"\xff" * 6) == b"\x1dv0\x00\x02\x00\x03\x00" + b"\xff" * 6
    with pytest.raises(ValueError):
        commands.raster_image(2, 3, b"\xff")


def test_yen_sign_is_written_full_width_in_gbk():
    assert printable("¥125.00") == "￥125.00"
    assert encode_gbk("¥1") == b"\xa3\xa41"
    assert encode_gbk("合计") == "合计".encode("gbk") == b"\xba\xcf\xbc\xc6"


def test_characters_outside_gbk_are_replaced_visibly_with_the_same_width():
    assert printable("A😀B") == "A□B"  # a wide emoji keeps two columns
    assert printable("Straße") == "Stra?e"
    assert encode_gbk("😀") == "□".encode("gbk")
    assert width(printable("😀")) == 2


def test_control_characters_cannot_smuggle_commands_into_text():
    assert printable("a\x1bp\x00\nb") == "a?p??b"
    assert b"\x1b" not in encode_gbk("name\x1b@")


def test_display_width_counts_a_hanzi_as_two_columns():
    assert width("SIM") == 3
    assert width("号卡") == 4
    assert width("￥12.50") == 7
    assert width("·") == 2  # GBK A1A4 prints in a full cell on a Chinese printer


def test_fit_never_splits_a_hanzi_and_keeps_latin_words_whole():
    assert fit("ab号卡", 3) == ["ab", "号", "卡"]
    assert fit("Returns within 7 days", 16) == ["Returns within 7", "days"]
    assert fit("abcdefghij", 4) == ["abcd", "efgh", "ij"]
    assert fit("", 5) == [""]


def test_two_columns_put_the_amount_flush_right_in_display_width():
    assert two_columns("合计", "￥5.00", 16) == ["合计" + " " * 6 + "￥5.00"]
    # Touching texts would read as one word: the amount moves to a row of its own.
    assert two_columns("SIM 卡", "￥5.00", 12) == ["SIM 卡", " " * 6 + "￥5.00"]


def test_a_long_name_wraps_at_a_word_and_the_amount_ends_its_last_row():
    rows = two_columns("号卡套餐 Starter pack", "￥125.00", 20)
    assert rows == ["号卡套餐 Starter", "pack" + " " * 8 + "￥125.00"]
    assert width(rows[-1]) == 20


def test_code128_data_uses_code_set_c_for_digit_runs():
    assert code128.escpos_data("S0000120000003455") == b"{BS{C\x00\x00\x0c\x00\x00\x00\x22\x37"
    assert code128.escpos_data("AB1") == b"{BAB1"
    assert code128.escpos_data("{x}") == b"{B{{x}"
    with pytest.raises(code128.Code128Error):
        code128.escpos_data("号")


def test_code128_symbol_reads_escpos_data_back():
    for text in ("S0000120000003455", "AB1", "{x}", "12345", "A1234B"):
        assert code128.symbol(code128.escpos_data(text)).text == text


def test_code128_bars_have_start_check_and_stop():
    bars = code128.symbol(b"{B1").modules
    # Start B, "1" (value 17), check (104 + 17) % 103 = 18, stop + final bar
    assert bars == "1101001000010011100110110011100101100011101011"
