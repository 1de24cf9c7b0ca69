"""Settlement over HTTP: plans, provisioning callbacks, runs, the statement lifecycle, and the
statement as PDF (text extracted with pdftotext), XLSX and CSV."""

import io
import subprocess
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session

from backoffice.domain.users import Role
from backoffice.services.settlement import statements as statement_documents
from tests.backoffice.channel.helpers import channel, pool, staff_login, stocked_numbers
from tests.backoffice.settlement.helpers import (
    NUMBER_PRICE,
    Counter,
    month_start,
    months_ago,
    post,
    run,
)

Login = Callable[[Role], dict[str, str]]


def _settled_statement(session: Session, client: TestClient, login: Login) -> tuple[str, str]:
    """One dealer (named in Chinese) with two number sales, a commission plan, a payment and
    a penalty, settled for last month; returns the statement number and the month's start."""
    pool(session)
    shop = channel(session)
    client.patch(
        "/api/v1/dealers/D1", json={"name": "绍兴越城通讯"}, headers=login(Role.sales_centre)
    )
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    day = months_ago(1)
    Counter(session, shop).sell(
        day, [("number", first, NUMBER_PRICE), ("number", second, NUMBER_PRICE)]
    )
    clerk = login(Role.sales_centre)
    plan = {
        "code": "STD-2026",
        "dealer": "D1",
        "effective_from": "2020-01-01",
        "rules": {"one_off_fen": {"*": 1_500}, "stages": [{"after_months": 3, "amount_fen": 900}]},
    }
    assert client.post("/api/v1/commission-plans", json=plan, headers=clerk).status_code == 201
    for entry in (
        {"kind": "payment", "amount_fen": -2_000, "occurred_on": str(day)},
        {"kind": "penalty", "amount_fen": 800, "occurred_on": str(day), "reason": "乱收费"},
    ):
        reply = client.post("/api/v1/dealers/D1/account/entries", json=entry, headers=clerk)
        assert reply.status_code == 201, reply.text
    reply = client.post("/api/v1/settlement/runs", json={"day": str(day)}, headers=clerk)
    assert reply.status_code == 200, reply.text
    assert reply.json()["statements"] == 1
    return f"ST-D1-{month_start(day):%Y%m%d}", str(month_start(day))


def test_statement_over_http_and_its_lifecycle(
    session: Session, client: TestClient, login: Login
) -> None:
    number, start = _settled_statement(session, client, login)
    clerk = login(Role.sales_centre)
    detail = client.get(f"/api/v1/settlement/statements/{number}", headers=login(Role.manager))
    assert detail.status_code == 200, detail.text
    body = detail.json()
    totals = body["statement"]
    assert body["dealer_name"] == "绍兴越城通讯"
    assert totals["period_start"] == start
    assert totals["closing_fen"] == 10_000 - 3_000 - 2_000 + 800
    assert totals["closing_fen"] == sum(line["amount_fen"] for line in body["lines"])
    account = client.get("/api/v1/dealers/D1/account", headers=clerk).json()
    assert account["balance_fen"] == totals["closing_fen"]

    refused = client.post(f"/api/v1/settlement/statements/{number}/paid", headers=clerk)
    assert (refused.status_code, refused.json()["code"]) == (409, "illegal_transition")
    disputed = client.post(
        f"/api/v1/settlement/statements/{number}/dispute",
        json={"comment": "罚款有异议"},
        headers=clerk,
    )
    assert disputed.json()["status"] == "disputed"
    # A disputed statement is settled again (after corrections) before it can be confirmed.
    refused = client.post(f"/api/v1/settlement/statements/{number}/confirm", headers=clerk)
    assert refused.status_code == 409
    again = {"day": start, "dealer": "D1"}
    assert client.post("/api/v1/settlement/runs", json=again, headers=clerk).status_code == 200
    assert (
        client.post(f"/api/v1/settlement/statements/{number}/confirm", headers=clerk).json()[
            "status"
        ]
        == "confirmed"
    )
    rerun = client.post(
        "/api/v1/settlement/runs", json={"day": start, "dealer": "D1"}, headers=clerk
    )
    assert (rerun.status_code, rerun.json()["code"]) == (409, "statement_closed")
    listed = client.get(
        "/api/v1/settlement/statements", params={"status": "confirmed"}, headers=clerk
    )
    assert [s["number"] for s in listed.json()] == [number]
    manager_run = client.post(
        "/api/v1/settlement/runs", json={"day": start}, headers=login(Role.manager)
    )
    assert manager_run.status_code == 403


def test_statement_pdf_text_shows_the_figures_in_chinese(
    session: Session, client: TestClient, login: Login
) -> None:
    number, start = _settled_statement(session, client, login)
    reply = client.get(
        f"/api/v1/settlement/statements/{number}/pdf", headers=login(Role.sales_centre)
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/pdf"
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=reply.content, capture_output=True, check=True
    ).stdout.decode()
    assert "代理商结算单" in text
    assert "D1 绍兴越城通讯" in text
    end = (month_start(months_ago(0)) - timedelta(days=1)).isoformat()
    assert f"{start} 至 {end}" in text
    for label, figure in (
        ("应付结算款", "¥100.00"),
        ("佣金", "-¥30.00"),
        ("罚款", "¥8.00"),
        ("付款", "-¥20.00"),
        ("期末余额", "¥58.00"),
    ):
        assert any(label in line and figure in line for line in text.splitlines()), label
    assert "乱收费" in text
    assert "第1页共1页" in text.replace(" ", "")


