"""Grades, their prices and the admin-editable grading rules; regrading numbers; what a draft
of the rules would do to the pool before it is saved."""

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, func, or_, update
from sqlmodel import Session, col, select

from backoffice.contracts.billing import GradeUpdate, GradingRuleIn, RegradeResult
from backoffice.domain.billing import Grader, GradingRuleError, RuleSpec, validate_rules
from backoffice.models import GradingRule, MobileNumber, NumberGrade
from backoffice.services import audit
from backoffice.services.errors import InvalidInput, NotFound
from shared.lifecycle import NumberStatus

# Numbers still in the billing centre's hands; once allocated their price is the dealer's deal.
REGRADABLE = (NumberStatus.imported.value, NumberStatus.available.value)


def list_grades(session: Session) -> list[NumberGrade]:
    return list(session.exec(select(NumberGrade).order_by(col(NumberGrade.rank))))


def update_grade(session: Session, code: str, change: GradeUpdate, actor: str) -> NumberGrade:
    grade = session.get(NumberGrade, code)
    if grade is None:
        raise NotFound(f"grade {code!r} not found")
    fields = change.model_dump(exclude_unset=True, exclude_none=True)
    before = {k: getattr(grade, k) for k in fields}
    grade.sqlmodel_update(fields)
    session.add(grade)
    audit.record(
        session,
        actor=actor,
        entity_type="grade",
        entity_id=code,
        action="update_prices",
        reason=f"{before} -> {fields}",
    )
    session.commit()
    return grade


def list_rules(session: Session) -> list[GradingRule]:
    return list(session.exec(select(GradingRule).order_by(col(GradingRule.position))))


def load_grader(session: Session) -> Grader:
    rules = session.exec(
        select(GradingRule).where(GradingRule.active).order_by(col(GradingRule.position))
    ).all()
    return Grader([RuleSpec(r.name, r.pattern, r.grade_code) for r in rules])


def replace_rules(session: Session, rules: list[GradingRuleIn], actor: str) -> list[GradingRule]:
    stored = stage_rules(session, rules, actor)
    session.commit()
    return stored


def stage_rules(session: Session, rules: Sequence[GradingRuleIn], actor: str) -> list[GradingRule]:
    """replace_rules without the commit: for a job that saves the rules and regrades in one
    transaction."""
    try:
        validate_rules(
            [RuleSpec(r.name, r.pattern, r.grade_code) for r in rules],
            [g.code for g in list_grades(session)],
        )
    except GradingRuleError as exc:
        raise InvalidInput(str(exc), code="invalid_grading_rule") from exc
    for old in list_rules(session):
        session.delete(old)
    session.flush()
    stored = [
        GradingRule(
            position=i, name=r.name, pattern=r.pattern, grade_code=r.grade_code, active=r.active
        )
        for i, r in enumerate(rules, start=1)
    ]
    session.add_all(stored)
    audit.record(
        session,
        actor=actor,
        entity_type="grading_rules",
        entity_id="default",
        action="replace",
        item_count=len(stored),
        reason="; ".join(f"{r.name}={r.pattern}->{r.grade_code}" for r in rules),
    )
    return stored


def regrade(session: Session, actor: str) -> RegradeResult:
    """Applies the current rules to numbers not yet allocated, as one transaction."""
    summary = regrade_pool(session, actor)
    session.commit()
    return RegradeResult(examined=summary.examined, changed=summary.changed)


# --- A pass over the pool: regrading, and a draft's preview -----------------------------------

Progress = Callable[[int, int], None]
# Numbers graded and written at a time: bounds the lists a pass holds besides the pool's text.
_SLICE = 100_000


