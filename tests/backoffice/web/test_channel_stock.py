"""The sales centre's stock pages: allocation by rule with its preview and delivery note,
the stock documents, receipt discrepancies, returns, transfers and stock counts.

In the browser (Debian's Chromium under Playwright) as a sales-centre clerk: allocate by two
rules to an outlet, see the preview's counts and the dealer's credit after, confirm, open the
delivery note's PDF and find the note in transit; an allocation over the credit limit refused
at the preview; a discrepancy resolved after its confirmation; a transfer and a return to the
centre; the pages in English; the 403 page for a dealer manager and a billing clerk. Over HTTP,
what the forms refuse (each error beside its field or row, never a 500), a stock count's
differences, and the pages of what is not there."""

import re
from collections.abc import Callable

import pypdfium2
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import Session, func, select

from backoffice.contracts.channel import OutletCreate
from backoffice.domain.users import Role
from backoffice.models import DocumentDiscrepancy, MobileNumber, StockDocument
from backoffice.services.channel import allocation_preview, dealers, receipts
from backoffice.services.channel.items import NUMBERS, VOUCHERS
from tests.backoffice.channel.helpers import allocate_numbers, channel, pool, stocked_numbers
from tests.backoffice.users.helpers import ORIGIN, csrf_of, make_user, web_log_in
from tests.backoffice.web.conftest import CJK, Visitor

Visit = Callable[..., Visitor]
# Data that may stay Chinese on an English page: the grades' names, the language switch's.
DATA = re.compile(r"(一|二|三|四)级靓号|普通号|多4优惠号|中文")


def _english_only(page: Page) -> None:
    text = DATA.sub("", page.locator("body").inner_text())
    assert not CJK.search(text), CJK.findall(text)


def _pdf_text(pdf: bytes) -> str:
    return "".join(page.get_textpage().get_text_range() for page in pypdfium2.PdfDocument(pdf))


def _outlet(session: Session, dealer: str, code: str) -> None:
    dealers.create_outlet(
        session, OutletCreate(dealer=dealer, code=code, name=f"outlet {code}"), "sales1"
    )


# --- in the browser -------------------------------------------------------------------------


def test_allocate_by_two_rules_with_preview_then_the_delivery_note(
    visit: Visit, session: Session
) -> None:
    pool(session, end=199, cards=30)
    shop = channel(session, credit_limit_fen=500_000)
    standard = allocation_preview.in_pool(session, NUMBERS, "STD")
    clerk = visit(Role.sales_centre)
    page = clerk.goto("/channel/allocations")
    expect(page.get_by_role("heading", name="新配号")).to_be_visible()
    page.locator("#f-dealer").select_option("D1")
    # htmx swaps in the dealer's outlets: the menu says whose they are.
    expect(page.locator("#outlet-field[data-dealer='D1'] option[value='D1-O1']")).to_have_count(1)
    page.locator("#f-outlet").select_option("D1-O1")
    rows = page.locator("#rules tbody tr")
    rows.nth(0).locator("select").select_option("number:STD")
    rows.nth(0).locator("input").fill("20")
    rows.nth(1).locator("select").select_option("voucher:5000")
    rows.nth(1).locator("input").fill("10")
    page.locator("#f-order").select_option("in_order")
    page.locator("#f-note").fill("开业备货")
    clerk.screenshot("channel-allocation")
    page.locator("#new-allocation button[type=submit]").click()

    # The preview: what the pool holds per rule, the prices, the credit after.
    preview = page.locator("#preview-rules tbody tr")
    expect(preview).to_have_count(2)
    expect(preview.nth(0).locator("td")).to_contain_text(
        ["1", "STD", "20", f"{standard:,}", "是", "¥50.00", "¥1000.00"]
    )
    expect(preview.nth(1).locator("td")).to_contain_text(
        ["2", "¥50.00", "10", "30", "是", "¥48.50", "¥485.00"]
    )
    expect(page.locator("#charge")).to_have_text("¥1485.00")
    expect(page.locator("#credit-limit")).to_have_text("¥5000.00")
    expect(page.locator("#credit-after")).to_have_text("¥3515.00")
    expect(page.locator("#confirm .warning")).to_contain_text("30")
    clerk.screenshot("channel-allocation-preview")
    page.locator("#confirm button.danger").click()

    # The delivery note: in transit, 30 items, its PDF with its number.
    expect(page.locator("p.notice")).to_be_visible()
    number = page.locator("#document-number").inner_text()
    assert number.startswith("DN")
    expect(page.locator("#document-status")).to_have_class(re.compile("s-doc-allocated"))
    expect(page.locator("#document-items")).to_have_text("30")
    expect(page.locator("#lines tbody tr").first).to_be_visible()
    clerk.screenshot("channel-delivery-note")
    reply = page.request.get(clerk.url(page.locator("#pdf").get_attribute("href") or ""))
    assert reply.status == 200 and reply.headers["content-type"] == "application/pdf"
    assert reply.body().startswith(b"%PDF") and number in _pdf_text(reply.body())

    # The note is in transit on the documents list; the items are the outlet's, allocated.
    page = clerk.goto("/channel/documents?status=allocated")
    expect(page.locator(f"#documents tr[data-number='{number}']")).to_be_visible()
    page = clerk.goto("/channel/documents?kind=RT")
    expect(page.locator("#documents tbody tr")).to_have_count(0)
    held = session.exec(
        select(func.count()).where(MobileNumber.outlet_id == shop.outlet_id)  # type: ignore[arg-type]
    ).one()
    assert held == 20
    assert allocation_preview.in_pool(session, VOUCHERS, 5000) == 20
    page = clerk.goto("/channel/allocations")
    expect(page.locator("#recent tbody tr")).to_have_count(1)
    assert clerk.problems == []


