"""The settlement pages: runs, statements, the revenue feed.

In the browser (Debian's Chromium under Playwright) as the sales centre: settle last month for
a dealer with sales as a job and see it finish, open the draft, dispute it with a comment, run
it again, confirm it, download it as PDF, XLSX and CSV with the statement's figures, record a
payment and mark it paid; upload a revenue feed with one bad row and read the line in its
report. As a dealer manager: the own dealer's confirmed statement and its download, no draft,
and the 403 page for another dealer's statement and its file. Over HTTP, what the forms refuse
(each error beside its field, never a 500) and who may do what."""

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from backoffice.contracts.channel import StaffCreate
from backoffice.domain.settlement.accounts import StatementAction
from backoffice.domain.users import Role
from backoffice.models import DealerAccountEntry, NumberRevenue, SettlementStatement
from backoffice.services.channel import dealers
from backoffice.services.settlement import runs
from tests.backoffice.channel.helpers import channel, pool, stocked_numbers
from tests.backoffice.helpers import csv_bytes, xlsx_bytes
from tests.backoffice.settlement.helpers import (
    NUMBER_PRICE,
    Counter,
    days_ago,
    month_start,
    months_ago,
    plan,
    run,
)
from tests.backoffice.users.helpers import ORIGIN, PASSWORD, csrf_of, make_user, web_log_in
from tests.backoffice.web.conftest import CJK, Visitor

Visit = Callable[..., Visitor]
LAST_MONTH = months_ago(1)


def _sales(session: Session, code: str = "D1", count: int = 2) -> list[str]:
    """A dealer with `count` numbers sold last month and a one-off commission of ¥20 each."""
    shop = channel(session, code)
    numbers = stocked_numbers(session, shop.outlet_code, count)
    plan(session, code, one_off=2_000, code=f"P-{code}")
    counter = Counter(session, shop)
    for offset, number in enumerate(numbers):
        counter.sell(LAST_MONTH + timedelta(days=offset), [("number", number, NUMBER_PRICE)])
    return numbers


def _statement(session: Session, number: str) -> SettlementStatement:
    session.expire_all()
    return runs.find_statement(session, number)


def _job_done(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]+$"))
    expect(page.locator(".job[data-state=succeeded]")).to_be_visible(timeout=30_000)


def _run_for(page: Page, day: str, dealer: str) -> None:
    page.locator("#f-day").fill(day)
    page.locator("#f-dealer").select_option(dealer)
    page.locator("#run button[type=submit]").click()
    _job_done(page)


def _english_only(page: Page, *data: str) -> None:
    """No Chinese on the page but the data: the `data` given, and the ledger lines'
    descriptions (the dealers' names are not Chinese here)."""
    text = page.locator("main").inner_text()
    for line in page.locator("#statement-lines tbody tr").all_inner_texts():
        text = text.replace(line, "")
    for value in data:
        text = text.replace(value, "")
    assert not CJK.search(text), CJK.findall(text)


