"""Customer display encoders byte by byte, transliteration, sale screens, and the simulated
display's interpretation of both command sets."""

import pytest

from devices.display import (
    CD5220Commands,
    EpsonDisplayCommands,
    change_screen,
    commands_for,
    item_screen,
    total_screen,
    transliterate,
    welcome_screen,
)
from devices.simulators.display import DisplayScreen

# --- transliteration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("TOTAL 12.50", "TOTAL 12.50"),
        ("¥125.00", "Y125.00"),
        ("￥125.00", "Y125.00"),
        ("全球通88元套餐", "?88?"),
        ("ＳＩＭ卡１２", "SIM?12"),
        ("Café crème", "Cafe creme"),
        ("“VIP” – 2×", '"VIP" - 2x'),
        ("a\tb\nc", "a b c"),
    ],
)
def test_transliteration_leaves_only_printable_ascii(text: str, shown: str) -> None:
    result = transliterate(text)
    assert result == shown
    assert all(" " <= ch <= "~" for ch in result)


def test_fallback_and_currency_are_configurable() -> None:
    assert transliterate("号卡 ¥5.00", fallback="*", currency="RMB") == "* RMB5.00"


# --- Epson ESC/POS display commands ---------------------------------------------------------


def test_epson_command_bytes() -> None:
    epson = EpsonDisplayCommands()
    assert epson.initialize() == b"\x1b@\x1f\x01"
    assert epson.clear() == b"\x0c"
    assert epson.home() == b"\x0b"
    assert epson.move(1, 1) == b"\x1f$\x01\x01"
    assert epson.move(20, 2) == b"\x1f$\x14\x02"
    assert epson.brightness(1) == b"\x1fX\x01"
    assert epson.write_line(2, "TOTAL ¥9.90") == b"\x1f$\x01\x02TOTAL Y9.90" + b" " * 9


def test_epson_screen_rewrites_both_rows_and_blanks_a_missing_one() -> None:
    assert EpsonDisplayCommands().screen(["HELLO"]) == (
        b"\x1f$\x01\x01HELLO" + b" " * 15 + b"\x1f$\x01\x02" + b" " * 20
    )


# --- CD5220 ---------------------------------------------------------------------------------


def test_cd5220_command_bytes() -> None:
    cd = CD5220Commands()
    assert cd.initialize() == b"\x1b@\x1b\x11"
    assert cd.clear() == b"\x0c"
    assert cd.home() == b"\x1b[H"
    assert cd.move(5, 2) == b"\x1bl\x05\x02"
    assert cd.brightness(4) == b"\x1b*\x04"
    assert cd.write_line(1, "PAID") == b"\x1bQAPAID" + b" " * 16 + b"\r"
    assert cd.write_line(2, "x" * 25) == b"\x1bQB" + b"x" * 20 + b"\r"


@pytest.mark.parametrize("commands", [EpsonDisplayCommands(), CD5220Commands()])
def test_out_of_range_cursor_brightness_and_rows_are_refused(commands: object) -> None:
    with pytest.raises(ValueError, match="outside the 20x2 display"):
        commands.move(21, 1)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="outside"):
        commands.move(1, 3)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="brightness must be 1 to 4"):
        commands.brightness(5)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="2 rows, got 3 lines"):
        commands.screen(["a", "b", "c"])  # type: ignore[attr-defined]


def test_unknown_command_set_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown display command set 'vfd'"):
        commands_for("vfd")  # type: ignore[arg-type]


# --- the simulated display interprets both sets ---------------------------------------------


@pytest.mark.parametrize("command_set", ["epson", "cd5220"])
def test_encoded_screens_show_exactly_the_intended_lines(command_set: str) -> None:
    commands = commands_for(command_set)  # type: ignore[arg-type]
    screen = DisplayScreen(command_set)  # type: ignore[arg-type]
    lines = item_screen("全球通 SIM", 12500, 37550)
    screen.feed(commands.initialize() + commands.clear() + commands.brightness(2))
    screen.feed(commands.screen(lines))
    assert screen.lines == ["? SIM        Y125.00", "TOTAL        Y375.50"]
    assert screen.brightness == 2
    assert screen.unknown == []


