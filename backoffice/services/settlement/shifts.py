"""Shift cash reconciliation: every Z report (a shift closed through sync) with the cash it
should have held, what the clerk counted and the difference, and how often the drawer was
opened without a sale, per outlet and clerk."""

import json
from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from backoffice.contracts.settlement import ShiftReconciliationRow
from backoffice.domain.calendar import day_start
from backoffice.models import CashMovement, Outlet, Sale, Shift, SyncEvent, Terminal
from shared.sync import EventStatus, EventType

_SHIFTS = Shift.__table__  # type: ignore[attr-defined]
_TERMINALS = Terminal.__table__  # type: ignore[attr-defined]
_OUTLETS = Outlet.__table__  # type: ignore[attr-defined]
_SALES = Sale.__table__  # type: ignore[attr-defined]
_MOVES = CashMovement.__table__  # type: ignore[attr-defined]
_EVENTS = SyncEvent.__table__  # type: ignore[attr-defined]
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
    China business days the shifts closed on. Four reads per 10,000 shifts."""
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
        .order_by(_SHIFTS.c.closed_at.desc())
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
    shifts = session.connection().execute(query).all()
    if not shifts:
        return []
    ids = [s.id for s in shifts]
    cash_sales: dict[str, int] = defaultdict(int)
    moved: dict[tuple[str, str], int] = {}
    # A statement takes at most 65,535 parameters: a province's month of shifts goes in parts.
    for part in range(0, len(ids), _IDS_PER_STATEMENT):
        some = ids[part : part + _IDS_PER_STATEMENT]
        for shift_id, payments in session.connection().execute(
            select(_SALES.c.shift_id, _SALES.c.payments).where(_SALES.c.shift_id.in_(some))
        ):
            cash_sales[shift_id] += sum(
                p["amount_fen"] for p in json.loads(payments) if p["method"] == "cash"
            )
        for row in session.connection().execute(
            select(
                _MOVES.c.shift_id, _MOVES.c.direction, func.sum(_MOVES.c.amount_fen).label("total")
            )
            .where(_MOVES.c.shift_id.in_(some))
            .group_by(_MOVES.c.shift_id, _MOVES.c.direction)
        ):
            moved[row.shift_id, row.direction] = int(row.total)
    refunds = _refunds(session, shifts)
    rows = []
    for s in shifts:
        expected = (
            s.opening_float_fen
            + cash_sales[s.id]
            - refunds[s.id]
            + moved.get((s.id, "in"), 0)
            - moved.get((s.id, "out"), 0)
        )
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
                cash_sales_fen=cash_sales[s.id],
                cash_refunds_fen=refunds[s.id],
                cash_in_fen=moved.get((s.id, "in"), 0),
                cash_out_fen=moved.get((s.id, "out"), 0),
                expected_cash_fen=expected,
                counted_cash_fen=counted,
                difference_fen=counted - expected,
                no_sale_openings=s.no_sale_openings,
            )
        )
    return rows


def _refunds(session: Session, shifts: list) -> dict[str, int]:  # type: ignore[type-arg]
    """Cash refunds of the returns made in each shift. A return names its shift and refund
    method; one from a terminal that names neither counts as cash in the shift that was open
    on its terminal at the time."""
    terminals = {s.terminal_id for s in shifts}
    first = min(s.opened_at for s in shifts)
    last = max(s.closed_at for s in shifts)
    wanted = {s.id for s in shifts}
    refunds: dict[str, int] = defaultdict(int)
    unnamed: dict[str, list[tuple[object, int]]] = defaultdict(list)
    for terminal_id, occurred_at, payload in session.connection().execute(
        select(_EVENTS.c.terminal_id, _EVENTS.c.occurred_at, _EVENTS.c.payload)
        .where(_EVENTS.c.terminal_id.in_(terminals))
        .where(_EVENTS.c.type == EventType.sale_return.value)
        .where(_EVENTS.c.result == EventStatus.accepted.value)
        .where(_EVENTS.c.occurred_at >= first)
        .where(_EVENTS.c.occurred_at <= last)
    ):
        refund = json.loads(payload)
        if refund.get("refund_method", "cash") != "cash":
            continue
        shift_id = refund.get("shift_id")
        if shift_id is None:
            unnamed[terminal_id].append((occurred_at, refund["refund_fen"]))
        elif shift_id in wanted:
            refunds[shift_id] += refund["refund_fen"]
    for s in shifts:
        refunds[s.id] += sum(
            fen
            for at, fen in unnamed.get(s.terminal_id, ())
            if s.opened_at <= at <= s.closed_at  # type: ignore[operator]
        )
    return refunds
