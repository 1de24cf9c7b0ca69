"""Commission plans: created by the sales centre, assigned per dealer, read by runs."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.settlement import (
    CommissionPlanCreate,
    CommissionPlanPublic,
    CommissionRules,
)
from backoffice.core.i18n import N_
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
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from backoffice.services.settlement.accounts import closed_until
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


def _copy_code(session: Session, dealer_code: str, plan_code: str) -> str:
    base = f"{dealer_code}.{plan_code}"[:32]
    code, n = base, 1
    while session.exec(sql_select(CommissionPlanRow).where(CommissionPlanRow.code == code)).first():
        n += 1
        code = f"{base[: 32 - len(str(n)) - 1]}-{n}"
    return code


def choose_plan(
    session: Session, dealer_key: str, plan_code: str, actor: str
) -> CommissionPlanPublic:
    """Gives a dealer an existing plan of a kind, from its first day not yet settled: the plan
    is copied as the dealer's own (a dealer's own plans replace those of its kind). Its own
    plans end the day before; one that would start later never applied to a settled day and
    is removed."""
    dealer = find_dealer(session, dealer_key)
    chosen = session.exec(
        sql_select(CommissionPlanRow).where(CommissionPlanRow.code == plan_code)
    ).first()
    if chosen is None or chosen.dealer_id is not None:
        raise NotFound(
            N_("There is no commission plan %(plan)s for dealer kinds."),
            code="plan_not_found",
            params={"plan": plan_code},
        )
    settled = closed_until(session, [dealer.id]).get(dealer.id)
    start = chosen.effective_from
    if settled is not None:
        start = max(start, settled + timedelta(days=1))
    if chosen.effective_to is not None and chosen.effective_to < start:
        raise Conflict(
            N_("Commission plan %(plan)s ended on %(day)s, before the dealer's open period."),
            code="plan_ended",
            params={"plan": plan_code, "day": chosen.effective_to.isoformat()},
        )
    for own in session.exec(
        sql_select(CommissionPlanRow).where(CommissionPlanRow.dealer_id == dealer.id)
    ).all():
        if own.effective_from >= start:
            session.delete(own)
            note = f"{own.code} removed: replaced by {plan_code} from {start}"
        elif own.effective_to is None or own.effective_to >= start:
            own.effective_to = start - timedelta(days=1)
            session.add(own)
            note = f"{own.code} ends {own.effective_to}: replaced by {plan_code}"
        else:
            continue
        audit.record(
            session,
            actor=actor,
            entity_type="commission_plan",
            entity_id=own.id,
            action="replace",
            reason=note,
        )
    session.flush()
    row = CommissionPlanRow(
        id=new_id(),
        code=_copy_code(session, dealer.code, chosen.code),
        dealer_id=dealer.id,
        dealer_kind=None,
        effective_from=start,
        effective_to=chosen.effective_to,
        rules=chosen.rules,
        created_by=actor,
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        entity_type="commission_plan",
        entity_id=row.id,
        action="create",
        reason=f"{row.code} from {start}: {plan_code} for dealer {dealer.code}",
    )
    audit.record(
        session,
        actor=actor,
        entity_type="dealer",
        entity_id=dealer.id,
        action="commission_plan",
        reason=f"{plan_code} from {start} (as {row.code})",
    )
    session.commit()
    return _plan_public(row)
