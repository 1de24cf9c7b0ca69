"""The pure scan decoders: evdev key events and serial bytes to codes, double scans, and the
classification of every code into a ScanEvent."""

import re

import pytest
from evdev import ecodes

from devices.scanner import (
    DoubleScanFilter,
    KeyDecoder,
    ScanProcessor,
    SerialDecoder,
    classify_scan,
    decode_key_events,
    decode_serial,
)
from shared.codes import CodeKind

DOWN, UP, HOLD = 1, 0, 2

# A keyboard-wedge scan in the format `evtest` prints, as a US-layout USB scanner types the
# receipt number S0000120000003455: MSC_SCAN before each key, SYN_REPORT after, shift held for
# the S, the main Enter key at the end.
EVTEST_RECEIPT = """
Event: time 1763870000.100000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 700e1
Event: time 1763870000.100000, type 1 (EV_KEY), code 42 (KEY_LEFTSHIFT), value 1
Event: time 1763870000.100000, -------------- SYN_REPORT ------------
Event: time 1763870000.102000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70016
Event: time 1763870000.102000, type 1 (EV_KEY), code 31 (KEY_S), value 1
Event: time 1763870000.102000, -------------- SYN_REPORT ------------
Event: time 1763870000.104000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70016
Event: time 1763870000.104000, type 1 (EV_KEY), code 31 (KEY_S), value 0
Event: time 1763870000.104000, -------------- SYN_REPORT ------------
Event: time 1763870000.106000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 700e1
Event: time 1763870000.106000, type 1 (EV_KEY), code 42 (KEY_LEFTSHIFT), value 0
Event: time 1763870000.106000, -------------- SYN_REPORT ------------
Event: time 1763870000.108000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.108000, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.108000, -------------- SYN_REPORT ------------
Event: time 1763870000.110000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.110000, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.110000, -------------- SYN_REPORT ------------
Event: time 1763870000.112000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.112000, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.112000, -------------- SYN_REPORT ------------
Event: time 1763870000.114001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.114001, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.114001, -------------- SYN_REPORT ------------
Event: time 1763870000.116001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.116001, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.116001, -------------- SYN_REPORT ------------
Event: time 1763870000.118001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.118001, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.118001, -------------- SYN_REPORT ------------
Event: time 1763870000.120001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.120001, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.120001, -------------- SYN_REPORT ------------
Event: time 1763870000.122001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.122001, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.122001, -------------- SYN_REPORT ------------
Event: time 1763870000.124001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7001e
Event: time 1763870000.124001, type 1 (EV_KEY), code 2 (KEY_1), value 1
Event: time 1763870000.124001, -------------- SYN_REPORT ------------
Event: time 1763870000.126001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7001e
Event: time 1763870000.126001, type 1 (EV_KEY), code 2 (KEY_1), value 0
Event: time 1763870000.126001, -------------- SYN_REPORT ------------
Event: time 1763870000.128001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7001f
Event: time 1763870000.128001, type 1 (EV_KEY), code 3 (KEY_2), value 1
Event: time 1763870000.128001, -------------- SYN_REPORT ------------
Event: time 1763870000.130001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7001f
Event: time 1763870000.130001, type 1 (EV_KEY), code 3 (KEY_2), value 0
Event: time 1763870000.130001, -------------- SYN_REPORT ------------
Event: time 1763870000.132001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.132001, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.132001, -------------- SYN_REPORT ------------
Event: time 1763870000.134001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.134001, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.134001, -------------- SYN_REPORT ------------
Event: time 1763870000.136002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.136002, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.136002, -------------- SYN_REPORT ------------
Event: time 1763870000.138002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.138002, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.138002, -------------- SYN_REPORT ------------
Event: time 1763870000.140002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.140002, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.140002, -------------- SYN_REPORT ------------
Event: time 1763870000.142002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.142002, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.142002, -------------- SYN_REPORT ------------
Event: time 1763870000.144002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.144002, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.144002, -------------- SYN_REPORT ------------
Event: time 1763870000.146002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.146002, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.146002, -------------- SYN_REPORT ------------
Event: time 1763870000.148002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.148002, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.148002, -------------- SYN_REPORT ------------
Event: time 1763870000.150002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.150002, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.150002, -------------- SYN_REPORT ------------
Event: time 1763870000.152002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.152002, type 1 (EV_KEY), code 11 (KEY_0), value 1
Event: time 1763870000.152002, -------------- SYN_REPORT ------------
Event: time 1763870000.154002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70027
Event: time 1763870000.154002, type 1 (EV_KEY), code 11 (KEY_0), value 0
Event: time 1763870000.154002, -------------- SYN_REPORT ------------
Event: time 1763870000.156003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70020
Event: time 1763870000.156003, type 1 (EV_KEY), code 4 (KEY_3), value 1
Event: time 1763870000.156003, -------------- SYN_REPORT ------------
Event: time 1763870000.158003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70020
Event: time 1763870000.158003, type 1 (EV_KEY), code 4 (KEY_3), value 0
Event: time 1763870000.158003, -------------- SYN_REPORT ------------
Event: time 1763870000.160003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70021
Event: time 1763870000.160003, type 1 (EV_KEY), code 5 (KEY_4), value 1
Event: time 1763870000.160003, -------------- SYN_REPORT ------------
Event: time 1763870000.162003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70021
Event: time 1763870000.162003, type 1 (EV_KEY), code 5 (KEY_4), value 0
Event: time 1763870000.162003, -------------- SYN_REPORT ------------
Event: time 1763870000.164003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70022
Event: time 1763870000.164003, type 1 (EV_KEY), code 6 (KEY_5), value 1
Event: time 1763870000.164003, -------------- SYN_REPORT ------------
Event: time 1763870000.166003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70022
Event: time 1763870000.166003, type 1 (EV_KEY), code 6 (KEY_5), value 0
Event: time 1763870000.166003, -------------- SYN_REPORT ------------
Event: time 1763870000.168003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70022
Event: time 1763870000.168003, type 1 (EV_KEY), code 6 (KEY_5), value 1
Event: time 1763870000.168003, -------------- SYN_REPORT ------------
Event: time 1763870000.170003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70022
Event: time 1763870000.170003, type 1 (EV_KEY), code 6 (KEY_5), value 0
Event: time 1763870000.170003, -------------- SYN_REPORT ------------
Event: time 1763870000.172003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70028
Event: time 1763870000.172003, type 1 (EV_KEY), code 28 (KEY_ENTER), value 1
Event: time 1763870000.172003, -------------- SYN_REPORT ------------
Event: time 1763870000.174003, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70028
Event: time 1763870000.174003, type 1 (EV_KEY), code 28 (KEY_ENTER), value 0
Event: time 1763870000.174003, -------------- SYN_REPORT ------------
"""