def test_an_allocation_over_the_credit_limit_is_refused_at_the_preview(
    visit: Visit, session: Session
) -> None:
    pool(session, end=99)
    channel(session, credit_limit_fen=20_000)  # ¥200: four standard numbers
    allocate_numbers(session, "D1-O1", 2)
    clerk = visit(Role.sales_centre)
    page = clerk.goto("/channel/allocations")
    clerk.english()
    # The dealer first: the outlet menu then holds its outlets only.
    expect(page.locator("#f-outlet option")).to_have_count(1)
    page.locator("#f-dealer").select_option("D1")
    expect(page.locator("#outlet-field[data-dealer='D1'] option[value='D1-O1']")).to_have_count(1)
    page.locator("#f-outlet").select_option("D1-O1")
    page.locator("#rules tbody tr select").first.select_option("number:STD")
    page.locator("#rules tbody tr input").first.fill("5")
    page.locator("#new-allocation button[type=submit]").click()
    expect(page.locator("#credit-owed")).to_have_text("¥100.00")
    expect(page.locator("#credit-after")).to_have_text("-¥150.00")
    refusal = page.locator("#refused .warning")
    expect(refusal).to_contain_text("over its credit limit of ¥200.00")
    expect(refusal).to_contain_text("Lower the counts")
    expect(page.locator("#confirm")).to_have_count(0)
    _english_only(page)
    clerk.screenshot("channel-allocation-refused")
    # Back to the form, the rules kept; lowered to what the credit allows, it can be made.
    page.locator("#refused a.button").click()
    expect(page.locator("#rules tbody tr input").first).to_have_value("5")
    page.locator("#rules tbody tr input").first.fill("2")
    page.locator("#new-allocation button[type=submit]").click()
    expect(page.locator("#credit-after")).to_have_text("¥0.00")
    expect(page.locator("#confirm button.danger")).to_be_visible()
    # The browser notes the refusal's 409 status itself; nothing else.
    assert [p for p in clerk.problems if "status of 409" not in p] == []


