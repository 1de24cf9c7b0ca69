"""Tests of integer-fen money formatting and yuan parsing."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.money import MoneyError, format_fen, parse_yuan


@pytest.mark.parametrize(
    ("fen", "expected"),
    [
        (1250, "¥12.50"),
        (-5, "-¥0.05"),
        (0, "¥0.00"),
        (1, "¥0.01"),
        (99, "¥0.99"),
        (100, "¥1.00"),
        (-100, "-¥1.00"),
        (-1250, "-¥12.50"),
        (10**20 + 7, "¥1000000000000000000.07"),
    ],
)
def test_format_fen(fen: int, expected: str) -> None:
    assert format_fen(fen) == expected


def test_format_fen_with_another_symbol() -> None:
    assert format_fen(1250, symbol="￥") == "￥12.50"
    assert format_fen(-1, symbol="") == "-0.01"


@pytest.mark.parametrize("value", [12.5, True, False, Decimal("12.50"), "1250", None])
def test_format_fen_rejects_non_int(value: object) -> None:
    with pytest.raises(TypeError, match="must be an int"):
        format_fen(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("12.5", 1250),
        ("12.50", 1250),
        ("¥12.50", 1250),
        ("￥12", 1200),
        ("12", 1200),
        ("  12.5\t", 1250),
        ("¥ 12", 1200),
        ("0.01", 1),
        ("0", 0),
        (".5", 50),
        ("12.", 1200),
        ("007.10", 710),
        ("-¥0.05", -5),
        ("-0.05", -5),
        ("+3", 300),
        ("123456789012345678901234.99", 12345678901234567890123499),
    ],
)
def test_parse_yuan_accepts(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("¥", "empty"),
        ("-", "empty"),
        ("12.345", "more than 2 decimal places"),
        ("12.500", "more than 2 decimal places"),
        ("0.001", "more than 2 decimal places"),
        ("abc", "not a number"),
        ("12.3.4", "not a number"),
        ("12 yuan", "not a number"),
        ("1,000", "not a number"),
        ("¥¥12", "not a number"),
        ("NaN", "not a finite amount"),
        ("sNaN", "not a finite amount"),
        ("inf", "not a finite amount"),
        ("-Infinity", "not a finite amount"),
        ("1e3", "not a plain decimal amount"),
        ("1_000", "not a plain decimal amount"),
        ("--5", "not a plain decimal amount"),
        ("¥-5", "not a plain decimal amount"),
        ("１２", "not a plain decimal amount"),
    ],
)
def test_parse_yuan_rejects_with_text_and_problem(text: str, problem: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_yuan(text)
    assert problem in str(caught.value)
    assert repr(text) in str(caught.value)
    assert caught.value.text == text
    assert isinstance(caught.value, ValueError)


def test_parse_yuan_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        parse_yuan(12.5)  # type: ignore[arg-type]


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["¥", "￥", ""]))
def test_parse_reads_back_what_format_writes(fen: int, symbol: str) -> None:
    assert parse_yuan(format_fen(fen, symbol=symbol)) == fen
