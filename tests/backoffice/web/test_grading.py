"""The grading rules editor and the grades' prices (/billing/grading).

In the browser (Debian's Chromium under Playwright) as a billing clerk: a bad pattern refused
beside its field, a rule added at the top of the draft, the preview's counts per rule and per
current → new grade, the test box saying which rule grades a number and why, the save's
confirmation, the regrade job and its summary of what changed; the page again in English;
and the 403 page for a counter clerk, a manager and a dealer manager. Over HTTP: the draft's
moves, what the forms refuse (each error beside its field, never a 500), a draft over rules
changed meanwhile, and a grade's prices changed only after the confirmation."""

import html
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from backoffice.contracts.billing import GradingRuleIn
from backoffice.domain.users import Role
from backoffice.models import Job, MobileNumber, NumberGrade
from backoffice.services.billing import grading
from tests.backoffice.channel.helpers import pool
from tests.backoffice.users.helpers import ORIGIN, csrf_of, make_user, web_log_in
from tests.backoffice.web.conftest import CJK, Visitor

Visit = Callable[..., Visitor]


def _english_only(page: Page, session: Session) -> None:
    """No Chinese is left on the page but the data: the rules' and the grades' names."""
    text = page.locator("header h1").inner_text() + page.locator("main").inner_text()
    names = [r.name for r in grading.list_rules(session)]
    names += [g.name for g in grading.list_grades(session)]
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "")
    assert not CJK.search(text), CJK.findall(text)


def _grade_of(session: Session, msisdn: str) -> str:
    session.expire_all()
    number = session.get(MobileNumber, msisdn)
    assert number is not None
    return number.grade_code


def test_add_a_rule_preview_test_save_and_regrade(visit: Visit, session: Session) -> None:
    pool(session, end=1999)  # 13905750000..13905751999, available
    clerk = visit(Role.billing)
    page = clerk.goto("/billing/grading")
    rows = page.locator("table.rules tr[data-rule]")
    expect(rows).to_have_count(17)

    # A bad pattern is refused beside its field, with the reason; the draft is as it was.
    page.locator("#f-new-name").fill("尾号 520")
    page.locator("#f-new-pattern").fill("52X")
    page.locator("#f-new-grade").select_option("G3")
    page.locator("#f-new-position").fill("1")
    page.locator("button[value=add]").click()
    expect(page.locator("#e-new-pattern")).to_contain_text("X")
    expect(rows).to_have_count(17)
    page.locator("#f-new-pattern").fill("520")
    page.locator("button[value=add]").click()
    expect(rows).to_have_count(18)
    expect(page.locator("#f-rules-0-pattern")).to_have_value("520")
    expect(rows.first.locator(".badge.s-new")).to_be_visible()
    expect(page.locator("#draft-state")).to_be_visible()

    # The preview: 2 numbers end in 520 and would go from standard to grade 3.
    page.locator("button[value=preview]").click()
    expect(page.locator("#preview")).to_be_visible()
    expect(rows.first.locator("td.hits")).to_have_text("2")
    expect(page.locator("#preview table.changes tbody tr")).to_have_count(1)
    expect(page.locator("#preview table.changes td").nth(2)).to_have_text("2")
    expect(page.locator("#preview")).to_contain_text("2,000")

    # The test box: typing a number says which rule of the draft grades it, and why.
    page.locator("#f-msisdn").fill("13905751520")
    tested = page.locator("#tested")
    expect(tested).to_have_attribute("data-grade", "G3")
    expect(tested).to_have_attribute("data-rule", "1")
    expect(tested).to_contain_text("520")
    page.locator("#f-msisdn").fill("13905750188")
    expect(tested).to_have_attribute("data-rule", "16")  # tail 88, one place further down
    clerk.screenshot("billing-grading")

    # Save and regrade: the confirmation says what happens, the job what changed.
    page.locator("button[value=save]").click()
    expect(page.locator("#confirm-message")).to_contain_text("2")
    expect(page.locator("#rule-changes")).to_contain_text("尾号 520")
    clerk.screenshot("billing-grading-confirm")
    page.locator("section.confirm button.danger").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]+$"))
    expect(page.locator(".job[data-state=succeeded]")).to_be_visible(timeout=30_000)
    summary = page.locator("dl.summary")
    expect(summary).to_contain_text("STD → G3")
    expect(summary.locator("dd").last).to_have_text("2")
    clerk.screenshot("billing-grading-regraded")
    assert _grade_of(session, "13905750520") == "G3"
    assert _grade_of(session, "13905751520") == "G3"
    assert grading.list_rules(session)[0].pattern == "520"

    # The same page in English, test box included.
    page = clerk.goto("/billing/grading")
    clerk.english()
    expect(page.locator("#editor")).to_contain_text("the first rule that matches a number")
    page.locator("#f-msisdn").fill("13905750520")
    expect(page.locator("#tested")).to_contain_text("Its last 3 digits, 520, fit the pattern")
    page.locator("button[value=preview]").click()
    expect(page.locator("#preview")).to_contain_text("0 would change grade")
    _english_only(page, session)
    page.locator("#grades a[href='/billing/grading/grades/G3']").click()
    page.locator("#f-selection_fee").fill("120")
    page.locator("form.stack button[type=submit]").click()
    expect(page.locator("section.confirm .warning")).to_contain_text("what dealers")
    _english_only(page, session)
    page.locator("section.confirm button.danger").click()
    expect(page.locator("p.notice")).to_have_text("The prices of grade G3 are saved.")
    expect(page.locator("#grades tr[data-grade=G3]")).to_contain_text("¥120.00")
    assert clerk.problems == []

    for role in (Role.clerk, Role.manager, Role.dealer_manager):
        other = visit(role)
        for path in ("/billing/grading", "/billing/grading/grades/G3"):
            reply = other.page.goto(other.url(path))
            assert reply is not None and reply.status == 403, (role, path)
            expect(other.page.locator("main h2")).to_have_text("您的角色无权打开此页面")
        # The browser logs each 403 it was answered; nothing else.
        assert [p for p in other.problems if "status of 403" not in p] == []


