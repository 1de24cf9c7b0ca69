"""Generating, importing, grading and searching numbers (SQLite and PostgreSQL)."""

import csv
import io

import pytest
from sqlmodel import Session, select

from backoffice.contracts.billing import SegmentRequest
from backoffice.models import AuditEntry, ImportJob, MobileNumber
from backoffice.services.billing import imports, numbers
from backoffice.services.errors import Conflict, ImportFileError, ImportRejected, InvalidInput
from tests.backoffice.helpers import csv_bytes, xlsx_bytes


def _segment(session: Session, prefix: str = "1390575", start: int = 0, end: int = 9999):
    return numbers.generate_segment(
        session, SegmentRequest(prefix=prefix, start=start, end=end), "billing1"
    )


def test_segment_is_generated_and_graded(session: Session) -> None:
    batch = _segment(session)
    assert batch.item_count == 10_000
    assert (batch.first_msisdn, batch.last_msisdn) == ("13905750000", "13905759999")
    assert sum(batch.grade_counts.values()) == 10_000
    assert batch.grade_counts["STD"] < 10_000
    assert numbers.get_number(session, "13905758888").grade_code == "G2"
    assert numbers.get_number(session, "13905751357").grade_code == "STD"
    stored = session.exec(select(MobileNumber).where(MobileNumber.msisdn == "13905758888")).one()
    assert (stored.status, stored.msisdn_rev) == ("imported", "88885750931")
    audit = session.exec(select(AuditEntry).where(AuditEntry.entity_id == batch.id)).one()
    assert (audit.action, audit.item_count, audit.actor) == ("generate", 10_000, "billing1")


def test_grade_prices_come_with_the_number(session: Session) -> None:
    _segment(session, start=1200, end=1299)
    # 1288: only the AA tail of 8s applies (0088 would be AABB, grade 3).
    number = numbers.get_number(session, "13905751288")
    assert (number.grade_code, number.prestore_fen, number.min_monthly_fen) == ("G4", 10_000, 3_800)


def test_overlapping_segment_is_refused_and_nothing_written(session: Session) -> None:
    _segment(session, end=99)
    with pytest.raises(Conflict, match="overlaps 50 numbers"):
        _segment(session, start=50, end=149)
    assert len(session.exec(select(MobileNumber)).all()) == 100


def test_segment_with_an_invalid_prefix_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="prefix 1230575"):
        _segment(session, prefix="1230575")


def test_segment_end_must_fit_the_tail(session: Session) -> None:
    with pytest.raises(InvalidInput, match="does not fit the 4 digits"):
        _segment(session, end=10_000)


def test_search_by_pattern_with_pages(session: Session) -> None:
    _segment(session)
    page = numbers.search_numbers(session, "*88", limit=40)
    assert len(page.items) == 40
    assert all(n.msisdn.endswith("88") for n in page.items)
    seen = [n.msisdn for n in page.items]
    while page.next_after:
        page = numbers.search_numbers(session, "*88", after=page.next_after, limit=40)
        seen += [n.msisdn for n in page.items]
    assert seen == sorted(f"1390575{i:02d}88" for i in range(100))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("139057?8888", ["13905758888"]),
        ("*5758888", ["13905758888"]),
        ("1390575888*", [f"1390575888{i}" for i in range(10)]),
        ("58888", ["13905758888"]),
    ],
)
def test_search_patterns(session: Session, pattern: str, expected: list[str]) -> None:
    _segment(session)
    assert [n.msisdn for n in numbers.search_numbers(session, pattern).items] == expected


def test_search_by_grade_and_status(session: Session) -> None:
    _segment(session)
    page = numbers.search_numbers(session, grade="G1", status="imported", limit=500)
    assert {n.grade_code for n in page.items} == {"G1"}
    assert "13905756789" in {n.msisdn for n in page.items}
    with pytest.raises(InvalidInput, match="unknown number status"):
        numbers.search_numbers(session, status="lost")
    with pytest.raises(InvalidInput, match="'x' is not allowed"):
        numbers.search_numbers(session, pattern="8x")


