"""Tables of figures as CSV (UTF-8 with a byte-order mark, so that Excel reads the Chinese)
or XLSX, from rows of response models and their Chinese column titles."""

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

from openpyxl import Workbook
from pydantic import BaseModel

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
Format = Literal["xlsx", "csv"]
# (title, field) pairs: the column's heading and the response model's field it shows.
Columns = Sequence[tuple[str, str]]


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


def rows_to_csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def rows_to_xlsx(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def render(
    fmt: Format, title: str, columns: Columns, rows: Sequence[BaseModel]
) -> tuple[bytes, str]:
    """The table in `fmt` and its media type."""
    header, cells = as_table(columns, rows)
    if fmt == "xlsx":
        return rows_to_xlsx(title, header, cells), XLSX_TYPE
    return rows_to_csv(header, cells), CSV_TYPE
