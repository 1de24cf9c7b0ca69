"""The billing centre's stock pages: segments and batches with their counts, imports with
their reports and rejected rows, SIM pairing, releases and their documents.

In the browser (Debian's Chromium under Playwright) as a billing clerk: import a numbers file
with a bad row, see the report inline (line, column, reason) and download the rejected rows,
fix the file and import it; generate a segment; import SIM cards and pair them in order; release
a batch after the confirmation and see its document; the pages again in English; and the 403
page for the roles that may not open them. Over HTTP, what the forms refuse (each error beside
its field, never a 500), the confirmations before a pairing and a release, and the pages of
what is not there."""

import base64
import csv
import io
import re
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from backoffice.contracts.billing import SegmentRequest
from backoffice.core.config import get_settings
from backoffice.domain.users import Role
from backoffice.models import Job, MobileNumber, Voucher
from backoffice.services import jobs
from backoffice.services.billing import numbers, sims
from tests.backoffice.helpers import csv_bytes, iccid
from tests.backoffice.users.helpers import ORIGIN, csrf_of, make_user, web_log_in
from tests.backoffice.web.conftest import CJK, Visitor

Visit = Callable[..., Visitor]
# Data that may stay Chinese on an English page: the grades' names.
GRADE_NAMES = re.compile(r"(一|二|三|四)级靓号|普通号|多4优惠号")
BAD_FILE = csv_bytes("msisdn", "13905760001", "1390576000X", "13905760003")
FIXED_FILE = csv_bytes("msisdn", "13905760001", "13905760002", "13905760003")
SIM_FILE = csv_bytes("iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(120)))


# ... and the language switch's own name, the release note and the file name typed in Chinese.
DATA = ("中文", "开业备货", "新号码")


def _english_only(page: Page) -> None:
    """No Chinese is left on the page but the data."""
    text = GRADE_NAMES.sub("", page.locator("body").inner_text())
    for value in DATA:
        text = text.replace(value, "")
    assert not CJK.search(text), CJK.findall(text)


def _upload(page: Page, name: str, data: bytes, mime: str = "text/csv") -> None:
    page.locator("#f-file").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )


def _job_done(page: Page) -> None:
    """On a job's page: waits for it to end (htmx refreshes it), and says it succeeded."""
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]+$"))
    expect(page.locator(".job[data-state=succeeded]")).to_be_visible(timeout=30_000)


