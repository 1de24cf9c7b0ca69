"""Validators and codecs for every code the system scans or imports: numbers, SIMs, top-up
cards, document and receipt numbers, resident ID numbers."""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Literal

_DIGITS = re.compile(r"[0-9]+")
# Birth dates on ID cards are Beijing dates; China has one zone and no daylight saving.
_CHINA_TZ = timezone(timedelta(hours=8))


class CodeError(ValueError):
    """A scanned or imported code that is malformed; says which kind, the value and why."""

    def __init__(self, kind: str, value: str, reason: str) -> None:
        super().__init__(f"{kind} {value!r}: {reason}")
        self.kind = kind
        self.value = value
        self.reason = reason


def _text(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    return text.strip()


def _is_digits(text: str) -> bool:
    # str.isdigit() also accepts full-width, Arabic-Indic and superscript digits.
    return _DIGITS.fullmatch(text) is not None


def _digits(kind: str, value: str, lengths: range, *, shown: str | None = None) -> str:
    """Checks that value is ASCII digits with a length in lengths; returns it."""
    shown = value if shown is None else shown
    if not _is_digits(value):
        raise CodeError(kind, shown, "must contain only digits")
    if len(value) not in lengths:
        if len(lengths) == 1:
            expected = f"{lengths.start}"
        else:
            expected = f"{lengths.start} to {lengths.stop - 1}"
        raise CodeError(kind, shown, f"must be {expected} digits, got {len(value)}")
    return value


# --- mobile numbers -------------------------------------------------------------------------

MOBILE_PREFIXES: frozenset[str] = frozenset(
    [str(p) for p in range(130, 140)]
    + [str(p) for p in range(145, 150)]
    + [str(p) for p in (*range(150, 154), *range(155, 160))]
    + ["162", "165", "166", "167"]
    + [str(p) for p in range(170, 179)]
    + [str(p) for p in range(180, 190)]
    + [str(p) for p in range(190, 200) if p != 194]
)


def parse_msisdn(text: str) -> str:
    """An 11-digit Chinese mobile number with a known operator prefix."""
    value = _text(text)
    _digits("MSISDN", value, range(11, 12))
    if value[:3] not in MOBILE_PREFIXES:
        raise CodeError("MSISDN", value, f"prefix {value[:3]} is not a Chinese mobile prefix")
    return value


# --- Luhn -----------------------------------------------------------------------------------


def luhn_check_digit(digits: str) -> int:
    """The Luhn (ISO/IEC 7812) check digit to append to digits."""
    if not _is_digits(digits):
        raise ValueError(f"Luhn needs a non-empty string of digits, got {digits!r}")
    total = 0
    # The rightmost payload digit sits next to the check digit, so it is the first doubled.
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def luhn_valid(digits: str) -> bool:
    """True when the last digit is the Luhn check digit of the others."""
    if len(digits) < 2 or not _is_digits(digits):
        return False
    return luhn_check_digit(digits[:-1]) == int(digits[-1])


# --- SIM cards and top-up cards -------------------------------------------------------------

_ICCID_CHARS = re.compile(r"[0-9A-F]+")


def parse_iccid(text: str) -> str:
    """A SIM's ICCID: 19-20 characters starting 89; all-digit ICCIDs end in a Luhn digit."""
    value = _text(text).upper()
    if len(value) not in (19, 20):
        raise CodeError("ICCID", value, f"must be 19 or 20 characters, got {len(value)}")
    if not _ICCID_CHARS.fullmatch(value):
        raise CodeError("ICCID", value, "must contain only digits and the letters A-F")
    if not value.startswith("89"):
        raise CodeError("ICCID", value, f"must start with 89 (telecom), got {value[:2]}")
    # Some vendors put hex in the serial part; those ICCIDs carry no Luhn digit.
    if _is_digits(value):
        expected = luhn_check_digit(value[:-1])
        if expected != int(value[-1]):
            raise CodeError("ICCID", value, f"check digit should be {expected}, got {value[-1]}")
    return value


def parse_imsi(text: str) -> str:
    """A subscriber identity (IMSI): exactly 15 digits."""
    return _digits("IMSI", _text(text), range(15, 16))


def parse_voucher_serial(text: str) -> str:
    """A top-up card's printed serial number: exactly 17 digits."""
    return _digits("voucher serial", _text(text), range(17, 18))


def parse_voucher_pin(text: str) -> str:
    """A top-up card's hidden PIN: 16 to 19 digits."""
    value = _text(text)
    # The PIN is a bearer secret: errors (which end up in logs and reports) never carry it.
    return _digits("voucher PIN", value, range(16, 20), shown="*" * len(value))


# --- stock documents and sales receipts -----------------------------------------------------


class DocumentKind(StrEnum):
    """The two-letter prefix of a stock document number."""

    RL = "RL"  # release 放号
    DN = "DN"  # delivery note / allocation 出库单
    RC = "RC"  # receipt of stock at the outlet
    RT = "RT"  # return to centre
    TR = "TR"  # transfer between outlets
    SC = "SC"  # stock count
    SO = "SO"  # stock-out


_DOCUMENT_SEQ_MAX = 999_999
_TERMINAL_NO_MAX = 999_999
_RECEIPT_SEQ_MAX = 999_999_999


def _ymd(day: date) -> str:
    # strftime("%Y") does not zero-pad years below 1000 on every platform.
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


@dataclass(frozen=True)
class DocumentNumber:
    """A stock document number: kind, issue day, daily sequence; str() is the printed form."""

    kind: DocumentKind
    day: date
    seq: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DocumentKind(self.kind))
        # A datetime is a date too, but would make two equal numbers compare unequal.
        if isinstance(self.day, datetime) or not isinstance(self.day, date):
            raise TypeError(f"document day must be a date, got {type(self.day).__name__}")
        if isinstance(self.seq, bool) or not isinstance(self.seq, int):
            raise TypeError(f"document sequence must be an int, got {type(self.seq).__name__}")
        if not 0 <= self.seq <= _DOCUMENT_SEQ_MAX:
            raise ValueError(f"document sequence {self.seq} is outside 0..{_DOCUMENT_SEQ_MAX}")

    def __str__(self) -> str:
        body = f"{_ymd(self.day)}{self.seq:06d}"
        return f"{self.kind.value}{body}{luhn_check_digit(body)}"


