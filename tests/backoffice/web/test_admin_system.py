"""The administrators' pages that run the system, in the browser: price list versions seen and
a new one created after a confirmation that says what changes, a dealer's own price and a
grade's prices saved; the audit log searched by entity and the search exported as CSV (the
download parsed, its rows those of the page) and XLSX; a failed activation retried, then all
of them; the configuration with every secret hidden. Every page in English too, and the
other roles get the 403 page. Without the browser: the forms' answers to bad input."""

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from backoffice.api.pages.admin.system import config_rows
from backoffice.contracts.channel import DealerCreate
from backoffice.core.config import Settings
from backoffice.domain.channel import DealerKind
from backoffice.domain.users import Role
from backoffice.models import ActivationOutbox, AuditEntry, NumberGrade
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel import dealers, prices
from shared.ids import new_id
from tests.backoffice.channel.helpers import KEY_SETTINGS
from tests.backoffice.users.helpers import ORIGIN, csrf_of, make_user, web_log_in
from tests.backoffice.web.conftest import CJK, Visitor

Visit = Callable[..., Visitor]
# Values no page may show: the configuration page says only that they are set.
SECRET_KEY = "Sk-9f3b7c1d-never-shown"
WEBHOOK_SECRET = "Whs-41c2e7aa-never-shown"
WEBHOOK_PASSWORD = "Hook-Pa55-never-shown"
WEBHOOK_TOKEN = "Tok-77d1-never-shown"
WEBHOOK_URL = f"https://office:{WEBHOOK_PASSWORD}@provisioning.example/act?token={WEBHOOK_TOKEN}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The office with every kind of secret set, for the configuration page to hide."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key=SECRET_KEY,
        activation_webhook_url=WEBHOOK_URL,
        activation_webhook_secret=WEBHOOK_SECRET,
        **KEY_SETTINGS,
    )


def _english_only(page: Page) -> None:
    """No Chinese left in the page's main part (the data here is in ASCII)."""
    text = page.locator("main").inner_text()
    assert not CJK.search(text), CJK.findall(text)


def _unexpected(visitor: Visitor, *statuses: int) -> list[str]:
    """The console's errors but Chromium's note of a page answered with an expected status
    (a form sent back with its errors: 422; the 403 page)."""
    expected = tuple(f"the server responded with a status of {status} " for status in statuses)
    return [p for p in visitor.problems if not any(e in p for e in expected)]


def _failed_activations(session: Session, count: int) -> list[ActivationOutbox]:
    rows = []
    for n in range(count):
        row = ActivationOutbox(
            id=new_id(),
            msisdn=f"1390575{n:04d}",
            sale_id=new_id(),
            payload="{}",
            status="failed",
            attempts=12,
            next_attempt_at=utcnow() - timedelta(hours=1),
            last_error="HTTP 503",
        )
        session.add(row)
        rows.append(row)
    session.commit()
    return rows


# --- in the browser -------------------------------------------------------------------------


