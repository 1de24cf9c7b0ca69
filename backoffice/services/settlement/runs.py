"""Settlement runs: a period's figures for a dealer, its statement, and the statement's
lifecycle (draft → confirmed → paid, or disputed)."""

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

from sqlalchemy import (
    and_,
    func,
    select,
    text,
)
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.settlement import (
    SettlementRunIn,
    SettlementRunPublic,
)
from backoffice.domain.settlement.accounts import (
    Cadence,
    Entry,
    LedgerKind,
    SettlementError,
    StatementAction,
    StatementStatus,
    StatementTotals,
    is_closed,
    period_containing,
    statement_move,
    statement_totals,
)
from backoffice.domain.settlement.commission import (
    Period,
)
from backoffice.models import (
    Dealer,
    DealerAccountEntry,
    SettlementProfile,
    SettlementStatement,
)
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel.dealers import find_dealer
from backoffice.services.errors import Conflict, NotFound
from backoffice.services.settlement.accounts import _ENTRIES, _refuse, account_entries, cadence_of
from backoffice.services.settlement.booking import _book_sales_and_returns
from backoffice.services.settlement.commissions import _book_commissions, _book_revenue_share
from backoffice.services.settlement.plans import plans_by_dealer
from shared.ids import new_id


def _period_figures(
    session: Session, dealer_ids: Sequence[str], period: Period
) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, tuple[int, int]]]:
    """Opening balances, sums by kind, and (retail collected, line count) per dealer."""
    opening = {
        row.dealer_id: int(row.total)
        for row in session.connection().execute(
            select(_ENTRIES.c.dealer_id, func.sum(_ENTRIES.c.amount_fen).label("total"))
            .where(_ENTRIES.c.dealer_id.in_(dealer_ids))
            .where(_ENTRIES.c.booked_on < period.start)
            .group_by(_ENTRIES.c.dealer_id)
        )
    }
    by_kind: dict[str, dict[str, int]] = defaultdict(dict)
    extra: dict[str, tuple[int, int]] = {}
    in_period = and_(
        _ENTRIES.c.dealer_id.in_(dealer_ids),
        _ENTRIES.c.booked_on >= period.start,
        _ENTRIES.c.booked_on <= period.end,
    )
    for row in session.connection().execute(
        select(
            _ENTRIES.c.dealer_id,
            _ENTRIES.c.kind,
            func.sum(_ENTRIES.c.amount_fen).label("total"),
            func.sum(_ENTRIES.c.retail_fen).label("retail"),
            func.count().label("lines"),
        )
        .where(in_period)
        .group_by(_ENTRIES.c.dealer_id, _ENTRIES.c.kind)
    ):
        by_kind[row.dealer_id][row.kind] = int(row.total)
        retail, lines = extra.get(row.dealer_id, (0, 0))
        extra[row.dealer_id] = (retail + int(row.retail), lines + int(row.lines))
    return opening, by_kind, extra


def _totals(
    opening: dict[str, int], by_kind: dict[str, dict[str, int]], dealer_id: str, period: Period
) -> StatementTotals:
    entries = [Entry(LedgerKind(k), v, period.start) for k, v in by_kind[dealer_id].items()]
    return statement_totals(opening.get(dealer_id, 0), entries)


def _statement_number(dealer: Dealer, period: Period) -> str:
    return f"ST-{dealer.code}-{period.start:%Y%m%d}"[:32]


def run_settlement(session: Session, request: SettlementRunIn, actor: str) -> SettlementRunPublic:
    """Settles one period for every dealer on the cadence (or one dealer): books the sales,
    returns and commission not yet on the account, then (re)computes draft statements.
    Confirmed and paid periods are closed: one dealer's run is refused, a run for all skips
    them."""
    started = time.perf_counter()
    period = period_containing(request.day, request.cadence)
    if session.get_bind().dialect.name == "postgresql":
        # One run at a time, so two runs cannot both book the same unbooked sale.
        session.connection().execute(text("SELECT pg_advisory_xact_lock(6006)"))
    if request.dealer:
        dealer = find_dealer(session, request.dealer)
        cadence = cadence_of(session, dealer.id)
        if cadence is not request.cadence:
            raise Conflict(
                f"dealer {dealer.code} settles by {cadence.value}",
                code="wrong_cadence",
            )
        candidates = [dealer]
    else:
        profiles = dict(
            session.connection()
            .execute(
                select(SettlementProfile.dealer_id, SettlementProfile.cadence)  # type: ignore[call-overload]
            )
            .all()
        )
        candidates = [
            d
            for d in session.exec(sql_select(Dealer).order_by(col(Dealer.code)))
            if profiles.get(d.id, Cadence.month.value) == request.cadence.value
        ]
    ids = [d.id for d in candidates]
    existing: dict[str, SettlementStatement] = {}
    later_closed: dict[str, date] = {}
    for row in session.exec(
        sql_select(SettlementStatement)
        .where(col(SettlementStatement.dealer_id).in_(ids))
        .where(SettlementStatement.period_start >= period.start)
    ):
        if row.period_start == period.start:
            existing[row.dealer_id] = row
        elif is_closed(StatementStatus(row.status)):
            later_closed[row.dealer_id] = row.period_start
    dealers: list[Dealer] = []
    skipped = 0
    for dealer in candidates:
        statement = existing.get(dealer.id)
        try:
            if dealer.id in later_closed:
                raise SettlementError(
                    "later_period_closed",
                    f"dealer {dealer.code}'s period from {later_closed[dealer.id]} is closed; "
                    "an earlier period cannot be settled after it",
                )
            if statement is not None:
                statement_move(StatementStatus(statement.status), StatementAction.recompute)
        except SettlementError as exc:
            if request.dealer:
                raise _refuse(exc) from exc
            skipped += 1
            continue
        dealers.append(dealer)
    ids = [d.id for d in dealers]
    booked = 0
    statements = 0
    if ids:
        booked = _book_sales_and_returns(session, ids, period, actor)
        plans = plans_by_dealer(session, dealers)
        booked += _book_commissions(session, dealers, plans, period, actor)
        booked += _book_revenue_share(session, dealers, plans, period, actor)
        opening, by_kind, extra = _period_figures(session, ids, period)
        now = utcnow()
        for dealer in dealers:
            totals = _totals(opening, by_kind, dealer.id, period)
            statement = existing.get(dealer.id)
            before = statement.status if statement else None
            if statement is None:
                statement = SettlementStatement(
                    id=new_id(),
                    number=_statement_number(dealer, period),
                    dealer_id=dealer.id,
                    cadence=request.cadence.value,
                    period_start=period.start,
                    period_end=period.end,
                    status=StatementStatus.draft.value,
                    computed_by=actor,
                    updated_by=actor,
                )
            retail, lines = extra.get(dealer.id, (0, 0))
            statement.sqlmodel_update(
                {
                    "status": StatementStatus.draft.value,
                    "retail_collected_fen": retail,
                    "line_count": lines,
                    "computed_at": now,
                    "computed_by": actor,
                    "updated_at": now,
                    "updated_by": actor,
                    **asdict(totals),
                }
            )
            session.add(statement)
            audit.record(
                session,
                actor=actor,
                entity_type="settlement_statement",
                entity_id=statement.id,
                action="compute",
                from_status=before,
                to_status=StatementStatus.draft.value,
                reason=f"{dealer.code} {period.start}..{period.end}: closing {totals.closing_fen}",
            )
            statements += 1
    session.commit()
    return SettlementRunPublic(
        period_start=period.start,
        period_end=period.end,
        cadence=request.cadence,
        statements=statements,
        skipped_closed=skipped,
        entries_booked=booked,
        seconds=round(time.perf_counter() - started, 3),
    )


