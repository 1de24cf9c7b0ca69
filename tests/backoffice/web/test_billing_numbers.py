"""The billing centre's item pages: number search (pattern, grade, status, batch, owner; keyset
pages with the filters in the URL), a number's page with its prices, SIM card, owner and
lifecycle timeline; freeze and unfreeze (confirmed first, audited, on the timeline at once);
top-up cards by batch and serial, voiding one; a SIM card written off as lost.

In the browser (Debian's Chromium under Playwright) as a billing clerk, in Chinese and in
English, and refused to the roles that may not open them; over HTTP for what the pages refuse
(bad filters, reasons, moves the lifecycle forbids: an error beside its field or on the page,
never a 500) and for what they must never show (a top-up card's PIN); and the read services
behind them on both databases."""

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from backoffice.domain.users import Role
from backoffice.models import MobileNumber, SimCard, Voucher
from backoffice.services import audit
from backoffice.services.billing import holds, numbers, sims, vouchers
from tests.backoffice.channel.helpers import channel, pool, stocked_numbers
from tests.backoffice.helpers import csv_bytes, iccid
from tests.backoffice.users.helpers import ORIGIN, csrf_of, make_user, web_log_in
from tests.backoffice.web.conftest import CJK, Visitor

FIRST_CARD = "10575000000000001"
# What may stay Chinese on an English page: the grades' names (data) and the language switch's
# name of Chinese.
GRADE_NAMES = re.compile(r"(一|二|三|四)级靓号|普通号|多4优惠号|中文")


