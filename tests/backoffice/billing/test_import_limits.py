"""Hostile import files are refused within seconds, naming the limit and where it was passed:
zip bombs, workbooks claiming a million rows or 16,384 columns, too many rows, over-long cells,
oversized uploads, XML entities. Reports repeat only excerpts of bad values, and never a top-up
card PIN in clear. Bad batch terms are a 422 naming the field."""

import io
import json
import time
import zipfile
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backoffice.domain.users import Role
from backoffice.models import ImportJob
from backoffice.services.billing import numbers
from backoffice.services.billing.tabular import ImportLimits
from backoffice.services.errors import ImportFileError, InvalidInput
from shared.ids import new_id
from tests.backoffice.helpers import csv_bytes, iccid, xlsx_bytes

Login = Callable[[Role], dict[str, str]]
LIMITS = ImportLimits(upload_bytes=10**7, unzipped_bytes=10**8, rows=2_000_000, cell_chars=1_000)
SHEET = "xl/worksheets/sheet1.xml"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PIN = "1234567890123456789"
EXPIRES = (date.today() + timedelta(days=700)).isoformat()


def _with_parts(book: bytes, parts: dict[str, Callable[[io.BufferedIOBase], None]]) -> bytes:
    """The workbook with some parts replaced or added, each written by its function."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename not in parts:
                dst.writestr(info, src.read(info.filename), zipfile.ZIP_DEFLATED)
        for name, write in parts.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(info, "w") as part:
                write(part)  # type: ignore[arg-type]
    return out.getvalue()


def _sheet(*rows: str, dimension: str = "A1:A2") -> Callable[[io.BufferedIOBase], None]:
    def write(part: io.BufferedIOBase) -> None:
        part.write(f'<worksheet xmlns="{MAIN}"><dimension ref="{dimension}"/><sheetData>'.encode())
        for row in rows:
            part.write(row.encode())
        part.write(b"</sheetData></worksheet>")

    return write


def _text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _import(data: bytes, name: str, limits: ImportLimits = LIMITS) -> ImportFileError:
    """What importing the file as numbers is refused with (no database needed: the file is
    refused before any)."""
    with pytest.raises(ImportFileError) as refused:
        numbers.import_numbers(None, data, name, "billing1", limits=limits)  # type: ignore[arg-type]
    return refused.value


def test_a_zip_bomb_is_refused_before_it_is_parsed() -> None:
    def bomb(part: io.BufferedIOBase) -> None:
        chunk = b"<si><t>" + b"8" * 1_000 + b"</t></si>"
        part.write(f'<sst xmlns="{MAIN}">'.encode())
        for _ in range(64 * 1024):  # 64 MB of XML in about 100 KB
            part.write(chunk)
        part.write(b"</sst>")

    book = _with_parts(xlsx_bytes([["msisdn"], ["13905750001"]]), {"xl/sharedStrings.xml": bomb})
    assert len(book) < 1_000_000
    started = time.monotonic()
    refused = _import(book, "bomb.xlsx", LIMITS)
    assert time.monotonic() - started < 5
    assert refused.code == "import_too_large"
    assert "xl/sharedStrings.xml" in refused.message and "zip bomb" in refused.message


def test_a_workbook_unzipping_past_the_limit_is_refused_naming_it() -> None:
    book = xlsx_bytes([["msisdn"], *[[f"1390575{n:04d}"] for n in range(5_000)]])
    small = ImportLimits(upload_bytes=10**7, unzipped_bytes=100_000, rows=10**6, cell_chars=100)
    refused = _import(book, "big.xlsx", small)
    assert "HAOKA_IMPORT_MAX_UNZIPPED_BYTES" in refused.message and "100,000" in refused.message


def test_rows_claiming_every_column_and_row_cost_no_more_than_the_cells_there() -> None:
    # Every row has a cell at column XFD (16,384) and the sheet claims 1,048,576 rows: read
    # naively, each of 20,000 rows becomes 16,384 cells and a million empty rows follow.
    rows = [f'<row r="1">{_text_cell("A1", "msisdn")}</row>'] + [
        f'<row r="{n}">{_text_cell(f"A{n}", f"139057{n:05d}")}{_text_cell(f"XFD{n}", "")}</row>'
        for n in range(2, 20_002)
    ]
    book = _with_parts(xlsx_bytes([["msisdn"]]), {SHEET: _sheet(*rows, dimension="A1:XFD1048576")})
    started = time.monotonic()
    with pytest.raises(AttributeError):  # read whole and valid: it reached the database
        numbers.import_numbers(None, book, "wide.xlsx", "billing1", limits=LIMITS)  # type: ignore[arg-type]
    assert time.monotonic() - started < 15


def test_too_many_rows_are_refused_at_the_first_one_past_the_limit() -> None:
    few = ImportLimits(upload_bytes=10**7, unzipped_bytes=10**8, rows=5, cell_chars=100)
    lines = ["msisdn", *[f"1390575{n:04d}" for n in range(10)]]
    refused = _import(csv_bytes(*lines), "many.csv", few)
    assert refused.line == 7 and "more than 5 rows" in refused.message
    assert "HAOKA_IMPORT_MAX_ROWS" in refused.message
    # A sheet jumping from row 1 to row 99,999,999 is refused as quickly.
    gap = _with_parts(
        xlsx_bytes([["msisdn"]]),
        {
            SHEET: _sheet(
                f'<row r="1">{_text_cell("A1", "msisdn")}</row>',
                f'<row r="99999999">{_text_cell("A99999999", "13905750001")}</row>',
            )
        },
    )
    started = time.monotonic()
    refused = _import(gap, "gap.xlsx", few)
    assert time.monotonic() - started < 5 and refused.line == 7 and "sheet" in refused.message


def test_a_cell_longer_than_the_limit_is_refused_naming_line_and_column() -> None:
    long = "9" * 5_000
    refused = _import(csv_bytes("msisdn", "13905750001", long), "long.csv")
    assert (refused.line, refused.column) == (3, "1")
    assert "5,000 characters" in refused.message and "1,000" in refused.message
    assert long not in refused.message
    refused = _import(xlsx_bytes([["msisdn"], ["13905750001"], [long]]), "long.xlsx")
    assert (refused.line, refused.column) == (3, "A") and "sheet" in refused.message
    # A line far longer than any cell may be is not even read whole.
    huge = csv_bytes("msisdn", "8" * 5_000_000)
    started = time.monotonic()
    refused = _import(huge, "huge.csv")
    assert time.monotonic() - started < 5 and refused.line == 2


def test_a_file_over_the_upload_limit_is_refused_naming_it() -> None:
    tiny = ImportLimits(upload_bytes=100, unzipped_bytes=10**8, rows=10, cell_chars=100)
    refused = _import(csv_bytes("msisdn", *["13905750001"] * 20), "big.csv", tiny)
    assert refused.code == "import_too_large" and "HAOKA_IMPORT_MAX_UPLOAD_BYTES" in refused.message


def test_xml_entities_in_a_workbook_are_refused() -> None:
    def laughs(part: io.BufferedIOBase) -> None:
        entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
            f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
            for p, c in zip("abcdefg", "bcdefgh", strict=True)
        )
        part.write(f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'.encode())
        part.write(f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'.encode())
        part.write(f"{_text_cell('A1', '&h;')}</row></sheetData></worksheet>".encode())

    book = _with_parts(xlsx_bytes([["msisdn"], ["13905750001"]]), {SHEET: laughs})
    started = time.monotonic()
    refused = _import(book, "laughs.xlsx")
    assert time.monotonic() - started < 5
    assert "not a readable XLSX workbook" in refused.message


def test_an_oversized_upload_is_refused_while_it_arrives(client: TestClient, login: Login) -> None:
    limit = client.app.state.settings.import_max_upload_bytes  # type: ignore[attr-defined]
    body = b"msisdn\n" + b"13905750001\n" * (limit // 12 + 100_000)
    reply = client.post(
        "/api/v1/number-batches/import",
        files={"file": ("big.csv", body, "text/csv")},
        headers=login(Role.billing),
    )
    assert reply.status_code == 413, reply.text[:300]
    assert reply.json()["code"] == "request_too_large"
    assert "HAOKA_IMPORT_MAX_UPLOAD_BYTES" in reply.json()["message"]


def test_routes_that_take_no_file_take_a_small_body_and_parse_no_form(
    client: TestClient, login: Login
) -> None:
    """Only the import routes take an import-sized body; elsewhere a few MB is refused before
    the route runs, and a form sent to a route without one is never parsed (an anonymous
    upload to any route costs nothing)."""
    big = b"x" * (5 * 1024 * 1024)
    for path in ("/api/v1/sync/push", "/api/v1/auth/token", "/api/v1/dealers"):
        reply = client.post(path, content=big, headers={"content-type": "application/json"})
        assert reply.status_code == 413, (path, reply.status_code)
    nul_in_a_form = client.post("/api/v1/dealers", data={"name": "a\x00b"})
    assert nul_in_a_form.status_code == 401  # not parsed, so not refused as a form: not logged in
    small = b"msisdn\n" + b"13905750001\n" * (5 * 1024 * 1024 // 12)
    reply = client.post(
        "/api/v1/number-batches/import",
        files={"file": ("five-mb.csv", small, "text/csv")},
        headers=login(Role.billing),
    )
    assert reply.status_code != 413, reply.text[:200]


def _cards(client: TestClient, headers: dict[str, str], data: bytes, **form: str):  # type: ignore[no-untyped-def]
    fields = {"face_value_fen": "5000", "dealer_price_fen": "4850", "expires_on": EXPIRES}
    return client.post(
        "/api/v1/voucher-batches/import",
        files={"file": ("cards.csv", data, "text/csv")},
        data=fields | form,
        headers=headers,
    )


def test_bad_batch_terms_are_refused_naming_the_field(client: TestClient, login: Login) -> None:
    billing = login(Role.billing)
    cards = csv_bytes("serial,pin", f"10575000000000001,{PIN}")
    for form, field in (
        ({"face_value_fen": "0"}, "face_value_fen"),
        ({"face_value_fen": str(2**64)}, "face_value_fen"),
        ({"expires_on": (date.today() - timedelta(days=1)).isoformat()}, "expires_on"),
        ({"encoding": "x" * 100}, "encoding"),
        ({"encoding": "rot13"}, "encoding"),
        ({"encoding": "base64_codec"}, "encoding"),
    ):
        reply = _cards(client, billing, cards, **form)
        assert reply.status_code == 422, reply.text
        assert reply.json()["code"] == "invalid_request" and field in reply.json()["message"]


def test_rejected_rows_never_carry_a_pin_in_clear(
    client: TestClient, session: Session, login: Login
) -> None:
    billing = login(Role.billing)
    cards = csv_bytes(
        "serial,pin",
        f"10575000000000001,{PIN}",
        "10575000000000002,12345",  # a PIN too short
        f"1057500000000000X,{PIN[:-2]}77",  # a bad serial beside a good PIN
        f"10575000000000004,extra,{PIN[:-2]}66",  # fields shifted: the PIN is out of place
        "9" * 900 + f",{PIN}",
    )
    reply = _cards(client, billing, cards, skip_bad_rows="true")
    assert reply.status_code == 201, reply.text
    report = reply.json()
    assert report["accepted_rows"] == 1 and report["rejected_rows"] == 4
    assert "re-enter" in report["note"] and "pin" in report["note"]
    values = {(e["line"], e["column"]): e["value"] for e in report["errors"]}
    assert values[(3, "pin")] == "****45"
    assert len(values[(6, "serial")]) < 150  # an excerpt of the 900 characters
    text = client.get(report["rejected_rows_url"], headers=billing).text
    session.expire_all()
    job = session.get(ImportJob, report["job_id"])
    assert job is not None
    for kept in (text, job.rejected_csv, job.errors_json, json.dumps(report)):
        for secret in ("12345", PIN, PIN[:-2] + "77", PIN[:-2] + "66"):
            assert secret not in kept, (secret, kept)
    assert "****77" in text and "****66" in text and "note" in text.splitlines()[0]
    assert "re-enter" in text


def test_a_report_kept_before_masking_is_masked_on_the_way_out(
    client: TestClient, session: Session, login: Login
) -> None:
    job = ImportJob(
        id=new_id(),
        kind="vouchers",
        file_name="old.csv",
        outcome="rejected",
        total_rows=2,
        accepted_rows=0,
        rejected_rows=2,
        errors_json=json.dumps(
            [{"line": 2, "column": "pin", "value": "12345", "reason": "must be 16-19 digits"}]
        ),
        rejected_csv=(
            "serial,pin,line,error\n10575000000000002,12345,2,pin: too short\n"
            f"x,y,{PIN},3,*: 3 fields, the header has 2\n"
        ),
        created_by="billing1",
    )
    session.add(job)
    session.commit()
    billing = login(Role.billing)
    report = client.get(f"/api/v1/imports/{job.id}", headers=billing).json()
    assert report["errors"][0]["value"] == "****45" and report["note"]
    text = client.get(f"/api/v1/imports/{job.id}/rejected.csv", headers=billing).text
    assert "12345" not in text and PIN not in text and "****45" in text
    assert session.exec(select(ImportJob)).first() is not None


# Codecs Python knows that no export comes in: no text encodings at all, or UTF-16 without the
# byte-order mark that would say which UTF-16. Each made an import a server error.
FOREIGN_CODECS = ("base64_codec", "rot13", "zlib_codec", "utf-16", "hex", "latin-1", "utf-7")


def test_imports_read_only_the_encodings_exports_come_in(
    client: TestClient, session: Session, login: Login
) -> None:
    billing = login(Role.billing)
    files = {
        "/api/v1/number-batches/import": csv_bytes("msisdn", "13905750001"),
        "/api/v1/sim-batches/import": csv_bytes("iccid,imsi", f"{iccid(1)},460005710000001"),
        "/api/v1/sim-pairings/import": csv_bytes("msisdn,iccid", f"13905750001,{iccid(1)}"),
    }
    for path, data in files.items():
        for encoding in FOREIGN_CODECS:
            reply = client.post(
                path,
                files={"file": ("f.csv", data, "text/csv")},
                data={"encoding": encoding},
                headers=billing,
            )
            assert reply.status_code == 422, (path, encoding, reply.text)
            body = reply.json()
            assert body["code"] == "invalid_request", body
            assert body["message"].startswith("body.encoding: "), body
            assert "utf-8" in body["message"] and "gbk" in body["message"], body
    # Any case, `_` for `-`, the usual aliases; UTF-8 with or without its byte-order mark.
    accepted = {
        "GBK": "gbk",
        "cp936": "gbk",
        "GB2312": "gbk",
        "gb18030": "gb18030",
        "UTF8": "utf-8",
        "utf_8": "utf-8-sig",
        "UTF-8-SIG": "utf-8-sig",
        "utf8_sig": "utf-8",
    }
    for n, (name, codec) in enumerate(accepted.items()):
        reply = client.post(
            "/api/v1/number-batches/import",
            files={"file": ("n.csv", f"号码\n1390575010{n}\n".encode(codec), "text/csv")},
            data={"encoding": name},
            headers=billing,
        )
        assert reply.status_code == 201, (name, reply.text)
        assert reply.json()["accepted_rows"] == 1
    # Called directly (the command line, a script), the service refuses them just the same.
    for encoding in FOREIGN_CODECS:
        with pytest.raises(InvalidInput, match="unsupported encoding") as refused:
            numbers.import_numbers(
                session, csv_bytes("msisdn", "13905750002"), "n.csv", "b", encoding=encoding
            )
        assert refused.value.code == "unsupported_encoding"
