"""Shifts: open with a counted float, cash in/out, X report, blind close by denomination, Z."""

import dataclasses
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pos_terminal.outbox import record_event
from pos_terminal.services.errors import PosError, build
from pos_terminal.services.printing import enqueue
from pos_terminal.services.receipts import METHOD_LABELS, report_receipt
from pos_terminal.services.reports import CashSummary, ReportLine, ShiftReport
from pos_terminal.services.terminal import outlet_label
from pos_terminal.store import Store, from_text, next_counter, to_text
from shared.ids import new_id
from shared.sync import CashMovePayload, EventType, ShiftClosePayload, ShiftOpenPayload

# 100, 50, 20, 10, 5, 1 yuan notes and 0.5, 0.1 yuan.
DENOMINATIONS_FEN: tuple[int, ...] = (10_000, 5_000, 2_000, 1_000, 500, 100, 50, 10)
Z_NUMBER = "z_number"


@dataclass(frozen=True)
class Shift:
    id: str
    clerk: str
    opened_at: datetime
    opening_float_fen: int
    closed_at: datetime | None
    z_number: int | None
    no_sale_openings: int = 0


def _shift(row: sqlite3.Row) -> Shift:
    return Shift(
        id=row["id"],
        clerk=row["clerk"],
        opened_at=from_text(row["opened_at"]),
        opening_float_fen=row["opening_float_fen"],
        closed_at=None if row["closed_at"] is None else from_text(row["closed_at"]),
        z_number=row["z_number"],
        no_sale_openings=row["no_sale_openings"],
    )


def open_shift_row(conn: sqlite3.Connection) -> Shift | None:
    row = conn.execute("SELECT * FROM shifts WHERE closed_at IS NULL").fetchone()
    return None if row is None else _shift(row)


def require_open_shift(conn: sqlite3.Connection) -> Shift:
    shift = open_shift_row(conn)
    if shift is None:
        raise PosError("no_open_shift", "open a shift first (count the float)")
    return shift


def count_no_sale_opening(conn: sqlite3.Connection, shift_id: str) -> None:
    """One more drawer opening without a sale in the shift, which must still be open."""
    counted = conn.execute(
        "UPDATE shifts SET no_sale_openings = no_sale_openings + 1 "
        "WHERE id = ? AND closed_at IS NULL",
        (shift_id,),
    ).rowcount
    if counted != 1:
        raise PosError("no_open_shift", "open a shift first (count the float)")


def cash_summary(conn: sqlite3.Connection, shift_id: str) -> CashSummary:
    """What should be in the drawer: one computation for X, Z and today's figures."""

    def total(sql: str) -> int:
        return int(conn.execute(sql, (shift_id,)).fetchone()[0])

    return CashSummary(
        opening_float_fen=total("SELECT opening_float_fen FROM shifts WHERE id = ?"),
        cash_sales_fen=total(
            "SELECT coalesce(sum(p.amount_fen), 0) FROM payments p JOIN sales s "
            "ON s.id = p.sale_id WHERE s.shift_id = ? AND p.method = 'cash'"
        ),
        cash_refunds_fen=total(
            "SELECT coalesce(sum(refund_fen), 0) FROM returns "
            "WHERE shift_id = ? AND refund_method = 'cash'"
        ),
        cash_in_fen=total(
            "SELECT coalesce(sum(amount_fen), 0) FROM cash_moves "
            "WHERE shift_id = ? AND direction = 'in'"
        ),
        cash_out_fen=total(
            "SELECT coalesce(sum(amount_fen), 0) FROM cash_moves "
            "WHERE shift_id = ? AND direction = 'out'"
        ),
    )