def test_a_receipt_discrepancy_is_resolved_after_its_confirmation(
    visit: Visit, session: Session
) -> None:
    pool(session, end=99)
    shop = channel(session)
    note = allocate_numbers(session, shop.outlet_code, 3)
    sent = [n for line in note.lines for n in _range(line.first_item, line.last_item)]
    receipts.receive(session, note.number, [sent[0], sent[1], "13905750099"], "clerk")
    missing = sent[2]
    clerk = visit(Role.sales_centre)
    page = clerk.goto("/channel/discrepancies")
    rows = page.locator("#discrepancies tbody tr")
    expect(rows).to_have_count(2)
    clerk.screenshot("channel-discrepancies")
    rows.filter(has_text=missing).locator("a").first.click()
    expect(page.locator("#discrepancy-status")).to_have_class(re.compile("s-open"))
    page.locator("#f-resolution").select_option("returned_to_pool")
    page.locator("#f-note").fill("lost in the van")
    page.locator("#resolve button[type=submit]").click()
    question = page.locator("section.confirm .warning")
    expect(question).to_contain_text(missing)
    expect(question).to_contain_text(note.number)
    page.locator("section.confirm button.danger").click()
    expect(page.locator("p.notice")).to_be_visible()
    expect(page.locator("#discrepancy-status")).to_have_class(re.compile("s-resolved"))
    expect(page.locator("#resolve")).to_have_count(0)
    number = session.get(MobileNumber, missing)
    assert number is not None
    session.refresh(number)
    assert number.status == "available" and number.outlet_id is None
    # The delivery note's page shows it resolved, and its history.
    page.locator(f"a[href='/channel/documents/{note.number}']").click()
    expect(page.locator("#document-status")).to_have_class(re.compile("s-doc-discrepancy"))
    expect(page.locator("#discrepancies tbody tr")).to_have_count(2)
    expect(page.locator("#history li")).to_have_count(3)  # allocated, received, resolved
    page = clerk.goto("/channel/discrepancies")
    expect(page.locator("#discrepancies tbody tr")).to_have_count(1)
    assert clerk.problems == []


def _range(first: str, last: str) -> list[str]:
    return [f"{n:011d}" for n in range(int(first), int(last) + 1)]


def test_a_transfer_and_a_return_to_centre(visit: Visit, session: Session) -> None:
    pool(session, end=99)
    shop = channel(session)
    _outlet(session, "D1", "D1-O2")
    held = stocked_numbers(session, shop.outlet_code, 5)
    clerk = visit(Role.sales_centre)
    page = clerk.goto("/channel/documents")
    page.locator("#moves a[href='/channel/documents/transfer']").click()
    page.locator("#f-outlet").select_option("D1-O1")
    page.locator("#f-to_outlet").select_option("D1-O2")
    page.locator("#f-items").fill(f"{held[0]}\n{held[1]}")
    page.locator("#move-form button[type=submit]").click()
    expect(page.locator("section.confirm .warning")).to_contain_text("D1-O2")
    page.locator("section.confirm button.danger").click()
    expect(page.locator("#document-number")).to_have_text(re.compile("^TR"))
    expect(page.locator("#document-status")).to_have_class(re.compile("s-doc-allocated"))
    expect(page.locator("#document-items")).to_have_text("2")
    expect(page.locator("#pdf")).to_be_visible()

    page = clerk.goto("/channel/documents/return")
    page.locator("#f-outlet").select_option("D1-O1")
    page.locator("#f-items").fill(f"{held[2]}, {held[3]}")
    page.locator("#move-form button[type=submit]").click()
    expect(page.locator("section.confirm .warning")).to_contain_text("2")
    page.locator("section.confirm button.danger").click()
    expect(page.locator("#document-number")).to_have_text(re.compile("^RT"))
    expect(page.locator("#pdf")).to_have_count(0)
    for msisdn, (state, outlet) in {
        held[0]: ("allocated", "D1-O2"),
        held[2]: ("available", None),
        held[4]: ("in_stock", "D1-O1"),
    }.items():
        row = session.get(MobileNumber, msisdn)
        assert row is not None
        session.refresh(row)
        code = None if row.outlet_id is None else dealers.find_outlet(session, row.outlet_id).code
        assert (row.status, code) == (state, outlet), msisdn

    # A held item returned twice: refused beside the items, nothing moves.
    page = clerk.goto("/channel/documents/return")
    page.locator("#f-outlet").select_option("D1-O1")
    page.locator("#f-items").fill(held[2])
    page.locator("#move-form button[type=submit]").click()
    expect(page.locator("#e-items")).to_contain_text(held[2])

    # In English: no Chinese left on the pages but the data.
    clerk.english()
    page = clerk.goto("/channel/documents")
    _english_only(page)
    page.locator("#documents tbody tr a").first.click()
    _english_only(page)
    for path in (
        "/channel/allocations",
        "/channel/discrepancies?status=all",
        "/channel/documents/transfer",
        "/channel/documents/count",
    ):
        _english_only(clerk.goto(path))
    page = clerk.goto("/channel/documents/return")
    page.locator("#f-outlet").select_option("D1-O1")
    page.locator("#f-items").fill(held[4])
    page.locator("#move-form button[type=submit]").click()
    expect(page.locator("section.confirm .warning")).to_have_text(
        "Return 1 items from outlet D1-O1 outlet of D1 to the centre?"
    )
    _english_only(page)
    # The browser notes the refused return's 422 status itself; nothing else.
    assert [p for p in clerk.problems if "status of 422" not in p] == []


