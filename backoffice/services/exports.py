"""Tables of figures as CSV (UTF-8 with a byte-order mark, so that Excel reads the Chinese)
or XLSX, from rows of response models and their Chinese column titles; and the one place where
every exported cell is made safe to open in a spreadsheet (no formula injection)."""

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
Format = Literal["xlsx", "csv"]
# (title, field) pairs: the column's heading and the response model's field it shows.
Columns = Sequence[tuple[str, str]]

# OWASP's CSV-injection rule: a spreadsheet takes text starting with one of these as a formula
# (`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`, `@SUM(…)`), and text from a terminal or a form
# (names, descriptions, bad import rows) may start so. A line feed is added for the same reason
# as the carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Text that is a plain number stays as it is (a negative amount in a CSV is no formula).
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: object) -> object:
    """The cell as it may go into a CSV or XLSX file: text that a spreadsheet would run as a
    formula gets a leading apostrophe (shown as text, never run); numbers stay numbers."""
    is_text = isinstance(value, str)
    if is_text and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def as_table(columns: Columns, rows: Sequence[BaseModel]) -> tuple[list[str], list[list[object]]]:
    """The header and the cells: money in fen, dates and times in ISO form (times UTC)."""
    header = [title for title, _ in columns]
    cells = [[_cell(getattr(row, name)) for _, name in columns] for row in rows]
    return header, cells


def csv_text(rows: Iterable[Sequence[object]], lineterminator: str = "\r\n") -> str:
    """Rows (of any widths) as CSV text, every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return out.getvalue()


def csv_bytes(rows: Iterable[Sequence[object]]) -> bytes:
    """CSV in UTF-8 with a byte-order mark, so that Excel in China opens the Chinese text."""
    return ("\ufeff" + csv_text(rows)).encode("utf-8")


def rows_to_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    return csv_bytes([header, *rows])


def append_row(sheet: Worksheet, row: Iterable[object]) -> None:
    """Appends the row to an XLSX sheet, every cell made safe; characters XLSX cannot hold
    (control characters a terminal may have sent) become U+FFFD rather than a failed export."""
    cells = []
    for value in row:
        value = safe_cell(value)
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        cells.append(value)
    sheet.append(cells)


def workbook_bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rows_to_xlsx(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    append_row(sheet, header)
    for row in rows:
        append_row(sheet, row)
    return workbook_bytes(book)


def render(
    fmt: Format, title: str, columns: Columns, rows: Sequence[BaseModel]
) -> tuple[bytes, str]:
    """The table in `fmt` and its media type."""
    header, cells = as_table(columns, rows)
    if fmt == "xlsx":
        return rows_to_xlsx(title, header, cells), XLSX_TYPE
    return rows_to_csv(header, cells), CSV_TYPE


def csv_chunks(rows: Iterable[Sequence[object]], rows_per_chunk: int = 1_000) -> Iterator[bytes]:
    """What `csv_bytes` makes, in pieces: a download of many rows starts at once and is never
    held whole in memory."""
    yield "\ufeff".encode()
    batch: list[Sequence[object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= rows_per_chunk:
            yield csv_text(batch).encode("utf-8")
            batch = []
    if batch:
        yield csv_text(batch).encode("utf-8")


def rows_to_xlsx_streamed(
    title: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> bytes:
    """`rows_to_xlsx` for many rows: a write-only workbook takes the rows as they come rather
    than keeping a cell object for each."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    append_row(sheet, header)
    for row in rows:
        append_row(sheet, row)
    return workbook_bytes(book)