def _report(
    conn: sqlite3.Connection,
    shift: Shift,
    kind: Literal["X", "Z"],
    made_at: datetime,
    counted: Mapping[int, int] | None = None,
) -> ShiftReport:
    sales = conn.execute(
        "SELECT count(*), coalesce(sum(total_fen), 0) FROM sales WHERE shift_id = ?",
        (shift.id,),
    ).fetchone()
    returns = conn.execute(
        "SELECT count(*), coalesce(sum(refund_fen), 0) FROM returns WHERE shift_id = ?",
        (shift.id,),
    ).fetchone()
    takings = tuple(
        ReportLine(METHOD_LABELS.get(r[0], r[0]), r[1], r[2])
        for r in conn.execute(
            "SELECT p.method, sum(p.amount_fen), count(*) FROM payments p JOIN sales s "
            "ON s.id = p.sale_id WHERE s.shift_id = ? GROUP BY p.method ORDER BY p.method",
            (shift.id,),
        )
    )
    products = tuple(
        ReportLine(r[0], r[1], r[2])
        for r in conn.execute(
            "SELECT l.product, sum(l.price_fen), count(*) FROM sale_lines l JOIN sales s "
            "ON s.id = l.sale_id WHERE s.shift_id = ? GROUP BY l.product ORDER BY l.product",
            (shift.id,),
        )
    )
    counted_lines: tuple[ReportLine, ...] = ()
    counted_total = None
    if counted is not None:
        counted_lines = tuple(
            ReportLine(_denomination_label(d), d * counted.get(d, 0), counted.get(d, 0))
            for d in DENOMINATIONS_FEN
        )
        counted_total = sum(line.amount_fen for line in counted_lines)
    return ShiftReport(
        kind=kind,
        shift_id=shift.id,
        clerk=shift.clerk,
        opened_at=shift.opened_at,
        made_at=made_at,
        z_number=shift.z_number,
        cash=cash_summary(conn, shift.id),
        sales_count=sales[0],
        sales_total_fen=sales[1],
        returns_count=returns[0],
        refunds_total_fen=returns[1],
        takings=takings,
        products=products,
        counted=counted_lines,
        counted_cash_fen=counted_total,
        no_sale_openings=shift.no_sale_openings,
    )


def _denomination_label(fen: int) -> str:
    return f"¥{fen // 100}" if fen >= 100 else f"¥0.{fen // 10}"


def check_count(counts: Mapping[int, int]) -> dict[int, int]:
    unknown = sorted(set(counts) - set(DENOMINATIONS_FEN))
    if unknown:
        raise PosError("bad_denomination", f"{unknown[0]} fen is not a note or coin counted here")
    for denomination, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise PosError(
                "bad_count", f"count of {_denomination_label(denomination)} must be 0 or more"
            )
    return {d: counts.get(d, 0) for d in DENOMINATIONS_FEN}


def _count_json(counts: Mapping[int, int]) -> str:
    return json.dumps({str(d): n for d, n in counts.items()})


def _confirmed(conn: sqlite3.Connection, shift_id: str) -> dict[int, int] | None:
    row = conn.execute("SELECT counted_json FROM shifts WHERE id = ?", (shift_id,)).fetchone()
    if row is None or row[0] is None:
        return None
    return check_count({int(d): n for d, n in json.loads(row[0]).items()})