def test_a_dealer_manager_and_a_billing_clerk_get_the_403_page(
    visit: Visit, session: Session
) -> None:
    pool(session, end=9)
    shop = channel(session)
    note = allocate_numbers(session, shop.outlet_code, 1)
    for role in (Role.dealer_manager, Role.billing):
        visitor = visit(role)
        for path in (
            "/channel/allocations",
            "/channel/documents",
            f"/channel/documents/{note.number}",
            f"/channel/documents/{note.number}/pdf",
            "/channel/discrepancies",
            "/channel/documents/return",
        ):
            reply = visitor.page.goto(visitor.url(path))
            assert reply is not None and reply.status == 403, (role, path)
            expect(visitor.page.locator("main h2")).to_have_text("您的角色无权打开此页面")
        assert [p for p in visitor.problems if "status of 403" not in p] == []


# --- the forms over HTTP: what they refuse, and never a 500 ----------------------------------


@pytest.fixture
def sales(client: TestClient, session: Session) -> TestClient:
    make_user(session, "sales9", Role.sales_centre)
    assert web_log_in(client, "sales9").status_code == 303
    client.cookies.set("haoka_lang", "en")
    return client


def _post(client: TestClient, path: str, data: dict[str, object]):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/channel/allocations").text)
    return client.post(
        path, data={"csrf_token": token, **data}, headers=ORIGIN, follow_redirects=False
    )


def _error_of(page: str, field: str) -> str:
    found = re.search(
        rf'name="{field}"[^>]*>(?:(?!</label>).)*?<small class="error"[^>]*>([^<]*)<', page, re.S
    )
    assert found, f"no error beside {field}"
    return found.group(1)


def _row_errors(page: str) -> dict[int, str]:
    """The errors beside the rule rows, by row."""
    out = {}
    for row in re.finditer(r'<tr class="rule[^"]*" data-row="(\d+)">(.*?)</tr>', page, re.S):
        found = re.search(r'<small class="error"[^>]*>([^<]*)<', row.group(2))
        if found:
            out[int(row.group(1))] = found.group(1)
    return out