def format_document_number(kind: DocumentKind, day: date, seq: int) -> str:
    """E.g. (RL, 2026-11-22, 1) -> "RL202611220000012"."""
    return str(DocumentNumber(kind, day, seq))


_DOCUMENT_SHAPE = re.compile(r"[A-Z]{2}[0-9]{15}")


def parse_document_number(text: str) -> DocumentNumber:
    """Reads a printed or scanned document number, checking kind, check digit and date."""
    value = _text(text).upper()
    kind = "document number"
    if len(value) != 17:
        raise CodeError(kind, value, f"must be 17 characters, got {len(value)}")
    if not _DOCUMENT_SHAPE.fullmatch(value):
        raise CodeError(kind, value, "must be 2 letters followed by 15 digits")
    if value[:2] not in DocumentKind.__members__:
        known = ", ".join(DocumentKind)
        raise CodeError(kind, value, f"unknown document kind {value[:2]} (known: {known})")
    body = value[2:16]
    expected = luhn_check_digit(body)
    if expected != int(value[16]):
        raise CodeError(kind, value, f"check digit should be {expected}, got {value[16]}")
    try:
        day = date(int(body[:4]), int(body[4:6]), int(body[6:8]))
    except ValueError:
        raise CodeError(kind, value, f"{body[:8]} is not a real date") from None
    return DocumentNumber(DocumentKind(value[:2]), day, int(body[8:]))


