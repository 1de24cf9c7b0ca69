"""Statements and their lines a page at a time, by key (never by offset), for the settlement
pages: the list by period, dealer and status, newest period first; a statement's ledger lines
in booking order."""

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from backoffice.domain.settlement.accounts import StatementStatus
from backoffice.models import Dealer, DealerAccountEntry, SettlementStatement

# What dealer staff see of their dealer's statements: those the sales centre has closed.
DEALER_VISIBLE = frozenset({StatementStatus.confirmed.value, StatementStatus.paid.value})


@dataclass(frozen=True)
class StatementRow:
    statement: SettlementStatement
    dealer: Dealer


def visible_to_dealer(statement: SettlementStatement, dealer_id: str) -> bool:
    return statement.dealer_id == dealer_id and statement.status in DEALER_VISIBLE


def statements_page(
    session: Session,
    *,
    period_start: date | None = None,
    dealer_id: str | None = None,
    status: StatementStatus | None = None,
    dealer_scope: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[StatementRow], str | None]:
    """Newest period first, then by number; `after` is the number of the page before's last
    statement. With a dealer scope, that dealer's confirmed and paid statements only."""
    s = SettlementStatement
    query = select(s, Dealer).join(Dealer, col(Dealer.id) == col(s.dealer_id))
    if period_start is not None:
        query = query.where(col(s.period_start) == period_start)
    if dealer_id is not None:
        query = query.where(col(s.dealer_id) == dealer_id)
    if status is not None:
        query = query.where(col(s.status) == status.value)
    if dealer_scope is not None:
        query = query.where(col(s.dealer_id) == dealer_scope).where(
            col(s.status).in_(sorted(DEALER_VISIBLE))
        )
    if after:
        last = session.exec(select(s).where(col(s.number) == after)).first()
        if last is not None:
            query = query.where(
                (col(s.period_start) < last.period_start)
                | ((col(s.period_start) == last.period_start) & (col(s.number) > last.number))
            )
    query = query.order_by(col(s.period_start).desc(), col(s.number)).limit(limit + 1)
    rows = [StatementRow(statement, dealer) for statement, dealer in session.exec(query)]
    page = rows[:limit]
    return page, (page[-1].statement.number if len(rows) > limit else None)


def lines_page(
    session: Session, statement: SettlementStatement, after: str | None = None, limit: int = 100
) -> tuple[list[DealerAccountEntry], str | None]:
    """The statement's ledger lines (its dealer's entries booked in its period) in booking
    order; `after` is the id of the page before's last line."""
    e = DealerAccountEntry
    query = (
        select(e)
        .where(col(e.dealer_id) == statement.dealer_id)
        .where(col(e.booked_on) >= statement.period_start)
        .where(col(e.booked_on) <= statement.period_end)
    )
    if after:
        last = session.get(e, after)
        if last is not None and last.dealer_id == statement.dealer_id:
            query = query.where(
                (col(e.booked_on) > last.booked_on)
                | ((col(e.booked_on) == last.booked_on) & (col(e.id) > last.id))
            )
    rows = list(session.exec(query.order_by(col(e.booked_on), col(e.id)).limit(limit + 1)))
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)