# --- the forms over HTTP: the draft's moves, what they refuse, never a 500 -------------------


@pytest.fixture
def clerk_client(client: TestClient, session: Session) -> TestClient:
    make_user(session, "billing1", Role.billing)
    assert web_log_in(client, "billing1").status_code == 303
    client.cookies.set("haoka_lang", "en")
    return client


def _saved_form(client: TestClient) -> dict[str, str]:
    """The draft's fields as the page has them (the saved rules)."""
    page = client.get("/billing/grading").text
    form = {"csrf_token": csrf_of(page)}
    for name, value in re.findall(
        r'<input (?:type="hidden" )?name="([^"]+)"[^>]*value="([^"]*)"', page
    ):
        form.setdefault(name, value)
    for name, body in re.findall(
        r'<select name="(rules-\d+-grade)"[^>]*>(.*?)</select>', page, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        form[name] = chosen.group(1) if chosen else ""
    for index in re.findall(r'name="rules-(\d+)-active" value="1" checked', page):
        form[f"rules-{index}-active"] = "1"
    return {k: html.unescape(v) for k, v in form.items()}


def _post(client: TestClient, path: str, data: dict[str, str], **headers: str):  # type: ignore[no-untyped-def]
    return client.post(path, data=data, headers={**ORIGIN, **headers}, follow_redirects=False)


def _error_of(page: str, field: str) -> str:
    found = re.search(rf'id="e-{field}" role="alert">([^<]*)<', page)
    assert found, f"no error beside {field}"
    return found.group(1)


def _patterns(page: str) -> list[str]:
    return re.findall(r'name="rules-\d+-pattern" id="[^"]+" value="([^"]*)"', page)


def test_the_draft_moves_and_deletes_rules_and_nothing_is_saved(
    clerk_client: TestClient, session: Session
) -> None:
    form = _saved_form(clerk_client)
    before = _patterns(clerk_client.get("/billing/grading").text)
    moved = _post(clerk_client, "/billing/grading/draft", {**form, "op": "down-0"})
    assert moved.status_code == 200
    assert _patterns(moved.text)[:2] == [before[1], before[0]]
    assert "0 changed, 2 moved" in moved.text
    gone = _post(clerk_client, "/billing/grading/draft", {**form, "op": "delete-16"})
    assert _patterns(gone.text) == before[:16] and "1 removed" in gone.text
    for op in ("up-0", "down-16", "delete-99", "up-x", "nonsense", ""):
        same = _post(clerk_client, "/billing/grading/draft", {**form, "op": op})
        assert same.status_code == 200 and _patterns(same.text) == before, op
    live = _post(
        clerk_client, "/billing/grading/draft", {**form, "op": "up-3"}, **{"HX-Request": "true"}
    )
    assert (
        live.status_code == 200
        and '<section id="editor"' in live.text
        and "<header>" not in live.text
    )
    assert [r.pattern for r in grading.list_rules(session)] == before


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"new-name": "", "new-pattern": "88", "new-grade": "G4"}, "new-name", "Give the rule"),
        ({"new-name": "x" * 65, "new-pattern": "88", "new-grade": "G4"}, "new-name", "At most 64"),
        ({"new-name": "a\x01b", "new-pattern": "88", "new-grade": "G4"}, "new-name", "Control"),
        ({"new-name": "x", "new-pattern": "", "new-grade": "G4"}, "new-pattern", "Type a pattern"),
        ({"new-name": "x", "new-pattern": "+2", "new-grade": "G4"}, "new-pattern", "3 to 10"),
        ({"new-name": "x", "new-pattern": "1" * 12, "new-grade": "G4"}, "new-pattern", "11 char"),
        ({"new-name": "x", "new-pattern": "re:[1", "new-grade": "G4"}, "new-pattern", "regular"),
        (
            {"new-name": "x", "new-pattern": r"re:(\d)\1", "new-grade": "G4"},
            "new-pattern",
            "Groups",
        ),
        (
            {"new-name": "x", "new-pattern": "re:" + "1" * 70, "new-grade": "G4"},
            "new-pattern",
            "64",
        ),
        ({"new-name": "x", "new-pattern": "88", "new-grade": "G9"}, "new-grade", "Choose a grade"),
        (
            {"new-name": "x", "new-pattern": "88", "new-grade": "G4", "new-position": "0"},
            "new-position",
            "from 1 to 18",
        ),
        (
            {"new-name": "x", "new-pattern": "88", "new-grade": "G4", "new-position": "二"},
            "new-position",
            "from 1 to 18",
        ),
    ],
)
def test_a_new_rule_is_refused_beside_its_field(
    clerk_client: TestClient, changes: dict[str, str], field: str, message: str
) -> None:
    form = _saved_form(clerk_client)
    reply = _post(clerk_client, "/billing/grading/draft", {**form, **changes, "op": "add"})
    assert reply.status_code == 422
    assert message in _error_of(reply.text, field)
    assert len(_patterns(reply.text)) == 17  # nothing added