def test_import_fix_import_generate_pair_release(visit: Visit, session: Session) -> None:
    clerk = visit(Role.billing)
    page = clerk.goto("/billing/imports")
    expect(page.get_by_role("heading", name="导入", exact=True)).to_be_visible()
    page.locator("#f-kind").select_option("numbers")
    _upload(page, "新号码.csv", BAD_FILE)
    page.locator("#upload button[type=submit]").click()
    _job_done(page)
    expect(page.locator("dl.summary")).to_contain_text("1")
    clerk.screenshot("billing-import-job")
    page.locator(".job a[href^='/billing/imports/']").click()

    # The report, inline: line, column, value, reason; nothing imported.
    expect(page.locator("h2 .badge.s-rejected")).to_be_visible()
    row = page.locator("#report tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(["3", "msisdn", "1390576000X", re.compile("digits")])
    clerk.screenshot("billing-import-report")
    with page.expect_download() as download:
        page.locator("a[href$='/rejected.csv']").click()
    assert download.value.suggested_filename == "新号码-rejected.csv"
    rejected = download.value.path().read_text(encoding="utf-8-sig")
    assert list(csv.reader(io.StringIO(rejected))) == [
        ["msisdn", "line", "error"],
        ["1390576000X", "3", "msisdn: must contain only digits"],
    ]
    assert session.exec(select(MobileNumber)).first() is None

    # The file fixed, imported again: its summary, then the report says all went in.
    page.locator("a[href='/billing/imports?kind=numbers']").click()
    _upload(page, "新号码.csv", FIXED_FILE)
    page.locator("#f-code").fill("FILE-A")
    page.locator("#upload button[type=submit]").click()
    _job_done(page)
    summary = page.locator("dl.summary")
    expect(summary).to_contain_text("FILE-A")
    expect(summary.locator("dd").nth(1)).to_have_text("3")
    page.locator(".job a[href^='/billing/imports/']").click()
    expect(page.locator("h2 .badge.s-imported")).to_be_visible()
    expect(page.locator("#report")).to_have_count(0)
    page.goto(clerk.url("/billing/imports"))
    expect(page.locator("#imports tbody tr")).to_have_count(2)
    clerk.screenshot("billing-imports")

    # A segment of 100 numbers, generated as a job; the batch's counts on its page.
    page = clerk.goto("/billing/batches")
    page.locator("#f-prefix").fill("1390575")
    page.locator("#f-start").fill("0")
    page.locator("#f-end").fill("99")
    page.locator("#f-code").fill("SEG-1390575")
    page.locator("#generate button[type=submit]").click()
    _job_done(page)
    expect(page.locator("dl.summary")).to_contain_text("13905750099")
    page.locator(".job a[href^='/billing/batches/']").click()
    expect(page.locator("#counts tfoot")).to_contain_text("100")
    page.goto(clerk.url("/billing/batches"))
    counts = page.locator("#batches tbody tr", has_text="SEG-1390575").locator("td.counts")
    expect(counts.locator(".badge.s-imported")).to_be_visible()  # asked for by htmx
    expect(counts).to_contain_text("100")
    clerk.screenshot("billing-batches")

    # SIM cards imported, then paired in order with the segment: asked first, with the counts.
    page = clerk.goto("/billing/imports")
    page.locator("#f-kind").select_option("sims")
    _upload(page, "sims.csv", SIM_FILE)
    page.locator("#f-code").fill("SIM-A")
    page.locator("#upload button[type=submit]").click()
    _job_done(page)
    page = clerk.goto("/billing/pairing")
    page.locator("#f-number_batch").fill("SEG-1390575")
    page.locator("#f-sim_batch").fill("SIM-A")
    clerk.screenshot("billing-pairing")
    page.locator("#in-order button[type=submit]").click()
    # (The pages' own messages are checked in English below: their Chinese is being merged.)
    question = page.locator("section.confirm .warning")
    for words in ("100", "SEG-1390575", "SIM-A"):
        expect(question).to_contain_text(words)
    page.locator("section.confirm button.danger").click()
    _job_done(page)
    expect(page.locator("dl.summary dd").first).to_have_text("100")
    assert sims.get_sim(session, iccid(0)).msisdn == "13905750000"

    # The release: asked first with the count, then a job, then its printable document.
    page = clerk.goto("/billing/releases")
    page.locator("#f-batch").fill("SEG-1390575")
    page.locator("#f-note").fill("开业备货")
    page.locator("#new-release button[type=submit]").click()
    question = page.locator("section.confirm .warning")
    expect(question).to_contain_text("100")
    expect(question).to_contain_text("SEG-1390575")
    clerk.screenshot("billing-release-confirm")
    page.locator("section.confirm button.danger").click()
    _job_done(page)
    page.locator(".job a[href^='/billing/releases/']").click()
    number = page.locator("#document-number").inner_text()
    assert number.startswith("RL")
    expect(page.locator("#document tbody td").nth(2)).to_have_text("SEG-1390575")
    expect(page.locator("#document tfoot")).to_contain_text("100")
    clerk.screenshot("billing-release-document")
    # Printed, the document alone: the frame is left out.
    page.emulate_media(media="print")
    expect(page.locator("nav.menu")).to_be_hidden()
    expect(page.locator("#document")).to_be_visible()
    page.emulate_media(media="screen")
    page.goto(clerk.url("/billing/releases"))
    expect(page.locator("#releases tbody tr")).to_have_count(1)
    clerk.screenshot("billing-releases")
    available = session.exec(select(MobileNumber).where(MobileNumber.status == "available")).all()
    assert len(available) == 100

    # In English: every page, its confirmations and results.
    clerk.english()
    _english_only(page)
    for path in (
        "/billing/batches",
        "/billing/batches?kind=sims",
        "/billing/batches/numbers/SEG-1390575",
        "/billing/imports",
        "/billing/pairing",
        f"/billing/releases/{number}",
    ):
        page = clerk.goto(path)
        page.wait_for_load_state("networkidle")  # the counts htmx fills in
        _english_only(page)
    page = clerk.goto("/billing/imports")
    page.locator("a[href^='/billing/imports/']").last.click()
    expect(page.locator("#report td").nth(3)).to_contain_text("digits")
    _english_only(page)
    page = clerk.goto("/billing/releases")
    page.locator("#f-batch").fill("FILE-A")
    page.locator("#new-release button[type=submit]").click()
    expect(page.locator("section.confirm .warning")).to_have_text("Release 3 numbers of FILE-A?")
    _english_only(page)
    page.locator("section.confirm button.danger").click()
    _job_done(page)
    expect(page.locator("dl.summary")).to_contain_text("Numbers released")
    _english_only(page)
    assert clerk.problems == []


def test_the_other_roles_get_the_403_page(visit: Visit) -> None:
    for role in (Role.clerk, Role.manager, Role.dealer_manager):
        visitor = visit(role)
        for path in ("/billing/batches", "/billing/imports", "/billing/releases"):
            reply = visitor.page.goto(visitor.url(path))
            assert reply is not None and reply.status == 403, (role, path)
            expect(visitor.page.locator("main h2")).to_have_text("您的角色无权打开此页面")
        # The browser notes the 403 status of each page itself; nothing else.
        assert [p for p in visitor.problems if "status of 403" not in p] == []


# --- the forms over HTTP: what they refuse, and never a 500 ----------------------------------


@pytest.fixture
def clerk_client(client: TestClient, session: Session) -> TestClient:
    make_user(session, "billing1", Role.billing)
    assert web_log_in(client, "billing1").status_code == 303
    client.cookies.set("haoka_lang", "en")
    return client


def _post(client: TestClient, path: str, data: dict[str, str], files: dict | None = None):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/billing/batches").text)
    return client.post(
        path,
        data={"csrf_token": token, **data},
        files=files,
        headers=ORIGIN,
        follow_redirects=False,
    )


def _error_of(page: str, field: str) -> str:
    """The error shown beside the form field (an input's or a select's)."""
    found = re.search(
        rf'name="{field}"[^>]*>(?:(?!</label>).)*?<small class="error"[^>]*>([^<]*)<', page, re.S
    )
    assert found, f"no error beside {field}"
    return found.group(1)


def test_the_segment_form_says_what_is_wrong_beside_each_field(
    clerk_client: TestClient, session: Session
) -> None:
    numbers.generate_segment(
        session, SegmentRequest(prefix="1390575", start=0, end=9, code="SEG-A"), "billing1"
    )
    cases = [
        ({"prefix": "", "start": "0", "end": "9"}, "prefix", "3 to 10 digits"),
        ({"prefix": "12", "start": "0", "end": "9"}, "prefix", "3 to 10 digits"),
        ({"prefix": "1390575", "start": "x", "end": "9"}, "start", "from 0 to 99999999"),
        ({"prefix": "1390575", "start": "5", "end": "1"}, "end", "below the start"),
        ({"prefix": "1390575", "start": "0", "end": "10000"}, "end", "at most 9999"),
        ({"prefix": "1000", "start": "0", "end": "9"}, "prefix", "is not a mobile number"),
        ({"prefix": "1390575", "start": "5", "end": "20"}, "start", "overlaps 13905750005"),
        ({"prefix": "1390576", "start": "0", "end": "9", "code": "SEG-A"}, "code", "SEG-A"),
        ({"prefix": "1390576", "start": "0", "end": "9", "code": "x" * 65}, "code", "At most 64"),
    ]
    for data, field, words in cases:
        reply = _post(clerk_client, "/billing/batches/segment", data)
        assert reply.status_code == 422, (data, reply.text[:300])
        assert words in _error_of(reply.text, field), (data, _error_of(reply.text, field))
    assert session.exec(select(Job)).first() is None
    reply = _post(
        clerk_client, "/billing/batches/segment", {"prefix": "1390576", "start": "0", "end": "9"}
    )
    assert reply.status_code == 303 and reply.headers["location"].startswith("/jobs/")


def test_the_import_forms_refuse_what_they_cannot_take(clerk_client: TestClient) -> None:
    good = {"file": ("n.csv", FIXED_FILE, "text/csv")}
    cases = [
        ({"kind": "numbers"}, None, "file"),
        ({"kind": "numbers"}, {"file": ("n.pdf", b"%PDF", "application/pdf")}, "file"),
        ({"kind": "numbers"}, {"file": ("n.csv", b"", "text/csv")}, "file"),
        ({"kind": "numbers", "encoding": "base64"}, good, "encoding"),
        ({"kind": "numbers", "code": "c" * 65}, good, "code"),
        (
            {
                "kind": "vouchers",
                "face_value": "5",
                "dealer_price": "4",
                "expires_on": "2099-01-01",
            },
            good,
            "face_value",
        ),
        (
            {
                "kind": "vouchers",
                "face_value": "50",
                "dealer_price": "60",
                "expires_on": "2099-01-01",
            },
            good,
            "dealer_price",
        ),
        (
            {
                "kind": "vouchers",
                "face_value": "50",
                "dealer_price": "48",
                "expires_on": "2001-01-01",
            },
            good,
            "expires_on",
        ),
        (
            {"kind": "vouchers", "face_value": "abc", "dealer_price": "", "expires_on": "tomorrow"},
            good,
            "expires_on",
        ),
    ]
    for data, files, field in cases:
        reply = _post(clerk_client, "/billing/imports", data, files)
        assert reply.status_code == 422, (data, reply.text[:300])
        assert _error_of(reply.text, field), data
    reply = _post(clerk_client, "/billing/imports", {"kind": "stamps"}, good)
    assert reply.status_code == 422 and 'aria-invalid="true"' in reply.text
    reply = _post(clerk_client, "/billing/pairing/file", {"encoding": "rot13"}, None)
    assert reply.status_code == 422
    assert _error_of(reply.text, "file") and "GB18030" in reply.text
    # Without the form's token: refused before anything is read.
    reply = clerk_client.post(
        "/billing/imports", data={"kind": "numbers"}, files=good, headers=ORIGIN
    )
    assert reply.status_code == 403


def test_pairing_and_release_ask_first_and_refuse_what_is_not_there(
    clerk_client: TestClient, session: Session
) -> None:
    numbers.generate_segment(
        session, SegmentRequest(prefix="1390575", start=0, end=9, code="SEG-A"), "billing1"
    )
    sims.import_sims(session, SIM_FILE, "sims.csv", "billing1", code="SIM-A")
    reply = _post(
        clerk_client, "/billing/pairing/order", {"number_batch": "SEG-X", "sim_batch": "SIM-A"}
    )
    assert reply.status_code == 422 and _error_of(reply.text, "number_batch")
    reply = _post(
        clerk_client, "/billing/pairing/order", {"number_batch": "SEG-A", "sim_batch": "SIM-A"}
    )
    assert reply.status_code == 200 and 'name="confirmed" value="yes"' in reply.text
    assert "Pair 10 numbers of SEG-A with SIM cards of SIM-A?" in reply.text
    assert "120 SIM cards are free" in reply.text
    assert session.exec(select(Job)).first() is None

    cases = [
        ({"item_kind": "numbers"}, "batch"),
        ({"item_kind": "numbers", "batch": "NOPE"}, "batch"),
        ({"item_kind": "numbers", "grade": "G9"}, "grade"),
        ({"item_kind": "numbers", "first": "123"}, "first"),
        ({"item_kind": "numbers", "first": "13905750009", "last": "13905750001"}, "last"),
        ({"item_kind": "numbers", "first": "13805750000", "last": "13805750009"}, "batch"),
        ({"item_kind": "vouchers", "batch": "SEG-A"}, "batch"),
        ({"item_kind": "numbers", "batch": "SEG-A", "note": "n" * 501}, "note"),
    ]
    for data, field in cases:
        reply = _post(clerk_client, "/billing/releases", data)
        assert reply.status_code == 422, (data, reply.text[:300])
        assert _error_of(reply.text, field), data
    reply = _post(
        clerk_client,
        "/billing/releases",
        {"item_kind": "numbers", "batch": "SEG-A", "grade": "STD"},
    )
    assert reply.status_code == 200 and "numbers (SEG-A, grade STD)?" in reply.text
    reply = _post(clerk_client, "/billing/releases", {"item_kind": "pigs", "batch": "SEG-A"})
    assert reply.status_code == 422
    assert session.exec(select(Job)).first() is None

    for path in (
        "/billing/batches/numbers/NOPE",
        "/billing/batches/pigs/SEG-A",
        "/billing/batches/numbers/NOPE/counts",
        "/billing/imports/nope",
        "/billing/imports/" + "x" * 300,
        "/billing/imports/nope/rejected.csv",
        "/billing/releases/RL000",
        "/billing/releases/" + "%E4%B8%AD" * 40,
    ):
        reply = clerk_client.get(path)
        assert reply.status_code == 404 and "main" in reply.text, path
    for path in (
        "/billing/batches?kind=pigs&after=%27%3B--",
        "/billing/imports?kind=x&after=" + "9" * 500,
        "/billing/releases?after=RL%25&kind=x&batch=" + "b" * 300,
        "/billing/pairing?numbers=" + "n" * 300,
    ):
        assert clerk_client.get(path).status_code == 200, path


@pytest.fixture
def pin_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The PIN key in the environment, read by the office's settings and the job's alike."""
    monkeypatch.setenv("HAOKA_PIN_KEY", base64.urlsafe_b64encode(b"p" * 32).decode())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_top_up_card_import_through_the_page(
    pin_key: None, clerk_client: TestClient, session: Session
) -> None:
    pin = "1234567890123456789"
    cards = csv_bytes("serial,pin", f"10575000000000001,{pin}", "10575000000000002,12")
    terms = {"kind": "vouchers", "face_value": "50", "dealer_price": "48.50"}
    reply = _post(
        clerk_client,
        "/billing/imports",
        {**terms, "expires_on": "2099-12-31", "code": "CARD50-A", "skip_bad_rows": "yes"},
        {"file": ("cards.csv", cards, "text/csv")},
    )
    assert reply.status_code == 303
    job_id = reply.headers["location"].rsplit("/", 1)[1]
    for _ in range(100):
        session.expire_all()
        job = session.get(Job, job_id)
        assert job is not None
        if job.state in ("succeeded", "failed"):
            break
        assert job.payload is None or pin.encode() not in job.payload  # waits encrypted
        time.sleep(0.1)
    assert job.state == "succeeded", job.error
    assert dict(jobs.result_of(job))["Rows imported"] == 1
    card = session.get(Voucher, "10575000000000001")
    assert card is not None and card.face_value_fen == 5000 and pin not in card.pin_cipher
    report = clerk_client.get(str(job.result_link))
    assert "****12" in report.text and "Card PINs are masked" in report.text