# The same format for a scanner set to type on the numeric keypad (some are shipped so, to be
# independent of the keyboard layout): KP digits, then keypad Enter, MSISDN 13800138000.
EVTEST_KEYPAD = """
Event: time 1763870100.200000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70059
Event: time 1763870100.200000, type 1 (EV_KEY), code 79 (KEY_KP1), value 1
Event: time 1763870100.200000, -------------- SYN_REPORT ------------
Event: time 1763870100.202000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70059
Event: time 1763870100.202000, type 1 (EV_KEY), code 79 (KEY_KP1), value 0
Event: time 1763870100.202000, -------------- SYN_REPORT ------------
Event: time 1763870100.204000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7005b
Event: time 1763870100.204000, type 1 (EV_KEY), code 81 (KEY_KP3), value 1
Event: time 1763870100.204000, -------------- SYN_REPORT ------------
Event: time 1763870100.206000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7005b
Event: time 1763870100.206000, type 1 (EV_KEY), code 81 (KEY_KP3), value 0
Event: time 1763870100.206000, -------------- SYN_REPORT ------------
Event: time 1763870100.208000, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70060
Event: time 1763870100.208000, type 1 (EV_KEY), code 72 (KEY_KP8), value 1
Event: time 1763870100.208000, -------------- SYN_REPORT ------------
Event: time 1763870100.210001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70060
Event: time 1763870100.210001, type 1 (EV_KEY), code 72 (KEY_KP8), value 0
Event: time 1763870100.210001, -------------- SYN_REPORT ------------
Event: time 1763870100.212001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.212001, type 1 (EV_KEY), code 82 (KEY_KP0), value 1
Event: time 1763870100.212001, -------------- SYN_REPORT ------------
Event: time 1763870100.214001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.214001, type 1 (EV_KEY), code 82 (KEY_KP0), value 0
Event: time 1763870100.214001, -------------- SYN_REPORT ------------
Event: time 1763870100.216001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.216001, type 1 (EV_KEY), code 82 (KEY_KP0), value 1
Event: time 1763870100.216001, -------------- SYN_REPORT ------------
Event: time 1763870100.218001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.218001, type 1 (EV_KEY), code 82 (KEY_KP0), value 0
Event: time 1763870100.218001, -------------- SYN_REPORT ------------
Event: time 1763870100.220001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70059
Event: time 1763870100.220001, type 1 (EV_KEY), code 79 (KEY_KP1), value 1
Event: time 1763870100.220001, -------------- SYN_REPORT ------------
Event: time 1763870100.222001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70059
Event: time 1763870100.222001, type 1 (EV_KEY), code 79 (KEY_KP1), value 0
Event: time 1763870100.222001, -------------- SYN_REPORT ------------
Event: time 1763870100.224001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7005b
Event: time 1763870100.224001, type 1 (EV_KEY), code 81 (KEY_KP3), value 1
Event: time 1763870100.224001, -------------- SYN_REPORT ------------
Event: time 1763870100.226001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7005b
Event: time 1763870100.226001, type 1 (EV_KEY), code 81 (KEY_KP3), value 0
Event: time 1763870100.226001, -------------- SYN_REPORT ------------
Event: time 1763870100.228001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70060
Event: time 1763870100.228001, type 1 (EV_KEY), code 72 (KEY_KP8), value 1
Event: time 1763870100.228001, -------------- SYN_REPORT ------------
Event: time 1763870100.230001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70060
Event: time 1763870100.230001, type 1 (EV_KEY), code 72 (KEY_KP8), value 0
Event: time 1763870100.230001, -------------- SYN_REPORT ------------
Event: time 1763870100.232002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.232002, type 1 (EV_KEY), code 82 (KEY_KP0), value 1
Event: time 1763870100.232002, -------------- SYN_REPORT ------------
Event: time 1763870100.234002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.234002, type 1 (EV_KEY), code 82 (KEY_KP0), value 0
Event: time 1763870100.234002, -------------- SYN_REPORT ------------
Event: time 1763870100.236002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.236002, type 1 (EV_KEY), code 82 (KEY_KP0), value 1
Event: time 1763870100.236002, -------------- SYN_REPORT ------------
Event: time 1763870100.238002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.238002, type 1 (EV_KEY), code 82 (KEY_KP0), value 0
Event: time 1763870100.238002, -------------- SYN_REPORT ------------
Event: time 1763870100.240002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.240002, type 1 (EV_KEY), code 82 (KEY_KP0), value 1
Event: time 1763870100.240002, -------------- SYN_REPORT ------------
Event: time 1763870100.242002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70062
Event: time 1763870100.242002, type 1 (EV_KEY), code 82 (KEY_KP0), value 0
Event: time 1763870100.242002, -------------- SYN_REPORT ------------
Event: time 1763870100.244002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70058
Event: time 1763870100.244002, type 1 (EV_KEY), code 96 (KEY_KPENTER), value 1
Event: time 1763870100.244002, -------------- SYN_REPORT ------------
Event: time 1763870100.246002, type 4 (EV_MSC), code 4 (MSC_SCAN), value 70058
Event: time 1763870100.246002, type 1 (EV_KEY), code 96 (KEY_KPENTER), value 0
Event: time 1763870100.246002, -------------- SYN_REPORT ------------
"""