def test_a_bad_rule_in_the_draft_blocks_preview_test_and_save(clerk_client: TestClient) -> None:
    form = {**_saved_form(clerk_client), "rules-2-pattern": "AB!", "msisdn": "13905750188"}
    for path, op in (
        ("/billing/grading/draft", "preview"),
        ("/billing/grading/draft", "test"),
        ("/billing/grading/save", "save"),
    ):
        reply = _post(clerk_client, path, {**form, "op": op})
        assert reply.status_code == 422, (path, op)
        assert "“!” (character 3)" in _error_of(reply.text, "rules-2-pattern")
    live = _post(clerk_client, "/billing/grading/test", form, **{"HX-Request": "true"})
    assert live.status_code == 200 and "Correct the rules marked in red first" in live.text
    for msisdn in ("", "1390575", "1390575018X", "139057501888", "１３９０５７５０１８８"):
        reply = _post(clerk_client, "/billing/grading/test", {**form, "msisdn": msisdn})
        assert "Type the 11 digits of a number" in reply.text, msisdn


def test_tampered_and_odd_forms_never_fail(clerk_client: TestClient) -> None:
    form = _saved_form(clerk_client)
    for data in (
        {"csrf_token": form["csrf_token"], "count": "x"},
        {"csrf_token": form["csrf_token"], "count": "-5", "op": "preview"},
        {"csrf_token": form["csrf_token"], "count": "100000", "op": "add"},
        {**form, "count": "3", "op": "preview"},
        {**form, "rules-0-grade": "", "op": "preview"},
        {**form, "rules-1-origin": "999999", "rules-2-origin": "999999", "op": "check"},
    ):
        reply = _post(clerk_client, "/billing/grading/draft", data)
        assert reply.status_code in (200, 422), data
    empty = _post(clerk_client, "/billing/grading/save", {**form, "count": "0"})
    assert empty.status_code == 422 and "at least one rule" in empty.text
    no_token = {k: v for k, v in form.items() if k != "csrf_token"}
    assert _post(clerk_client, "/billing/grading/save", no_token).status_code == 403


def test_saving_over_rules_changed_meanwhile_is_refused(
    clerk_client: TestClient, session: Session
) -> None:
    form = _saved_form(clerk_client)
    rules = grading.list_rules(session)
    grading.replace_rules(
        session,
        [GradingRuleIn(name=r.name, pattern=r.pattern, grade_code=r.grade_code) for r in rules[1:]],
        "billing2",
    )
    for confirmed in ("", "yes"):
        reply = _post(clerk_client, "/billing/grading/save", {**form, "confirmed": confirmed})
        assert reply.status_code == 422 and "changed by someone else" in reply.text
    assert session.exec(select(Job)).all() == []


