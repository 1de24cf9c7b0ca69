"""Settlement runs: a period's figures for a dealer, its statement, and the statement's
lifecycle (draft → confirmed → paid, or disputed)."""

import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, fields
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
from backoffice.domain.audit import CONTENT
from backoffice.domain.settlement.accounts import (
    Cadence,
    Entry,
    LedgerKind,
    SettlementError,
    StatementAction,
    StatementStatus,
    StatementTotals,
    entries_of,
    is_closed,
    period_containing,
    statement_move,
    statement_totals,
)
from backoffice.domain.settlement.commission import (
    CommissionPlan,
    Period,
)
from backoffice.models import (
    Dealer,
    DealerAccountEntry,
    SettlementProfile,
    SettlementStatement,
)
from backoffice.models.types import utcnow
from backoffice.services import audit, bulk
from backoffice.services.channel.dealers import find_dealer
from backoffice.services.errors import Conflict, NotFound
from backoffice.services.settlement.accounts import (
    _ENTRIES,
    _refuse,
    account_entries,
    cadence_of,
    closed_until,
    touch,
    versions,
)
from backoffice.services.settlement.booking import Booked, PeriodSums, _book_sales_and_returns
from backoffice.services.settlement.commissions import _book_commissions, _book_revenue_share
from backoffice.services.settlement.plans import plans_by_dealer
from shared.ids import new_id

_STATEMENTS = SettlementStatement.__table__  # type: ignore[attr-defined]
_WORK_MEM = "256MB"
# The audit row's content as audit.record writes it; `at` is stamped by the database.
_AUDIT_COLUMNS = tuple(name for name in CONTENT if name != "at")


def _period_sums(
    session: Session, dealer_ids: Sequence[str], period: Period
) -> defaultdict[str, PeriodSums]:
    """What each dealer's entries of the period add up to, as the ledger holds them."""
    sums: defaultdict[str, PeriodSums] = defaultdict(PeriodSums)
    if not dealer_ids:
        return sums
    for row in session.connection().execute(
        select(
            _ENTRIES.c.dealer_id,
            _ENTRIES.c.kind,
            func.sum(_ENTRIES.c.amount_fen).label("total"),
            func.sum(_ENTRIES.c.retail_fen).label("retail"),
            func.count().label("lines"),
        )
        .where(_ENTRIES.c.dealer_id.in_(dealer_ids))
        .where(_ENTRIES.c.booked_on >= period.start)
        .where(_ENTRIES.c.booked_on <= period.end)
        .group_by(_ENTRIES.c.dealer_id, _ENTRIES.c.kind)
    ):
        sums[row.dealer_id].fen[row.kind] += int(row.total)
        sums[row.dealer_id].retail += int(row.retail)
        sums[row.dealer_id].lines += int(row.lines)
    return sums


def _stored_sums(statement: SettlementStatement) -> PeriodSums:
    """What a statement says its period's entries add up to."""
    totals = StatementTotals(
        **{f.name: getattr(statement, f.name) for f in fields(StatementTotals)}
    )
    return PeriodSums(
        fen=Counter(
            {e.kind.value: e.amount_fen for e in entries_of(totals, statement.period_start)}
        ),
        retail=statement.retail_collected_fen,
        lines=statement.line_count,
    )


def _openings(session: Session, dealer_ids: Sequence[str], start: date) -> dict[str, int]:
    """Each dealer's balance before `start`: the closing of its latest closed period ending
    before it (the ledger up to a closed period's end is frozen, and the period's closing
    was checked against it when it was confirmed) plus what is booked after that period,
    or, for a dealer without one, the sum of its entries."""
    closed = (
        select(
            _STATEMENTS.c.dealer_id,
            func.max(_STATEMENTS.c.period_end).label("period_end"),
        )
        .where(_STATEMENTS.c.dealer_id.in_(dealer_ids))
        .where(_STATEMENTS.c.status.in_([s.value for s in StatementStatus if is_closed(s)]))
        .where(_STATEMENTS.c.period_end < start)
        .group_by(_STATEMENTS.c.dealer_id)
        .subquery()
    )
    opening: dict[str, int] = defaultdict(int)
    since: dict[date | None, list[str]] = defaultdict(list)
    for dealer_id, period_end, closing in session.connection().execute(
        select(closed.c.dealer_id, closed.c.period_end, _STATEMENTS.c.closing_fen).join(
            _STATEMENTS,
            and_(
                _STATEMENTS.c.dealer_id == closed.c.dealer_id,
                _STATEMENTS.c.period_end == closed.c.period_end,
            ),
        )
    ):
        opening[dealer_id] = int(closing)
        since[period_end].append(dealer_id)
    without = set(dealer_ids).difference(*since.values())
    if without:
        since[None] = sorted(without)
    for after, dealers in since.items():
        if after is not None and (start - after).days <= 1:
            continue  # the closed period ends the day before: nothing booked in between
        query = (
            select(_ENTRIES.c.dealer_id, func.sum(_ENTRIES.c.amount_fen))
            .where(_ENTRIES.c.dealer_id.in_(dealers))
            .where(_ENTRIES.c.booked_on < start)
            .group_by(_ENTRIES.c.dealer_id)
        )
        if after is not None:
            query = query.where(_ENTRIES.c.booked_on > after)
        for dealer_id, total in session.connection().execute(query):
            opening[dealer_id] += int(total)
    return opening