_EVTEST_LINE = re.compile(r"type (\d+) \(\w+\), code (\d+) \((\w+)\), value (\w+)")


def evtest_key_events(text: str) -> list[tuple[int, int]]:
    """The EV_KEY (code, value) pairs of an evtest recording; other event types are skipped."""
    events = []
    for match in _EVTEST_LINE.finditer(text):
        if int(match[1]) == ecodes.EV_KEY:
            events.append((int(match[2]), int(match[4])))
    return events


def press(*keys: int) -> list[tuple[int, int]]:
    return [event for key in keys for event in ((key, DOWN), (key, UP))]


def shifted(key: int) -> list[tuple[int, int]]:
    return [(ecodes.KEY_RIGHTSHIFT, DOWN), (key, DOWN), (key, UP), (ecodes.KEY_RIGHTSHIFT, UP)]


def digits(text: str) -> list[tuple[int, int]]:
    return press(*(getattr(ecodes, f"KEY_{d}") for d in text))


# --- evdev key events -----------------------------------------------------------------------


def test_recorded_evtest_stream_decodes_to_the_receipt_number() -> None:
    assert decode_key_events(evtest_key_events(EVTEST_RECEIPT)) == ["S0000120000003455"]


def test_recorded_keypad_stream_decodes_to_the_number() -> None:
    assert decode_key_events(evtest_key_events(EVTEST_KEYPAD)) == ["13800138000"]


