"""The grading rules editor (营账员): the ordered rule list, edited as a draft that only the
save applies (add, move, edit, delete), a test box that says which rule of the draft grades a
number and why, a preview of what the draft would do to the pool, and save-and-regrade as a
background job whose result says what changed. And the grades' prices, each change confirmed.

The draft lives in the page's form (hidden and visible fields, posted with every change), so
nothing is stored until the save: several clerks can draft at once, and a save over rules
someone else changed meanwhile is refused (the draft carries the fingerprint it started from).
"""

from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import FormData

from backoffice.api.deps import SessionDep
from backoffice.api.errors import status_of
from backoffice.api.pages.frame import (
    BILLING_PAGES,
    CsrfChecked,
    error_text,
    gettext_of,
    page_user,
    refused,
    render,
)
from backoffice.contracts.billing import GradeUpdate, GradingRuleIn
from backoffice.core.i18n import N_, Translate
from backoffice.domain.billing import STANDARD_GRADE, Explanation, PatternError, pattern_regex
from backoffice.models import GradingRule, MobileNumber, NumberGrade, User
from backoffice.services.billing import grading, grading_jobs
from backoffice.services.errors import InvalidInput, ServiceError
from shared.money import MoneyError, format_fen, parse_yuan

router = APIRouter(include_in_schema=False)

PAGE = "/billing/grading"
# More rules than a clerk can read on one page; the combined regex stays small.
MAX_RULES = 100
TEXT_LIMIT = 64  # the columns' length
# Text kept from a field, so that a pasted novel is shown back cut short (and refused).
_ECHO = 200

PATTERN_MESSAGES = {
    "empty": N_("Type a pattern."),
    "regex_groups": N_(
        "Groups by number or name are not allowed in re: rules: use placeholder letters for "
        "repeated digits."
    ),
    "regex_invalid": N_("Not a valid regular expression: %(detail)s"),
    "run_length": N_("A run (+N or -N) is 3 to 10 digits long."),
    "too_long": N_("Longer than a number: at most 11 characters (re: rules excepted)."),
    "bad_character": N_(
        "“%(character)s” (character %(position)s) is not a digit, ?, a placeholder letter "
        "A–J, a run +N/-N or an re: rule."
    ),
}


# --- The draft -----------------------------------------------------------------------------


@dataclass
class DraftRule:
    """One rule of the draft as typed; `origin` is the id of the saved rule it started from
    ("" for a rule added in this draft)."""

    name: str = ""
    pattern: str = ""
    grade: str = ""
    active: bool = True
    origin: str = ""

    def contract(self) -> GradingRuleIn:
        return GradingRuleIn(
            name=self.name.strip(),
            pattern=self.pattern.strip(),
            grade_code=self.grade,
            active=self.active,
        )


@dataclass
class Draft:
    rules: list[DraftRule]
    base: str  # grading.rules_version of the rules the draft started from
    new: DraftRule = field(default_factory=DraftRule)
    new_position: str = ""
    msisdn: str = ""


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value[:_ECHO] if isinstance(value, str) else ""


def _draft_of(form: FormData) -> Draft:
    """The draft a form posted; fields missing from a tampered form read as empty."""
    try:
        count = min(max(int(_text(form, "count")), 0), MAX_RULES)
    except ValueError:
        count = 0
    rules = [
        DraftRule(
            name=_text(form, f"rules-{i}-name"),
            pattern=_text(form, f"rules-{i}-pattern"),
            grade=_text(form, f"rules-{i}-grade"),
            active=bool(_text(form, f"rules-{i}-active")),
            origin=_text(form, f"rules-{i}-origin"),
        )
        for i in range(count)
    ]
    new = DraftRule(
        name=_text(form, "new-name"),
        pattern=_text(form, "new-pattern"),
        grade=_text(form, "new-grade"),
    )
    return Draft(
        rules,
        base=_text(form, "base"),
        new=new,
        new_position=_text(form, "new-position").strip(),
        msisdn=_text(form, "msisdn").replace(" ", "").replace("-", "").strip(),
    )


def _saved_draft(session: Session) -> Draft:
    rules = [
        DraftRule(r.name, r.pattern, r.grade_code, r.active, str(r.id))
        for r in grading.list_rules(session)
    ]
    return Draft(rules, base=grading.rules_version(session))


