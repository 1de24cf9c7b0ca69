"""The frame of every page: the menu shows only what the role may open, who is logged in
(and the dealer of dealer staff) is on every page, Chinese by default with an English switch
that stays, errors as pages of the frame (the API keeps its JSON), and the log-in lands each
role on the first page of its menu."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backoffice.contracts.channel import DealerCreate, OutletCreate, StaffCreate
from backoffice.domain.channel import DealerKind
from backoffice.domain.users import Role
from backoffice.services.channel import dealers
from tests.backoffice.users.helpers import PASSWORD, make_user, web_log_in
from tests.backoffice.web.conftest import CJK


def _menu(page: str) -> list[str]:
    nav = page.split('<nav class="menu"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="([^"]+)"', nav)


@pytest.mark.parametrize(
    ("role", "home", "shown", "hidden"),
    [
        (
            Role.billing,
            "/billing/batches",
            {"/billing/numbers", "/jobs"},
            {"/admin/users", "/dashboard"},
        ),
        (Role.admin, "/dashboard", {"/billing/numbers", "/admin/users", "/admin/audit"}, set()),
        (Role.manager, "/dashboard", {"/dashboard", "/docs"}, {"/billing/numbers", "/admin/users"}),
    ],
)
def test_each_role_sees_only_its_pages_and_lands_on_the_first(
    client: TestClient, session: Session, role: Role, home: str, shown: set[str], hidden: set[str]
) -> None:
    make_user(session, "someone", role)
    reply = web_log_in(client, "someone")
    assert reply.status_code == 303 and reply.headers["location"] == home
    page = client.get("/jobs").text
    menu = set(_menu(page))
    assert shown <= menu and not hidden & menu
    assert "someone" in page


def test_dealer_staff_see_their_dealer_in_the_top_bar(client: TestClient, session: Session) -> None:
    dealers.create_dealer(
        session,
        DealerCreate(code="D0575", name="越城通讯", kind=DealerKind.partner, credit_limit_fen=0),
        "sales",
    )
    dealers.create_outlet(session, OutletCreate(dealer="D0575", code="D0575-01", name="一店"), "s")
    dealers.create_staff(
        session,
        "D0575",
        StaffCreate(username="boss", password=PASSWORD, role=Role.dealer_manager, pin="5678"),
        "admin",
    )
    web_log_in(client, "boss")
    who = client.get("/dashboard").text.split('id="who">', 1)[1].split("</span>", 1)[0]
    assert "boss" in who and "代理商店长" in who and "D0575 越城通讯" in who


def test_chinese_first_and_the_english_switch_stays(client: TestClient, session: Session) -> None:
    make_user(session, "clerkb", Role.billing)
    web_log_in(client, "clerkb")
    assert "后台任务" in client.get("/jobs").text
    switched = client.get("/language/en?next=/jobs", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/jobs"
    page = client.get("/jobs").text
    assert '<html lang="en">' in page and "Background jobs" in page
    assert not CJK.search(page.replace("中文", "")), CJK.findall(page)
    # Somewhere else than this site is not where the switch sends anyone.
    assert (
        client.get("/language/zh?next=//evil.example", follow_redirects=False).headers["location"]
        == "/"
    )
    assert "后台任务" in client.get("/jobs").text


def test_errors_are_pages_for_people_and_json_for_the_api(
    client: TestClient, session: Session
) -> None:
    make_user(session, "clerkc", Role.billing)
    web_log_in(client, "clerkc")
    missing = client.get("/billing/no-such-page")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    assert "没有这个页面" in missing.text and 'class="menu"' in missing.text
    job = client.get("/jobs/0000")
    assert job.status_code == 404 and "未找到任务 0000" in job.text
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["code"] == "http_404"
    # Logged out, an error page still shows (without a menu).
    client.cookies.clear()
    anonymous = client.get("/no-such-page")
    assert anonymous.status_code == 404 and 'class="menu"' not in anonymous.text