def test_import_numbers_from_csv(session: Session) -> None:
    report = numbers.import_numbers(
        session, csv_bytes("msisdn", "13812345678", "13812348888"), "n.csv", "billing1"
    )
    assert (report.outcome, report.accepted_rows, report.rejected_rows) == ("imported", 2, 0)
    assert numbers.get_number(session, "13812348888").grade_code == "G2"


def test_import_numbers_from_xlsx_with_chinese_header(session: Session) -> None:
    data = xlsx_bytes([["号码"], [13812345678], ["13812345679"]])
    report = numbers.import_numbers(session, data, "numbers.xlsx", "billing1")
    assert report.accepted_rows == 2
    assert numbers.get_number(session, "13812345678").status == "imported"


def test_bad_rows_reject_the_whole_file_with_a_report(session: Session) -> None:
    _segment(session, end=9)
    data = csv_bytes(
        "msisdn", "13812345678", "1381234567", "12012345678", "13812345678", "13905750001"
    )
    with pytest.raises(ImportRejected) as rejected:
        numbers.import_numbers(session, data, "bad.csv", "billing1")
    report = rejected.value.report
    assert report.outcome == "rejected"
    found = {(e.line, e.column) for e in report.errors}
    assert found == {(3, "msisdn"), (4, "msisdn"), (5, "msisdn"), (6, "msisdn")}
    reasons = {e.line: e.reason for e in report.errors}
    assert "11 digits" in reasons[3]
    assert "120" in reasons[4]
    assert reasons[5] == "duplicate of line 2"
    assert reasons[6] == "already in the system"
    assert "bad.csv: 4 of 5 rows are bad" in str(rejected.value)
    assert numbers.search_numbers(session, "13812345678").items == []
    job = session.get(ImportJob, report.job_id)
    assert job is not None and job.outcome == "rejected"


def test_skip_bad_rows_imports_the_good_and_returns_the_bad(session: Session) -> None:
    data = csv_bytes("msisdn", "13812345678", "1381234567x", "13812345679")
    report = numbers.import_numbers(session, data, "mixed.csv", "billing1", skip_bad_rows=True)
    assert (report.outcome, report.accepted_rows, report.rejected_rows) == ("partial", 2, 1)
    name, content = imports.rejected_rows(session, report.job_id)
    assert name == "mixed-rejected.csv"
    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0] == ["msisdn", "line", "error"]
    assert rows[1][:2] == ["1381234567x", "3"]
    assert rows[1][2].startswith("msisdn: ")


def test_unknown_column_names_file_line_and_column(session: Session) -> None:
    with pytest.raises(ImportFileError) as error:
        numbers.import_numbers(session, csv_bytes("msisdn,colour", "13812345678,red"), "c.csv", "b")
    assert error.value.line == 1
    assert error.value.column == "colour"
    assert "c.csv line 1, column 2: unknown column 'colour'" in str(error.value)


def test_wrong_encoding_is_reported_with_its_line(session: Session) -> None:
    data = "号码\n13812345678\n".encode("gbk")
    with pytest.raises(ImportFileError) as error:
        numbers.import_numbers(session, data, "gbk.csv", "billing1")
    assert "gbk.csv line 1: not valid utf-8" in str(error.value)
    assert "encoding gbk" in str(error.value)
    report = numbers.import_numbers(session, data, "gbk.csv", "billing1", encoding="gbk")
    assert report.accepted_rows == 1


def test_rows_with_the_wrong_number_of_fields_are_bad_rows(session: Session) -> None:
    with pytest.raises(ImportRejected) as rejected:
        numbers.import_numbers(session, csv_bytes("msisdn", "13812345678,1"), "f.csv", "b")
    assert rejected.value.report.errors[0].reason == "2 fields, the header has 1"


def test_empty_file_is_refused(session: Session) -> None:
    with pytest.raises(ImportFileError, match="no data rows"):
        numbers.import_numbers(session, csv_bytes("msisdn"), "empty.csv", "billing1")


def test_excel_float_that_lost_digits_is_a_bad_row(session: Session) -> None:
    data = xlsx_bytes([["msisdn"], [1.3812345678e10 + 0.5]])
    with pytest.raises(ImportRejected):
        numbers.import_numbers(session, data, "f.xlsx", "billing1")