def test_the_allocation_form_says_what_is_wrong_beside_each_row(
    sales: TestClient, session: Session
) -> None:
    pool(session, end=9)
    channel(session)
    channel(session, code="D2", staff=False)
    base = {"dealer": "", "outlet": "D1-O1", "order": "random"}
    cases = [
        ({"product": ["number:STD"], "count": ["0"]}, {0: "at least 1"}),
        ({"product": ["number:STD"], "count": ["x"]}, {0: "at least 1"}),
        ({"product": ["number:STD"], "count": ["100001"]}, {0: "At most 100,000"}),
        ({"product": ["", "number:G9"], "count": ["", "1"]}, {1: "no such product"}),
        ({"product": ["", ""], "count": ["", "3"]}, {1: "Choose what"}),
        (
            {"product": ["number:STD", "number:STD"], "count": ["1", "2"]},
            {1: "has a rule above"},
        ),
        ({"product": ["voucher:abc"], "count": ["1"]}, {0: "no such product"}),
    ]
    for data, expected in cases:
        reply = _post(sales, "/channel/allocations/preview", {**base, **data})
        assert reply.status_code == 422, (data, reply.text[:300])
        errors = _row_errors(reply.text)
        assert errors.keys() == expected.keys(), (data, errors)
        for row, words in expected.items():
            assert words in errors[row], (data, errors)
    reply = _post(sales, "/channel/allocations/preview", {**base, "product": [""], "count": [""]})
    assert reply.status_code == 422 and 'id="e-rules"' in reply.text
    one = {"product": ["number:STD"], "count": ["1"]}
    for data, field in (
        ({"outlet": ""}, "outlet"),
        ({"outlet": "NOPE"}, "outlet"),
        ({"dealer": "D2"}, "outlet"),
        ({"dealer": "DX"}, "dealer"),
        ({"order": "by hand"}, "order"),
        ({"note": "n" * 501}, "note"),
    ):
        reply = _post(sales, "/channel/allocations/preview", {**base, **one, **data})
        assert reply.status_code == 422, (data, reply.text[:300])
        assert _error_of(reply.text, field), data
    # Named items are not a rule: the form has no field for them, and nothing is allocated.
    reply = _post(
        sales,
        "/channel/allocations",
        {**base, **one, "items": "13905750001", "msisdn": "13905750001", "confirmed": "yes"},
    )
    assert reply.status_code == 303
    assert session.exec(select(StockDocument).where(StockDocument.kind == "DN")).one()
    # Short of stock: the preview says so beside the rule, and the allocation is refused.
    short = {**base, "product": ["number:STD"], "count": ["500"]}
    reply = _post(sales, "/channel/allocations/preview", short)
    assert (
        reply.status_code == 409 and "no: only" in reply.text and 'id="confirm"' not in reply.text
    )
    reply = _post(sales, "/channel/allocations", {**short, "confirmed": "yes"})
    assert reply.status_code == 409
    assert len(session.exec(select(StockDocument).where(StockDocument.kind == "DN")).all()) == 1
    # Without the form's token: refused before anything is read.
    reply = sales.post("/channel/allocations", data={**base, **one}, headers=ORIGIN)
    assert reply.status_code == 403