class ShiftService:
    """The cash drawer's shift. Every act is an event committed with its local effect."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def current(self) -> Shift | None:
        return open_shift_row(self.store.conn)

    def open_shift(self, clerk: str, counted_float: Mapping[int, int] | int) -> Shift:
        """Opens with the float counted into the drawer: fen, or counts by denomination."""
        if isinstance(counted_float, Mapping):
            float_fen = sum(d * n for d, n in check_count(counted_float).items())
        else:
            float_fen = counted_float
        if isinstance(float_fen, bool) or not isinstance(float_fen, int) or float_fen < 0:
            raise PosError("bad_amount", "the float is an amount of 0 or more")
        now = self.store.now()
        shift_id = new_id()
        with self.store.write() as conn:
            already = open_shift_row(conn)
            if already is not None:
                raise PosError("shift_already_open", f"{already.clerk}'s shift is still open")
            conn.execute(
                "INSERT INTO shifts (id, clerk, opened_at, opening_float_fen) VALUES (?, ?, ?, ?)",
                (shift_id, clerk, to_text(now), float_fen),
            )
            record_event(
                conn,
                EventType.shift_open,
                build(
                    ShiftOpenPayload, shift_id=shift_id, clerk=clerk, opening_float_fen=float_fen
                ),
                now,
            )
            return _shift(conn.execute("SELECT * FROM shifts WHERE id = ?", (shift_id,)).fetchone())

    def cash_in(self, clerk: str, amount_fen: int, reason: str) -> None:
        self._cash_move(clerk, "in", amount_fen, reason)

    def cash_out(self, clerk: str, amount_fen: int, reason: str) -> None:
        self._cash_move(clerk, "out", amount_fen, reason)

    def _cash_move(self, clerk: str, direction: str, amount_fen: int, reason: str) -> None:
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
            raise PosError("bad_amount", "the amount must be more than zero")
        if not reason.strip():
            raise PosError("reason_required", "cash in and out need a reason")
        now = self.store.now()
        with self.store.write() as conn:
            shift = require_open_shift(conn)
            if direction == "out":
                in_drawer = cash_summary(conn, shift.id).expected_fen
                if amount_fen > in_drawer:
                    # Not saying how much it holds: the closing count is blind.
                    raise PosError(
                        "not_enough_cash", "cannot take out more than the drawer should hold"
                    )
            conn.execute(
                "INSERT INTO cash_moves (id, shift_id, direction, amount_fen, reason, clerk, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (new_id(), shift.id, direction, amount_fen, reason.strip(), clerk, to_text(now)),
            )
            record_event(
                conn,
                EventType.cash_in if direction == "in" else EventType.cash_out,
                build(
                    CashMovePayload, shift_id=shift.id, amount_fen=amount_fen, reason=reason.strip()
                ),
                now,
            )

    def x_report(self, *, print_it: bool = False) -> ShiftReport:
        """The shift so far; nothing is reset or numbered. print_it queues a printout."""
        now = self.store.now()
        with self.store.write() as conn:
            shift = require_open_shift(conn)
            report = _report(conn, shift, "X", now)
            if print_it:
                report = self._queue(conn, report, now)
        return report

    def _queue(self, conn: sqlite3.Connection, report: ShiftReport, now: datetime) -> ShiftReport:
        outlet, timezone = outlet_label(self.store)
        receipt = report_receipt(report, outlet, timezone)
        job_id = enqueue(conn, now, f"{report.kind.lower()}_report", receipt.number, receipt)
        return dataclasses.replace(report, print_job_id=job_id)

    def confirm_count(self, counts: Mapping[int, int]) -> ShiftReport:
        """The clerk confirms the blind count: it is kept on the open shift and cannot change
        after this (the report returned shows what it was expected to be). Confirming the same
        count again gives the report again."""
        checked = check_count(counts)
        now = self.store.now()
        with self.store.write() as conn:
            shift = require_open_shift(conn)
            confirmed = _confirmed(conn, shift.id)
            if confirmed is not None and confirmed != checked:
                raise PosError(
                    "count_confirmed", "the count is confirmed already: close the shift with it"
                )
            conn.execute(
                "UPDATE shifts SET counted_cash_fen = ?, counted_json = ? WHERE id = ?",
                (sum(d * n for d, n in checked.items()), _count_json(checked), shift.id),
            )
            return _report(conn, shift, "X", now, checked)

    def confirmed_count(self) -> dict[int, int] | None:
        """The open shift's confirmed blind count; None before it is confirmed."""
        shift = self.current()
        return None if shift is None else _confirmed(self.store.conn, shift.id)

    def close_shift(self, clerk: str, counts: Mapping[int, int] | None = None) -> ShiftReport:
        """Closes with a blind count by denomination (`None`: the one confirmed before; once
        confirmed, no other count is taken); the Z report gets the next Z number and is queued
        for printing in the same transaction."""
        now = self.store.now()
        with self.store.write() as conn:
            shift = require_open_shift(conn)
            confirmed = _confirmed(conn, shift.id)
            if counts is None and confirmed is None:
                raise PosError("count_required", "count the cash in the drawer first")
            checked = check_count(confirmed if counts is None else counts)
            if confirmed is not None and checked != confirmed:
                raise PosError(
                    "count_confirmed", "the count is confirmed already: close the shift with it"
                )
            counted_fen = sum(d * n for d, n in checked.items())
            z_number = next_counter(conn, Z_NUMBER)
            expected = cash_summary(conn, shift.id).expected_fen
            conn.execute(
                "UPDATE shifts SET closed_at = ?, closed_by = ?, counted_cash_fen = ?, "
                "counted_json = ?, expected_cash_fen = ?, z_number = ? WHERE id = ?",
                (
                    to_text(now),
                    clerk,
                    counted_fen,
                    _count_json(checked),
                    expected,
                    z_number,
                    shift.id,
                ),
            )
            record_event(
                conn,
                EventType.shift_close,
                build(
                    ShiftClosePayload,
                    shift_id=shift.id,
                    counted_cash_fen=counted_fen,
                    z_number=z_number,
                    no_sale_openings=shift.no_sale_openings,
                ),
                now,
            )
            row = conn.execute("SELECT * FROM shifts WHERE id = ?", (shift.id,)).fetchone()
            # The Z printout is queued with the close: a printer fault cannot lose it.
            return self._queue(conn, _report(conn, _shift(row), "Z", now, checked), now)

    def z_report(self, z_number: int) -> ShiftReport:
        """A closed shift's Z report again, for a reprint."""
        conn = self.store.conn
        row = conn.execute("SELECT * FROM shifts WHERE z_number = ?", (z_number,)).fetchone()
        if row is None:
            raise PosError("unknown_z_number", f"no Z report number {z_number} on this terminal")
        counted = {int(d): n for d, n in json.loads(row["counted_json"]).items()}
        return _report(conn, _shift(row), "Z", from_text(row["closed_at"]), counted)