def find_statement(
    session: Session, number: str, dealer_scope: str | None = None
) -> SettlementStatement:
    """The statement by number. With a dealer scope (dealer staff), only that dealer's
    statements once the sales centre has confirmed them; drafts are the centre's work."""
    statement = session.exec(
        sql_select(SettlementStatement).where(SettlementStatement.number == number)
    ).first()
    if statement is None or (
        dealer_scope is not None
        and (statement.dealer_id != dealer_scope or statement.status == StatementStatus.draft.value)
    ):
        raise NotFound(f"no statement {number}", code="statement_not_found")
    return statement


def list_statements(
    session: Session,
    dealer_key: str | None = None,
    period_start: date | None = None,
    status: StatementStatus | None = None,
    dealer_scope: str | None = None,
) -> list[SettlementStatement]:
    """Statements by period; dealer staff (a dealer scope) see their own dealer's, drafts
    left out."""
    query = sql_select(SettlementStatement)
    if dealer_key:
        query = query.where(SettlementStatement.dealer_id == find_dealer(session, dealer_key).id)
    if dealer_scope is not None:
        query = query.where(SettlementStatement.dealer_id == dealer_scope).where(
            SettlementStatement.status != StatementStatus.draft.value
        )
    if period_start:
        query = query.where(SettlementStatement.period_start == period_start)
    if status:
        query = query.where(SettlementStatement.status == status.value)
    return list(
        session.exec(
            query.order_by(col(SettlementStatement.period_start), col(SettlementStatement.number))
        )
    )


def statement_lines(session: Session, statement: SettlementStatement) -> list[DealerAccountEntry]:
    return account_entries(
        session, statement.dealer_id, statement.period_start, statement.period_end
    )


def _check_current(session: Session, statement: SettlementStatement) -> None:
    """Refuses to close a draft the ledger has moved away from since it was computed (an entry
    posted into its period, or an earlier period settled after it): confirming would close a
    period on figures its own lines no longer add up to."""
    period = Period(statement.period_start, statement.period_end)
    opening, by_kind, extra = _period_figures(session, [statement.dealer_id], period)
    totals = _totals(opening, by_kind, statement.dealer_id, period)
    lines = extra.get(statement.dealer_id, (0, 0))[1]
    stored = {name: getattr(statement, name) for name in asdict(totals)}
    if stored != asdict(totals) or statement.line_count != lines:
        raise Conflict(
            f"statement {statement.number} no longer matches dealer's account for "
            f"{period.start}..{period.end}; run the period again before confirming it",
            code="statement_stale",
        )


def move_statement(
    session: Session, number: str, action: StatementAction, actor: str, comment: str = ""
) -> SettlementStatement:
    """Confirm, dispute (with a comment) or mark paid; recomputing goes through a run."""
    statement = find_statement(session, number)
    before = statement.status
    try:
        target = statement_move(StatementStatus(before), action)
    except SettlementError as exc:
        raise _refuse(exc) from exc
    if action is StatementAction.confirm:
        _check_current(session, statement)
    statement.status = target.value
    if comment:
        statement.comment = comment
    statement.updated_at = utcnow()
    statement.updated_by = actor
    session.add(statement)
    audit.record(
        session,
        actor=actor,
        entity_type="settlement_statement",
        entity_id=statement.id,
        action=action.value,
        from_status=before,
        to_status=target.value,
        reason=comment[:255] or None,
    )
    session.commit()
    return statement