def test_the_sales_centre_settles_a_dealer_and_works_its_statement(
    visit: Visit, session: Session
) -> None:
    pool(session, end=19)
    _sales(session)
    sales = visit(Role.sales_centre)
    page = sales.goto("/settlement/runs")
    expect(page.get_by_role("heading", name="执行结算", exact=True)).to_be_visible()
    _run_for(page, LAST_MONTH.isoformat(), "D1")
    summary = page.locator("dl.summary")
    expect(summary.locator("dd").nth(1)).to_have_text("1")  # one statement drafted
    sales.screenshot("settlement-run-job")

    # The run's statements, then the draft with its figures.
    page.locator(".job a[href^='/settlement/statements']").click()
    rows = page.locator("#statements tbody tr")
    expect(rows).to_have_count(1)
    number = f"ST-D1-{month_start(LAST_MONTH):%Y%m%d}"
    expect(rows.first).to_have_attribute("data-number", number)
    rows.first.locator(f"a[href='/settlement/statements/{number}']").click()
    statement = _statement(session, number)
    assert statement.status == "draft" and statement.sales_fen > 0
    expect(page.locator("#statement-status .badge.s-draft")).to_be_visible()
    figures = page.locator("#figures")
    expect(figures.locator("[data-figure=sales_fen] td.num")).to_have_text(
        f"¥{statement.sales_fen // 100}.{statement.sales_fen % 100:02d}"
    )
    expect(figures.locator("[data-figure=commission_fen] td.num")).to_have_text("-¥40.00")
    expect(page.locator("#statement-lines tbody tr")).to_have_count(statement.line_count)
    sales.screenshot("settlement-statement")

    # A dispute needs its comment; then the confirmation; then it is disputed.
    page.locator("#move-dispute button").click()
    expect(page.locator("#e-comment")).to_be_visible()
    page.locator("#f-comment").fill("佣金少算了一笔")
    page.locator("#move-dispute button").click()
    expect(page.locator(".confirm")).to_contain_text(number)
    page.locator(".confirm button[type=submit]").click()
    expect(page.locator("#statement-status .badge.s-disputed")).to_be_visible()
    expect(page.locator("#statement-comment")).to_have_text("佣金少算了一笔")
    expect(page.locator("#move-confirm")).to_have_count(0)

    # Run again: a draft once more; confirmed after the confirmation page.
    page = sales.goto("/settlement/runs")
    _run_for(page, LAST_MONTH.isoformat(), "D1")
    page.goto(sales.url(f"/settlement/statements/{number}"))
    expect(page.locator("#statement-status .badge.s-draft")).to_be_visible()
    page.locator("#move-confirm button").click()
    expect(page.locator(".confirm")).to_contain_text("ST-D1")
    page.locator(".confirm button[type=submit]").click()
    expect(page.locator("p.notice")).to_be_visible()
    expect(page.locator("#statement-status .badge.s-confirmed")).to_be_visible()
    statement = _statement(session, number)
    assert statement.status == "confirmed"

    # The downloads: their types and the statement's figures.
    pdf = page.request.get(sales.url(f"/settlement/statements/{number}/pdf"))
    assert pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    table = page.request.get(sales.url(f"/settlement/statements/{number}/csv"))
    assert table.headers["content-type"].startswith("text/csv")
    cells = {
        row[0]: row[1]
        for row in csv.reader(io.StringIO(table.body().decode("utf-8-sig")))
        if len(row) >= 2
    }
    assert cells["结算单号"] == number and cells["状态"] == "已确认"
    assert int(cells["应付结算款(分)"]) == statement.sales_fen
    assert int(cells["期末余额(分)"]) == statement.closing_fen
    with page.expect_download() as download:
        page.locator("#downloads a[href$='/xlsx']").click()
    assert download.value.suggested_filename == f"{number}.xlsx"
    book = load_workbook(io.BytesIO(download.value.path().read_bytes()))
    totals = {row[0]: row[1] for row in book["汇总"].iter_rows(values_only=True)}
    assert totals["期末余额(元)"] == statement.closing_fen / 100

    # A payment from the dealer, in yuan, after its confirmation; then marked paid.
    page.locator("#f-amount").fill("abc")
    page.locator("#f-reference").fill("BANK-0001")
    page.locator("#payment button[type=submit]").click()
    expect(page.locator("#e-amount")).to_be_visible()
    expect(page.locator("#f-reference")).to_have_value("BANK-0001")
    page.locator("#f-amount").fill("80.50")
    page.locator("#payment button[type=submit]").click()
    expect(page.locator(".confirm")).to_contain_text("¥80.50")
    page.locator(".confirm button[type=submit]").click()
    expect(page.locator("p.notice")).to_be_visible()
    payment = session.exec(
        select(DealerAccountEntry).where(DealerAccountEntry.kind == "payment")
    ).one()
    assert payment.amount_fen == -8_050 and payment.description == f"BANK-0001 ({number})"
    page.locator("#move-paid button").click()
    page.locator(".confirm button[type=submit]").click()
    expect(page.locator("#statement-status .badge.s-paid")).to_be_visible()
    assert _statement(session, number).status == "paid"

    # The runs page lists both runs; the statement page in English.
    page.goto(sales.url("/settlement/runs"))
    expect(page.locator("#runs tbody tr[data-state=succeeded]")).to_have_count(2)
    page.goto(sales.url(f"/settlement/statements/{number}"))
    sales.english()
    expect(page.locator("#figures")).to_contain_text("Closing balance")
    _english_only(page, "佣金少算了一笔")
    # The forms' refusals answer 422, as they should; nothing else went wrong.
    assert not [p for p in sales.problems if "422" not in p], sales.problems