def _draft_fields(draft: Draft) -> dict[str, str]:
    """The draft as the form's fields (for the confirmation page's hidden fields)."""
    fields = {"count": str(len(draft.rules)), "base": draft.base}
    for i, rule in enumerate(draft.rules):
        fields |= {
            f"rules-{i}-name": rule.name,
            f"rules-{i}-pattern": rule.pattern,
            f"rules-{i}-grade": rule.grade,
            f"rules-{i}-origin": rule.origin,
        }
        if rule.active:
            fields[f"rules-{i}-active"] = "1"
    return fields


async def _form(request: Request) -> FormData:
    return await request.form()


PostedForm = Annotated[FormData, Depends(_form)]


# --- Checking the draft ---------------------------------------------------------------------


def _control(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _rule_errors(_: Translate, rule: DraftRule, grades: set[str], prefix: str) -> dict[str, str]:
    """Each field's problem, in the reader's language, keyed by the field's name."""
    errors: dict[str, str] = {}
    name, pattern = rule.name.strip(), rule.pattern.strip()
    if not name:
        errors[prefix + "name"] = _("Give the rule a name.")
    elif len(name) > TEXT_LIMIT:
        errors[prefix + "name"] = _("At most %(n)s characters.") % {"n": TEXT_LIMIT}
    elif _control(name):
        errors[prefix + "name"] = _("Control characters are not allowed here.")
    if _control(pattern):
        errors[prefix + "pattern"] = _("Control characters are not allowed here.")
    elif len(pattern) > TEXT_LIMIT:
        errors[prefix + "pattern"] = _("At most %(n)s characters.") % {"n": TEXT_LIMIT}
    else:
        try:
            pattern_regex(pattern, "t")
        except PatternError as problem:
            message = _(PATTERN_MESSAGES[problem.problem])
            errors[prefix + "pattern"] = message % problem.params if problem.params else message
    if rule.grade not in grades:
        errors[prefix + "grade"] = _("Choose a grade.")
    return errors


def _draft_errors(_: Translate, draft: Draft, grades: set[str]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for i, rule in enumerate(draft.rules):
        errors |= _rule_errors(_, rule, grades, f"rules-{i}-")
    return errors


def _contracts(
    request: Request, session: Session, draft: Draft, errors: dict[str, str]
) -> list[GradingRuleIn] | None:
    """The draft as the service takes it, or None with the reason in `errors` (a problem
    of the whole list goes under "rules")."""
    if errors:
        return None
    _ = gettext_of(request)
    try:
        rules = [rule.contract() for rule in draft.rules]
        grading.draft_grader(session, rules)
    except ValidationError:
        errors["rules"] = _("The rules cannot be read: open them again.")
        return None
    except InvalidInput as error:
        errors["rules"] = error_text(request, error)
        return None
    return rules


# --- The page --------------------------------------------------------------------------------


@dataclass
class RuleRow:
    """A rule of the draft as the editor shows it."""

    index: int
    rule: DraftRule
    state: str  # "" (as saved), "new", "changed", "moved"
    hits: int | None = None  # with a preview: the numbers it would grade


def _states(saved: list[GradingRule], draft: Draft) -> tuple[list[str], list[GradingRule]]:
    """Each draft rule against the saved rules: "new", "changed" (its name, pattern, grade or
    switch), "moved" (its place among the saved rules the draft keeps) or ""; and the saved
    rules the draft no longer has. Rules shifted by an insertion above them are not moved."""
    by_id = {str(r.id): r for r in saved}
    origins = [rule.origin for rule in draft.rules if rule.origin in by_id]
    kept = [key for key in by_id if key in set(origins)]
    states = []
    for rule in draft.rules:
        old = by_id.get(rule.origin)
        if old is None:
            states.append("new")
        elif (old.name, old.pattern, old.grade_code, old.active) != (
            rule.name,
            rule.pattern,
            rule.grade,
            rule.active,
        ):
            states.append("changed")
        elif kept.index(rule.origin) != origins.index(rule.origin):
            states.append("moved")
        else:
            states.append("")
    removed = [r for key, r in by_id.items() if key not in set(origins)]
    return states, removed


def _rows(session: Session, draft: Draft, hits: list[int] | None) -> tuple[list[RuleRow], int]:
    """The draft's rows, each marked new, changed or moved against the saved rules; and how
    many saved rules the draft no longer has."""
    states, removed = _states(grading.list_rules(session), draft)
    rows = [
        RuleRow(i, rule, state, None if hits is None else hits[i])
        for i, (rule, state) in enumerate(zip(draft.rules, states, strict=True))
    ]
    return rows, len(removed)


def _grades(session: Session) -> list[NumberGrade]:
    return grading.list_grades(session)


def _editor_context(
    request: Request,
    session: Session,
    draft: Draft,
    errors: dict[str, str] | None = None,
    preview: grading.PoolTally | None = None,
    tested: dict[str, Any] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    grades = _grades(session)
    rows, removed = _rows(session, draft, None if preview is None else preview.hits)
    return {
        "draft": draft,
        "rows": rows,
        "removed": removed,
        "dirty": removed > 0 or any(row.state for row in rows),
        "stale": draft.base != grading.rules_version(session),
        "errors": errors or {},
        "grades": grades,
        "grade_names": {g.code: g.name for g in grades},
        "grade_choices": [(g.code, f"{g.code} {g.name}") for g in grades],
        "default_grade": next((g for g in grades if g.code == STANDARD_GRADE), None),
        "preview": preview,
        "tested": tested,
        "notice": notice,
    }


def _page(
    request: Request,
    session: Session,
    draft: Draft,
    errors: dict[str, str] | None = None,
    preview: grading.PoolTally | None = None,
    tested: dict[str, Any] | None = None,
    notice: str | None = None,
) -> Response:
    """The whole page, or only the editor for htmx; a plain post with errors is a 422 (htmx
    gets a 200 and shows them: it would not swap a 422 in)."""
    context = _editor_context(request, session, draft, errors, preview, tested, notice)
    live = request.headers.get("HX-Request") == "true"
    template = "billing/grading_editor.html" if live else "billing/grading.html"
    failed = bool(errors) or bool(tested and tested.get("error"))
    code = status.HTTP_422_UNPROCESSABLE_CONTENT if failed and not live else status.HTTP_200_OK
    return render(request, template, context, status_code=code)


_NOTICES = {
    "prices": N_("The prices of grade %(code)s are saved."),
}


@router.get(PAGE, response_class=HTMLResponse)
def grading_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(BILLING_PAGES)],
    saved: str = "",
    code: str = "",
) -> Response:
    notice = None
    if saved in _NOTICES:
        notice = gettext_of(request)(_NOTICES[saved]) % {"code": code[:16]}
    return _page(request, session, _saved_draft(session), notice=notice)


def _move(draft: Draft, op: str) -> Draft:
    """up-N, down-N, delete-N: the draft with rule N moved or removed (out of range: as is)."""
    action, _, number = op.partition("-")
    try:
        i = int(number)
    except ValueError:
        return draft
    rules = list(draft.rules)
    if not 0 <= i < len(rules):
        return draft
    if action == "delete":
        del rules[i]
    elif action == "up" and i > 0:
        rules[i - 1], rules[i] = rules[i], rules[i - 1]
    elif action == "down" and i < len(rules) - 1:
        rules[i + 1], rules[i] = rules[i], rules[i + 1]
    return replace(draft, rules=rules)


def _add(_: Translate, draft: Draft, grades: set[str]) -> tuple[Draft, dict[str, str]]:
    """The draft with the new rule inserted at its position (the end by default), or the
    new rule's problems."""
    errors = _rule_errors(_, draft.new, grades, "new-")
    position = len(draft.rules) + 1
    if draft.new_position:
        try:
            position = int(draft.new_position)
        except ValueError:
            position = 0
        if not 1 <= position <= len(draft.rules) + 1:
            errors["new-position"] = _("A position from 1 to %(n)s.") % {"n": len(draft.rules) + 1}
    if len(draft.rules) >= MAX_RULES:
        errors["new-name"] = _("At most %(n)s rules.") % {"n": MAX_RULES}
    if errors:
        return draft, errors
    rules = list(draft.rules)
    rules.insert(position - 1, replace(draft.new, name=draft.new.name.strip(), origin=""))
    return replace(draft, rules=rules, new=DraftRule(), new_position=""), {}


@router.post(f"{PAGE}/draft", response_class=HTMLResponse, dependencies=[CsrfChecked])
def change_draft(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(BILLING_PAGES)],
    form: PostedForm,
) -> Response:
    """Every change of the draft (add, up-N, down-N, delete-N), its preview, a test (the
    test box as a plain form) and a check: the page again with the draft as it now is."""
    _ = gettext_of(request)
    draft = _draft_of(form)
    op = _text(form, "op")
    grades = {g.code for g in _grades(session)}
    new_errors: dict[str, str] = {}
    if op == "add":
        draft, new_errors = _add(_, draft, grades)
    elif op.startswith(("up-", "down-", "delete-")):
        draft = _move(draft, op)
    errors = _draft_errors(_, draft, grades) | new_errors
    preview = None
    tested = None
    if op == "preview":
        rules = _contracts(request, session, draft, errors)
        if rules is not None:
            preview = grading.preview_rules(session, rules)
        elif "rules" not in errors:
            errors["rules"] = _("Correct the rules marked in red first.")
    elif op == "test":
        tested = _test(request, session, draft, errors)
    return _page(request, session, draft, errors, preview, tested)


