"""The sales centre's dealer and outlet pages: in the browser, a dealer created with a product
range, changed, paid, suspended after the confirmation, and its page; a dealer manager led
by /my to their own dealer, read-only, and refused another dealer's pages; the pages in
English. Without the browser: the product range in the services (allocation refuses what
is outside it) and on the API's dealer contract."""

import re
from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    DealerUpdate,
    ProductRange,
    StaffCreate,
)
from backoffice.contracts.settlement import CommissionPlanCreate, CommissionRules
from backoffice.domain.channel import DealerKind
from backoffice.domain.users import Role
from backoffice.models import CommissionPlanRow
from backoffice.services.channel import allocation, dealers, product_range
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from backoffice.services.settlement import plans
from tests.backoffice.channel.helpers import (
    channel,
    pool,
    push,
    resident_id,
    sale_event,
    stocked_numbers,
)
from tests.backoffice.users.helpers import PASSWORD, audit_rows, web_log_in
from tests.backoffice.web.conftest import CJK, Visitor

Visit = Callable[..., Visitor]


def _english_only(page: Page, *data: str) -> None:
    text = page.locator("body").inner_text()
    for value in ("中文", *data):
        text = text.replace(value, "")
    assert not CJK.search(text), CJK.findall(text)


def _unexpected(visitor: Visitor, *statuses: int) -> list[str]:
    expected = tuple(f"the server responded with a status of {status} " for status in statuses)
    return [p for p in visitor.problems if not any(e in p for e in expected)]


# --- the product range in the services --------------------------------------------------------


def _rule(kind: str, count: int = 1, grade: str | None = None) -> AllocationRule:
    if kind == "number":
        return AllocationRule(item_kind="number", count=count, grade=grade)
    return AllocationRule(item_kind="voucher", count=count, face_value_fen=5000)


def test_allocation_outside_the_range_is_refused(session: Session) -> None:
    pool(session, end=49, cards=5)
    shop = channel(session)
    # Without a range of its own a dealer may sell everything.
    assert product_range.range_of(session, shop.dealer_id) == ProductRange()
    dealers.update_dealer(
        session,
        "D1",
        DealerUpdate(product_range=ProductRange(products=["numbers"], grades=["G1", "G2"])),
        "sales1",
    )
    for rule, words in (
        (_rule("number", grade="STD"), "grade STD"),
        (_rule("voucher"), "top-up cards"),
    ):
        with pytest.raises(Conflict) as refused:
            allocation.allocate(
                session, AllocationRequest(outlet=shop.outlet_code, rules=[rule]), "sales1"
            )
        assert refused.value.code == "outside_product_range"
        assert words in str(refused.value) and "D1" in str(refused.value)
    # Nothing was picked or charged.
    assert dealers.owed(session, shop.dealer_id) == 0
    # Within the range again (every grade), the same rule allocates.
    dealers.update_dealer(
        session, "D1", DealerUpdate(product_range=ProductRange(grades=None)), "sales1"
    )
    document = allocation.allocate(
        session,
        AllocationRequest(outlet=shop.outlet_code, rules=[_rule("number", 2, "STD")]),
        "sales1",
    )
    assert document.number.startswith("DN")
    reasons = [r.reason for r in audit_rows(session, "dealer", shop.dealer_id)]
    assert any("grades G1,G2" in (r or "") for r in reasons)
    # An unknown grade is refused, naming it.
    with pytest.raises(InvalidInput) as unknown:
        dealers.update_dealer(
            session, "D1", DealerUpdate(product_range=ProductRange(grades=["ZZ"])), "sales1"
        )
    assert unknown.value.code == "unknown_grade" and "ZZ" in str(unknown.value)


