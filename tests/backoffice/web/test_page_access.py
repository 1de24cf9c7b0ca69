"""Who may open which page, for every page of the menu and every role that can log in: the
page for the roles its menu item names (and administrators), the 403 page of the frame for
everyone else (not a stack trace, not JSON), the log-in page for nobody logged in; and, in
English, not a word of Chinese left on any page but data (here only the names of the grades
and grading rules, which the migration seeds in Chinese)."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backoffice.api.pages.frame import MENU
from backoffice.contracts.channel import DealerCreate, OutletCreate, StaffCreate
from backoffice.domain.channel import DealerKind
from backoffice.domain.users import Role, allows
from backoffice.services.billing import grading
from backoffice.services.channel import dealers
from tests.backoffice.users.helpers import PASSWORD, make_user, web_log_in
from tests.backoffice.web.conftest import CJK

PAGES = [item for section in MENU for item in section.items if not item.href.startswith("/docs")]
ROLES = [Role.admin, Role.billing, Role.sales_centre, Role.manager, Role.dealer_manager, Role.clerk]


def _log_in_as(client: TestClient, session: Session, role: Role) -> None:
    if role in (Role.dealer_manager, Role.clerk):
        dealers.create_dealer(
            session,
            DealerCreate(code="D1", name="Shop", kind=DealerKind.partner, credit_limit_fen=0),
            "sales",
        )
        dealers.create_outlet(session, OutletCreate(dealer="D1", code="D1-01", name="One"), "s")
        dealers.create_staff(
            session,
            "D1",
            StaffCreate(username="staff", password=PASSWORD, role=role, pin="5678"),
            "admin",
        )
        name = "staff"
    else:
        name = f"{role.value}-user"
        make_user(session, name, role)
    assert web_log_in(client, name).status_code == 303


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_every_page_opens_for_its_roles_and_refuses_the_others(
    client: TestClient, session: Session, role: Role
) -> None:
    _log_in_as(client, session, role)
    for item in PAGES:
        reply = client.get(item.href, follow_redirects=False)
        if allows(role, item.roles):
            if reply.status_code == 303 and not reply.headers["location"].startswith("/login"):
                # A page of one's own (a dealer manager's "/my"): where it leads opens.
                reply = client.get(reply.headers["location"], follow_redirects=False)
            assert reply.status_code == 200, (item.href, reply.status_code, reply.text[:300])
        else:
            assert reply.status_code == 403, (item.href, reply.status_code)
            assert "您的角色无权打开此页面" in reply.text and "Traceback" not in reply.text


def test_nobody_logged_in_is_sent_to_the_log_in_page(client: TestClient) -> None:
    for item in PAGES:
        reply = client.get(item.href, follow_redirects=False)
        assert reply.status_code == 303, item.href
        assert reply.headers["location"].startswith("/login?next=")


def test_every_page_in_english_has_no_chinese_left(client: TestClient, session: Session) -> None:
    _log_in_as(client, session, Role.admin)
    client.get("/language/en")
    # The language switch names Chinese in Chinese, as switches do.
    data = ["中文", *(grade.name for grade in grading.list_grades(session))]
    data += [rule.name for rule in grading.list_rules(session)]
    for item in PAGES:
        page = client.get(item.href).text
        for text in data:
            page = page.replace(text, "")
        left = CJK.findall(page)
        assert not left, (item.href, "".join(left)[:80])