def test_admin_creates_a_price_list_version_and_sets_dealer_and_grade_prices(
    visit: Visit, session: Session
) -> None:
    dealers.create_dealer(
        session,
        DealerCreate(code="D7", name="Seven", kind=DealerKind.partner, credit_limit_fen=0),
        "sales1",
    )
    admin = visit(Role.admin)
    page = admin.goto("/admin/prices")
    expect(page.locator("#version-rows tr[data-version='1'] .badge")).to_have_class(
        re.compile("s-active")
    )
    admin.screenshot("admin-prices")

    # A new version from the newest one: one price changed, one product added; first with a
    # dealer price above the retail price, which is refused beside its line.
    page.locator("#new-version").click()
    expect(page).to_have_url(re.compile(r"/admin/prices/new$"))
    first = page.locator("tr.price-row").first
    product = first.locator("input[name=product]").input_value()
    first.locator("input[name=retail]").fill("88.80")
    first.locator("input[name=dealer]").fill("80")
    blank = page.locator("tr.price-row").filter(has=page.locator("input[name=product][value='']"))
    new_row = blank.first
    new_row.locator("input[name=product]").fill("voucher:12300")
    new_row.locator("input[name=retail]").fill("123")
    new_row.locator("input[name=dealer]").fill("130")
    page.locator("#f-note").fill("spring prices")
    page.locator("#check-version").click()
    expect(page.locator("tr.price-row.invalid")).to_have_count(1)
    expect(page.locator("tr.price-row.invalid .error")).to_be_visible()
    admin.screenshot("admin-prices-new")
    page.locator("tr.price-row.invalid input[name=dealer]").fill("120")
    page.locator("#check-version").click()
    confirm = page.locator("section.confirm")
    expect(confirm.locator("h2")).to_contain_text("2")
    expect(confirm.locator("#changes li")).to_have_count(2)
    expect(confirm.locator("#changes")).to_contain_text(product)
    expect(confirm.locator("#changes")).to_contain_text("voucher:12300")
    admin.screenshot("admin-prices-confirm")
    confirm.locator("button.danger").click()
    expect(page).to_have_url(re.compile(r"/admin/prices/versions/2\?done=created$"))
    expect(page.locator("p.notice")).to_be_visible()
    expect(page.locator("#item-rows tr[data-product='voucher:12300']")).to_contain_text("123.00")
    created = prices.get_version(session, 2)
    assert created.note == "spring prices" and created.created_by == admin.username
    assert prices.central_prices(session, created)[product].retail_fen == 8_880
    assert [r.action for r in audit.entries(session, "price_list", created.id)] == ["create"]

    # The dealer's own price of the new product, then removed again.
    page = admin.goto("/admin/prices/dealers")
    page.locator("#f-dealer").select_option("D7")
    page.locator("#choose-dealer button[type=submit]").click()
    form = page.locator("#dealer-price-form")
    form.locator("#f-product").fill("voucher:12300")
    form.locator("#f-retail").fill("abc")
    form.locator("#f-dealer_price").fill("110")
    form.locator("button[type=submit]").click()
    expect(page.locator("#dealer-price-form .field.invalid #f-retail")).to_be_visible()
    page.locator("#dealer-price-form #f-retail").fill("121.50")
    page.locator("#dealer-price-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"dealer=D7&done=price-set$"))
    row = page.locator("#dealer-price-rows tr[data-product='voucher:12300']")
    expect(row).to_contain_text("121.50")
    admin.screenshot("admin-prices-dealer")
    row.locator("button").click()
    expect(page).to_have_url(re.compile(r"done=price-removed$"))
    expect(page.locator("#dealer-price-rows tr[data-product='voucher:12300'] b")).to_have_count(0)
    # Caps of the dealer's own (the form starts from the price list's), then the defaults again.
    caps = page.locator("#dealer-caps-form")
    expect(caps.locator("#f-max_discount_percent")).to_have_value("20")
    caps.locator("#f-max_discount_percent").fill("10")
    caps.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"done=caps-set$"))
    own = prices.dealer_caps(session, dealers.find_dealer(session, "D7").id)
    assert own is not None and own.max_discount_percent == 10
    page.locator("#clear-caps").click()
    expect(page).to_have_url(re.compile(r"done=caps-cleared$"))
    assert prices.dealer_caps(session, dealers.find_dealer(session, "D7").id) is None
    expect(page.locator("#who")).not_to_contain_text("D7")

    # A grade's prestored credit.
    page = admin.goto("/admin/prices/grades")
    page.locator("tr[data-grade='G4'] input[name=prestore]").fill("120")
    page.locator("tr[data-grade='G4'] button").click()
    expect(page).to_have_url(re.compile(r"done=grade-saved&code=G4$"))
    grade = session.get(NumberGrade, "G4")
    assert grade is not None
    session.refresh(grade)
    assert grade.prestore_fen == 12_000

    page = admin.goto("/admin/prices")
    admin.english()
    expect(page.locator("#version-rows tr")).to_have_count(3)  # the head and two versions
    _english_only(page)
    page.locator("#version-rows a", has_text="2").click()
    _english_only(page)
    assert _unexpected(admin, 422) == []