def test_keypad_enter_ends_a_code_and_keypad_digits_type_digits() -> None:
    keypad = press(*(getattr(ecodes, f"KEY_KP{d}") for d in "13800138000"))
    assert decode_key_events([*keypad, (ecodes.KEY_KPENTER, DOWN)]) == ["13800138000"]


def test_shift_gives_upper_case_and_shifted_symbols_only_while_held() -> None:
    events = [
        *shifted(ecodes.KEY_D),
        *press(ecodes.KEY_N),
        *shifted(ecodes.KEY_1),
        *press(ecodes.KEY_1, ecodes.KEY_MINUS),
        *shifted(ecodes.KEY_MINUS),
        *press(ecodes.KEY_ENTER),
    ]
    assert decode_key_events(events) == ["Dn!1-_"]


def test_both_shift_keys_must_be_released_before_shift_ends() -> None:
    events = [
        (ecodes.KEY_LEFTSHIFT, DOWN),
        (ecodes.KEY_RIGHTSHIFT, DOWN),
        (ecodes.KEY_LEFTSHIFT, UP),
        *press(ecodes.KEY_A),
        (ecodes.KEY_RIGHTSHIFT, UP),
        *press(ecodes.KEY_A, ecodes.KEY_ENTER),
    ]
    assert decode_key_events(events) == ["Aa"]


def test_caps_lock_flips_letters_but_not_digits() -> None:
    events = [*press(ecodes.KEY_CAPSLOCK, ecodes.KEY_S, ecodes.KEY_1), *shifted(ecodes.KEY_S)]
    assert decode_key_events([*events, (ecodes.KEY_ENTER, DOWN)]) == ["S1s"]


def test_autorepeat_and_key_up_events_type_nothing() -> None:
    events = [(ecodes.KEY_8, DOWN), (ecodes.KEY_8, HOLD), (ecodes.KEY_8, HOLD), (ecodes.KEY_8, UP)]
    assert decode_key_events([*events, (ecodes.KEY_ENTER, DOWN)]) == ["8"]


def test_several_codes_in_one_stream_and_no_code_without_enter() -> None:
    stream = [*digits("123"), *press(ecodes.KEY_ENTER), *digits("456"), *press(ecodes.KEY_KPENTER)]
    assert decode_key_events([*stream, *digits("789")]) == ["123", "456"]


def test_an_unknown_key_leaves_a_visible_mark_and_modifiers_leave_none() -> None:
    events = [
        *digits("1"),
        *press(ecodes.KEY_LEFTCTRL, ecodes.KEY_NUMLOCK),
        *press(ecodes.KEY_F5),
        *digits("2"),
        *press(ecodes.KEY_ENTER),
    ]
    [code] = decode_key_events(events)
    assert code == "1\ufffd2"
    event = classify_scan(code, "evdev:test")
    assert not event.ok and event.error is not None


def test_reset_forgets_a_half_typed_code_and_a_held_shift() -> None:
    decoder = KeyDecoder()
    for key, value in [(ecodes.KEY_LEFTSHIFT, DOWN), *press(ecodes.KEY_9)]:
        decoder.feed(key, value)
    decoder.reset()
    for key, value in press(ecodes.KEY_A):
        assert decoder.feed(key, value) is None
    assert decoder.feed(ecodes.KEY_ENTER, DOWN) == "a"