# --- The test box -----------------------------------------------------------------------------


def _why(_: Translate, explanation: Explanation, rule: DraftRule | None) -> list[str]:
    """Why the rule grades the number, in sentences."""
    if rule is None:
        return [
            _("No rule matches it: numbers no rule matches get grade %(grade)s.")
            % {"grade": explanation.grade}
        ]
    pattern = rule.pattern.strip()
    digits, n = explanation.digits, len(explanation.digits)
    if explanation.kind == "run_up":
        lines = [
            _("Its last %(n)s digits, %(digits)s, run up one by one (%(pattern)s).")
            % {"n": n, "digits": digits, "pattern": pattern}
        ]
    elif explanation.kind == "run_down":
        lines = [
            _("Its last %(n)s digits, %(digits)s, run down one by one (%(pattern)s).")
            % {"n": n, "digits": digits, "pattern": pattern}
        ]
    elif explanation.kind == "regex":
        lines = [
            _("The regular expression %(regex)s matches %(digits)s from its first digit.")
            % {"regex": pattern[3:], "digits": digits}
        ]
    else:
        lines = [
            _("Its last %(n)s digits, %(digits)s, fit the pattern %(pattern)s.")
            % {"n": n, "digits": digits, "pattern": pattern}
        ]
        if explanation.letters:
            letters = ", ".join(f"{letter} = {digit}" for letter, digit in explanation.letters)
            lines.append(
                _(
                    "The same letter stands for the same digit and different letters for "
                    "different digits: %(letters)s."
                )
                % {"letters": letters}
            )
    return lines