@dataclass(frozen=True)
class ReceiptNumber:
    """A sales receipt number: terminal and its own sequence; str() is the printed form."""

    terminal_no: int
    seq: int

    def __post_init__(self) -> None:
        for name, value, top in (
            ("terminal number", self.terminal_no, _TERMINAL_NO_MAX),
            ("receipt sequence", self.seq, _RECEIPT_SEQ_MAX),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            if not 0 <= value <= top:
                raise ValueError(f"{name} {value} is outside 0..{top}")

    def __str__(self) -> str:
        body = f"{self.terminal_no:06d}{self.seq:09d}"
        return f"S{body}{luhn_check_digit(body)}"


def format_receipt_number(terminal_no: int, seq: int) -> str:
    """E.g. (12, 345) -> "S0000120000003455": S, 6 + 9 digits, Luhn digit."""
    return str(ReceiptNumber(terminal_no, seq))


_RECEIPT_SHAPE = re.compile(r"S[0-9]{16}")


def parse_receipt_number(text: str) -> ReceiptNumber:
    """Reads a printed or scanned receipt number, checking its Luhn digit."""
    value = _text(text).upper()
    kind = "receipt number"
    if len(value) != 17:
        raise CodeError(kind, value, f"must be 17 characters, got {len(value)}")
    if not _RECEIPT_SHAPE.fullmatch(value):
        raise CodeError(kind, value, "must be S followed by 16 digits")
    body = value[1:16]
    expected = luhn_check_digit(body)
    if expected != int(value[16]):
        raise CodeError(kind, value, f"check digit should be {expected}, got {value[16]}")
    return ReceiptNumber(int(body[:6]), int(body[6:]))


# --- resident identity card (GB 11643-1999) -------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_ID_EARLIEST = date(1900, 1, 1)


def resident_id_check_char(first17: str) -> str:
    """The GB 11643 check character (0-9 or X) for the first 17 digits of an ID number."""
    if len(first17) != 17 or not _is_digits(first17):
        raise ValueError(f"need exactly 17 digits, got {first17!r}")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class ResidentId:
    """A validated 18-character resident ID number with what it says about its holder."""

    value: str
    birth_date: date
    sex: Literal["M", "F"]

    @property
    def masked(self) -> str:
        return mask_resident_id(self.value)


def parse_resident_id(text: str, *, today: date | None = None) -> ResidentId:
    """Checks an 18-character resident ID number; today (China time) bounds the birth date."""
    value = _text(text).upper()
    kind = "resident ID"
    # Errors end up in logs and error reports: they show the number masked, never whole, and
    # say nothing of the birth date that the mask hides.
    shown = mask_resident_id(value) if len(value) == 18 else "*" * len(value)
    if len(value) != 18:
        raise CodeError(kind, shown, f"must be 18 characters, got {len(value)}")
    if not _ID_SHAPE.fullmatch(value):
        raise CodeError(kind, shown, "must be 17 digits followed by a digit or X")
    expected = resident_id_check_char(value[:17])
    if expected != value[17]:
        raise CodeError(kind, shown, f"check character should be {expected}, got {value[17]}")
    born = value[6:14]
    try:
        birth_date = date(int(born[:4]), int(born[4:6]), int(born[6:]))
    except ValueError:
        raise CodeError(kind, shown, "birth date is not a real date") from None
    if today is None:
        today = datetime.now(_CHINA_TZ).date()
    if birth_date > today:
        raise CodeError(kind, shown, "birth date is in the future")
    if birth_date < _ID_EARLIEST:
        raise CodeError(kind, shown, "birth date is before 1900")
    # The 17th digit is the order code: odd for men, even for women.
    sex: Literal["M", "F"] = "M" if int(value[16]) % 2 else "F"
    return ResidentId(value, birth_date, sex)


def mask_resident_id(value: str) -> str:
    """What may be shown or printed: first 6 characters, 8 asterisks, last 4."""
    if len(value) != 18:
        # Masking a wrong-length value by position could reveal most of it.
        raise ValueError(f"a resident ID number has 18 characters, got {len(value)}")
    return f"{value[:6]}{'*' * 8}{value[14:]}"


def mask_name(name: str) -> str:
    """What may be shown or printed of a person's name: the surname, 张三丰 -> 张**."""
    return name[:1] + "*" * (len(name) - 1)


# --- scanned codes --------------------------------------------------------------------------


class CodeKind(StrEnum):
    """What a scanned barcode turned out to be."""

    msisdn = "msisdn"
    iccid = "iccid"
    voucher_serial = "voucher_serial"
    document = "document"
    receipt = "receipt"


@dataclass(frozen=True)
class ScannedCode:
    """A scanned barcode, classified and normalized."""

    kind: CodeKind
    value: str


_SHAPE_MSISDN = re.compile(r"[0-9]{11}")
_SHAPE_VOUCHER_SERIAL = re.compile(r"[0-9]{17}")
_SHAPE_DOCUMENT = re.compile(r"[A-Za-z]{2}[0-9]{15}")
_SHAPE_RECEIPT = re.compile(r"[Ss][0-9]{16}")


def classify_code(text: str) -> ScannedCode:
    """Decides what a scanned code is by its shape, then validates it as that kind."""
    value = _text(text)
    if _SHAPE_MSISDN.fullmatch(value):
        return ScannedCode(CodeKind.msisdn, parse_msisdn(value))
    if _SHAPE_VOUCHER_SERIAL.fullmatch(value):
        return ScannedCode(CodeKind.voucher_serial, parse_voucher_serial(value))
    if len(value) in (19, 20) and value.startswith("89"):
        return ScannedCode(CodeKind.iccid, parse_iccid(value))
    if _SHAPE_RECEIPT.fullmatch(value):
        return ScannedCode(CodeKind.receipt, str(parse_receipt_number(value)))
    if _SHAPE_DOCUMENT.fullmatch(value):
        return ScannedCode(CodeKind.document, str(parse_document_number(value)))
    raise CodeError("barcode", value, "not a number, SIM, top-up card, document or receipt code")