def _totals(opening_fen: int, sums: PeriodSums, period: Period) -> StatementTotals:
    entries = [Entry(LedgerKind(kind), fen, period.start) for kind, fen in sums.fen.items()]
    return statement_totals(opening_fen, entries)


def _basis(version: int, plans: Sequence[CommissionPlan], closed: date | None) -> str:
    """What a dealer's statement is computed from, in a few bytes: its settlement version,
    a digest of its commission plans, and the end of its last closed period."""
    rules = repr(sorted(plans, key=lambda plan: (plan.code, plan.effective_from)))
    digest = hashlib.sha1(rules.encode()).hexdigest()[:16]
    return f"{version}|{digest}|{closed or ''}"


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
        # A month's bookings are a few hundred thousand rows that the run's statements hash,
        # sort and number in memory rather than in temporary files (this transaction only).
        session.connection().execute(text(f"SET LOCAL work_mem = '{_WORK_MEM}'"))
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
        # Read before anything is booked: a change committed later moves the version past
        # what the statements record, and their next run recomputes them.
        version = versions(session, ids)
        closed = closed_until(session, ids)
        plans = plans_by_dealer(session, dealers)
        basis = {d.id: _basis(version.get(d.id, 0), plans[d.id], closed.get(d.id)) for d in dealers}
        # A draft computed at its dealer's current basis (no entry booked or posted since, no
        # activation reported, the same plans and closed periods) holds the ledger's figures.
        current = {
            d.id for d in dealers if d.id in existing and existing[d.id].basis == basis[d.id]
        }
        # What each period holds before this run books into it; the run adds what it books
        # rather than read the period's entries back.
        held = _period_sums(session, [i for i in ids if i not in current], period)
        held.update((i, _stored_sums(existing[i])) for i in current)
        moved: Counter[str] = Counter()
        added = Booked()

        def book(result: Booked) -> int:
            touch(session, result.dealers)
            moved.update(result.dealers)
            added.add(result)
            return result.entries

        booked = book(_book_sales_and_returns(session, ids, period, actor))
        # A current draft whose dealer this run booked nothing for still holds: its
        # commission is booked and its figures are the ledger's.
        unchanged = current.difference(moved)
        changed = [d for d in dealers if d.id not in unchanged]
        booked += book(_book_commissions(session, changed, plans, period, actor, existing.keys()))
        booked += book(_book_revenue_share(session, dealers, plans, period, actor))
        unchanged.difference_update(moved)
        opening = _openings(session, [i for i in ids if i not in unchanged], period.start)
        now = utcnow()
        audit_rows: list[tuple[object, ...]] = []
        for dealer in dealers:
            statement = existing.get(dealer.id)
            if dealer.id in unchanged:
                assert statement is not None
                totals = StatementTotals(
                    **{f.name: getattr(statement, f.name) for f in fields(StatementTotals)}
                )
                retail, lines = statement.retail_collected_fen, statement.line_count
            else:
                sums = held[dealer.id]
                sums.add(added.period.get(dealer.id, PeriodSums()))
                totals = _totals(opening.get(dealer.id, 0), sums, period)
                retail, lines = sums.retail, sums.lines
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
            statement.sqlmodel_update(
                {
                    "status": StatementStatus.draft.value,
                    "retail_collected_fen": retail,
                    "line_count": lines,
                    # This run's own bookings are part of what the figures are computed from.
                    "basis": _basis(
                        version.get(dealer.id, 0) + moved[dealer.id],
                        plans[dealer.id],
                        closed.get(dealer.id),
                    ),
                    "computed_at": now,
                    "computed_by": actor,
                    "updated_at": now,
                    "updated_by": actor,
                    **asdict(totals),
                }
            )
            session.add(statement)
            audit_rows.append(
                (
                    new_id(),
                    actor,
                    "settlement_statement",
                    statement.id,
                    "compute",
                    before,
                    StatementStatus.draft.value,
                    1,
                    None,
                    f"{dealer.code} {period.start}..{period.end}: closing {totals.closing_fen}",
                )
            )
            statements += 1
        # One row per statement, as audit.record writes it, in one bulk insert.
        bulk.insert_rows(session, "audit_entry", _AUDIT_COLUMNS, audit_rows)
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
    opening = _openings(session, [statement.dealer_id], period.start)
    sums = _period_sums(session, [statement.dealer_id], period)[statement.dealer_id]
    totals = _totals(opening.get(statement.dealer_id, 0), sums, period)
    stored = {name: getattr(statement, name) for name in asdict(totals)}
    if stored != asdict(totals) or statement.line_count != sums.lines:
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