@pytest.mark.parametrize(("encoder", "reader"), [("epson", "cd5220"), ("cd5220", "epson")])
def test_a_display_of_the_other_set_does_not_understand_the_bytes(
    encoder: str, reader: str
) -> None:
    screen = DisplayScreen(reader)  # type: ignore[arg-type]
    screen.feed(commands_for(encoder).screen(["TOTAL", "Y1.00"]))  # type: ignore[arg-type]
    assert screen.unknown
    assert screen.lines != [f"{'TOTAL':20}", f"{'Y1.00':20}"]


def test_display_interprets_cursor_moves_wrapping_and_line_clear() -> None:
    screen = DisplayScreen()
    screen.feed(b"\x1f$\x13\x01ABC")  # column 19 of row 1: wraps to row 2
    assert screen.lines == [" " * 18 + "AB", "C" + " " * 19]
    screen.feed(b"\x18")  # CAN clears the cursor's line
    assert screen.lines == [" " * 18 + "AB", " " * 20]
    screen.feed(b"\x1bl\x01\x01XY\x0dZ")
    assert screen.lines[0] == "ZY" + " " * 16 + "AB"
    screen.feed(b"\x0c")
    assert screen.lines == [" " * 20, " " * 20] and screen.cursor == (0, 0)


def test_commands_split_across_reads_are_joined() -> None:
    screen = DisplayScreen("cd5220")
    data = CD5220Commands().screen(["SPLIT", "READS"])
    for i in range(0, len(data), 3):
        screen.feed(data[i : i + 3])
    assert [line.rstrip() for line in screen.lines] == ["SPLIT", "READS"]


def test_out_of_range_moves_are_recorded_not_obeyed() -> None:
    screen = DisplayScreen()
    screen.feed(b"\x1f$\x15\x01\x1f$\x01\x03")
    assert screen.cursor == (0, 0)
    assert screen.unknown == [b"\x1f$\x15\x01", b"\x1f$\x01\x03"]


def test_render_frames_the_screen() -> None:
    screen = DisplayScreen()
    screen.feed(EpsonDisplayCommands().screen(change_screen(50000, 4450)))
    assert screen.render() == (
        "+--------------------+\n"
        "|PAID         Y500.00|\n"
        "|CHANGE        Y44.50|\n"
        "+--------------------+"
    )


# --- sale screens ---------------------------------------------------------------------------


def test_item_screen_cuts_a_long_name_before_the_price() -> None:
    assert item_screen("Prepaid top-up card 100 yuan", 9800, 19600) == [
        "Prepaid top-u Y98.00",
        "TOTAL        Y196.00",
    ]
    assert all(len(line) == 20 for line in item_screen("x", 1, 1))


def test_item_screen_shows_quantity_and_a_configured_currency() -> None:
    assert item_screen("Card 50", 4900, 9800, quantity=2, currency="RMB") == [
        "Card 50   2xRMB49.00",
        "TOTAL       RMB98.00",
    ]


def test_total_and_change_screens() -> None:
    assert total_screen(123456, items=3) == ["TOTAL       Y1234.56", "ITEMS              3"]
    assert total_screen(0) == ["TOTAL          Y0.00", " " * 20]
    assert change_screen(10000, 0) == ["PAID         Y100.00", "CHANGE         Y0.00"]


def test_welcome_screen_is_centred_ascii() -> None:
    assert welcome_screen("欢迎 WELCOME", "HaoKa") == [
        "     ? WELCOME      ",
        "       HaoKa        ",
    ]


def test_amounts_must_be_integer_fen() -> None:
    with pytest.raises(TypeError, match="must be an int"):
        total_screen(12.5)  # type: ignore[arg-type]