def _test(
    request: Request, session: Session, draft: Draft, errors: dict[str, str]
) -> dict[str, Any]:
    """Which rule of the draft grades the number typed, and why; or what is wrong."""
    _ = gettext_of(request)
    msisdn = draft.msisdn
    if not (len(msisdn) == 11 and msisdn.isascii() and msisdn.isdigit()):
        return {"error": _("Type the 11 digits of a number."), "msisdn": msisdn}
    rules = _contracts(request, session, draft, dict(errors))
    if rules is None:
        return {"error": _("Correct the rules marked in red first."), "msisdn": msisdn}
    grader, active = grading.draft_grader(session, rules)
    explanation = grader.explain(msisdn)
    position = None if explanation.rule is None else active[explanation.rule]
    rule = None if position is None else draft.rules[position]
    grades = {g.code: g for g in _grades(session)}
    number = session.get(MobileNumber, msisdn)
    before = [] if position is None else [i + 1 for i in range(position) if draft.rules[i].active]
    return {
        "msisdn": msisdn,
        "grade": grades.get(explanation.grade),
        "grade_code": explanation.grade,
        "position": None if position is None else position + 1,
        "rule": rule,
        "why": _why(_, explanation, rule),
        "before": len(before),
        "number": number,
        "regradable": number is not None and number.status in grading.REGRADABLE,
        "error": None,
    }


@router.post(f"{PAGE}/test", response_class=HTMLResponse, dependencies=[CsrfChecked])
def test_number(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(BILLING_PAGES)],
    form: PostedForm,
) -> Response:
    """The test box for htmx: the result alone, always a 200 (htmx swaps nothing else)."""
    _ = gettext_of(request)
    draft = _draft_of(form)
    grades = {g.code for g in _grades(session)}
    tested = _test(request, session, draft, _draft_errors(_, draft, grades))
    return render(request, "billing/grading_test.html", {"tested": tested})