def _confirmed(session: Session, code: str) -> str:
    """The dealer's last month settled and confirmed; its statement's number."""
    run(session, LAST_MONTH, code)
    number = f"ST-{code}-{month_start(LAST_MONTH):%Y%m%d}"
    runs.move_statement(session, number, StatementAction.confirm, "sales1")
    return number


def _dealer_manager(session: Session, code: str = "D1", username: str = "boss") -> str:
    dealers.create_staff(
        session,
        code,
        StaffCreate(username=username, password=PASSWORD, role=Role.dealer_manager, pin="5678"),
        "admin",
    )
    return username


def test_a_dealer_manager_sees_only_the_own_closed_statements(
    visit: Visit, session: Session
) -> None:
    pool(session, end=19)
    _sales(session, "D1")
    _sales(session, "D2", count=1)
    own = _confirmed(session, "D1")
    other = _confirmed(session, "D2")
    run(session, days_ago(0), "D1")  # this month's draft, not for the dealer's eyes
    draft = _statement(session, f"ST-D1-{month_start(days_ago(0)):%Y%m%d}")
    assert draft.status == "draft"
    boss = visit(username=_dealer_manager(session), create=False)
    page = boss.goto("/settlement/statements")
    rows = page.locator("#statements tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-number", own)
    expect(page.locator("#f-dealer")).to_have_count(0)
    boss.screenshot("settlement-dealer-statements")

    # The statement: figures and downloads, no actions, no payment form.
    rows.first.locator(f"a[href='/settlement/statements/{own}']").click()
    expect(page.locator("#statement-status .badge.s-confirmed")).to_be_visible()
    expect(page.locator("#actions")).to_have_count(0)
    expect(page.locator("#payment")).to_have_count(0)
    with page.expect_download() as download:
        page.locator("#downloads a[href$='/pdf']").click()
    assert download.value.suggested_filename == f"{own}.pdf"
    assert download.value.path().read_bytes().startswith(b"%PDF")

    # Another dealer's statement and file, and the own draft: the 403 page.
    for path in (
        f"/settlement/statements/{other}",
        f"/settlement/statements/{other}/pdf",
        f"/settlement/statements/{other}/csv",
        f"/settlement/statements/{draft.number}",
        f"/settlement/statements/{draft.number}/xlsx",
        "/settlement/statements?dealer=D2",
    ):
        reply = page.request.get(boss.url(path))
        assert reply.status == 403, (path, reply.status)
        assert "您的角色无权打开此页面" in reply.text()
    page.goto(boss.url(f"/settlement/statements/{other}"))
    expect(page.locator("main")).to_contain_text("无权")
    # The sales centre's own pages stay closed.
    for path in ("/settlement/runs", "/settlement/revenue"):
        assert page.request.get(boss.url(path)).status == 403
    assert not [p for p in boss.problems if "403" not in p], boss.problems


