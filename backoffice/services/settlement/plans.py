"""Commission plans: created by the sales centre, assigned per dealer, read by runs."""

from collections import defaultdict
from collections.abc import Sequence

from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.settlement import (
    CommissionPlanCreate,
    CommissionPlanPublic,
    CommissionRules,
)
from backoffice.domain.settlement.commission import (
    CommissionPlan,
    ShareBand,
    Slab,
    Stage,
)
from backoffice.models import (
    CommissionPlanRow,
    Dealer,
)
from backoffice.services import audit
from backoffice.services.channel.dealers import find_dealer
from backoffice.services.errors import Conflict, InvalidInput
from shared.ids import new_id


def _plan_public(row: CommissionPlanRow) -> CommissionPlanPublic:
    return CommissionPlanPublic(
        id=row.id,
        code=row.code,
        dealer_id=row.dealer_id,
        dealer_kind=row.dealer_kind,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        rules=CommissionRules.model_validate_json(row.rules),
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _domain_plan(row: CommissionPlanRow) -> CommissionPlan:
    rules = CommissionRules.model_validate_json(row.rules)
    return CommissionPlan(
        code=row.code,
        effective_from=row.effective_from,
        effective_to=row.effective_to,
        one_off_fen=dict(rules.one_off_fen),
        stages=tuple(Stage(s.after_months, s.amount_fen) for s in rules.stages),
        share_bands=tuple(
            ShareBand(b.first_month, b.last_month, b.basis_points) for b in rules.share_bands
        ),
        slabs=tuple(Slab(s.min_volume, s.per_number_fen) for s in rules.slabs),
    )


def create_plan(
    session: Session, request: CommissionPlanCreate, actor: str
) -> CommissionPlanPublic:
    dealer_id = find_dealer(session, request.dealer).id if request.dealer else None
    if session.exec(
        sql_select(CommissionPlanRow).where(CommissionPlanRow.code == request.code)
    ).first():
        raise Conflict(f"commission plan {request.code} exists", code="plan_exists")
    row = CommissionPlanRow(
        id=new_id(),
        code=request.code,
        dealer_id=dealer_id,
        dealer_kind=request.dealer_kind.value if request.dealer_kind else None,
        effective_from=request.effective_from,
        effective_to=request.effective_to,
        rules=request.rules.model_dump_json(),
        created_by=actor,
    )
    try:
        _domain_plan(row)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="plan_invalid") from exc
    session.add(row)
    audit.record(
        session,
        actor=actor,
        entity_type="commission_plan",
        entity_id=row.id,
        action="create",
        reason=f"{row.code} from {row.effective_from}",
    )
    session.commit()
    return _plan_public(row)


def list_plans(session: Session, dealer_key: str | None = None) -> list[CommissionPlanPublic]:
    query = sql_select(CommissionPlanRow)
    if dealer_key:
        dealer = find_dealer(session, dealer_key)
        query = query.where(
            (col(CommissionPlanRow.dealer_id) == dealer.id)
            | (col(CommissionPlanRow.dealer_kind) == dealer.kind)
        )
    rows = session.exec(query.order_by(col(CommissionPlanRow.effective_from)))
    return [_plan_public(r) for r in rows]


def plans_by_dealer(session: Session, dealers: Sequence[Dealer]) -> dict[str, list[CommissionPlan]]:
    """Each dealer's plans: its own when it has any, else those of its kind."""
    rows = list(session.exec(sql_select(CommissionPlanRow)))
    own: dict[str, list[CommissionPlan]] = defaultdict(list)
    by_kind: dict[str, list[CommissionPlan]] = defaultdict(list)
    for row in rows:
        if row.dealer_id:
            own[row.dealer_id].append(_domain_plan(row))
        elif row.dealer_kind:
            by_kind[row.dealer_kind].append(_domain_plan(row))
    return {d.id: own.get(d.id) or by_kind.get(d.kind, []) for d in dealers}
