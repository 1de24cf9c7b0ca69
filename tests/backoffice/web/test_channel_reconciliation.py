"""The reconciliation queue's pages in Chromium: the sales centre books a rejected sale as a
manual sale after confirming it, and the queue empties; a dealer manager reads their own
dealer's items only, without the decision form, and gets the 403 page for another's."""

import re
from collections.abc import Callable

from playwright.sync_api import expect
from sqlmodel import Session, select

from backoffice.core.config import Settings
from backoffice.core.crypto import Keys
from backoffice.domain.users import Role
from backoffice.models import MobileNumber, Sale, SyncEvent
from backoffice.services.channel import dealers
from backoffice.services.counter import sync
from shared.sync import PushRequest, RejectReason
from tests.backoffice.channel.helpers import (
    channel,
    context,
    item_status,
    pool,
    sale_event,
    stocked_numbers,
)
from tests.backoffice.users.helpers import make_user
from tests.backoffice.web.conftest import CJK, Visitor


def _rejected_sales(session: Session, settings: Settings) -> dict[str, tuple[str, str, str]]:
    """A sale rejected for each of dealers D1 and D2 (its clerk has left), pushed under the
    office's keys: their (terminal id, event id, number)."""
    pool(session)
    rejected = {}
    for code in ("D1", "D2"):
        shop = channel(session, code)
        msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
        event = sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)], clerk="gone")
        answer = sync.push(
            session,
            context(session, shop),
            PushRequest(events=[event]),
            settings,
            Keys.from_settings(settings),
        )
        (result,) = answer.results
        assert result.reason is RejectReason.unknown_clerk
        rejected[code] = (shop.terminal_id, event.id, msisdn)
    return rejected


def test_the_sales_centre_books_a_rejected_sale_as_a_manual_sale(
    session: Session, settings: Settings, visit: Callable[..., Visitor]
) -> None:
    rejected = _rejected_sales(session, settings)
    terminal_id, event_id, msisdn = rejected["D1"]
    centre = visit(Role.sales_centre)
    page = centre.goto("/channel/reconciliation")
    expect(page.locator("tr.queued")).to_have_count(2)
    page.locator("input[name=dealer]").fill("D1")
    page.locator("form.filters button").click()
    expect(page).to_have_url(re.compile(r"dealer=D1"))
    expect(page.locator("tr.queued")).to_have_count(1)
    centre.english()
    expect(page.locator("tr.queued td.reason").first).to_have_text(
        "The clerk is not the dealer's active staff"
    )
    page.locator("tr.queued a").click()
    expect(page.locator("#what")).to_contain_text("receipt")
    # The buyer only masked.
    expect(page.locator("#buyer")).to_contain_text("330602*")
    expect(page.locator("#buyer")).not_to_contain_text("33060219900101123")

    # A write-off needs a note: the error beside the field, nothing recorded.
    page.locator("#f-kind").select_option("write_off")
    page.locator("#decide button[type=submit]").click()
    expect(page.locator("#decide .field.invalid")).to_have_count(1)

    page.locator("#f-kind").select_option("manual_sale")
    page.locator("#f-note").fill("the clerk left last week; the sale stands")
    page.locator("#decide button[type=submit]").click()
    expect(page.locator("section.confirm")).to_be_visible()
    assert session.exec(select(Sale)).first() is None
    page.locator("section.confirm button.danger").click()
    expect(page.locator("#done")).to_be_visible()
    assert not CJK.search(page.locator("main").inner_text())
    centre.goto("/channel/reconciliation?dealer=D1")
    expect(page.locator("#empty")).to_be_visible()

    session.expire_all()
    sale = session.exec(select(Sale)).one()
    assert (sale.event_id, sale.terminal_id) == (event_id, terminal_id)
    assert item_status(session, MobileNumber, msisdn) == "sold"
    row = session.get(SyncEvent, {"terminal_id": terminal_id, "id": event_id})
    assert row is not None
    assert (row.resolution, row.resolution_kind, row.resolved_by) == (
        "resolved",
        "manual_sale",
        centre.username,
    )
    # Resolved: who decided what, and when; no form any more.
    centre.goto("/channel/reconciliation?status=resolved")
    expect(page.locator("tr.queued")).to_have_count(1)
    page.locator("tr.queued a").click()
    expect(page.locator("#resolved")).to_contain_text("Book as a manual sale")
    expect(page.locator("#resolved")).to_contain_text(centre.username)
    expect(page.locator("#decide")).to_have_count(0)
    # The refused write-off's answer (422) is the only one the console reports.
    assert [p for p in centre.problems if "status of 422" not in p] == []


def test_a_dealer_manager_reads_their_own_items_only(
    session: Session, settings: Settings, visit: Callable[..., Visitor]
) -> None:
    rejected = _rejected_sales(session, settings)
    make_user(session, "boss-d1", Role.clerk)
    dealers.assign_user(session, "boss-d1", Role.dealer_manager, "D1", None, "sales1")
    boss = visit(username="boss-d1", create=False)
    page = boss.goto("/channel/reconciliation")
    expect(page.locator("tr.queued")).to_have_count(1)
    expect(page.locator("input[name=dealer]")).to_have_count(0)
    page.locator("tr.queued a").click()
    expect(page.locator("#open-readonly")).to_be_visible()
    expect(page.locator("#decide")).to_have_count(0)

    other_terminal, other_event, _ = rejected["D2"]
    reply = page.goto(boss.url(f"/channel/reconciliation/{other_terminal}/{other_event}"))
    assert reply is not None and reply.status == 403
    # Filters naming the other dealer's outlet show nothing of it.
    boss.goto("/channel/reconciliation?outlet=D2-O1")
    expect(page.locator("#empty")).to_be_visible()
    # Deciding is the sales centre's: the form's address refuses a dealer manager.
    own_terminal, own_event, _ = rejected["D1"]
    answer = page.request.post(
        boss.url(f"/channel/reconciliation/{own_terminal}/{own_event}"),
        form={"kind": "refund", "confirmed": "yes"},
        headers={"Origin": boss.office.url},
    )
    assert answer.status == 403
    assert [p for p in boss.problems if "status of 403" not in p] == []