def test_statement_xlsx_and_csv(session: Session, client: TestClient, login: Login) -> None:
    number, _ = _settled_statement(session, client, login)
    clerk = login(Role.sales_centre)
    xlsx = client.get(f"/api/v1/settlement/statements/{number}/xlsx", headers=clerk)
    book = load_workbook(io.BytesIO(xlsx.content))
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True)}
    assert summary["期末余额(元)"] == 58.0
    lines = list(book["明细"].iter_rows(values_only=True))
    assert sum(row[6] for row in lines[1:]) == 58.0
    csv_text = client.get(f"/api/v1/settlement/statements/{number}/csv", headers=clerk).text
    assert "期末余额(分),5800" in csv_text.lstrip("\ufeff").splitlines()


def test_provisioning_callback(client: TestClient, login: Login) -> None:
    body = {"msisdn": "13905750001", "status": "activated", "on": "2026-01-05"}
    assert (
        client.post(
            "/api/v1/activations/callback", json=body, headers=login(Role.clerk)
        ).status_code
        == 403
    )
    system = login(Role.provisioning)
    reply = client.post("/api/v1/activations/callback", json=body, headers=system)
    assert reply.json() == {
        "msisdn": "13905750001",
        "activated_on": "2026-01-05",
        "deactivated_on": None,
    }
    off = {**body, "status": "deactivated", "on": "2026-01-01"}
    refused = client.post("/api/v1/activations/callback", json=off, headers=system)
    assert (refused.status_code, refused.json()["code"]) == (422, "not_activated")
    off["on"] = "2026-04-01"
    assert (
        client.post("/api/v1/activations/callback", json=off, headers=system).json()[
            "deactivated_on"
        ]
        == "2026-04-01"
    )


def test_an_amount_beyond_any_real_figure_is_refused_by_name(
    session: Session, client: TestClient, login: Login
) -> None:
    channel(session)
    centre = login(Role.sales_centre)
    entry = {"kind": "deposit", "amount_fen": -(10**20)}
    reply = client.post("/api/v1/dealers/D1/account/entries", json=entry, headers=centre)
    assert reply.status_code == 422
    assert "amount_fen" in reply.text
    plan = {
        "code": "HUGE",
        "dealer_kind": "partner",
        "effective_from": "2026-01-01",
        "rules": {"one_off_fen": {"*": 10**19}},
    }
    reply = client.post("/api/v1/commission-plans", json=plan, headers=centre)
    assert reply.status_code == 422
    assert "one_off_fen" in reply.text


def test_a_long_statement_numbers_its_pages(session: Session) -> None:
    channel(session)
    day = months_ago(1)
    for n in range(1, 61):
        post(session, "D1", "payment", -n, day)
    run(session, day)
    pdf, _ = statement_documents.render(session, f"ST-D1-{month_start(day):%Y%m%d}", "pdf")
    pages = (
        subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
        )
        .stdout.decode()
        .replace(" ", "")
        .split("\f")
    )
    assert "第1页共2页" in pages[0] and "第2页共2页" in pages[1]
    assert "-0.60" in pages[1]  # the last payment, on the second page


def test_a_dealer_manager_reads_only_its_own_confirmed_statements(
    session: Session, client: TestClient, login: Login
) -> None:
    number, _ = _settled_statement(session, client, login)
    channel(session, code="D2")
    own = staff_login(client, session, "D1", "boss1")
    other = staff_login(client, session, "D2", "boss2")
    # A draft is the sales centre's work in progress: not shown to the dealer yet.
    assert client.get("/api/v1/settlement/statements", headers=own).json() == []
    draft = client.get(f"/api/v1/settlement/statements/{number}", headers=own)
    assert (draft.status_code, draft.json()["code"]) == (404, "statement_not_found")

    clerk = login(Role.sales_centre)
    confirmed = client.post(f"/api/v1/settlement/statements/{number}/confirm", headers=clerk)
    assert confirmed.json()["status"] == "confirmed"
    listed = client.get("/api/v1/settlement/statements", headers=own).json()
    assert [s["number"] for s in listed] == [number]
    detail = client.get(f"/api/v1/settlement/statements/{number}", headers=own)
    assert detail.json()["statement"]["closing_fen"] == 5_800
    pdf = client.get(f"/api/v1/settlement/statements/{number}/pdf", headers=own)
    assert pdf.headers["content-type"] == "application/pdf"

    assert client.get("/api/v1/settlement/statements", headers=other).json() == []
    for path in (number, f"{number}/pdf", f"{number}/csv"):
        reply = client.get(f"/api/v1/settlement/statements/{path}", headers=other)
        assert reply.status_code == 404, path
    # Moving a statement stays the sales centre's.
    paid = client.post(f"/api/v1/settlement/statements/{number}/paid", headers=own)
    assert paid.status_code == 403
