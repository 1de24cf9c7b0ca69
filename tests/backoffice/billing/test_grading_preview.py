"""The grading rules editor's services: a draft's preview counts what saving and regrading
would do (per rule, per current → new grade) and agrees with the regrade that follows; the
save-and-regrade job applies both in one transaction and refuses a draft whose rules changed
meanwhile; the grader explains which rule grades a number and why (SQLite and PostgreSQL)."""

from collections import Counter

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from backoffice.contracts.billing import GradingRuleIn, SegmentRequest
from backoffice.domain.billing import (
    DEFAULT_RULES,
    Grader,
    GradingRuleError,
    PatternError,
    RuleSpec,
    pattern_regex,
    validate_rules,
)
from backoffice.models import Job, MobileNumber
from backoffice.services import jobs
from backoffice.services.billing import grading, grading_jobs, numbers
from backoffice.services.errors import InvalidInput
from tests.backoffice.channel.helpers import allocate_numbers, channel, pool


def _saved(session: Session) -> list[GradingRuleIn]:
    return [
        GradingRuleIn(name=r.name, pattern=r.pattern, grade_code=r.grade_code, active=r.active)
        for r in grading.list_rules(session)
    ]


def _grades(session: Session) -> dict[str, tuple[str, str]]:
    session.expire_all()
    rows = session.exec(select(MobileNumber.msisdn, MobileNumber.grade_code, MobileNumber.status))
    return {m: (g, s) for m, g, s in rows}


def _draft(session: Session) -> list[GradingRuleIn]:
    """The saved rules with a new first rule (numbers ending 520 are grade 3), pairs of 8s
    switched off, and pairs of 6s made standard."""
    draft = [GradingRuleIn(name="tail 520", pattern="520", grade_code="G3")]
    for rule in _saved(session):
        if rule.pattern == "88":
            rule = rule.model_copy(update={"active": False})
        if rule.pattern == "66":
            rule = rule.model_copy(update={"grade_code": "STD"})
        draft.append(rule)
    return draft


def _world(session: Session) -> str:
    """A pool of 2,000 available numbers, 1,000 imported ones, and one allocated grade-4
    number (the dealer's: regrading leaves it). Returns the allocated number."""
    pool(session, end=1999)
    numbers.generate_segment(
        session, SegmentRequest(prefix="1390576", start=0, end=999, code="NEW"), "billing1"
    )
    shop = channel(session)
    allocate_numbers(session, shop.outlet_code, 1, grade="G4")
    return session.exec(select(MobileNumber.msisdn).where(MobileNumber.status == "allocated")).one()


def test_preview_counts_what_the_regrade_then_does(engine: Engine, session: Session) -> None:
    allocated = _world(session)
    before = _grades(session)
    draft = _draft(session)
    base = grading.rules_version(session)

    preview = grading.preview_rules(session, draft)
    # What the draft would do, number by number, by its own grader over the pool.
    grader = Grader([RuleSpec(r.name, r.pattern, r.grade_code) for r in draft if r.active])
    pooled = {m: g for m, (g, s) in before.items() if s in grading.REGRADABLE}
    expected = Counter(
        (old, grader.grade(m)) for m, old in pooled.items() if grader.grade(m) != old
    )
    assert preview.examined == len(pooled) == 2999  # all but the allocated one
    assert preview.changes == dict(expected) and preview.changed > 0
    assert ("STD", "G3") in preview.changes  # ...520 numbers
    assert ("G4", "STD") in preview.changes  # ...88 and ...66 numbers
    assert preview.hits[0] == sum(1 for m in pooled if m.endswith("520"))
    eighty_eight = next(i for i, r in enumerate(draft) if r.pattern == "88")
    assert preview.hits[eighty_eight] == 0  # inactive: grades nothing
    assert sum(preview.hits) + preview.default_hits == preview.examined
    assert _grades(session) == before  # a preview changes nothing

    job = grading_jobs.submit(session, "billing1", draft, base)
    assert jobs.run_pending(engine) == 1
    with Session(engine) as fresh:
        done = fresh.get(Job, job.id)
        assert done is not None and done.state == "succeeded", done.error
        result = dict(jobs.result_of(done))
    assert result["Numbers examined"] == 2999
    assert result["Numbers that changed grade"] == preview.changed
    assert {k: v for k, v in result.items() if "→" in k} == {
        f"{old} → {new}": n for (old, new), n in preview.changes.items()
    }
    after = _grades(session)
    assert after["13905750520"] == ("G3", "available")
    assert after["13905760188"] == ("STD", "imported")
    assert after[allocated] == before[allocated]  # the dealer's number keeps its grade
    assert [r.pattern for r in grading.list_rules(session)][:1] == ["520"]
    assert grading.preview_rules(session, _saved(session)).changed == 0  # all applied
    actions = session.execute(
        text("SELECT action, item_count FROM audit_entry WHERE entity_type = 'grading_rules'")
    ).all()
    assert ("regrade", preview.changed) in [tuple(a) for a in actions]
    assert "replace" in [a[0] for a in actions]


