"""The log-in, log-out and API pages in a real browser (Debian's headless Chromium driven by
Playwright, the back office under uvicorn): they work under the Content-Security-Policy
without a single violation, the API pages ask no other host for anything, a log-in posted from
another origin is refused, and the cookie of a session logged out is worth nothing."""

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    expect,
    sync_playwright,
)
from sqlmodel import Session

from backoffice.core.config import Settings
from backoffice.domain.users import Role
from tests.backoffice.users.helpers import PASSWORD, make_user
from tests.pos_terminal.office import OfficeServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def office(settings: Settings, session: Session) -> Iterator[OfficeServer]:
    make_user(session, "manager01", Role.manager)
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


def _watch_console(page: Page) -> list[str]:
    """Every error the page logs, CSP violations included ("Refused to …")."""
    problems: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", seen)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def _watch_requests(page: Page) -> list[str]:
    """The URL of every request the page and its workers make (one the policy blocks is a
    console error besides)."""
    urls: list[str] = []

    def seen(request: Request) -> None:
        urls.append(request.url)

    page.on("request", seen)
    return urls


def _outside(office: OfficeServer, urls: list[str]) -> list[str]:
    """The URLs that leave the office: neither its own nor blob: or data:."""
    return [url for url in urls if not url.startswith((f"{office.url}/", "blob:", "data:"))]


def test_docs_work_under_the_content_security_policy(
    office: OfficeServer, browser: Browser
) -> None:
    page = browser.new_page()
    problems = _watch_console(page)
    requests = _watch_requests(page)
    reply = page.goto(f"{office.url}/docs")
    assert reply is not None and "script-src 'self'" in reply.headers["content-security-policy"]
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/auth/token")).to_be_visible()
    page.locator(".opblock-summary", has_text="/api/v1/auth/token").first.click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    assert problems == []
    assert f"{office.url}/openapi.json" in requests
    assert _outside(office, requests) == []
    page.close()


def test_redoc_works_under_its_own_policy_and_asks_no_other_host(
    office: OfficeServer, browser: Browser
) -> None:
    page = browser.new_page()
    problems = _watch_console(page)
    requests = _watch_requests(page)
    reply = page.goto(f"{office.url}/redoc")
    assert reply is not None
    policy = reply.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "worker-src blob:" in policy
    # ReDoc reads the whole document before it shows anything: slow on a busy machine.
    expect(page.get_by_role("heading", name="HaoKa back office")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("/api/v1/auth/token").first).to_be_visible()
    # The search runs in its blob: worker; it finds the log-in, and a click goes there.
    page.get_by_placeholder("Search...").fill("token")
    page.locator("[data-role='search:results'] li", has_text="Login").first.click()
    expect(page).to_have_url(re.compile(r"/redoc#tag/auth/operation/auth-login$"))
    expect(page.get_by_role("heading", name="Login")).to_be_in_viewport()
    page.wait_for_load_state("networkidle")
    assert problems == []
    assert f"{office.url}/static/haoka/redoc-2.5.4.standalone.js" in requests
    assert _outside(office, requests) == []
    page.close()


def test_log_in_dashboard_log_out_and_the_old_cookie(
    office: OfficeServer, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    problems = _watch_console(page)
    page.goto(f"{office.url}/dashboard")
    expect(page).to_have_url(f"{office.url}/login?next=/dashboard")
    page.get_by_label("用户名").fill("manager01")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="销售看板")).to_be_visible()
    # The style sheet applies (it is a file now, not an inline style the policy would block).
    assert page.locator("header").evaluate("e => getComputedStyle(e).display") == "flex"
    session_cookie = next(c for c in context.cookies() if c["name"] == "haoka_session")

    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(f"{office.url}/login")
    assert problems == []

    # The copied cookie, put back, opens nothing.
    context.add_cookies([session_cookie])
    page.goto(f"{office.url}/dashboard")
    expect(page).to_have_url(f"{office.url}/login?next=/dashboard")
    context.close()


def test_a_log_in_posted_from_another_site_is_refused(
    office: OfficeServer, browser: Browser
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{office.url}/login")  # the browser has the log-in nonce cookie, as a victim's
    attack = (
        f'<form method="post" action="{office.url}/login">'
        '<input name="username" value="manager01">'
        f'<input name="password" value="{PASSWORD}">'
        '<button type="submit">go</button></form>'
    )
    # A page of another site, as the browser sees it (served here by Playwright).
    context.route(
        "http://evil.example/**", lambda route: route.fulfill(body=attack, content_type="text/html")
    )
    page.goto("http://evil.example/")
    page.get_by_role("button", name="go").click()
    expect(page.get_by_role("heading", name="请求被拒绝")).to_be_visible()
    assert not [c for c in context.cookies() if c["name"] == "haoka_session"]
    context.close()
