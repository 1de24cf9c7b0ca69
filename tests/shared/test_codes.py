"""Tests of the code validators: numbers, SIMs, top-up cards, documents, receipts, IDs."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.codes import (
    MOBILE_PREFIXES,
    CodeError,
    CodeKind,
    DocumentKind,
    DocumentNumber,
    ReceiptNumber,
    ResidentId,
    ScannedCode,
    classify_code,
    format_document_number,
    format_receipt_number,
    luhn_check_digit,
    luhn_valid,
    mask_resident_id,
    parse_document_number,
    parse_iccid,
    parse_imsi,
    parse_msisdn,
    parse_receipt_number,
    parse_resident_id,
    parse_voucher_pin,
    parse_voucher_serial,
    resident_id_check_char,
)


def _raises(func, text: str, kind: str, reason: str) -> CodeError:  # type: ignore[no-untyped-def]
    """Calls func(text), expecting a CodeError of kind whose reason contains reason."""
    with pytest.raises(CodeError) as caught:
        func(text)
    error = caught.value
    assert error.kind == kind
    assert reason in error.reason, error.reason
    assert str(error) == f"{kind} {error.value!r}: {error.reason}"
    assert isinstance(error, ValueError)
    return error


def _with_luhn(body: str) -> str:
    return f"{body}{luhn_check_digit(body)}"


def _wrong_last_digit(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


# --- MSISDN ---------------------------------------------------------------------------------


def test_mobile_prefixes_are_exactly_the_listed_ranges() -> None:
    expected = (
        set(range(130, 140))
        | set(range(145, 150))
        | {150, 151, 152, 153, 155, 156, 157, 158, 159}
        | {162, 165, 166, 167}
        | set(range(170, 179))
        | set(range(180, 190))
        | (set(range(190, 200)) - {194})
    )
    assert {str(p) for p in expected} == MOBILE_PREFIXES
    assert {"154", "179", "194", "140", "144", "160", "168", "120", "100"}.isdisjoint(
        MOBILE_PREFIXES
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "13800138000"),
        (" 13800138000\n", "13800138000"),
        ("14500000000", "14500000000"),
        ("16212345678", "16212345678"),
        ("17812345678", "17812345678"),
        ("19912345678", "19912345678"),
        ("19512345678", "19512345678"),
    ],
)
def test_parse_msisdn_accepts(text: str, expected: str) -> None:
    assert parse_msisdn(text) == expected


def test_parse_msisdn_error_message() -> None:
    error = _raises(parse_msisdn, "1380013800", "MSISDN", "must be 11 digits, got 10")
    assert str(error) == "MSISDN '1380013800': must be 11 digits, got 10"
    assert error.value == "1380013800"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "must contain only digits"),
        ("138001380001", "must be 11 digits, got 12"),
        ("1380013800a", "must contain only digits"),
        ("138-0013-8000", "must contain only digits"),
        ("+8613800138000", "must contain only digits"),
        ("１３８００１３８０００", "must contain only digits"),
        ("12012345678", "prefix 120 is not a Chinese mobile prefix"),
        ("19412345678", "prefix 194 is not a Chinese mobile prefix"),
        ("15412345678", "prefix 154"),
        ("03800138000", "prefix 038"),
    ],
)
def test_parse_msisdn_rejects(text: str, reason: str) -> None:
    _raises(parse_msisdn, text, "MSISDN", reason)


def test_parsers_reject_non_str() -> None:
    with pytest.raises(TypeError):
        parse_msisdn(13800138000)  # type: ignore[arg-type]


# --- Luhn -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "check"),
    # 89860057102600000: the doubled-from-the-right digits sum to 49, so the check is 1.
    [("7992739871", 3), ("411111111111111", 1), ("0", 0), ("1", 8), ("89860057102600000", 1)],
)
def test_luhn_check_digit_known_values(digits: str, check: int) -> None:
    assert luhn_check_digit(digits) == check
    assert luhn_valid(f"{digits}{check}")


@pytest.mark.parametrize("digits", ["", "12a4", "１２"])
def test_luhn_check_digit_needs_digits(digits: str) -> None:
    with pytest.raises(ValueError, match="Luhn needs"):
        luhn_check_digit(digits)


@pytest.mark.parametrize("digits", ["", "5", "79927398710", "7992739871x", "4111111111111112"])
def test_luhn_valid_rejects(digits: str) -> None:
    assert not luhn_valid(digits)


@given(st.text("0123456789", min_size=1, max_size=30), st.data())
def test_luhn_catches_every_single_digit_error(body: str, data: st.DataObject) -> None:
    code = _with_luhn(body)
    assert luhn_valid(code)
    position = data.draw(st.integers(0, len(code) - 1))
    other = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    assert not luhn_valid(code[:position] + other + code[position + 1 :])


# --- ICCID, IMSI, vouchers ------------------------------------------------------------------

_ICCID_20 = _with_luhn("8986005710260000001")
_ICCID_19 = _with_luhn("898600571026000001")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_ICCID_20, _ICCID_20),
        (_ICCID_19, _ICCID_19),
        (f"  {_ICCID_20} ", _ICCID_20),
        ("898600A0123456789ABC", "898600A0123456789ABC"),
        ("898600a0123456789abc", "898600A0123456789ABC"),
        ("898600F012345678901", "898600F012345678901"),
    ],
)
def test_parse_iccid_accepts(text: str, expected: str) -> None:
    assert parse_iccid(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_ICCID_20[:-2], "must be 19 or 20 characters, got 18"),
        (_ICCID_20 + "1", "must be 19 or 20 characters, got 21"),
        ("", "must be 19 or 20 characters, got 0"),
        ("8986005710260000G01", "must contain only digits and the letters A-F"),
        ("89860057102600 0001", "must contain only digits and the letters A-F"),
        ("1986005710260000001", "must start with 89 (telecom), got 19"),
    ],
)
def test_parse_iccid_rejects(text: str, reason: str) -> None:
    _raises(parse_iccid, text, "ICCID", reason)


def test_parse_iccid_names_the_expected_check_digit() -> None:
    bad = _wrong_last_digit(_ICCID_20)
    _raises(
        parse_iccid,
        bad,
        "ICCID",
        f"check digit should be {_ICCID_20[-1]}, got {bad[-1]}",
    )


def test_parse_imsi() -> None:
    assert parse_imsi(" 460005710000001 ") == "460005710000001"
    _raises(parse_imsi, "46000571000000", "IMSI", "must be 15 digits, got 14")
    _raises(parse_imsi, "4600057100000011", "IMSI", "must be 15 digits, got 16")
    _raises(parse_imsi, "46000571000000X", "IMSI", "must contain only digits")


def test_parse_voucher_serial() -> None:
    assert parse_voucher_serial("12345678901234567") == "12345678901234567"
    assert parse_voucher_serial("\t00000000000000001 ") == "00000000000000001"
    _raises(parse_voucher_serial, "1234567890123456", "voucher serial", "must be 17 digits, got 16")
    _raises(
        parse_voucher_serial, "123456789012345678", "voucher serial", "must be 17 digits, got 18"
    )
    _raises(parse_voucher_serial, "1234567890123456A", "voucher serial", "must contain only digits")


@pytest.mark.parametrize("pin", ["1" * 16, "0123456789012345678", " 12345678901234567 "])
def test_parse_voucher_pin_accepts(pin: str) -> None:
    assert parse_voucher_pin(pin) == pin.strip()


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        ("1" * 15, "must be 16 to 19 digits, got 15"),
        ("1" * 20, "must be 16 to 19 digits, got 20"),
        ("1234-5678-9012-3456", "must contain only digits"),
    ],
)
def test_parse_voucher_pin_rejects_without_revealing_it(pin: str, reason: str) -> None:
    error = _raises(parse_voucher_pin, pin, "voucher PIN", reason)
    assert error.value == "*" * len(pin)
    assert pin not in str(error)


# --- document numbers -----------------------------------------------------------------------


def test_document_number_format() -> None:
    # Luhn over "20261122000001": doubled from the right, the digits sum to 18 -> check 2.
    assert format_document_number(DocumentKind.RL, date(2026, 11, 22), 1) == "RL202611220000012"
    number = DocumentNumber(DocumentKind.DN, date(2025, 1, 5), 123)
    assert str(number) == f"DN{_with_luhn('20250105000123')}"
    assert len(str(number)) == 17
    assert format_document_number(DocumentKind.SO, date(999, 1, 1), 0).startswith("SO09990101")


def test_document_kinds() -> None:
    assert [k.value for k in DocumentKind] == ["RL", "DN", "RC", "RT", "TR", "SC", "SO"]


def test_parse_document_number() -> None:
    parsed = parse_document_number(" rl202611220000012 ")
    assert parsed == DocumentNumber(DocumentKind.RL, date(2026, 11, 22), 1)
    assert parsed.kind is DocumentKind.RL
    assert str(parsed) == "RL202611220000012"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("RL20261122000001", "must be 17 characters, got 16"),
        ("RL2026112200000120", "must be 17 characters, got 18"),
        ("R1202611220000012", "must be 2 letters followed by 15 digits"),
        ("RL20261122000001X", "must be 2 letters followed by 15 digits"),
        (
            f"XX{_with_luhn('20261122000001')}",
            "unknown document kind XX (known: RL, DN, RC, RT, TR, SC, SO)",
        ),
        ("RL202611220000013", "check digit should be 2, got 3"),
        (f"RL{_with_luhn('20261332000001')}", "20261332 is not a real date"),
        (f"TR{_with_luhn('20250229000001')}", "20250229 is not a real date"),
        (f"SC{_with_luhn('00000101000001')}", "00000101 is not a real date"),
    ],
)
def test_parse_document_number_rejects(text: str, reason: str) -> None:
    _raises(parse_document_number, text, "document number", reason)


def test_document_number_checks_its_fields() -> None:
    assert DocumentNumber("TR", date(2026, 1, 1), 5).kind is DocumentKind.TR  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DocumentNumber("ZZ", date(2026, 1, 1), 5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"outside 0\.\.999999"):
        DocumentNumber(DocumentKind.TR, date(2026, 1, 1), 1_000_000)
    with pytest.raises(ValueError, match="outside"):
        format_document_number(DocumentKind.TR, date(2026, 1, 1), -1)
    with pytest.raises(TypeError):
        DocumentNumber(DocumentKind.TR, date(2026, 1, 1), True)
    with pytest.raises(TypeError, match="must be a date"):
        DocumentNumber(DocumentKind.TR, "2026-01-01", 1)  # type: ignore[arg-type]


@given(
    st.sampled_from(DocumentKind),
    st.dates(),
    st.integers(0, 999_999),
)
def test_document_number_round_trip(kind: DocumentKind, day: date, seq: int) -> None:
    text = format_document_number(kind, day, seq)
    assert len(text) == 17
    assert parse_document_number(text) == DocumentNumber(kind, day, seq)
    assert parse_document_number(text.lower()) == DocumentNumber(kind, day, seq)


@given(st.sampled_from(DocumentKind), st.dates(), st.integers(0, 999_999), st.data())
def test_document_number_catches_a_misread_digit(
    kind: DocumentKind, day: date, seq: int, data: st.DataObject
) -> None:
    text = format_document_number(kind, day, seq)
    position = data.draw(st.integers(2, 16))
    other = data.draw(st.sampled_from([d for d in "0123456789" if d != text[position]]))
    with pytest.raises(CodeError) as caught:
        parse_document_number(text[:position] + other + text[position + 1 :])
    assert caught.value.kind == "document number"


# --- receipt numbers ------------------------------------------------------------------------


def test_receipt_number_format_and_parse() -> None:
    assert format_receipt_number(12, 345) == "S0000120000003455"
    assert parse_receipt_number(" s0000120000003455") == ReceiptNumber(12, 345)
    # Every nine, doubled or not, adds 9: 15 * 9 = 135, so the check digit is 5.
    assert str(ReceiptNumber(999_999, 999_999_999)) == "S9999999999999995"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("S000012000000345", "must be 17 characters, got 16"),
        ("T0000120000003455", "must be S followed by 16 digits"),
        ("S00001200000034x5", "must be S followed by 16 digits"),
        ("S0000120000003454", "check digit should be 5, got 4"),
    ],
)
def test_parse_receipt_number_rejects(text: str, reason: str) -> None:
    _raises(parse_receipt_number, text, "receipt number", reason)


def test_receipt_number_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="terminal number 1000000 is outside"):
        ReceiptNumber(1_000_000, 1)
    with pytest.raises(ValueError, match="receipt sequence -1 is outside"):
        format_receipt_number(1, -1)
    with pytest.raises(TypeError, match="terminal number must be an int"):
        ReceiptNumber("1", 1)  # type: ignore[arg-type]


@given(st.integers(0, 999_999), st.integers(0, 999_999_999))
def test_receipt_number_round_trip(terminal_no: int, seq: int) -> None:
    text = format_receipt_number(terminal_no, seq)
    assert len(text) == 17
    assert parse_receipt_number(text) == ReceiptNumber(terminal_no, seq)


# --- resident ID ----------------------------------------------------------------------------


def _iso7064_mod11_2(first17: str) -> str:
    """The check character by ISO 7064 MOD 11-2 (which GB 11643 cites), computed Horner-style
    rather than with the weight table the code under test uses."""
    p = 0
    for digit in first17:
        p = (p + int(digit)) * 2 % 11
    r = (12 - p) % 11
    return "X" if r == 10 else str(r)


@pytest.mark.parametrize(
    ("value", "birth_date", "sex"),
    [
        # The worked example of GB 11643-1999: Beijing Chaoyang, weighted sum 167, 167 mod 11 = 2.
        ("11010519491231002X", date(1949, 12, 31), "F"),
        # weighted sum 175, mod 11 = 10 -> "2"
        ("310101198512310012", date(1985, 12, 31), "M"),
        # weighted sum 244, mod 11 = 2 -> "X"
        ("51010819701015386X", date(1970, 10, 15), "F"),
        ("440304200002292511", date(2000, 2, 29), "M"),
        ("330602199003071238", date(1990, 3, 7), "M"),
    ],
)
def test_parse_resident_id_accepts_valid_numbers(value: str, birth_date: date, sex: str) -> None:
    assert _iso7064_mod11_2(value[:17]) == value[17]
    parsed = parse_resident_id(value)
    assert parsed == ResidentId(value, birth_date, sex)  # type: ignore[arg-type]
    assert parsed.masked == f"{value[:6]}********{value[14:]}"


def test_parse_resident_id_normalizes() -> None:
    assert parse_resident_id(" 11010519491231002x\n").value == "11010519491231002X"


def _valid_id(first17: str) -> str:
    return first17 + _iso7064_mod11_2(first17)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("11010519491231002", "must be 18 characters, got 17"),
        ("110105194912310", "must be 18 characters, got 15"),
        ("11010519491231002XX", "must be 18 characters, got 19"),
        ("1101051949123100X2", "must be 17 digits followed by a digit or X"),
        ("11010519491231002Y", "must be 17 digits followed by a digit or X"),
        ("110105194912310021", "check character should be X, got 1"),
        ("310101198512310015", "check character should be 2, got 5"),
        ("51010819701015 86X", "must be 17 digits followed by a digit or X"),
        (_valid_id("11010519990231002"), "birth date is not a real date"),
        (_valid_id("11010519491301002"), "birth date is not a real date"),
        # The second example of GB 11643-1999 is valid, but nobody alive was born in 1880.
        ("440524188001010014", "birth date is before 1900"),
        (_valid_id("11010518991231002"), "birth date is before 1900"),
        (_valid_id("11010599990101002"), "birth date is in the future"),
    ],
)
def test_parse_resident_id_rejects(text: str, reason: str) -> None:
    error = _raises(parse_resident_id, text, "resident ID", reason)
    # The message ends up in logs and error reports: the number in it is masked, and nothing
    # says what the mask hides (the birth date).
    value = text.strip().upper()
    assert error.value == (mask_resident_id(value) if len(value) == 18 else "*" * len(value))
    assert value[:14] not in str(error) and value[6:14] not in str(error)


def test_resident_id_birth_date_is_checked_against_today() -> None:
    value = _valid_id("11010520240501002")
    assert parse_resident_id(value, today=date(2024, 5, 1)).birth_date == date(2024, 5, 1)
    with pytest.raises(CodeError, match="birth date is in the future"):
        parse_resident_id(value, today=date(2024, 4, 30))


@given(st.text("0123456789", min_size=17, max_size=17))
def test_resident_id_check_char_agrees_with_iso_7064(first17: str) -> None:
    assert resident_id_check_char(first17) == _iso7064_mod11_2(first17)


def test_resident_id_check_char_needs_17_digits() -> None:
    with pytest.raises(ValueError, match="exactly 17 digits"):
        resident_id_check_char("1234")


def test_mask_resident_id() -> None:
    assert mask_resident_id("33060219900307123X") == "330602********123X"
    assert mask_resident_id("11010519491231002X") == "110105********002X"
    with pytest.raises(ValueError, match="18 characters, got 17"):
        mask_resident_id("33060219900307123")


# --- classification of scanned codes --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 13800138000 ", ScannedCode(CodeKind.msisdn, "13800138000")),
        ("12345678901234567", ScannedCode(CodeKind.voucher_serial, "12345678901234567")),
        (_ICCID_20, ScannedCode(CodeKind.iccid, _ICCID_20)),
        (_ICCID_19, ScannedCode(CodeKind.iccid, _ICCID_19)),
        ("898600a0123456789abc", ScannedCode(CodeKind.iccid, "898600A0123456789ABC")),
        ("RL202611220000012", ScannedCode(CodeKind.document, "RL202611220000012")),
        ("rl202611220000012", ScannedCode(CodeKind.document, "RL202611220000012")),
        ("S0000120000003455", ScannedCode(CodeKind.receipt, "S0000120000003455")),
    ],
)
def test_classify_code(text: str, expected: ScannedCode) -> None:
    assert classify_code(text) == expected


def test_classify_code_tells_stock_count_documents_from_receipts() -> None:
    stock_count = format_document_number(DocumentKind.SC, date(2026, 3, 1), 7)
    assert classify_code(stock_count).kind is CodeKind.document


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [
        ("12012345678", "MSISDN", "prefix 120"),
        (_wrong_last_digit(_ICCID_20), "ICCID", "check digit should be"),
        ("89ZZ0057102600000001", "ICCID", "only digits and the letters A-F"),
        ("RL202611220000013", "document number", "check digit should be 2, got 3"),
        (f"XX{_with_luhn('20261122000001')}", "document number", "unknown document kind XX"),
        ("S0000120000003454", "receipt number", "check digit should be 5, got 4"),
    ],
)
def test_classify_code_validates_what_it_recognizes(text: str, kind: str, reason: str) -> None:
    _raises(classify_code, text, kind, reason)


@pytest.mark.parametrize(
    "text",
    ["", "hello", "1380013800", "123456789012", "4111111111111111", "RL20261122000001", "S123"],
)
def test_classify_code_rejects_unknown_shapes(text: str) -> None:
    error = _raises(
        classify_code,
        text,
        "barcode",
        "not a number, SIM, top-up card, document or receipt code",
    )
    assert error.value == text