def test_a_draft_over_rules_changed_meanwhile_is_refused_and_nothing_is_saved(
    engine: Engine, session: Session
) -> None:
    pool(session, end=99)
    base = grading.rules_version(session)
    draft = _draft(session)
    grading.replace_rules(session, _saved(session)[1:], "billing2")  # someone else saved
    changed = grading.rules_version(session)
    assert changed != base
    job = grading_jobs.submit(session, "billing1", draft, base)
    jobs.run_pending(engine)
    with Session(engine) as fresh:
        failed = fresh.get(Job, job.id)
        assert failed is not None and failed.state == "failed"
        assert failed.error == grading_jobs.CHANGED_MESSAGE
    assert grading.rules_version(session) == changed


def test_a_regrade_job_with_the_saved_rules_reports_no_change(
    engine: Engine, session: Session
) -> None:
    pool(session, end=99)
    job = grading_jobs.submit(session, "billing1", None, None)
    jobs.run_pending(engine)
    with Session(engine) as fresh:
        done = fresh.get(Job, job.id)
        assert done is not None and done.state == "succeeded"
        assert dict(jobs.result_of(done)) == {
            "Numbers examined": 100,
            "Numbers that changed grade": 0,
        }


def test_a_bad_draft_is_refused_with_the_rule_named(session: Session) -> None:
    draft = [*_saved(session), GradingRuleIn(name="broken", pattern="AB!", grade_code="G3")]
    with pytest.raises(InvalidInput, match=r"rule 18 \(broken\)"):
        grading.preview_rules(session, draft)
    with pytest.raises(InvalidInput, match="unknown grade"):
        grading.preview_rules(session, [GradingRuleIn(name="x", pattern="88", grade_code="G9")])
    # A flag valid alone but not inside the combined expression: refused, not a crash.
    with pytest.raises(InvalidInput, match="invalid regular expression"):
        grading.preview_rules(
            session, [GradingRuleIn(name="x", pattern=r"re:(?i)\d+", grade_code="G3")]
        )


def test_preview_of_an_empty_pool(session: Session) -> None:
    preview = grading.preview_rules(session, _saved(session))
    assert (preview.examined, preview.changed, preview.default_hits) == (0, 0, 0)
    assert preview.hits == [0] * len(DEFAULT_RULES)


@pytest.mark.parametrize(
    ("msisdn", "rule", "kind", "digits", "letters"),
    [
        ("13905751122", "两对 AABB", "tail", "1122", (("A", "1"), ("B", "2"))),
        ("13905756789", "五位顺子 ABCDE", "run_up", "56789", ()),
        ("13905759876", "四位倒顺 DCBA", "run_down", "9876", ()),
        ("13905750188", "尾号 88", "tail", "88", ()),
        ("13944404143", "多4 (后8位四个及以上4)", "regex", "13944404", ()),
    ],
)
def test_the_grader_explains_which_rule_grades_a_number(
    msisdn: str, rule: str, kind: str, digits: str, letters: tuple[tuple[str, str], ...]
) -> None:
    grader = Grader(DEFAULT_RULES)
    why = grader.explain(msisdn)
    assert why.rule is not None and DEFAULT_RULES[why.rule].name == rule
    assert (why.grade, why.kind, why.digits, why.letters) == (
        grader.grade(msisdn),
        kind,
        digits,
        letters,
    )


def test_a_number_no_rule_matches_is_explained_as_the_default() -> None:
    why = Grader(DEFAULT_RULES).explain("13905751357")
    assert (why.rule, why.grade, why.kind) == (None, "STD", None)
    assert Grader([]).explain("13905751357").grade == "STD"


def test_rule_indexes_agree_with_grade() -> None:
    grader = Grader(DEFAULT_RULES)
    sample = [f"139057{i:05d}" for i in range(0, 100_000, 7)]
    indexes = grader.rule_indexes(sample)
    assert [grader.grade_of(i) for i in indexes] == grader.grade_many(sample)
    assert Grader([]).rule_indexes(sample[:3]) == [-1, -1, -1]


@pytest.mark.parametrize(
    ("pattern", "problem", "params"),
    [
        ("", "empty", {}),
        (r"re:(\d)\1", "regex_groups", {}),
        ("re:[12", "regex_invalid", {"detail": "unterminated character set at position 0"}),
        ("+2", "run_length", {}),
        ("123456789012", "too_long", {}),
        ("AB!", "bad_character", {"character": "!", "position": 3}),
    ],
)
def test_pattern_problems_are_named_for_the_pages(
    pattern: str, problem: str, params: dict[str, object]
) -> None:
    with pytest.raises(PatternError) as error:
        pattern_regex(pattern, "t")
    assert (error.value.problem, error.value.params) == (problem, params)
    with pytest.raises(GradingRuleError, match=r"rule 1 \(x\)"):  # as before, the rule named
        validate_rules([RuleSpec("x", pattern, "G3")], ["G3"])