def test_admin_searches_the_audit_log_by_entity_and_exports_it(
    visit: Visit, session: Session
) -> None:
    for n in range(3):
        audit.record(
            session,
            actor="billing1",
            entity_type="number",
            entity_id="13905750001",
            action="freeze" if n % 2 == 0 else "unfreeze",
            from_status="available" if n % 2 == 0 else "frozen",
            to_status="frozen" if n % 2 == 0 else "available",
            reason=f"=HYPERLINK(check {n})",
        )
    audit.record(
        session, actor="billing1", entity_type="number", entity_id="13905750002", action="freeze"
    )
    session.commit()
    admin = visit(Role.admin)
    page = admin.goto("/admin/audit")
    page.locator("#f-entity").select_option("number")
    page.locator("#f-key").fill("13905750001")
    page.locator("#audit-search button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"entity=number&key=13905750001"))
    rows = page.locator("#audit-rows tbody tr")
    expect(rows).to_have_count(3)
    admin.screenshot("admin-audit")
    shown = [rows.nth(i).get_attribute("data-id") for i in range(3)]
    assert shown == sorted(shown, reverse=True)  # newest first

    with page.expect_download() as download:
        page.locator("#export-csv").click()
    body = Path(download.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")  # a byte-order mark, for Excel
    header, *lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(header) == 12
    assert [line[0] for line in lines] == shown
    assert {(line[2], line[3], line[4]) for line in lines} == {
        ("billing1", "number", "13905750001")
    }
    # A reason that a spreadsheet would run as a formula is exported as text.
    assert {line[10] for line in lines} == {f"'=HYPERLINK(check {n})" for n in range(3)}
    with page.expect_download() as download:
        page.locator("#export-xlsx").click()
    sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    assert sheet is not None
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == shown

    # A time range whose end comes before its start is refused beside the field.
    page.locator("#f-start").fill("2026-12-07T10:00")
    page.locator("#f-end").fill("2026-12-07T09:00")
    page.locator("#audit-search button[type=submit]").click()
    expect(page.locator("#e-end")).to_be_visible()
    admin.english()
    _english_only(page)
    page = admin.goto("/admin/audit?actor=billing1")
    expect(page.locator("#audit-rows tbody tr")).to_have_count(4)
    _english_only(page)
    assert _unexpected(admin, 422) == []


def test_admin_retries_failed_activations_and_sees_the_configuration_without_secrets(
    visit: Visit, session: Session
) -> None:
    one, *others = _failed_activations(session, 3)
    admin = visit(Role.admin)
    page = admin.goto("/admin/outbox?view=failed")
    expect(page.locator("#count-failed b")).to_have_text("3")
    expect(page.locator("#not-configured")).to_have_count(0)
    admin.screenshot("admin-outbox")
    page.locator(f"#outbox-rows tr[data-id='{one.id}'] button.retry").click()
    confirm = page.locator("section.confirm")
    expect(confirm.locator("h2")).to_contain_text(one.msisdn)
    confirm.locator("button.danger").click()
    expect(page).to_have_url(re.compile(r"/admin/outbox\?done=retried"))
    expect(page.locator("p.notice")).to_be_visible()
    expect(page.locator("#count-failed b")).to_have_text("2")
    session.refresh(one)
    assert (one.status, one.attempts) == ("pending", 0)

    page.locator("#retry-all").click()
    expect(page.locator("section.confirm p.warning")).to_contain_text("2")
    page.locator("section.confirm button.danger").click()
    expect(page).to_have_url(re.compile(r"done=retried-all&n=2$"))
    expect(page.locator("#count-failed b")).to_have_text("0")
    expect(page.locator("#count-pending b")).to_have_text("3")
    retried = session.exec(
        select(AuditEntry.entity_id)
        .where(AuditEntry.action == "activation_retry")
        .order_by(col(AuditEntry.entity_id))
    ).all()
    assert retried == sorted(r.msisdn for r in [one, *others])
    admin.english()
    _english_only(page)

    page = admin.goto("/admin/config")
    html = page.content()
    for secret in (
        SECRET_KEY,
        WEBHOOK_SECRET,
        WEBHOOK_PASSWORD,
        WEBHOOK_TOKEN,
        *KEY_SETTINGS.values(),
    ):
        assert secret not in html
    for name in ("secret_key", "pin_key", "id_key", "name_key", "id_hmac_key"):
        expect(page.locator(f"#setting-{name} .value .badge")).to_have_class(re.compile("s-set"))
    expect(page.locator("#setting-activation_webhook_url .badge")).to_have_class(
        re.compile("s-set")
    )
    expect(page.locator("#setting-activation_webhook_secret .badge")).to_have_class(
        re.compile("s-set")
    )
    expect(page.locator("#setting-migration_database_url .value")).not_to_contain_text("://")
    expect(page.locator("#setting-token_minutes .value")).to_have_text("30")
    admin.screenshot("admin-config")
    _english_only(page)
    assert _unexpected(admin) == []

    # Every other role gets the 403 page of the frame.
    for role in (Role.clerk, Role.manager, Role.dealer_manager, Role.billing):
        other = visit(role)
        for path in ("/admin/audit", "/admin/outbox", "/admin/prices", "/admin/config"):
            reply = other.page.goto(other.url(path))
            assert reply is not None and reply.status == 403, (role, path)
            expect(other.page.locator("main section h2")).to_be_visible()
        assert "Traceback" not in other.page.content()
        assert _unexpected(other, 403) == []


# --- without the browser --------------------------------------------------------------------


def test_the_forms_answer_bad_input_beside_the_field_never_with_a_500(
    client: TestClient, session: Session
) -> None:
    make_user(session, "root", Role.admin)
    assert web_log_in(client, "root").status_code == 303
    token = csrf_of(client.get("/admin/prices/new").text)
    nasty = [
        "",
        "x" * 5000,
        "\x00",
        "-1",
        "1e3",
        "12.345",
        "９９",
        "99999999999",
        "0001-01-01T00:00",
    ]
    for value in nasty:
        reply = client.post(
            "/admin/prices/new",
            data={
                "csrf_token": token,
                "product": ["number:STD", value],
                "retail": [value, "1"],
                "dealer": ["1", value],
                "effective_from": value,
                "max_discount_percent": value,
            },
            headers=ORIGIN,
        )
        assert reply.status_code == 422, (value, reply.status_code)
    # A list without a single price is refused as a whole, above the lines.
    reply = client.post(
        "/admin/prices/new",
        data={"csrf_token": token, "product": ["", ""], "retail": ["", ""], "dealer": ["", ""]},
        headers=ORIGIN,
    )
    assert reply.status_code == 422 and 'id="e-prices"' in reply.text
    # "Change the form" on the confirmation brings the form back as it was sent.
    reply = client.post(
        "/admin/prices/new",
        data={"csrf_token": token, "product": ["voucher:777"], "retail": ["7"], "dealer": ["6"],
              "edit": "yes"},
        headers=ORIGIN,
    )  # fmt: skip
    assert reply.status_code == 200 and 'value="voucher:777"' in reply.text
    for query in (
        "?start=yesterday",
        "?key=139",
        "?actor=" + "a" * 200,
        "?entity=number&key=%01",
        "?end=2026-01-01T00:00&start=2026-02-01T00:00",
        "?after=" + "f" * 100,
        "?end=9999-12-31T23:59",
        "?start=0001-01-01T00:00",
    ):
        reply = client.get("/admin/audit" + query)
        assert reply.status_code in (200, 422), (query, reply.status_code)
    assert client.get("/admin/audit/export/pdf").status_code == 404
    for path in ("/admin/prices/versions/abc", "/admin/prices/versions/99999999999"):
        assert client.get(path).status_code == 404
    assert client.get("/admin/prices?after=x").status_code == 200
    assert client.get("/admin/prices/dealers?dealer=NOPE").status_code == 404
    assert client.get("/admin/outbox?view=nonsense&after=zzz").status_code == 200
    reply = client.post(
        f"/admin/outbox/{new_id()}/retry", data={"csrf_token": token}, headers=ORIGIN
    )
    assert reply.status_code == 404
    reply = client.post(
        "/admin/prices/grades/G4",
        data={"csrf_token": token, "name": "x", "selection_fee": "-5", "prestore": "1",
              "min_monthly": "1", "lockin_months": "999"},
        headers=ORIGIN,
    )  # fmt: skip
    assert reply.status_code == 422 and "G4" in reply.text
    reply = client.post(
        "/admin/prices/grades/NOPE",
        data={"csrf_token": token, "name": "x", "selection_fee": "1", "prestore": "1",
              "min_monthly": "1", "lockin_months": "1"},
        headers=ORIGIN,
    )  # fmt: skip
    assert reply.status_code == 404


def test_the_configuration_hides_every_kind_of_secret() -> None:
    settings = Settings(
        database_url="postgresql://haoka:Db-Pa55word@db.example:5432/haoka",
        migration_database_url="sqlite:///var/migrate.db",
        secret_key=SECRET_KEY,
        activation_webhook_url="https://provisioning.example/activate",
        **KEY_SETTINGS,
    )
    rows = {row.name: row for row in config_rows(settings)}
    assert set(rows) == set(Settings.model_fields)
    shown = " ".join(row.shown for row in rows.values())
    assert "Db-Pa55word" not in shown and SECRET_KEY not in shown
    for value in KEY_SETTINGS.values():
        assert value not in shown
    hidden = {name for name, row in rows.items() if row.hidden}
    assert hidden >= {"database_url", "secret_key", "pin_key", "id_key", "name_key"}
    assert rows["database_url"].is_set and rows["activation_webhook_secret"].hidden
    assert not rows["activation_webhook_secret"].is_set
    # Plain values stay readable: a URL without credentials, a duration named after a token.
    assert rows["activation_webhook_url"].shown == "https://provisioning.example/activate"
    assert rows["migration_database_url"].shown == "sqlite:///var/migrate.db"
    assert (rows["token_minutes"].shown, rows["token_minutes"].default) == ("30", True)
    assert not rows["secret_key"].default
