"""Dealer accounts and settlement runs as pure rules: ledger entry kinds and their signs,
settlement periods by cadence, statement totals, and the statement's lifecycle."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from backoffice.domain.settlement.commission import Period, add_months


class SettlementError(ValueError):
    """A settlement step the rules refuse; `code` is the stable error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LedgerKind(StrEnum):
    """What a ledger entry records. Amounts are signed from the operator's side: positive
    means the dealer owes more, negative means the dealer owes less."""

    deposit = "deposit"
    sale = "sale"
    sale_return = "return"
    commission = "commission"
    penalty = "penalty"
    payment = "payment"
    adjustment = "adjustment"


# The sign each kind must carry; adjustments go either way but need a reason and approver.
_SIGN = {
    LedgerKind.deposit: -1,
    LedgerKind.sale: 1,
    LedgerKind.sale_return: -1,
    LedgerKind.penalty: 1,
    LedgerKind.payment: -1,
}


def check_entry(kind: LedgerKind, amount_fen: int, reason: str = "", approver: str = "") -> None:
    """Refuses an entry whose sign contradicts its kind, or an adjustment without reason and
    approver, or a penalty without evidence."""
    if amount_fen == 0:
        raise SettlementError("zero_amount", f"a {kind.value} entry of 0 fen records nothing")
    sign = _SIGN.get(kind)
    if sign is not None and amount_fen * sign < 0:
        word = "positive" if sign > 0 else "negative"
        raise SettlementError(
            "wrong_sign", f"a {kind.value} entry must be {word}, got {amount_fen} fen"
        )
    if kind is LedgerKind.adjustment and not (reason.strip() and approver.strip()):
        raise SettlementError("adjustment_unapproved", "an adjustment needs a reason and approver")
    if kind is LedgerKind.penalty and not reason.strip():
        raise SettlementError("penalty_without_evidence", "a penalty needs its evidence text")


class Cadence(StrEnum):
    day = "day"
    week = "week"
    month = "month"


def period_containing(day: date, cadence: Cadence) -> Period:
    """The settlement period of `day`: the day, its Monday-to-Sunday week, or its month."""
    if cadence is Cadence.day:
        return Period(day, day)
    if cadence is Cadence.week:
        monday = day - timedelta(days=day.weekday())
        return Period(monday, monday + timedelta(days=6))
    first = day.replace(day=1)
    return Period(first, add_months(first, 1) - timedelta(days=1))


def next_period(period: Period, cadence: Cadence) -> Period:
    return period_containing(period.end + timedelta(days=1), cadence)


@dataclass(frozen=True)
class Entry:
    kind: LedgerKind
    amount_fen: int
    on: date


@dataclass(frozen=True)
class StatementTotals:
    opening_fen: int
    sales_fen: int
    returns_fen: int
    commission_fen: int
    penalties_fen: int
    payments_fen: int
    deposits_fen: int
    adjustments_fen: int
    closing_fen: int

    @property
    def movement_fen(self) -> int:
        return self.closing_fen - self.opening_fen


# The statement's total of each kind of entry.
_TOTAL_OF = {
    LedgerKind.sale: "sales_fen",
    LedgerKind.sale_return: "returns_fen",
    LedgerKind.commission: "commission_fen",
    LedgerKind.penalty: "penalties_fen",
    LedgerKind.payment: "payments_fen",
    LedgerKind.deposit: "deposits_fen",
    LedgerKind.adjustment: "adjustments_fen",
}


def statement_totals(opening_fen: int, entries: Iterable[Entry]) -> StatementTotals:
    """Totals by kind of a period's entries; the closing balance is the opening balance plus
    every entry, so the statement always agrees with the ledger."""
    by_kind = dict.fromkeys(LedgerKind, 0)
    for entry in entries:
        by_kind[entry.kind] += entry.amount_fen
    return StatementTotals(
        opening_fen=opening_fen,
        **{name: by_kind[kind] for kind, name in _TOTAL_OF.items()},  # type: ignore[arg-type]
        closing_fen=opening_fen + sum(by_kind.values()),
    )


def entries_of(totals: StatementTotals, on: date) -> list[Entry]:
    """A statement's totals as one entry per kind: what `statement_totals` adds up to them."""
    return [Entry(kind, getattr(totals, name), on) for kind, name in _TOTAL_OF.items()]


class StatementStatus(StrEnum):
    draft = "draft"
    confirmed = "confirmed"
    paid = "paid"
    disputed = "disputed"


class StatementAction(StrEnum):
    recompute = "recompute"
    confirm = "confirm"
    dispute = "dispute"
    mark_paid = "mark_paid"


_STATEMENT_MOVES: dict[tuple[StatementStatus, StatementAction], StatementStatus] = {
    (StatementStatus.draft, StatementAction.recompute): StatementStatus.draft,
    (StatementStatus.draft, StatementAction.confirm): StatementStatus.confirmed,
    (StatementStatus.draft, StatementAction.dispute): StatementStatus.disputed,
    (StatementStatus.disputed, StatementAction.recompute): StatementStatus.draft,
    (StatementStatus.confirmed, StatementAction.dispute): StatementStatus.disputed,
    (StatementStatus.confirmed, StatementAction.mark_paid): StatementStatus.paid,
}


def statement_move(status: StatementStatus, action: StatementAction) -> StatementStatus:
    """The status after `action`, or SettlementError: a confirmed or paid period is closed and
    cannot be recomputed."""
    target = _STATEMENT_MOVES.get((status, action))
    if target is None:
        raise SettlementError(
            "statement_closed" if action is StatementAction.recompute else "illegal_transition",
            f"a {status.value} statement cannot {action.value.replace('_', ' ')}",
        )
    return target


def booking(day: date, closed_until: date | None) -> tuple[date, bool]:
    """The day an entry of `day` is booked on, and whether it is late. The ledger up to the
    end of the dealer's last closed period is frozen (an earlier period cannot be settled
    after a later one closed), so an entry from inside it goes to the day after, labelled
    late; any other entry is booked on its own day, even when its period has a draft or has
    not been run, so that the run of that period finds it there and settles it once."""
    if closed_until is None or day > closed_until:
        return day, False
    return closed_until + timedelta(days=1), True


def is_closed(status: StatementStatus) -> bool:
    """Closed periods take no more entries; late ones are booked into the next open period."""
    return status in (StatementStatus.confirmed, StatementStatus.paid)