def test_save_asks_first_then_runs_the_job(clerk_client: TestClient, session: Session) -> None:
    pool(session, end=99)
    form = {
        **_saved_form(clerk_client),
        "new-name": "tail 50",
        "new-pattern": "50",
        "new-grade": "G4",
        "op": "add",
    }
    added = _post(clerk_client, "/billing/grading/draft", form)
    assert added.status_code == 200 and _patterns(added.text)[-1] == "50"
    draft = {**form, "count": "18", "rules-17-name": "tail 50", "rules-17-pattern": "50"}
    draft |= {"rules-17-grade": "G4", "rules-17-active": "1", "rules-17-origin": ""}
    asked = _post(clerk_client, "/billing/grading/save", draft)
    assert asked.status_code == 200
    assert "1 of the 100 numbers in the pool" in asked.text  # 13905750050
    assert "New rule 18: tail 50 (50 → G4)" in asked.text
    assert session.exec(select(Job)).all() == []
    done = _post(clerk_client, "/billing/grading/save", {**draft, "confirmed": "yes"})
    assert done.status_code == 303 and done.headers["location"].startswith("/jobs/")
    job = session.exec(select(Job)).one()
    assert (job.kind, job.created_by) == ("regrade", "billing1")


def test_grade_prices_are_checked_and_confirmed(clerk_client: TestClient, session: Session) -> None:
    token = csrf_of(clerk_client.get("/billing/grading/grades/G3").text)
    good = {
        "csrf_token": token,
        "name": "三级靓号",
        "selection_fee": "120",
        "prestore": "500.00",
        "min_monthly": "88",
        "lockin_months": "12",
    }
    for field, value, message in (
        ("name", "", "Give the grade a name"),
        ("selection_fee", "abc", "An amount in yuan"),
        ("prestore", "-1", "cannot be negative"),
        ("min_monthly", "1.234", "An amount in yuan"),
        ("min_monthly", "99999999999", "Too large"),
        ("lockin_months", "121", "Whole months"),
        ("lockin_months", "1.5", "Whole months"),
    ):
        reply = _post(clerk_client, "/billing/grading/grades/G3", {**good, field: value})
        assert reply.status_code == 422, (field, value)
        assert message in _error_of(reply.text, field), (field, value)
    asked = _post(clerk_client, "/billing/grading/grades/G3", good)
    assert asked.status_code == 200 and "Selection fee: ¥100.00 → ¥120.00" in asked.text
    session.expire_all()
    assert session.get(NumberGrade, "G3").selection_fee_fen == 10_000  # type: ignore[union-attr]
    saved = _post(clerk_client, "/billing/grading/grades/G3", {**good, "confirmed": "yes"})
    assert saved.status_code == 303
    session.expire_all()
    assert session.get(NumberGrade, "G3").selection_fee_fen == 12_000  # type: ignore[union-attr]
    assert clerk_client.get("/billing/grading/grades/NOPE").status_code == 404
    assert _post(clerk_client, "/billing/grading/grades/NOPE", good).status_code == 404


def test_the_confirmation_lists_what_the_draft_changes(clerk_client: TestClient) -> None:
    form = _saved_form(clerk_client)
    draft = {**form, "count": "16", "rules-0-grade": "G2"}  # the last rule (多4) dropped
    for field in ("name", "pattern", "grade", "origin", "active"):  # rules 2 and 3 swapped
        draft[f"rules-1-{field}"] = form.get(f"rules-2-{field}", "")
        draft[f"rules-2-{field}"] = form.get(f"rules-1-{field}", "")
    asked = _post(clerk_client, "/billing/grading/save", draft)
    assert asked.status_code == 200
    lines = [html.unescape(li) for li in re.findall(r"<li>([^<]*)</li>", asked.text)]
    assert lines == [
        "Rule 1 changed: 五连号 AAAAA (AAAAA → G2) (was 五连号 AAAAA (AAAAA → G1))",
        "Rule moved to position 2: 五位倒顺 EDCBA (-5 → G1)",
        "Rule moved to position 3: 五位顺子 ABCDE (+5 → G1)",
        "Rule removed: 多4 (后8位四个及以上4) (re:\\d{3}(?:[^4]*4){4} → D4)",
    ]
