"""What the browser tests of the back office's pages share: the office under uvicorn (its own
job runner included), Debian's headless Chromium driven by Playwright, users of each role
logged in through the log-in form, a watch on console errors (Content-Security-Policy
violations included), and screenshots for the README when HAOKA_SCREENSHOTS names a folder."""

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlmodel import Session

from backoffice.core.config import Settings
from backoffice.domain.users import Role
from tests.backoffice.users.helpers import PASSWORD, make_user
from tests.pos_terminal.office import OfficeServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chinese characters: none may be left on a page shown in English, but for the data.
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def office(settings: Settings) -> Iterator[OfficeServer]:
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


class Visitor:
    """A browser context logged in as one user, with the console errors it met."""

    def __init__(self, office: OfficeServer, context: BrowserContext, username: str) -> None:
        self.office = office
        self.context = context
        self.username = username
        self.page = context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))

    def _console(self, message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error":
            self.problems.append(message.text)

    def url(self, path: str) -> str:
        return f"{self.office.url}{path}"

    def goto(self, path: str) -> Page:
        self.page.goto(self.url(path))
        return self.page

    def english(self) -> None:
        """Switches to English with the switch in the top bar; back on the same page."""
        self.page.locator("nav.languages a[hreflang=en]").click()
        expect(self.page.locator("html")).to_have_attribute("lang", "en")

    def chinese(self) -> None:
        self.page.locator("nav.languages a[hreflang=zh]").click()
        expect(self.page.locator("html")).to_have_attribute("lang", "zh-CN")

    def screenshot(self, name: str) -> None:
        folder = os.environ.get("HAOKA_SCREENSHOTS")
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def visit(
    office: OfficeServer, browser: Browser, session: Session
) -> Iterator[Callable[..., Visitor]]:
    """`visit(Role.billing)` (or `visit(Role.admin, username="root")`): a new user of the
    role, logged in through the form; `create=False` logs in an existing user by name."""
    contexts: list[BrowserContext] = []

    def open_as(role: Role | None = None, username: str | None = None, create: bool = True):  # type: ignore[no-untyped-def]
        name = username or (f"{role.value}-{len(contexts) + 1}" if role else None)
        assert name is not None
        if create:
            assert role is not None
            make_user(session, name, role)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        contexts.append(context)
        visitor = Visitor(office, context, name)
        log_in(visitor.page, office, name)
        return visitor

    yield open_as
    for context in contexts:
        context.close()


def log_in(page: Page, office: OfficeServer, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{office.url}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).not_to_have_url(re.compile(r"/login"))
