"""The billing system's monthly revenue per number as a file (CSV in UTF-8, GBK or GB18030, or
XLSX), read with the billing imports' readers (services/billing/tabular.py), checked row by
row, and stored through report_revenue: all of it in one transaction, or nothing.

A file that cannot be read at all (encoding, header, size) raises ImportFileError naming the
line and column; bad rows are reported with their line, column, value and reason, and by
default stop the whole file. Numbers the back office does not know are stored too (the feed
is the billing system's), and listed: no dealer earns a share of them."""

from dataclasses import dataclass, field
from datetime import date
from typing import Final

from sqlmodel import Session, col, select

from backoffice.contracts.channel import ENTRY_LIMIT_FEN
from backoffice.contracts.settlement import (
    REVENUE_LINES_MAX,
    RevenueLine,
    RevenueReport,
    RevenueReportPublic,
)
from backoffice.core.i18n import N_
from backoffice.models import MobileNumber
from backoffice.services.billing.tabular import (
    REPORTED_ERRORS,
    Columns,
    ImportLimits,
    RowChecker,
    RowError,
    read_table,
)
from backoffice.services.errors import InvalidInput
from backoffice.services.settlement.revenue import report_revenue
from shared.codes import CodeError, parse_msisdn
from shared.money import MoneyError, parse_yuan

COLUMNS: Final = Columns(
    required=("msisdn", "revenue"),
    aliases=(
        ("号码", "msisdn"),
        ("手机号码", "msisdn"),
        ("number", "msisdn"),
        ("收入", "revenue"),
        ("revenue_yuan", "revenue"),
    ),
)
UNKNOWN_SHOWN: Final = 20
TOO_MANY: Final = N_("The file has %(n)s numbers; one feed may have at most %(max)s: split it.")


@dataclass
class RevenueFileReport:
    """What became of a revenue file: its rows, the bad ones (line, column, value, reason),
    the numbers not known here, and what was stored (None when nothing was)."""

    file: str
    month: date
    total_rows: int
    accepted_rows: int
    rejected_rows: int
    errors: list[RowError] = field(default_factory=list)
    unknown_count: int = 0
    unknown: list[str] = field(default_factory=list)
    stored: RevenueReportPublic | None = None

    @property
    def applied(self) -> bool:
        return self.stored is not None


def _revenue(text: str) -> str:
    """Yuan text as fen (a string, as the row checker's parsers return), 0 or more."""
    try:
        fen = parse_yuan(text)
    except (MoneyError, TypeError) as error:
        raise CodeError("revenue", text, "not an amount in yuan, e.g. 58 or 58.50") from error
    if fen < 0:
        raise CodeError("revenue", text, "below zero")
    if fen > ENTRY_LIMIT_FEN:
        raise CodeError("revenue", text, "more than one entry may hold")
    return str(fen)


def _unknown(session: Session, numbers: list[str]) -> list[str]:
    known: set[str] = set()
    for start in range(0, len(numbers), 1_000):
        chunk = numbers[start : start + 1_000]
        known.update(
            session.exec(select(MobileNumber.msisdn).where(col(MobileNumber.msisdn).in_(chunk)))
        )
    return [n for n in numbers if n not in known]


def report_revenue_file(
    session: Session,
    data: bytes,
    file: str,
    month: date,
    actor: str,
    *,
    encoding: str = "utf-8",
    skip_bad_rows: bool = False,
    limits: ImportLimits | None = None,
) -> RevenueFileReport:
    """Reads and checks the file; stores its revenue for `month` when no row is bad (or,
    with `skip_bad_rows`, its good rows). ImportFileError for a file that cannot be read,
    InvalidInput for a month not begun or a file of too many numbers."""
    table = read_table(data, file, COLUMNS, encoding, limits)
    checker = RowChecker(table)
    parsed = checker.parse_rows({"msisdn": parse_msisdn, "revenue": _revenue}, unique=("msisdn",))
    report = RevenueFileReport(
        file=table.file,
        month=month,
        total_rows=len(table.rows),
        accepted_rows=0,
        rejected_rows=len(table.rows) - len(parsed),
        errors=checker.errors[:REPORTED_ERRORS],
    )
    if len(parsed) > REVENUE_LINES_MAX:
        raise InvalidInput(
            TOO_MANY,
            code="revenue_file_too_long",
            params={"n": f"{len(parsed):,}", "max": f"{REVENUE_LINES_MAX:,}"},
        )
    numbers = [msisdn for msisdn, _ in parsed.values()]
    unknown = _unknown(session, numbers)
    report.unknown_count, report.unknown = len(unknown), unknown[:UNKNOWN_SHOWN]
    if not parsed or (report.rejected_rows and not skip_bad_rows):
        return report
    lines = [RevenueLine(msisdn=msisdn, revenue_fen=int(fen)) for msisdn, fen in parsed.values()]
    report.stored = report_revenue(session, RevenueReport(month=month, lines=lines), actor)
    report.accepted_rows = len(lines)
    return report