# --- serial bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        ("CR", b"13800138000\r89860012345678901238\r"),
        ("LF", b"13800138000\n89860012345678901238\n"),
        ("CRLF", b"13800138000\r\n89860012345678901238\r\n"),
    ],
)
def test_serial_codes_split_at_the_configured_suffix(suffix: str, data: bytes) -> None:
    assert decode_serial(data, suffix) == ["13800138000", "89860012345678901238"]  # type: ignore[arg-type]


def test_serial_code_split_across_reads_is_joined() -> None:
    decoder = SerialDecoder("CRLF")
    assert decoder.feed(b"1380013") == []
    assert decoder.feed(b"8000\r") == []
    assert decoder.feed(b"\n1") == ["13800138000"]
    assert decoder.feed(b"39\r\n") == ["139"]


def test_crlf_scanner_read_as_cr_does_not_glue_lf_to_the_next_code() -> None:
    assert decode_serial(b"13800138000\r\n13900139000\r\n", "CR") == [
        "13800138000",
        "13900139000",
    ]


def test_missing_suffix_cannot_grow_the_buffer_forever() -> None:
    decoder = SerialDecoder("CR", max_length=32)
    [overflow] = decoder.feed(b"1" * 40)
    assert overflow == "1" * 40
    assert decoder.feed(b"139\r") == ["139"]


def test_non_ascii_serial_bytes_become_replacement_characters() -> None:
    [code] = decode_serial(b"138\xff\r")
    assert code == "138\ufffd"


def test_unknown_suffix_is_refused() -> None:
    with pytest.raises(ValueError, match="suffix must be one of CR, LF, CRLF"):
        SerialDecoder("TAB")  # type: ignore[arg-type]


# --- double scans and classification -------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_double_scan_within_window_is_dropped_and_after_it_is_kept() -> None:
    clock = Clock()
    keep = DoubleScanFilter(window=1.5, clock=clock)
    assert keep.accept("13800138000")
    clock.now += 1.4
    assert not keep.accept("13800138000")
    clock.now += 1.6
    assert keep.accept("13800138000")


def test_window_runs_from_the_last_read_so_a_held_trigger_yields_one_code() -> None:
    clock = Clock()
    keep = DoubleScanFilter(window=1.0, clock=clock)
    results = []
    for _ in range(6):
        results.append(keep.accept("13800138000"))
        clock.now += 0.4
    assert results == [True, False, False, False, False, False]


def test_a_different_code_is_never_a_double_scan() -> None:
    keep = DoubleScanFilter(window=10.0, clock=Clock())
    assert [keep.accept(c) for c in ("13800138000", "13900139000", "13800138000")] == [
        True,
        True,
        True,
    ]


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("13800138000", CodeKind.msisdn, "13800138000"),
        ("89860012345678901238", CodeKind.iccid, "89860012345678901238"),
        ("12345678901234567", CodeKind.voucher_serial, "12345678901234567"),
        ("DN202611220000012", CodeKind.document, "DN202611220000012"),
        ("s0000120000003455", CodeKind.receipt, "S0000120000003455"),
    ],
)
def test_every_code_kind_is_classified(raw: str, kind: CodeKind, value: str) -> None:
    event = classify_scan(raw, "serial:/dev/ttyACM0")
    assert event.ok and event.code is not None
    assert (event.code.kind, event.code.value) == (kind, value)
    assert event.source == "serial:/dev/ttyACM0" and event.raw == raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12000000000", "prefix 120"),
        ("89860012345678901239", "check digit should be 8"),
        ("S0000120000003456", "check digit"),
        ("hello", "not a number, SIM, top-up card, document or receipt code"),
        ("", "not a number"),
    ],
)
def test_invalid_codes_give_an_error_event_naming_code_and_reason(raw: str, reason: str) -> None:
    event = classify_scan(raw, "evdev:scanner")
    assert not event.ok and event.code is None and event.error is not None
    assert reason in event.error.reason
    assert event.error.value == raw


def test_processor_drops_doubles_before_classifying_and_passes_errors_through() -> None:
    clock = Clock()
    processor = ScanProcessor("test", DoubleScanFilter(1.0, clock))
    first = processor.process("13800138000")
    assert first is not None and first.ok
    assert processor.process("13800138000") is None
    bad = processor.process("999")
    assert bad is not None and not bad.ok
