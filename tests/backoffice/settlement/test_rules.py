"""Settlement rules without a database: entry signs, periods, totals, statement lifecycle."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.domain.settlement.accounts import (
    Cadence,
    Entry,
    LedgerKind,
    SettlementError,
    StatementAction,
    StatementStatus,
    booking,
    check_entry,
    is_closed,
    next_period,
    period_containing,
    statement_move,
    statement_totals,
)
from backoffice.domain.settlement.commission import Period


@pytest.mark.parametrize(
    ("kind", "amount", "reason", "approver", "code"),
    [
        (LedgerKind.sale, -100, "", "", "wrong_sign"),
        (LedgerKind.payment, 100, "", "", "wrong_sign"),
        (LedgerKind.deposit, 0, "", "", "zero_amount"),
        (LedgerKind.adjustment, 500, "rounding", "", "adjustment_unapproved"),
        (LedgerKind.penalty, 10_000, " ", "", "penalty_without_evidence"),
    ],
)
def test_bad_entries_are_refused(
    kind: LedgerKind, amount: int, reason: str, approver: str, code: str
) -> None:
    with pytest.raises(SettlementError) as refused:
        check_entry(kind, amount, reason, approver)
    assert refused.value.code == code


def test_good_entries_pass() -> None:
    check_entry(LedgerKind.sale, 4_850)
    check_entry(LedgerKind.adjustment, -300, "short-changed card batch", "manager1")
    check_entry(LedgerKind.penalty, 20_000, "charged ¥30 extra for a number (complaint 1182)")
    check_entry(LedgerKind.commission, -2_000)


@pytest.mark.parametrize(
    ("day", "cadence", "start", "end"),
    [
        (date(2026, 11, 23), Cadence.day, date(2026, 11, 23), date(2026, 11, 23)),
        (date(2026, 11, 23), Cadence.week, date(2026, 11, 23), date(2026, 11, 29)),
        (date(2026, 11, 29), Cadence.week, date(2026, 11, 23), date(2026, 11, 29)),
        (date(2026, 2, 14), Cadence.month, date(2026, 2, 1), date(2026, 2, 28)),
        (date(2028, 2, 14), Cadence.month, date(2028, 2, 1), date(2028, 2, 29)),
    ],
)
def test_period_containing(day: date, cadence: Cadence, start: date, end: date) -> None:
    assert period_containing(day, cadence) == Period(start, end)


@given(day=st.dates(date(2020, 1, 1), date(2035, 12, 31)), cadence=st.sampled_from(Cadence))
def test_periods_tile_the_calendar(day: date, cadence: Cadence) -> None:
    period = period_containing(day, cadence)
    assert day in period
    following = next_period(period, cadence)
    assert (following.start - period.end).days == 1


entries = st.lists(
    st.builds(
        Entry,
        kind=st.sampled_from(LedgerKind),
        amount_fen=st.integers(-(10**7), 10**7),
        on=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
    ),
    max_size=50,
)


@given(opening=st.integers(-(10**8), 10**8), items=entries)
def test_closing_balance_is_opening_plus_every_entry(opening: int, items: list[Entry]) -> None:
    totals = statement_totals(opening, items)
    assert totals.closing_fen == opening + sum(e.amount_fen for e in items)
    parts = (
        totals.sales_fen
        + totals.returns_fen
        + totals.commission_fen
        + totals.penalties_fen
        + totals.payments_fen
        + totals.deposits_fen
        + totals.adjustments_fen
    )
    assert parts == totals.movement_fen


def test_statement_lifecycle() -> None:
    status = statement_move(StatementStatus.draft, StatementAction.recompute)
    status = statement_move(status, StatementAction.confirm)
    assert is_closed(status)
    with pytest.raises(SettlementError) as refused:
        statement_move(status, StatementAction.recompute)
    assert refused.value.code == "statement_closed"
    disputed = statement_move(status, StatementAction.dispute)
    assert statement_move(disputed, StatementAction.recompute) is StatementStatus.draft
    paid = statement_move(status, StatementAction.mark_paid)
    assert is_closed(paid)
    with pytest.raises(SettlementError, match="a paid statement cannot dispute"):
        statement_move(paid, StatementAction.dispute)


def test_booking_freezes_the_ledger_up_to_the_last_closed_day() -> None:
    assert booking(date(2026, 1, 20), None) == (date(2026, 1, 20), False)
    assert booking(date(2026, 2, 3), date(2026, 1, 31)) == (date(2026, 2, 3), False)
    # Inside the closed stretch, whether or not the day's own period was ever run.
    assert booking(date(2026, 1, 31), date(2026, 1, 31)) == (date(2026, 2, 1), True)
    assert booking(date(2025, 12, 5), date(2026, 1, 31)) == (date(2026, 2, 1), True)
