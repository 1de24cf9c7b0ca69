"""Shift cash reconciliation: every Z report (a shift closed through sync) with the cash it
should have held, what the clerk counted and the difference, and how often the drawer was
opened without a sale, per outlet and clerk. A shift's cash figures are worked out once, when
it closes (and again when something changes them later), stored on it and added up per
month, terminal and clerk: reading a period's Z reports reads no sale, and adding up a
period's reads a row per month and clerk for its whole months."""

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from sqlalchemy import (
    ColumnElement,
    Row,
    bindparam,
    case,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from backoffice.contracts.settlement import ShiftReconciliationRow
from backoffice.domain.calendar import business_day, day_start, month_of
from backoffice.domain.settlement.commission import add_months
from backoffice.models import CashMovement, Outlet, Sale, Shift, SyncEvent, Terminal
from backoffice.models.counter import SHORT_OF_CASH, ShiftCashMonth
from backoffice.services.settlement.sql import Dialect
from shared.sync import EventStatus, EventType

_SHIFTS = Shift.__table__  # type: ignore[attr-defined]
_TERMINALS = Terminal.__table__  # type: ignore[attr-defined]
_OUTLETS = Outlet.__table__  # type: ignore[attr-defined]
_SALES = Sale.__table__  # type: ignore[attr-defined]
_MOVES = CashMovement.__table__  # type: ignore[attr-defined]
_EVENTS = SyncEvent.__table__  # type: ignore[attr-defined]
_MONTHS = ShiftCashMonth.__table__  # type: ignore[attr-defined]
_IDS_PER_STATEMENT = 10_000

COLUMNS = (
    ("网点", "outlet_code"),
    ("网点名称", "outlet_name"),
    ("终端", "terminal_no"),
    ("营业员", "clerk"),
    ("Z报表号", "z_number"),
    ("开班", "opened_at"),
    ("交班", "closed_at"),
    ("备用金", "opening_float_fen"),
    ("现金销售", "cash_sales_fen"),
    ("现金退款", "cash_refunds_fen"),
    ("存入", "cash_in_fen"),
    ("取出", "cash_out_fen"),
    ("应有现金", "expected_cash_fen"),
    ("实点现金", "counted_cash_fen"),
    ("差额", "difference_fen"),
    ("无销售开钱箱", "no_sale_openings"),
)


def z_reports(
    session: Session,
    *,
    outlet: str | None = None,
    clerk: str | None = None,
    dealer_id: str | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int | None = 5_000,
) -> list[ShiftReconciliationRow]:
    """Closed shifts, newest first, filtered by outlet (id or code), clerk, dealer and the
    China business days the shifts closed on, with their stored cash figures."""
    query = (
        select(
            _SHIFTS,
            _TERMINALS.c.terminal_no,
            _OUTLETS.c.code.label("outlet_code"),
            _OUTLETS.c.name.label("outlet_name"),
        )
        .join(_TERMINALS, _TERMINALS.c.id == _SHIFTS.c.terminal_id)
        .join(_OUTLETS, _OUTLETS.c.id == _TERMINALS.c.outlet_id)
        .where(_SHIFTS.c.closed_at.is_not(None))
        .order_by(_SHIFTS.c.closed_at.desc(), _SHIFTS.c.id)
        .limit(limit)
    )
    if outlet:
        query = query.where((_OUTLETS.c.code == outlet) | (_OUTLETS.c.id == outlet))
    if clerk:
        query = query.where(_SHIFTS.c.clerk == clerk)
    if dealer_id:
        query = query.where(_OUTLETS.c.dealer_id == dealer_id)
    if start:
        query = query.where(_SHIFTS.c.closed_at >= day_start(start))
    if end:
        query = query.where(_SHIFTS.c.closed_at < day_start(end + timedelta(days=1)))
    rows = []
    for s in session.connection().execute(query):
        counted = s.counted_cash_fen or 0
        rows.append(
            ShiftReconciliationRow(
                shift_id=s.id,
                outlet_code=s.outlet_code,
                outlet_name=s.outlet_name,
                terminal_no=s.terminal_no,
                clerk=s.clerk,
                z_number=s.z_number or 0,
                opened_at=s.opened_at,
                closed_at=s.closed_at,
                opening_float_fen=s.opening_float_fen,
                cash_sales_fen=s.cash_sales_fen,
                cash_refunds_fen=s.cash_refunds_fen,
                cash_in_fen=s.cash_in_fen,
                cash_out_fen=s.cash_out_fen,
                expected_cash_fen=s.expected_cash_fen,
                counted_cash_fen=counted,
                difference_fen=counted - s.expected_cash_fen,
                no_sale_openings=s.no_sale_openings,
            )
        )
    return rows


_STORE_CASH = (
    update(_SHIFTS)
    .where(_SHIFTS.c.id == bindparam("shift"))
    .values(
        cash_sales_fen=bindparam("sales"),
        cash_refunds_fen=bindparam("refunds"),
        cash_in_fen=bindparam("moved_in"),
        cash_out_fen=bindparam("moved_out"),
        expected_cash_fen=bindparam("expected"),
    )
)


def record_cash(session: Session, shift_ids: Iterable[str]) -> int:
    """Works out and stores the cash figures of the closed shifts among `shift_ids` (open
    ones are left alone: theirs are worked out when they close): the cash part of the
    shift's sales' payments, its cash refunds (_refunds), the cash put in and taken out, and
    the cash the drawer should hold, the float plus cash sales and cash in, minus cash
    refunds and cash out. Run when a shift closes and whenever something changes a closed
    shift's cash later, with their months' sums (roll_up_months); four reads and two writes
    per 10,000 shifts (a statement takes at most 65,535 parameters). Returns how many
    shifts it stored."""
    wanted = list(dict.fromkeys(shift_ids))
    connection = session.connection()
    stored = 0
    for part in range(0, len(wanted), _IDS_PER_STATEMENT):
        shifts = connection.execute(
            select(
                _SHIFTS.c.id,
                _SHIFTS.c.terminal_id,
                _SHIFTS.c.opened_at,
                _SHIFTS.c.closed_at,
                _SHIFTS.c.opening_float_fen,
            )
            .where(_SHIFTS.c.id.in_(wanted[part : part + _IDS_PER_STATEMENT]))
            .where(_SHIFTS.c.closed_at.is_not(None))
        ).all()
        if not shifts:
            continue
        ids = [s.id for s in shifts]
        cash_sales: dict[str, int] = defaultdict(int)
        for shift_id, payments in connection.execute(
            select(_SALES.c.shift_id, _SALES.c.payments).where(_SALES.c.shift_id.in_(ids))
        ):
            cash_sales[shift_id] += sum(
                p["amount_fen"] for p in json.loads(payments) if p["method"] == "cash"
            )
        moved: dict[tuple[str, str], int] = {}
        for row in connection.execute(
            select(
                _MOVES.c.shift_id, _MOVES.c.direction, func.sum(_MOVES.c.amount_fen).label("total")
            )
            .where(_MOVES.c.shift_id.in_(ids))
            .group_by(_MOVES.c.shift_id, _MOVES.c.direction)
        ):
            moved[row.shift_id, row.direction] = int(row.total)
        refunds = _refunds(session, shifts)
        figures = []
        for s in shifts:
            moved_in, moved_out = moved.get((s.id, "in"), 0), moved.get((s.id, "out"), 0)
            figures.append(
                {
                    "shift": s.id,
                    "sales": cash_sales[s.id],
                    "refunds": refunds[s.id],
                    "moved_in": moved_in,
                    "moved_out": moved_out,
                    "expected": s.opening_float_fen
                    + cash_sales[s.id]
                    - refunds[s.id]
                    + moved_in
                    - moved_out,
                }
            )
        connection.execute(_STORE_CASH, figures)
        months = [month_of(business_day(s.closed_at)) for s in shifts]
        roll_up_months(session, sorted({s.terminal_id for s in shifts}), (min(months), max(months)))
        stored += len(figures)
    return stored


# Each closed shift's figures, by the name of what adds them up per outlet and clerk (the
# shifts page's columns; added_up). The difference is counted minus expected (a shift closed
# without a count counted nothing).
_COUNTED = func.coalesce(_SHIFTS.c.counted_cash_fen, 0)
_DIFFERENCE = _COUNTED - _SHIFTS.c.expected_cash_fen
SHIFT_FIGURES: dict[str, ColumnElement[int]] = {
    "shifts": literal_column("1"),
    "shifts_with_difference": case((_DIFFERENCE != 0, 1), else_=0),
    "expected_cash_fen": _SHIFTS.c.expected_cash_fen,
    "counted_cash_fen": _COUNTED,
    "difference_fen": _DIFFERENCE,
    "largest_shortage_fen": case((_DIFFERENCE < 0, _DIFFERENCE), else_=0),
    "no_sale_openings": _SHIFTS.c.no_sale_openings,
}
LEAST = "largest_shortage_fen"
# A closed shift short of cash, in the words of the index of such shifts (ix_shift_short).
SHORT = text(SHORT_OF_CASH)


def added_up(name: str, value: ColumnElement[int]) -> ColumnElement[int]:
    """A figure of SHIFT_FIGURES over many rows: summed, but the largest shortage (LEAST),
    the least of them."""
    return (func.min if name == LEAST else func.sum)(value)


def roll_up_months(
    session: Session,
    terminal_ids: Sequence[str] | None = None,
    months: tuple[date, date] | None = None,
) -> None:
    """Adds up the closed shifts' figures (SHIFT_FIGURES) per China month they closed in,
    terminal and clerk into shift_cash_month, anew: of the terminals and months given, or of
    all. One statement, whichever the shifts' number."""
    connection = session.connection()
    sql = Dialect(connection)
    closed = select(
        sql.month_of(sql.day(_SHIFTS.c.closed_at)).label("month"),
        _SHIFTS.c.terminal_id,
        _SHIFTS.c.clerk,
        *(value.label(name) for name, value in SHIFT_FIGURES.items()),
    ).where(_SHIFTS.c.closed_at.is_not(None))
    if terminal_ids is not None:
        closed = closed.where(_SHIFTS.c.terminal_id.in_(terminal_ids))
    if months is not None:
        closed = closed.where(_SHIFTS.c.closed_at >= day_start(months[0]))
        closed = closed.where(_SHIFTS.c.closed_at < day_start(add_months(months[1], 1)))
    each = closed.subquery("closed")
    keys = [each.c.month, each.c.terminal_id, each.c.clerk]
    added = select(
        *keys, *(added_up(name, each.c[name]).label(name) for name in SHIFT_FIGURES)
    ).group_by(*keys)
    insert = (postgresql if sql.postgresql else sqlite).insert(_MONTHS)
    names = ["month", "terminal_id", "clerk", *SHIFT_FIGURES]
    connection.execute(
        insert.from_select(names, added).on_conflict_do_update(
            index_elements=["month", "terminal_id", "clerk"],
            set_={name: insert.excluded[name] for name in SHIFT_FIGURES},
        )
    )


def _refunds(session: Session, shifts: Sequence[Row]) -> dict[str, int]:  # type: ignore[type-arg]
    """Cash refunds of the returns made in each shift, on its terminal while it was open. A
    return names its shift and refund method; one from a terminal that names neither counts
    as cash in the shift that was open on its terminal at the time."""
    on_terminal: dict[str, list[Row]] = defaultdict(list)  # type: ignore[type-arg]
    for s in shifts:
        on_terminal[s.terminal_id].append(s)
    refunds: dict[str, int] = defaultdict(int)
    for terminal_id, occurred_at, payload in session.connection().execute(
        select(_EVENTS.c.terminal_id, _EVENTS.c.occurred_at, _EVENTS.c.payload)
        .where(_EVENTS.c.terminal_id.in_(list(on_terminal)))
        .where(_EVENTS.c.type == EventType.sale_return.value)
        .where(_EVENTS.c.result == EventStatus.accepted.value)
        .where(_EVENTS.c.occurred_at >= min(s.opened_at for s in shifts))
        .where(_EVENTS.c.occurred_at <= max(s.closed_at for s in shifts))
    ):
        refund = json.loads(payload)
        if refund.get("refund_method", "cash") != "cash":
            continue
        named = refund.get("shift_id")
        for s in on_terminal[terminal_id]:
            if named in (None, s.id) and s.opened_at <= occurred_at <= s.closed_at:
                refunds[s.id] += refund["refund_fen"]
    return refunds