@dataclass
class PoolTally:
    """What a rule list does to the numbers regrade touches (REGRADABLE): how many numbers
    each rule grades (the first that matches; an inactive rule grades none), how many get the
    default grade, and how many change grade, by current grade and new grade."""

    examined: int = 0
    hits: list[int] = field(default_factory=list)
    default_hits: int = 0
    changes: dict[tuple[str, str], int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return sum(self.changes.values())


def _pool_blocks(session: Session) -> list[tuple[str, int, str]]:
    """The numbers regrade touches in one scan, one row per current grade: the grade, how
    many, and their msisdns joined by newlines. A string per grade rather than a row per
    number: a million numbers come over in a fraction of a second (12 bytes each) where a
    million rows take seconds to become Python objects."""
    joined = func.aggregate_strings(col(MobileNumber.msisdn), "\n")
    rows = session.exec(
        select(MobileNumber.grade_code, func.count(), joined)
        .where(col(MobileNumber.status).in_(REGRADABLE))
        .group_by(col(MobileNumber.grade_code))
        .order_by(col(MobileNumber.grade_code))
    ).all()
    return [(grade, count, numbers or "") for grade, count, numbers in rows]


def _slices(block: str, per: int = _SLICE) -> Iterator[list[str]]:
    """The block's numbers, `per` at a time."""
    start = 0
    while start < len(block):
        end = block.find("\n", start + per * 12 - 1)  # 11 digits and a newline a number
        end = len(block) if end < 0 else end
        yield block[start:end].split("\n")
        start = end + 1


def _pass(
    session: Session, grader: Grader, progress: Progress | None
) -> Iterator[tuple[str, list[str], list[int]]]:
    """(current grade, numbers, the index of the rule grading each) over the pool."""
    blocks = _pool_blocks(session)
    total, done = sum(count for _, count, _ in blocks), 0
    if progress is not None:
        progress(0, total)
    for grade, _count, block in blocks:
        for numbers in _slices(block):
            yield grade, numbers, grader.rule_indexes(numbers)
            done += len(numbers)
            if progress is not None:
                progress(done, total)


def regrade_pool(session: Session, actor: str, progress: Progress | None = None) -> PoolTally:
    """regrade without the commit, and with the changes counted by current and new grade:
    the current rules applied to the numbers not yet allocated; audited."""
    started = time.perf_counter()
    grader = load_grader(session)
    # A grade by rule index; the index -1 (no rule matched) reads the default at the end.
    grade_by_rule = [grader.grade_of(i) for i in range(len(grader.rules))]
    grade_by_rule.append(grader.default_grade)
    # One statement run for every changed number: an IN list would be an "expanding"
    # parameter, which PostgreSQL's executemany cannot take; plain equalities can.
    still_here = or_(*(col(MobileNumber.status) == status for status in REGRADABLE))
    statement = (
        update(MobileNumber)
        .where(col(MobileNumber.msisdn) == bindparam("m"))
        .where(still_here)
        .values(grade_code=bindparam("g"), version=MobileNumber.version + 1)
    )
    tally = PoolTally(hits=[0] * len(grader.rules))
    changes: Counter[tuple[str, str]] = Counter()
    for old, numbers, indexes in _pass(session, grader, progress):
        tally.examined += len(numbers)
        changed = [
            {"m": msisdn, "g": grade_by_rule[i]}
            for msisdn, i in zip(numbers, indexes, strict=True)
            if grade_by_rule[i] != old
        ]
        for index, count in Counter(indexes).items():
            if index < 0:
                tally.default_hits += count
            else:
                tally.hits[index] += count
        if changed:
            changes.update((old, row["g"]) for row in changed)
            session.connection().execute(statement, changed)
    tally.changes = dict(sorted(changes.items()))
    audit.record(
        session,
        actor=actor,
        entity_type="grading_rules",
        entity_id="default",
        action="regrade",
        item_count=tally.changed,
        reason="; ".join(f"{old}->{new}: {n}" for (old, new), n in tally.changes.items()) or None,
    )
    tally.seconds = time.perf_counter() - started
    return tally


def draft_grader(session: Session, rules: Sequence[GradingRuleIn]) -> tuple[Grader, list[int]]:
    """The grader of a draft's active rules (for a test box, a preview), and the draft
    position of each of its rules; InvalidInput where replace_rules would refuse the draft."""
    try:
        validate_rules(
            [RuleSpec(r.name, r.pattern, r.grade_code) for r in rules],
            [g.code for g in list_grades(session)],
        )
    except GradingRuleError as exc:
        raise InvalidInput(str(exc), code="invalid_grading_rule") from exc
    active = [i for i, rule in enumerate(rules) if rule.active]
    grader = Grader(
        [RuleSpec(rules[i].name, rules[i].pattern, rules[i].grade_code) for i in active]
    )
    return grader, active


def preview_rules(
    session: Session, rules: Sequence[GradingRuleIn], progress: Progress | None = None
) -> PoolTally:
    """What saving `rules` and regrading would do, changing nothing: how many numbers of the
    pool each rule would grade and how many would change grade (from which to which). One
    scan and one regex match a number: about a second a million numbers."""
    started = time.perf_counter()
    grader, active = draft_grader(session, rules)
    tally = PoolTally(hits=[0] * len(rules))
    changes: Counter[tuple[str, str]] = Counter()
    for old, numbers, indexes in _pass(session, grader, progress):
        tally.examined += len(numbers)
        for index, count in Counter(indexes).items():
            if index < 0:
                tally.default_hits += count
            else:
                tally.hits[active[index]] += count
            new = grader.grade_of(index)
            if new != old:
                changes[(old, new)] += count
    tally.changes = dict(sorted(changes.items()))
    tally.seconds = time.perf_counter() - started
    return tally


def rules_version(session: Session) -> str:
    """A short fingerprint of the saved rules: an editor's draft carries the one it started
    from, so that saving over rules someone else changed meanwhile is refused."""
    rows = [(r.name, r.pattern, r.grade_code, r.active) for r in list_rules(session)]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()[:16]
