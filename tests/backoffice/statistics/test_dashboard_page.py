"""The sales dashboard in a real browser: Debian's headless Chromium driven by Playwright
against the back office under uvicorn, on the demo's data (SQLite and PostgreSQL)."""

import csv
import io
import shutil
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session

from backoffice.contracts.channel import DealerCreate, OutletCreate, StaffCreate
from backoffice.core.config import Settings
from backoffice.demo import DEMO_PASSWORD, HISTORY_OUTLET, seed
from backoffice.domain.channel import DealerKind
from backoffice.domain.users import Role
from backoffice.services.channel import dealers
from tests.pos_terminal.office import OfficeServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def office(settings: Settings, session: Session) -> Iterator[OfficeServer]:
    seed(settings)
    # A second dealer without sales, and its manager, to see that dealers see only their own.
    dealers.create_dealer(
        session,
        DealerCreate(code="D0576", name="柯桥通讯", kind=DealerKind.partner, credit_limit_fen=0),
        "sales",
    )
    dealers.create_outlet(
        session, OutletCreate(dealer="D0576", code="D0576-01", name="柯桥营业点"), "sales"
    )
    dealers.create_staff(
        session,
        "D0576",
        StaffCreate(username="boss2", password=DEMO_PASSWORD, role=Role.dealer_manager, pin="5678"),
        "admin",
    )
    server = OfficeServer(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def _log_in(page: Page, office: OfficeServer, username: str, password: str) -> None:
    page.goto(f"{office.url}/dashboard")
    expect(page).to_have_url(f"{office.url}/login?next=/dashboard")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_a_manager_logs_in_and_reads_the_dashboard(office: OfficeServer, browser: Browser) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    _log_in(page, office, "manager", "wrong-password")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误。")

    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{office.url}/dashboard")
    expect(page.get_by_role("heading", name="销售看板")).to_be_visible()
    # One bar per day with sales in the quarter, each with its figure as a tooltip.
    bars = page.locator("#days svg rect.bar")
    assert bars.count() > 0
    assert "¥" in (bars.first.locator("title").text_content() or "")
    outlets = page.locator("#outlets tbody tr")
    expect(outlets.first).to_contain_text(HISTORY_OUTLET[0])
    expect(page.locator("#dealers tbody tr")).to_have_count(1)

    # The table downloads as CSV with the same first row.
    with page.expect_download() as caught:
        page.locator("#outlets").get_by_role("link", name="CSV").click()
    content = caught.value.path().read_bytes().decode("utf-8")
    assert content.startswith("\ufeff名次,网点")
    first = next(csv.DictReader(io.StringIO(content.lstrip("\ufeff"))))
    assert first["网点"] == HISTORY_OUTLET[0]
    assert first["销量"] == outlets.first.locator("td").nth(4).inner_text()

    # An earlier day: the month before has its own figures, picked with the filter form.
    earlier = date.today().replace(day=1) - timedelta(days=1)
    page.get_by_label("截至日期").fill(earlier.isoformat())
    page.get_by_role("button", name="查看").click()
    expect(page).to_have_url(f"{office.url}/dashboard?day={earlier}&dealer=")
    expect(page.locator("#dealers small")).to_contain_text(f"{earlier.replace(day=1)} 至 {earlier}")

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{office.url}/login")
    page.goto(f"{office.url}/dashboard")
    expect(page).to_have_url(f"{office.url}/login?next=/dashboard")
    context.close()


def test_a_dealer_manager_sees_only_the_own_dealer(office: OfficeServer, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    _log_in(page, office, "boss2", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="销售看板")).to_be_visible()
    # D0576 has sold nothing; the demo dealer's figures are not shown, nor its name offered.
    expect(page.locator("#outlets")).to_contain_text("本月尚无销售")
    expect(page.locator("select[name=dealer]")).to_have_count(0)
    page.goto(f"{office.url}/dashboard?dealer=D0575")
    expect(page.get_by_role("alert")).to_contain_text("dealer staff see only their own dealer")
    context.close()


def test_a_clerk_is_told_the_dashboard_is_not_for_them(
    office: OfficeServer, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    _log_in(page, office, "clerk", DEMO_PASSWORD)
    expect(page.get_by_role("heading", name="无权访问")).to_be_visible()
    context.close()
