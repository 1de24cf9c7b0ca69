"""Small builders of import files for the back-office tests."""

import io

from openpyxl import Workbook

from shared.codes import luhn_check_digit


def iccid(n: int) -> str:
    body = f"898600571026{n:07d}"
    return f"{body}{luhn_check_digit(body)}"


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