# --- Save and regrade ----------------------------------------------------------------------


def _changes(_: Translate, session: Session, draft: Draft) -> list[str]:
    """The draft against the saved rules, a line a difference."""
    saved = grading.list_rules(session)
    by_id = {str(r.id): r for r in saved}
    states, removed = _states(saved, draft)

    def text(name: str, pattern: str, grade: str, active: bool) -> str:
        return f"{name.strip()} ({pattern.strip()} → {grade})" + (
            "" if active else " · " + _("inactive")
        )

    lines = []
    for i, (rule, state) in enumerate(zip(draft.rules, states, strict=True), start=1):
        now = text(rule.name, rule.pattern, rule.grade, rule.active)
        if state == "new":
            lines.append(_("New rule %(position)s: %(rule)s") % {"position": i, "rule": now})
        elif state == "changed":
            old = by_id[rule.origin]
            lines.append(
                _("Rule %(position)s changed: %(rule)s (was %(old)s)")
                % {
                    "position": i,
                    "rule": now,
                    "old": text(old.name, old.pattern, old.grade_code, old.active),
                }
            )
        elif state == "moved":
            lines.append(
                _("Rule moved to position %(position)s: %(rule)s") % {"position": i, "rule": now}
            )
    for old in removed:
        lines.append(
            _("Rule removed: %(rule)s")
            % {"rule": text(old.name, old.pattern, old.grade_code, old.active)}
        )
    return lines


@router.post(f"{PAGE}/save", response_class=HTMLResponse, dependencies=[CsrfChecked])
def save_rules(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(BILLING_PAGES)],
    form: PostedForm,
) -> Response:
    """Save and regrade: first the confirmation (what the draft changes and what it does to
    the pool), then, confirmed, the job; its page shows the progress and what changed."""
    _ = gettext_of(request)
    draft = _draft_of(form)
    grades = {g.code for g in _grades(session)}
    errors = _draft_errors(_, draft, grades)
    rules = _contracts(request, session, draft, errors)
    if rules is None:
        errors.setdefault("rules", _("Correct the rules marked in red first."))
        return _page(request, session, draft, errors)
    if not rules:
        errors["rules"] = _("Keep at least one rule: without rules every number is standard.")
        return _page(request, session, draft, errors)
    if draft.base != grading.rules_version(session):
        errors["rules"] = _(grading_jobs.CHANGED_MESSAGE)
        return _page(request, session, draft, errors)
    if _text(form, "confirmed") != "yes":
        preview = grading.preview_rules(session, rules)
        return render(
            request,
            "billing/grading_confirm.html",
            {
                "preview": preview,
                "rule_count": len(rules),
                "changes": _changes(_, session, draft),
                "fields": _draft_fields(draft),
            },
        )
    job = grading_jobs.submit(session, user.username, rules, draft.base)
    return RedirectResponse(f"/jobs/{job.id}", status.HTTP_303_SEE_OTHER)


# --- Grade prices -----------------------------------------------------------------------------

PRICE_FIELDS = ("selection_fee", "prestore", "min_monthly")


def _grade(session: Session, code: str) -> NumberGrade | None:
    return session.get(NumberGrade, code[:16])


def _yuan_text(fen: int) -> str:
    return format_fen(fen, symbol="")


def _grade_form(
    request: Request,
    grade: NumberGrade,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    values = typed or {
        "name": grade.name,
        "selection_fee": _yuan_text(grade.selection_fee_fen),
        "prestore": _yuan_text(grade.prestore_fen),
        "min_monthly": _yuan_text(grade.min_monthly_fen),
        "lockin_months": str(grade.lockin_months),
    }
    return render(
        request,
        "billing/grading_grade.html",
        {"grade": grade, "values": values, "errors": errors or {}},
        status_code=status_code,
    )


@router.get(f"{PAGE}/grades/{{code}}", response_class=HTMLResponse)
def grade_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(BILLING_PAGES)],
    code: Annotated[str, Path(max_length=64)],
) -> Response:
    grade = _grade(session, code)
    if grade is None:
        return _no_grade(request, user, code)
    return _grade_form(request, grade)


