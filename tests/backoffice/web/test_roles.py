"""Each role in the browser (Debian's Chromium under Playwright): its menu holds exactly the
pages the role may open, and each of them opens; and a dealer manager reaches nothing of
another dealer, by page or by file, whatever the address typed."""

from collections.abc import Callable
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from backoffice.api.pages.frame import MENU
from backoffice.contracts.channel import StaffCreate
from backoffice.domain.settlement.accounts import StatementAction
from backoffice.domain.users import Role, allows
from backoffice.services.channel import dealers
from backoffice.services.settlement import runs
from tests.backoffice.channel.helpers import channel, push, sale_event
from tests.backoffice.settlement.helpers import post, run, statement_of
from tests.backoffice.users.helpers import PASSWORD
from tests.backoffice.web.conftest import Visitor

Visit = Callable[..., Visitor]
ROLES = [Role.admin, Role.billing, Role.sales_centre, Role.manager, Role.dealer_manager, Role.clerk]


def _open_as(visit: Visit, session: Session, role: Role) -> Visitor:
    if role not in (Role.dealer_manager, Role.clerk):
        return visit(role)
    channel(session, "D1", staff=False)
    dealers.create_staff(
        session, "D1", StaffCreate(username="staff", password=PASSWORD, role=role, pin="5678"), "a"
    )
    return visit(username="staff", create=False)


@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_each_role_sees_only_its_menu_and_every_item_opens(
    visit: Visit, session: Session, role: Role
) -> None:
    visitor = _open_as(visit, session, role)
    page = visitor.goto("/jobs")
    shown = page.locator("nav.menu a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    expected = [i.href for s in MENU for i in s.items if allows(role, i.roles)]
    assert shown == expected
    for href in expected:
        if href.startswith("/docs"):
            continue
        page = visitor.goto(href)
        expect(page.locator("main")).to_be_visible()
        assert "您的角色无权打开此页面" not in page.content(), href
    assert visitor.problems == []


def test_a_dealer_manager_reaches_nothing_of_another_dealer(visit: Visit, session: Session) -> None:
    """Dealer D2's dealer page, outlet, statement and its files, queue item and statistics,
    typed into D1's dealer manager's browser: the 403 page (or 404), never D2's data."""
    other = channel(session, "D2", outlet="D2-OUT")
    # A sale of an item D2's outlet does not hold: rejected, queued for the sales centre.
    (result,) = push(
        session, other, sale_event(other.terminal_no, 1, [("voucher", "10579990000000001", 5000)])
    )
    assert result.status == "rejected"
    post(session, "D2", "adjustment", 12_345, date.today(), reason="开户费", approver="finance1")
    run(session, date.today(), dealer="D2")
    statement = statement_of(session, other.dealer_id, date.today().replace(day=1))
    runs.move_statement(session, statement.number, StatementAction.confirm, "sales1")
    secret = "123.45"  # the adjustment on D2's account, in yuan
    boss = _open_as(visit, session, Role.dealer_manager)
    assert boss.goto("/my").url.endswith("/channel/dealers/D1")
    for path in (
        "/channel/dealers/D2",
        "/channel/dealers/D2/ledger",
        "/channel/outlets/D2-OUT",
        f"/settlement/statements/{statement.number}",
        f"/channel/reconciliation/{other.terminal_id}/{result.id}",
        "/statistics/sales?dealer=D2",
        "/statistics/rankings?dealer=D2",
        "/statistics/stock?dealer=D2",
        "/statistics/shifts?dealer=D2",
        "/dashboard?dealer=D2",
    ):
        reply = boss.page.goto(boss.url(path))
        assert reply is not None and reply.status in (403, 404), (path, reply and reply.status)
        main = boss.page.locator("main").inner_text()
        assert secret not in main and "D2-OUT" not in main, path
    for fmt in ("pdf", "xlsx", "csv"):
        reply = boss.context.request.get(
            boss.url(f"/settlement/statements/{statement.number}/{fmt}")
        )
        assert reply.status in (403, 404), (fmt, reply.status)
    # Their own lists name nothing of D2.
    for path in ("/settlement/statements", "/channel/reconciliation", "/statistics/sales"):
        assert "D2" not in boss.goto(path).locator("main").inner_text(), path
    boss.problems.clear()  # the browser logs the 403/404 answers themselves as console errors