def _stock(session: Session, end: int = 999, cards: int = 3) -> dict[str, object]:
    """Numbers 13905750000..end in the pool (¥50 cards too), a dealer with an outlet holding
    two numbers, and three SIM cards paired with the pool's first numbers."""
    pins = pool(session, end=end, cards=cards)
    shop = channel(session)
    stocked = stocked_numbers(session, shop.outlet_code, 2)
    data = csv_bytes("iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(3)))
    sims.import_sims(session, data, "sims.csv", "billing1", code="SIM-1")
    sims.pair_in_order(session, "SEG-A", "SIM-1", "billing1")
    return {"pins": pins, "shop": shop, "stocked": stocked}


def _available_number(session: Session, skip: int = 0) -> str:
    page, _ = numbers.find_numbers(session, status="available", limit=skip + 1)
    return page[skip].msisdn


# --- the read services, on both databases -------------------------------------------------


def test_find_numbers_filters_by_owner_and_pages_by_key(session: Session) -> None:
    made = _stock(session, end=199)
    shop = made["shop"]
    held, _ = numbers.find_numbers(session, outlet_ids=[shop.outlet_id])  # type: ignore[attr-defined]
    assert [n.msisdn for n in held] == made["stocked"]
    assert {n.outlet_id for n in held} == {shop.outlet_id}  # type: ignore[attr-defined]
    assert numbers.find_numbers(session, outlet_ids=[]) == ([], None)

    seen: list[str] = []
    after = None
    while True:
        page, after = numbers.find_numbers(session, pattern="*8", grade="STD", after=after, limit=7)
        seen += [n.msisdn for n in page]
        if after is None:
            break
    standard = session.exec(select(MobileNumber.msisdn).where(MobileNumber.grade_code == "STD"))
    assert seen == sorted(m for m in standard if m.endswith("8")) and len(seen) > 7
    rare, _ = numbers.find_numbers(session, grade="G4", limit=1000)
    graded = session.exec(select(MobileNumber.msisdn).where(MobileNumber.grade_code == "G4"))
    assert [n.msisdn for n in rare] == sorted(graded) != []

    owner = numbers.owners(session, [shop.outlet_id, None])[shop.outlet_id]  # type: ignore[attr-defined]
    assert (owner.outlet.code, owner.dealer.code) == ("D1-O1", "D1")  # type: ignore[union-attr]


def test_a_numbers_timeline_merges_its_batch_and_its_document_in_keyset_pages(
    session: Session,
) -> None:
    made = _stock(session, end=99)
    msisdn = made["stocked"][0]  # type: ignore[index]
    holds.freeze_number(session, msisdn, "police request 118", "billing1")
    holds.unfreeze_number(session, msisdn, "cleared", "billing1")
    sheet = numbers.number_sheet(session, msisdn)
    assert sheet.owner is not None and sheet.owner.outlet.code == "D1-O1"
    assert sheet.document is not None and sheet.document.kind == "DN"
    document = sheet.document
    refs = [
        audit.EntityRef("number", msisdn),
        audit.EntityRef("number_batch", sheet.batch.id),
        audit.EntityRef("pairing", sheet.batch.id),
        audit.EntityRef(
            "outlet",
            document.outlet_id,  # type: ignore[arg-type]
            document_ids=(document.id,),
            reasons=(f"receipt of {document.number}",),
        ),
    ]
    whole, after = audit.timeline(session, refs, newest_first=False, limit=100)
    assert after is None
    assert [(e.action, e.from_status, e.to_status) for e in whole] == [
        ("generate", None, "imported"),
        ("release", "imported", "available"),
        ("allocate", "available", "allocated"),
        ("receive", "allocated", "in_stock"),
        ("pair_in_order", None, None),
        ("freeze", "in_stock", "frozen"),
        ("unfreeze", "frozen", "in_stock"),
    ]
    for newest_first in (True, False):
        pages: list[str] = []
        after = None
        while True:
            page, after = audit.timeline(
                session, refs, after=after, newest_first=newest_first, limit=2
            )
            pages += [e.id for e in page]
            if after is None:
                break
        ids = [e.id for e in whole]
        assert pages == (ids[::-1] if newest_first else ids)


def test_grade_prices_show_the_list_in_force_and_dealers_own_prices(session: Session) -> None:
    from backoffice.contracts.channel import PriceIn
    from backoffice.services.channel import prices

    _stock(session, end=9)
    prices.set_dealer_price(
        session, "D1", PriceIn(product="number:STD", retail_fen=6000, dealer_fen=5500), "admin1"
    )
    found = numbers.grade_prices(session, "STD")
    assert found.price_list_version == 1 and found.central is not None
    assert [(o.dealer_code, o.retail_fen, o.dealer_fen) for o in found.overrides] == [
        ("D1", 6000, 5500)
    ]
    assert numbers.grade_prices(session, "G1").overrides == []


def test_voucher_rows_never_carry_the_pin(session: Session) -> None:
    _stock(session, end=9, cards=3)
    batch = vouchers.find_voucher_batch(session, "CARD50-A")
    cards, after = vouchers.batch_vouchers(session, batch, limit=2)
    assert [c.serial for c in cards] == [FIRST_CARD, "10575000000000002"] and after
    assert not any(hasattr(c, "pin_cipher") for c in cards)
    assert vouchers.voucher_status_counts(session, batch.id) == {"in_warehouse": 3}
    card, _ = vouchers.voucher_row(session, FIRST_CARD)
    assert card.batch_id == batch.id and not hasattr(card, "pin_cipher")


# --- what the pages refuse, over HTTP ------------------------------------------------------


@pytest.fixture
def clerk(client: TestClient, session: Session) -> TestClient:
    make_user(session, "bill01", Role.billing)
    assert web_log_in(client, "bill01").status_code == 303
    return client


def _post(client: TestClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/billing/numbers").text)
    return client.post(
        path, data={"csrf_token": token, **data}, headers=ORIGIN, follow_redirects=False
    )


def test_bad_filters_are_shown_beside_their_fields_never_a_500(
    clerk: TestClient, session: Session
) -> None:
    _stock(session, end=99)
    for query, field in (
        ("pattern=13a*", "pattern"),
        ("pattern=" + "1" * 65, "pattern"),
        ("grade=NOPE", "grade"),
        ("status=sleeping", "status"),
        ("batch=NO-SUCH", "batch"),
        ("dealer=ZZ", "dealer"),
        ("outlet=ZZ-O9", "outlet"),
        ("dealer=D1&outlet=ZZ-O9", "outlet"),
    ):
        reply = clerk.get(f"/billing/numbers?{query}")
        assert reply.status_code == 422, query
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', reply.text), query
    for query in ("after=%27%3B--", "after=9" * 40, "pattern=*&after=abc", "status="):
        assert clerk.get(f"/billing/numbers?{query}").status_code == 200, query
    owned = clerk.get("/billing/numbers?dealer=D1")
    assert owned.status_code == 200 and "D1-O1" in owned.text
    assert clerk.get("/billing/numbers?outlet=D1-O1&status=in_stock").text.count("D1-O1") >= 2
    for path in ("/billing/numbers/123", "/billing/numbers/13905759999", "/billing/sims/89x"):
        assert clerk.get(path).status_code == 404, path
    for query in ("serial=12", "serial=10575000000000999", "batch=NOPE", "batch=" + "x" * 80):
        assert clerk.get(f"/billing/vouchers?{query}").status_code == 422, query
    assert clerk.get("/billing/vouchers?batch=CARD50-A&status=nope").status_code == 422
    assert clerk.get("/billing/sims?iccid=12345").status_code == 422


def test_moves_ask_for_a_reason_and_a_confirmation_and_refuse_what_the_lifecycle_does(
    clerk: TestClient, session: Session
) -> None:
    _stock(session, end=99)
    msisdn = _available_number(session)
    path = f"/billing/numbers/{msisdn}"

    for reason in ("", "   ", "x" * 501):
        reply = _post(clerk, f"{path}/freeze", reason=reason)
        assert reply.status_code == 422 and 'id="e-reason_freeze"' in reply.text
    assert _post(clerk, f"{path}/freeze", reason="nul\x00").status_code == 422
    asked = _post(clerk, f"{path}/freeze", reason="police request 118")
    assert asked.status_code == 200 and 'name="confirmed" value="yes"' in asked.text
    assert session.get(MobileNumber, msisdn).status == "available"  # type: ignore[union-attr]

    done = _post(clerk, f"{path}/freeze", reason="police request 118", confirmed="yes")
    assert (done.status_code, done.headers["location"]) == (303, f"{path}?done=freeze")
    again = _post(clerk, f"{path}/freeze", reason="twice", confirmed="yes")
    assert again.status_code == 409 and 'id="move-error"' in again.text
    assert _post(clerk, f"{path}/deactivate", reason="x", confirmed="yes").status_code == 409
    assert _post(clerk, f"{path}/explode", reason="x").status_code == 404
    assert _post(clerk, "/billing/numbers/1/freeze", reason="x").status_code == 404
    rows = [(e.action, e.reason) for e in audit.entries(session, "number", msisdn)]
    assert rows == [("freeze", "police request 118")]

    # A card is voided only once frozen; a SIM card written off only once.
    void = _post(clerk, f"/billing/vouchers/{FIRST_CARD}/void", reason="x", confirmed="yes")
    assert void.status_code == 409
    assert session.get(Voucher, FIRST_CARD).status == "in_warehouse"  # type: ignore[union-attr]
    lost = _post(clerk, f"/billing/sims/{iccid(0)}/lost", reason="dropped", confirmed="yes")
    assert lost.status_code == 303
    twice = _post(clerk, f"/billing/sims/{iccid(0)}/damaged", reason="x", confirmed="yes")
    assert twice.status_code == 409
    session.expire_all()
    assert session.get(SimCard, iccid(0)).status == "lost"  # type: ignore[union-attr]


def test_no_page_shows_a_top_up_cards_pin(clerk: TestClient, session: Session) -> None:
    made = _stock(session, end=9, cards=3)
    pins = [line.split(",")[1] for line in str(made["pins"]).splitlines()[1:]]
    assert len(pins) == 3
    pages = [
        "/billing/vouchers",
        "/billing/vouchers?batch=CARD50-A",
        *(f"/billing/vouchers/1057500000000000{n}" for n in (1, 2, 3)),
    ]
    for path in pages:
        text = clerk.get(path).text
        assert not any(pin in text for pin in pins), path


# --- in the browser --------------------------------------------------------------------------


def _english_only(page: Page) -> None:
    """Nothing Chinese left on the page but data (the grades' names)."""
    text = GRADE_NAMES.sub("", page.locator("body").inner_text())
    assert not CJK.search(text), CJK.findall(text)[:10]


def _move(page: Page, name: str, reason: str) -> None:
    """Fills the move's reason, asks, and confirms on the confirmation page."""
    form = page.locator(f"form#move-{name}")
    form.locator("input[name=reason]").fill(reason)
    form.locator("button[type=submit]").click()
    expect(page.locator("section.confirm")).to_be_visible()
    expect(page.locator("section.confirm")).to_contain_text(reason)
    page.locator("section.confirm button[type=submit]").click()


def test_billing_clerk_searches_numbers_and_freezes_and_unfreezes_one(
    visit: Callable[..., Visitor], session: Session
) -> None:
    _stock(session, end=999)
    clerk = visit(Role.billing)
    page = clerk.goto("/billing/numbers")
    page.locator("#f-pattern").fill("*8")
    page.locator("#f-grade").select_option("STD")
    page.locator("form[role=search] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"pattern=(%2A|\*)8&grade=STD"))
    first = page.locator("#number-list tbody tr td:first-child a")
    expect(first).to_have_count(50)
    shown = first.all_inner_texts()
    assert all(m.endswith("8") for m in shown) and shown == sorted(shown)
    clerk.screenshot("billing-numbers")

    page.locator(".pager a[rel=next]").click()
    expect(page).to_have_url(re.compile(rf"after={shown[-1]}"))
    second = first.all_inner_texts()
    assert second and second[0] > shown[-1] and all(m.endswith("8") for m in second)
    page.reload()  # the URL is the search: a reload (or a bookmark) shows the same page
    expect(page.locator("#f-pattern")).to_have_value("*8")
    expect(page.locator("#f-grade")).to_have_value("STD")
    assert first.all_inner_texts() == second

    # Typing a pattern searches as you type (htmx), and the URL follows.
    page.locator("#f-pattern").fill("*58")
    expect(page).to_have_url(re.compile(r"pattern=(%2A|\*)58"))
    expect(first.first).to_have_text(re.compile(r"58$"))

    # Open an available number: freeze it, after the confirmation.
    page.goto(clerk.url("/billing/numbers?pattern=*8&status=available"))
    msisdn = first.first.inner_text()
    first.first.click()
    expect(page).to_have_url(clerk.url(f"/billing/numbers/{msisdn}"))
    expect(page.locator("#number-status .badge")).to_have_text("可用")
    _move(page, "freeze", "police request 118")
    expect(page.locator("p.notice")).to_be_visible()
    expect(page.locator("#number-status .badge")).to_have_text("已冻结")
    top = page.locator("ol.timeline li").first
    expect(top).to_contain_text("police request 118")
    expect(top.locator(".badge")).to_have_text(["可用", "已冻结"])
    expect(top).to_contain_text(clerk.username)

    _move(page, "unfreeze", "cleared by the police")
    expect(page.locator("#number-status .badge")).to_have_text("可用")
    expect(top).to_contain_text("cleared by the police")
    expect(top.locator(".badge")).to_have_text(["已冻结", "可用"])
    clerk.screenshot("billing-number")

    clerk.english()
    expect(page.locator("#number-status .badge")).to_have_text("available")
    expect(top.locator(".action")).to_have_text("Unfrozen")
    expect(page.locator("ol.timeline li").nth(1).locator(".action")).to_have_text("Frozen")
    page.locator("#timeline a", has_text="Oldest first").click()
    expect(page.locator("ol.timeline li").first.locator(".action")).to_have_text(
        "Segment generated"
    )
    _english_only(page)
    page.goto(clerk.url("/billing/numbers?pattern=*8&grade=STD"))
    expect(page.locator("#number-list")).to_be_visible()
    _english_only(page)
    assert clerk.problems == []


def test_billing_clerk_voids_a_top_up_card_and_writes_a_sim_card_off(
    visit: Callable[..., Visitor], session: Session
) -> None:
    made = _stock(session, end=99, cards=3)
    pins = [line.split(",")[1] for line in str(made["pins"]).splitlines()[1:]]
    clerk = visit(Role.billing)
    page = clerk.goto("/billing/vouchers")
    page.locator("#batch-list a", has_text="CARD50-A").click()
    expect(page.locator("#batch-counts")).to_contain_text("3")
    clerk.screenshot("billing-vouchers")
    page.locator("#card-list a", has_text=FIRST_CARD).click()
    expect(page).to_have_url(clerk.url(f"/billing/vouchers/{FIRST_CARD}"))
    expect(page.locator("form#move-void")).to_have_count(0)  # voided only once frozen
    _move(page, "freeze", "misprinted PIN")
    expect(page.locator("#card-status .badge")).to_have_text("已冻结")
    _move(page, "void", "misprinted PIN, destroyed")
    expect(page.locator("#card-status .badge")).to_have_text("已作废")
    expect(page.locator("ol.timeline li").first).to_contain_text("misprinted PIN, destroyed")
    expect(page.locator("#moves form")).to_have_count(0)
    assert not any(pin in page.content() for pin in pins)
    clerk.english()
    expect(page.locator("ol.timeline li").first.locator(".action")).to_have_text("Voided")
    _english_only(page)

    # The first SIM card is paired with the pool's first number: lost, it is unpaired.
    page.goto(clerk.url("/billing/sims"))
    page.locator("#f-iccid").fill(iccid(0))
    page.locator("form[action='/billing/sims'] button[type=submit]").click()
    expect(page).to_have_url(clerk.url(f"/billing/sims/{iccid(0)}"))
    expect(page.locator("#sim-number a")).to_have_text("13905750000")
    _move(page, "lost", "lost in transit")
    expect(page.locator("#sim-status .badge")).to_have_text("lost")
    expect(page.locator("#sim-number")).to_contain_text("Not paired")
    expect(page.locator("ol.timeline li").first.locator(".action")).to_have_text("Marked lost")
    clerk.screenshot("billing-sim")
    _english_only(page)
    page.goto(clerk.url("/billing/numbers/13905750000"))
    expect(page.locator("#number-sim")).to_contain_text("Not paired")
    expect(page.locator("ol.timeline li").first.locator(".action")).to_have_text(
        "SIM card unpaired"
    )
    assert clerk.problems == []

    for role in (Role.clerk, Role.manager, Role.dealer_manager):
        other = visit(role)
        for path in ("/billing/numbers", f"/billing/vouchers/{FIRST_CARD}"):
            reply = other.page.goto(other.url(path))
            assert reply is not None and reply.status == 403, (role, path)
            expect(other.page.locator("main h2")).to_have_text("您的角色无权打开此页面")
        # The browser logs each 403 it was answered; nothing else.
        assert [p for p in other.problems if "status of 403" not in p] == []