def test_the_range_on_the_api(client: TestClient, login, session: Session) -> None:  # type: ignore[no-untyped-def]
    channel(session, staff=False)
    sales = login(Role.sales_centre)
    reply = client.get("/api/v1/dealers/D1", headers=sales)
    assert reply.json()["product_range"] == {
        "products": ["numbers", "sim_packs", "vouchers"],
        "grades": None,
    }
    reply = client.patch(
        "/api/v1/dealers/D1",
        json={"product_range": {"products": ["vouchers"], "grades": ["STD"]}},
        headers=sales,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["product_range"] == {"products": ["vouchers"], "grades": ["STD"]}
    listed = client.get("/api/v1/dealers", headers=sales).json()
    assert listed[0]["product_range"]["products"] == ["vouchers"]
    reply = client.patch(
        "/api/v1/dealers/D1", json={"product_range": {"products": ["tea"]}}, headers=sales
    )
    assert reply.status_code == 422


def _kind_plan(session: Session, code: str, fen: int) -> None:
    plans.create_plan(
        session,
        CommissionPlanCreate(
            code=code,
            dealer_kind=DealerKind.partner,
            effective_from=date(2026, 1, 1),
            rules=CommissionRules(one_off_fen={"*": fen}),
        ),
        "sales1",
    )


def test_a_dealer_is_given_a_plan_of_a_kind(session: Session) -> None:
    shop = channel(session, staff=False)
    _kind_plan(session, "P-A", 1000)
    _kind_plan(session, "P-B", 2000)
    first = plans.choose_plan(session, "D1", "P-A", "sales1")
    assert (first.code, first.dealer_id, first.effective_from) == (
        "D1.P-A",
        shop.dealer_id,
        date(2026, 1, 1),
    )
    # Chosen again before anything was settled: the first copy never applied, and goes.
    second = plans.choose_plan(session, "D1", "P-B", "sales1")
    own = session.exec(
        select(CommissionPlanRow).where(CommissionPlanRow.dealer_id == shop.dealer_id)
    ).all()
    assert [p.code for p in own] == [second.code] == ["D1.P-B"]
    with pytest.raises(NotFound):
        plans.choose_plan(session, "D1", "D1.P-B", "sales1")


# --- in the browser -------------------------------------------------------------------------


def test_sales_centre_creates_changes_pays_and_suspends_a_dealer(
    visit: Visit, session: Session
) -> None:
    _kind_plan(session, "PARTNER-2026", 1500)
    clerk = visit(Role.sales_centre)
    page = clerk.goto("/channel/dealers/new")
    page.locator("#f-code").fill("D9")
    page.locator("#f-name").fill("越城通讯")
    page.locator("#f-kind").select_option("own_store")
    page.locator("#f-credit").fill("lots")
    page.locator("#f-product-vouchers").uncheck()
    page.locator("#f-all_grades").uncheck()
    page.locator("form[action='/channel/dealers/new'] button[type=submit]").click()
    # Errors beside their fields; what was typed kept.
    expect(page.locator("#e-credit")).to_be_visible()
    expect(page.locator("#e-grades")).to_be_visible()
    expect(page.locator("#f-name")).to_have_value("越城通讯")
    page.locator("#f-credit").fill("5000.50")
    page.locator("#f-grade-STD").check()
    page.locator("#f-grade-G3").check()
    page.locator("#f-cadence").select_option("week")
    page.locator("form[action='/channel/dealers/new'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/channel/dealers/D9\?done=created$"))
    expect(page.locator("#credit-limit")).to_have_text("¥5000.50")
    expect(page.locator("#range-grades")).to_have_text("G3, STD")
    created = dealers.find_dealer(session, "D9")
    assert (created.kind, created.credit_limit_fen) == ("own_store", 500_050)
    assert product_range.range_of(session, created.id) == ProductRange(
        products=["numbers", "sim_packs"], grades=["G3", "STD"]
    )

    # Changed: every grade, cards too, a higher limit.
    page.locator("#edit-dealer").click()
    expect(page.locator("#f-grade-STD")).to_be_checked()
    page.locator("#f-all_grades").check()
    page.locator("#f-product-vouchers").check()
    page.locator("#f-credit").fill("8000")
    page.locator("#f-plan").select_option("PARTNER-2026")
    page.locator("form[action='/channel/dealers/D9/edit'] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/channel/dealers/D9\?done=saved$"))
    expect(page.locator("#credit-limit")).to_have_text("¥8000.00")
    expect(page.locator("#plans")).to_contain_text("D9.PARTNER-2026")
    session.expire_all()
    assert product_range.range_of(session, created.id) == ProductRange()

    # A payment, after its confirmation.
    page.locator("#f-amount").fill("120")
    page.locator("form[action='/channel/dealers/D9/payments'] button[type=submit]").click()
    expect(page.locator("section.confirm")).to_contain_text("¥120.00")
    page.locator("section.confirm button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"done=paid$"))
    expect(page.locator("#balance")).to_have_text("-¥120.00")
    expect(page.locator("#entries tbody tr")).to_have_count(1)
    page.locator("#ledger-link").click()
    expect(page.locator("#entries tbody tr")).to_have_count(1)

    # Suspended with a reason, after the confirmation.
    page = clerk.goto("/channel/dealers/D9")
    page.locator("#f-to").select_option("suspended")
    page.locator("#f-reason").fill("合同到期")
    page.locator("form[action='/channel/dealers/D9/status'] button[type=submit]").click()
    expect(page.locator("section.confirm")).to_be_visible()
    page.locator("section.confirm button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"done=suspended$"))
    expect(page.locator("#summary .badge")).to_have_class(re.compile(r"s-suspended"))
    session.expire_all()
    assert dealers.find_dealer(session, "D9").status == "suspended"
    assert any(r.action == "status" for r in audit_rows(session, "dealer", created.id))

    # The list finds it as the name is typed, filters in the URL.
    page = clerk.goto("/channel/dealers?state=suspended")
    page.locator("input[name=q]").fill("越城")
    expect(page).to_have_url(re.compile(r"q=%E8%B6%8A"))
    expect(page.locator("#dealers tbody tr")).to_have_count(1)
    clerk.english()
    _english_only(page, "越城通讯")
    assert _unexpected(clerk, 422) == []


def test_dealer_manager_sees_only_their_dealer_read_only(visit: Visit, session: Session) -> None:
    pool(session, end=19)
    shop = channel(session)
    channel(session, "D2", staff=False)
    first, *_ = stocked_numbers(session, shop.outlet_code, 4)
    (sold,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", first, 5_000)]))
    assert sold.status == "accepted", sold
    dealers.create_staff(
        session,
        "D1",
        StaffCreate(username="boss", password=PASSWORD, role=Role.dealer_manager, pin="8888"),
        "sales1",
    )
    boss = visit(username="boss", create=False)
    page = boss.goto("/my")
    expect(page).to_have_url(re.compile(r"/channel/dealers/D1$"))
    expect(page.locator("#outlets tbody tr")).to_have_count(1)
    expect(page.locator("#stock")).to_contain_text("3")
    expect(page.locator("#terminals tbody tr")).to_have_count(1)
    # The sale, its customer masked: never the name or ID in clear.
    expect(page.locator("#sales tbody tr")).to_have_count(1)
    expect(page.locator("#sales")).to_contain_text("¥50.00")
    assert "张三" not in page.content() and resident_id() not in page.content()
    # Read-only: no change, payment or status form.
    expect(page.locator("#edit-dealer")).to_have_count(0)
    expect(page.locator("main form[method=post]")).to_have_count(0)
    boss.english()
    _english_only(page, "dealer D1", "outlet of D1", "张*")
    page = boss.goto("/channel/outlets/D1-O1")
    expect(page.locator("#ageing tbody tr")).to_have_count(1)
    for path in ("/channel/dealers/D2", "/channel/outlets/D2-O1", "/channel/dealers/D2/ledger"):
        reply = page.goto(boss.url(path))
        assert reply is not None and reply.status == 403, path
    reply = page.goto(boss.url("/channel/dealers"))
    assert reply is not None and reply.status == 403
    assert _unexpected(boss, 403) == []


def test_outlets_page_and_forms_refused_to_dealer_managers(
    client: TestClient, session: Session
) -> None:
    pool(session, end=19)
    shop = channel(session)
    stocked_numbers(session, shop.outlet_code, 2)
    dealers.create_staff(
        session,
        "D1",
        StaffCreate(username="boss", password=PASSWORD, role=Role.dealer_manager, pin="8888"),
        "sales1",
    )
    assert web_log_in(client, "boss").status_code == 303
    assert client.get("/my", follow_redirects=False).headers["location"] == "/channel/dealers/D1"
    page = client.get("/channel/dealers/D1").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    for path in ("/channel/dealers/D1/payments", "/channel/dealers/D1/status"):
        reply = client.post(
            path,
            data={"csrf_token": token.group(1), "amount": "1", "to": "suspended", "reason": "x"},
            headers={"Origin": "http://testserver"},
        )
        assert reply.status_code == 403, path
    assert client.get("/channel/outlets").status_code == 403
