"""Grades with their prices and the grading rules (admins edit, stock readers see)."""

from fastapi import APIRouter

from backoffice.api.deps import Admin, SessionDep, StockReader
from backoffice.contracts.billing import (
    GradePublic,
    GradeUpdate,
    GradingRuleIn,
    GradingRulePublic,
    RegradeResult,
)
from backoffice.services.billing import grading

router = APIRouter(tags=["grading"])


@router.get("/grades")
def list_grades(session: SessionDep, _: StockReader) -> list[GradePublic]:
    return [GradePublic.model_validate(g) for g in grading.list_grades(session)]


@router.patch("/grades/{code}")
def update_grade(code: str, change: GradeUpdate, session: SessionDep, admin: Admin) -> GradePublic:
    return GradePublic.model_validate(grading.update_grade(session, code, change, admin.username))


@router.get("/grading-rules")
def list_rules(session: SessionDep, _: StockReader) -> list[GradingRulePublic]:
    return [GradingRulePublic.model_validate(r) for r in grading.list_rules(session)]


@router.put("/grading-rules")
def replace_rules(
    rules: list[GradingRuleIn], session: SessionDep, admin: Admin
) -> list[GradingRulePublic]:
    stored = grading.replace_rules(session, rules, admin.username)
    return [GradingRulePublic.model_validate(r) for r in stored]


@router.post("/grading-rules/regrade")
def regrade(session: SessionDep, admin: Admin) -> RegradeResult:
    return grading.regrade(session, admin.username)