def test_the_move_forms_refuse_what_they_cannot_take(sales: TestClient, session: Session) -> None:
    pool(session, end=99)
    shop = channel(session)
    channel(session, code="D2", staff=False)
    _outlet(session, "D1", "D1-O2")
    held = stocked_numbers(session, shop.outlet_code, 3)
    cases = [
        ("return", {"outlet": "", "items": held[0]}, "outlet"),
        ("return", {"outlet": "NOPE", "items": held[0]}, "outlet"),
        ("return", {"outlet": "D1-O1", "items": ""}, "items"),
        ("return", {"outlet": "D1-O1", "items": "1390575"}, "items"),
        ("return", {"outlet": "D1-O1", "items": "13905750009-13905750001"}, "items"),
        ("return", {"outlet": "D1-O1", "items": "13905750000-13905799999"}, "items"),
        ("return", {"outlet": "D1-O2", "items": held[0]}, "items"),
        ("return", {"outlet": "D1-O1", "items": held[0], "note": "\x07"}, "note"),
        ("transfer", {"outlet": "D1-O1", "to_outlet": "", "items": held[0]}, "to_outlet"),
        ("transfer", {"outlet": "D1-O1", "to_outlet": "D1-O1", "items": held[0]}, "to_outlet"),
        ("transfer", {"outlet": "D1-O1", "to_outlet": "D2-O1", "items": held[0]}, "to_outlet"),
        ("transfer", {"outlet": "D1-O2", "to_outlet": "D1-O1", "items": held[0]}, "items"),
    ]
    for move, data, field in cases:
        reply = _post(sales, f"/channel/documents/{move}", data)
        assert reply.status_code == 422, (move, data, reply.text[:300])
        assert _error_of(reply.text, field) if field != "items" else 'id="e-items"' in reply.text
    assert (
        "not at outlet D1-O2"
        in _post(sales, "/channel/documents/return", {"outlet": "D1-O2", "items": held[0]}).text
    )

    # A stock count: asked first; its page lists what is missing and what is unexpected.
    data = {"outlet": "D1-O1", "items": f"{held[0]}\n{held[1]}\n13905750098"}
    reply = _post(sales, "/channel/documents/count", data)
    assert reply.status_code == 200 and "Record a stock count of 3 items" in reply.text
    assert session.exec(select(StockDocument).where(StockDocument.kind == "SC")).first() is None
    reply = _post(sales, "/channel/documents/count", {**data, "confirmed": "yes"})
    assert reply.status_code == 303
    page = sales.get(reply.headers["location"]).text
    assert re.search(r'id="missing">\s*' + held[2], page)
    assert re.search(r'id="unexpected">\s*13905750098', page)
    # Stock counts' differences are not receipt discrepancies: not listed, not resolvable.
    assert "13905750098" not in sales.get("/channel/discrepancies?status=all").text
    counted = session.exec(select(DocumentDiscrepancy)).first()
    assert counted is not None
    assert sales.get(f"/channel/discrepancies/{counted.id}").status_code == 404


def test_resolving_twice_and_the_pages_of_what_is_not_there(
    sales: TestClient, session: Session
) -> None:
    pool(session, end=9)
    shop = channel(session)
    note = allocate_numbers(session, shop.outlet_code, 2)
    receipts.receive(session, note.number, [], "clerk")
    row = session.exec(select(DocumentDiscrepancy)).first()
    assert row is not None
    path = f"/channel/discrepancies/{row.id}/resolve"
    reply = _post(sales, path, {"resolution": "noted"})
    assert reply.status_code == 422 and _error_of(reply.text, "resolution")
    reply = _post(sales, path, {"resolution": "received", "note": "x" * 256})
    assert reply.status_code == 422 and _error_of(reply.text, "note")
    reply = _post(sales, path, {"resolution": "received"})
    assert reply.status_code == 200 and 'name="confirmed" value="yes"' in reply.text
    reply = _post(sales, path, {"resolution": "received", "confirmed": "yes"})
    assert reply.status_code == 303
    reply = _post(sales, path, {"resolution": "received", "confirmed": "yes"})
    assert reply.status_code == 409 and "resolved already" in reply.text
    for missing in (
        "/channel/documents/DN000",
        "/channel/documents/" + "%E4%B8%AD" * 40,
        "/channel/documents/DN000/pdf",
        "/channel/discrepancies/999999",
        "/channel/discrepancies/abc",
        "/channel/discrepancies/" + "9" * 30,
    ):
        reply = sales.get(missing)
        assert reply.status_code == 404 and "main" in reply.text, missing
    receipt = session.exec(select(StockDocument).where(StockDocument.kind == "RC")).one()
    assert sales.get(f"/channel/documents/{receipt.number}/pdf").status_code == 404
    page = sales.get(f"/channel/documents/{receipt.number}").text
    assert note.number in page
    for path in (
        "/channel/documents?kind=XX&status=%27%3B--&after=" + "9" * 500,
        "/channel/discrepancies?status=x&after=abc",
        "/channel/allocations?after=%25&product=number:STD&count=3&product=x",
        "/channel/allocations/outlets?dealer=nope",
    ):
        assert sales.get(path).status_code == 200, path
    for path in ("/channel/documents?dealer=NOPE", "/channel/discrepancies?dealer=NOPE"):
        assert sales.get(path).status_code == 422, path
