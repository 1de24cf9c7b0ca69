"""Grades, their prices and the admin-editable grading rules; regrading numbers."""

from sqlalchemy import bindparam, or_, update
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
    session.commit()
    return stored


def regrade(session: Session, actor: str) -> RegradeResult:
    """Applies the current rules to numbers not yet allocated, as one transaction."""
    grader = load_grader(session)
    current = session.exec(
        select(MobileNumber.msisdn, MobileNumber.grade_code).where(
            col(MobileNumber.status).in_(REGRADABLE)
        )
    ).all()
    changes = []
    for msisdn, old in current:
        new = grader.grade(msisdn)
        if new != old:
            changes.append({"m": msisdn, "g": new})
    if changes:
        # One statement run for every changed number: an IN list would be an "expanding"
        # parameter, which PostgreSQL's executemany cannot take; plain equalities can.
        still_here = or_(*(col(MobileNumber.status) == status for status in REGRADABLE))
        statement = (
            update(MobileNumber)
            .where(col(MobileNumber.msisdn) == bindparam("m"))
            .where(still_here)
            .values(grade_code=bindparam("g"), version=MobileNumber.version + 1)
        )
        session.connection().execute(statement, changes)
    audit.record(
        session,
        actor=actor,
        entity_type="grading_rules",
        entity_id="default",
        action="regrade",
        item_count=len(changes),
    )
    session.commit()
    return RegradeResult(examined=len(current), changed=len(changes))