def _no_grade(request: Request, user: User, code: str) -> Response:
    error = InvalidInput(N_("There is no grade %(code)s."), params={"code": code[:16]})
    return refused(request, user, status.HTTP_404_NOT_FOUND, error)


def _amount(_: Translate, text: str, errors: dict[str, str], key: str) -> int:
    try:
        fen = parse_yuan(text)
    except MoneyError:
        errors[key] = _("An amount in yuan, such as 120 or 120.50.")
        return 0
    if fen < 0:
        errors[key] = _("The amount cannot be negative.")
    elif fen > 2**31 - 1:
        errors[key] = _("Too large an amount.")
    return fen


@router.post(f"{PAGE}/grades/{{code}}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def save_grade(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(BILLING_PAGES)],
    code: Annotated[str, Path(max_length=64)],
    name: Annotated[str, Form()] = "",
    selection_fee: Annotated[str, Form()] = "",
    prestore: Annotated[str, Form()] = "",
    min_monthly: Annotated[str, Form()] = "",
    lockin_months: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    """A grade's name and prices: checked, then confirmed (what dealers pay changes), then
    saved and audited."""
    _ = gettext_of(request)
    grade = _grade(session, code)
    if grade is None:
        return _no_grade(request, user, code)
    typed = {
        "name": name.strip()[:_ECHO],
        "selection_fee": selection_fee.strip()[:_ECHO],
        "prestore": prestore.strip()[:_ECHO],
        "min_monthly": min_monthly.strip()[:_ECHO],
        "lockin_months": lockin_months.strip()[:_ECHO],
    }
    errors: dict[str, str] = {}
    if not typed["name"]:
        errors["name"] = _("Give the grade a name.")
    elif len(typed["name"]) > TEXT_LIMIT:
        errors["name"] = _("At most %(n)s characters.") % {"n": TEXT_LIMIT}
    elif _control(typed["name"]):
        errors["name"] = _("Control characters are not allowed here.")
    fen = {key: _amount(_, typed[key], errors, key) for key in PRICE_FIELDS}
    months = typed["lockin_months"]
    if not (months.isascii() and months.isdigit() and int(months) <= 120):
        errors["lockin_months"] = _("Whole months from 0 to 120.")
    if errors:
        return _grade_form(request, grade, typed, errors, status.HTTP_422_UNPROCESSABLE_CONTENT)
    change = GradeUpdate(
        name=typed["name"],
        selection_fee_fen=fen["selection_fee"],
        prestore_fen=fen["prestore"],
        min_monthly_fen=fen["min_monthly"],
        lockin_months=int(months),
    )
    if confirmed != "yes":
        return _confirm_grade(request, grade, change, typed)
    try:
        grading.update_grade(session, grade.code, change, user.username)
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    return RedirectResponse(
        f"{PAGE}?saved=prices&code={grade.code}#grades", status.HTTP_303_SEE_OTHER
    )


def _confirm_grade(
    request: Request, grade: NumberGrade, change: GradeUpdate, typed: dict[str, str]
) -> Response:
    _ = gettext_of(request)
    labels = {
        "name": _("Name"),
        "selection_fee_fen": _("Selection fee"),
        "prestore_fen": _("Prestore"),
        "min_monthly_fen": _("Minimum monthly spend"),
        "lockin_months": _("Lock-in (months)"),
    }
    details = []
    for key, label in labels.items():
        old, new = getattr(grade, key), getattr(change, key)
        if old == new:
            continue
        if key.endswith("_fen"):
            old, new = format_fen(old), format_fen(new)
        details.append(_("%(field)s: %(old)s → %(new)s") % {"field": label, "old": old, "new": new})
    if not details:
        details.append(_("Nothing changes."))
    return render(
        request,
        "confirm.html",
        {
            "title": _("Change the prices of grade %(code)s?") % {"code": grade.code},
            "message": _(
                "The new prices apply at once to every number of grade %(code)s not sold yet, "
                "numbers already with dealers included: what dealers and customers pay for "
                "them changes."
            )
            % {"code": grade.code},
            "details": details,
            "action": f"{PAGE}/grades/{grade.code}",
            "fields": typed,
            "button": _("Save the prices"),
            "back": f"{PAGE}/grades/{grade.code}",
        },
    )