def test_a_revenue_feed_with_a_bad_row_is_reported_by_line(visit: Visit, session: Session) -> None:
    pool(session, end=19)
    sold = _sales(session, count=1)[0]
    feed = csv_bytes("msisdn,revenue", f"{sold},58.50", "1390576000X,12", "13800000000,30")
    sales = visit(Role.sales_centre)
    page = sales.goto("/settlement/revenue")
    month = f"{LAST_MONTH:%Y-%m}"
    page.locator("#f-month").fill(month)
    page.locator("#f-file").set_input_files(
        files=[{"name": "收入.csv", "mimeType": "text/csv", "buffer": feed}]
    )
    page.locator("#upload button[type=submit]").click()
    expect(page.locator("#report .badge.s-rejected")).to_be_visible()
    row = page.locator("#rejected tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(["3", "msisdn", "1390576000X", re.compile("digits")])
    expect(page.locator("[data-total=unknown]")).to_have_text("1")
    assert session.exec(select(NumberRevenue)).first() is None
    sales.screenshot("settlement-revenue-rejected")

    # The good rows stored, the bad one left out; the unknown number listed.
    page.locator("#f-file").set_input_files(
        files=[{"name": "收入.csv", "mimeType": "text/csv", "buffer": feed}]
    )
    page.locator("input[name=skip_bad_rows]").check()
    page.locator("#upload button[type=submit]").click()
    expect(page.locator("#report .badge.s-partial")).to_be_visible()
    expect(page.locator("[data-total=accepted]")).to_have_text("2")
    expect(page.locator("[data-total=revenue]")).to_have_text("¥88.50")
    expect(page.locator("#unknown")).to_contain_text("13800000000")
    stored = {r.msisdn: r.revenue_fen for r in session.exec(select(NumberRevenue))}
    assert stored == {sold: 5_850, "13800000000": 3_000}
    # The refused file's report answered 422; nothing else went wrong.
    assert not [p for p in sales.problems if "422" not in p], sales.problems


# --- Over HTTP ------------------------------------------------------------------------------


@pytest.fixture
def sales_client(client: TestClient, session: Session) -> TestClient:
    make_user(session, "sales1", Role.sales_centre)
    assert web_log_in(client, "sales1").status_code == 303
    client.cookies.set("haoka_lang", "en")
    return client


def _post(client: TestClient, path: str, data: dict[str, str], files: dict | None = None):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/settlement/runs").text)
    return client.post(
        path,
        data={**data, "csrf_token": token},
        files=files,
        headers=ORIGIN,
        follow_redirects=False,
    )


def test_the_run_form_says_what_is_wrong_beside_each_field(
    sales_client: TestClient, session: Session
) -> None:
    channel(session, "D1")
    for data, field, message in (
        ({"day": "31.10.2026"}, "day", "A date"),
        ({"day": "2999-01-01"}, "day", "has not come yet"),
        ({"day": "2026-10-01", "dealer": "NOPE"}, "dealer", "No dealer NOPE"),
        ({"day": "2026-10-01", "cadence": "year"}, "cadence", "monthly, weekly or daily"),
    ):
        reply = _post(sales_client, "/settlement/runs", data)
        assert reply.status_code == 422, data
        assert f'id="f-{field}"' in reply.text and message in reply.text, (data, reply.text[-800:])
    reply = _post(sales_client, "/settlement/runs", {"day": "2026-10-01", "dealer": "D1"})
    assert reply.status_code == 303 and reply.headers["location"].startswith("/jobs/")
    listed = sales_client.get("/settlement/runs")
    assert "Settle dealer D1 for 2026-10-01 – 2026-10-31" in listed.text
    # No form from elsewhere.
    forged = sales_client.post(
        "/settlement/runs", data={"day": "2026-10-01"}, headers=ORIGIN, follow_redirects=False
    )
    assert forged.status_code == 403


def test_statement_actions_refuse_what_they_cannot_do(
    sales_client: TestClient, session: Session
) -> None:
    pool(session, end=19)
    _sales(session, "D1", count=1)
    run(session, LAST_MONTH, "D1")
    number = f"ST-D1-{month_start(LAST_MONTH):%Y%m%d}"
    path = f"/settlement/statements/{number}"
    assert sales_client.get("/settlement/statements/ST-NONE").status_code == 404
    assert sales_client.get("/settlement/statements/ST-NONE/pdf").status_code == 404
    assert sales_client.get(f"{path}/doc").status_code in (404, 422)
    # Paid straight from a draft: refused, on the statement's page, nothing moved.
    reply = _post(sales_client, f"{path}/paid", {"confirmed": "yes"})
    assert reply.status_code == 409 and "not possible from there" in reply.text
    reply = _post(sales_client, f"{path}/dispute", {"comment": "  "})
    assert reply.status_code == 422 and "Say what is disputed" in reply.text
    reply = _post(sales_client, f"{path}/payment", {"amount": "-5", "reference": "R1"})
    assert reply.status_code == 422 and "More than 0 yuan" in reply.text
    assert _statement(session, number).status == "draft"
    # The confirmation page first, then the move.
    reply = _post(sales_client, f"{path}/confirm", {})
    assert reply.status_code == 200 and "Confirm statement" in reply.text
    assert _statement(session, number).status == "draft"
    reply = _post(sales_client, f"{path}/confirm", {"confirmed": "yes"})
    assert reply.status_code == 303 and reply.headers["location"] == f"{path}?done=confirm"
    assert _statement(session, number).status == "confirmed"
    # The list's filters are checked too.
    assert sales_client.get("/settlement/statements?period=yesterday").status_code == 422
    assert sales_client.get("/settlement/statements?status=lost").status_code == 422
    listed = sales_client.get("/settlement/statements?status=confirmed&dealer=D1")
    assert number in listed.text


def test_a_dealer_manager_may_not_act_on_statements(client: TestClient, session: Session) -> None:
    pool(session, end=19)
    _sales(session, "D1", count=1)
    number = _confirmed(session, "D1")
    assert web_log_in(client, _dealer_manager(session)).status_code == 303
    page = client.get(f"/settlement/statements/{number}")
    assert page.status_code == 200 and "/paid" not in page.text
    token = csrf_of(page.text)
    for move in ("paid", "dispute", "payment"):
        reply = client.post(
            f"/settlement/statements/{number}/{move}",
            data={"csrf_token": token, "confirmed": "yes", "comment": "x", "amount": "1"},
            headers=ORIGIN,
        )
        assert reply.status_code == 403, move
    assert _statement(session, number).status == "confirmed"


def test_the_revenue_form_refuses_files_it_cannot_read(
    sales_client: TestClient, session: Session
) -> None:
    pool(session, end=19)
    month = f"{LAST_MONTH:%Y-%m}"

    def upload(name: str, data: bytes, **form: str):  # type: ignore[no-untyped-def]
        fields = {"month": month, "encoding": "utf-8", **form}
        return _post(
            sales_client, "/settlement/revenue", fields, {"file": (name, data, "text/csv")}
        )

    reply = upload("feed.csv", csv_bytes("msisdn,amount", "13905750001,1"))
    assert reply.status_code == 422 and "line 1" in reply.text and "amount" in reply.text
    reply = upload("feed.csv", csv_bytes("msisdn,revenue", "13905750001,lots"))
    assert reply.status_code == 422 and "not an amount in yuan" in reply.text
    reply = upload("feed.pdf", b"%PDF")
    assert reply.status_code == 422 and "A CSV or XLSX file" in reply.text
    reply = upload("feed.csv", csv_bytes("msisdn,revenue", "13905750001,1"), month="2999-01")
    assert reply.status_code == 422 and "has not begun" in reply.text
    reply = upload("feed.csv", csv_bytes("msisdn,revenue"))
    assert reply.status_code == 422 and "no data rows" in reply.text
    assert session.exec(select(NumberRevenue)).first() is None
    # GBK with Chinese headers, and XLSX: both stored.
    gbk = csv_bytes("号码,收入", "13905750001,10", encoding="gbk")
    reply = upload("收入.csv", gbk, encoding="gbk")
    assert reply.status_code == 200 and "All 1 rows stored" in reply.text
    book = xlsx_bytes([["msisdn", "revenue"], ["13905750001", 12.5], ["13905750002", 3]])
    reply = upload("feed.xlsx", book)
    assert reply.status_code == 200 and "Earlier figures replaced" in reply.text
    session.expire_all()
    stored = {r.msisdn: r.revenue_fen for r in session.exec(select(NumberRevenue))}
    assert stored == {"13905750001": 1_250, "13905750002": 300}
