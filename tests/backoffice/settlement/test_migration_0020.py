"""Migration 0020 on a database with shifts: each closed shift gets the cash figures its close
would have stored (cash sales, refunds, cash in and out, the cash expected), an open one
zeros, and the months' sums are added up; the downgrade takes them away again, keeping the
shifts."""

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, inspect, text

from backoffice import migrate
from backoffice.db import make_engine
from backoffice.services.bulk import db_timestamp
from tests.conftest import BACKENDS, Templates, alembic_step

OPENED = datetime(2026, 12, 1, 1, 0)
CLOSED = OPENED + timedelta(hours=8)
FIGURES = ("cash_sales_fen", "cash_refunds_fen", "cash_in_fen", "cash_out_fen", "expected_cash_fen")


def _shift(connection: Connection, shift: str, terminal: str, closed: bool = True) -> None:
    connection.execute(
        text(
            "INSERT INTO shift (id, terminal_id, clerk, opened_at, opening_float_fen, closed_at,"
            " counted_cash_fen, z_number) VALUES (:id, :terminal, 'clerk1', :opened, 20000,"
            " :closed, :counted, :z)"
        ),
        {
            "id": shift,
            "terminal": terminal,
            "opened": db_timestamp(OPENED),
            "closed": db_timestamp(CLOSED) if closed else None,
            "counted": 25_300 if closed else None,
            "z": 1 if closed else None,
        },
    )


def _sale(connection: Connection, shift: str, terminal: str, *payments: tuple[str, int]) -> None:
    connection.execute(
        text(
            "INSERT INTO sale (id, event_id, receipt_no, terminal_id, outlet_id, dealer_id, clerk,"
            " shift_id, sold_at, total_fen, payments) VALUES (:id, :event, :receipt, :terminal,"
            " 'o', 'd', 'clerk1', :shift, :at, :total, :payments)"
        ),
        {
            "id": str(uuid.uuid4()),
            "event": str(uuid.uuid4()),
            "receipt": f"S{uuid.uuid4().int % 10**16:016d}",
            "terminal": terminal,
            "shift": shift,
            "at": db_timestamp(OPENED + timedelta(hours=1)),
            "total": sum(fen for _, fen in payments),
            "payments": json.dumps([{"method": m, "amount_fen": fen} for m, fen in payments]),
        },
    )


def _return(
    connection: Connection, terminal: str, at: datetime, refund: int, **named: str | None
) -> None:
    connection.execute(
        text(
            "INSERT INTO sync_event (id, terminal_id, outlet_id, dealer_id, seq, type,"
            " occurred_at, received_at, result, payload) VALUES (:id, :terminal, 'o', 'd', 1,"
            " 'return', :at, :at, 'accepted', :payload)"
        ),
        {
            "id": str(uuid.uuid4()),
            "terminal": terminal,
            "at": db_timestamp(at),
            "payload": json.dumps({"return_id": str(uuid.uuid4()), "refund_fen": refund, **named}),
        },
    )


def _move(connection: Connection, shift: str, direction: str, fen: int) -> None:
    connection.execute(
        text(
            "INSERT INTO cash_movement (id, shift_id, direction, amount_fen, reason, at)"
            " VALUES (:id, :shift, :direction, :fen, '找零', :at)"
        ),
        {
            "id": str(uuid.uuid4()),
            "shift": shift,
            "direction": direction,
            "fen": fen,
            "at": db_timestamp(OPENED),
        },
    )


@pytest.fixture(params=BACKENDS)
def old_engine(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[Engine]:
    """A database at revision 0019 with two closed shifts on two terminals and an open one."""
    url = templates.empty(request.param, tmp_path)
    migrate.upgrade(url, "0019")
    engine = make_engine(url)
    with engine.begin() as connection:
        # A: ¥30 cash of a split sale and a ¥50 cash sale, ¥10 in, ¥25 out, a ¥50 refund by a
        # terminal that names no shift, and a refund to a wallet that leaves the drawer alone.
        _shift(connection, "A", "t1")
        _sale(connection, "A", "t1", ("cash", 3_000), ("card", 2_000))
        _sale(connection, "A", "t1", ("cash", 5_000))
        _move(connection, "A", "in", 1_000)
        _move(connection, "A", "out", 2_500)
        _return(connection, "t1", OPENED + timedelta(hours=2), 5_000)
        _return(
            connection,
            "t1",
            OPENED + timedelta(hours=3),
            5_000,
            shift_id="A",
            refund_method="wallet",
        )
        # B: a ¥40 cash sale and a ¥10 cash refund naming it; a refund on its terminal after
        # it closed is not its.
        _shift(connection, "B", "t2")
        _sale(connection, "B", "t2", ("cash", 4_000))
        _return(connection, "t2", OPENED + timedelta(hours=4), 1_000, shift_id="B")
        _return(connection, "t2", CLOSED + timedelta(minutes=1), 1_000)
        # C: still open; its figures are worked out when it closes.
        _shift(connection, "C", "t1", closed=False)
        _sale(connection, "C", "t1", ("cash", 7_000))
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        templates.drop(url)


def _figures(engine: Engine) -> dict[str, tuple[int, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT id, {', '.join(FIGURES)} FROM shift ORDER BY id"))
        return {row[0]: tuple(int(v) for v in row[1:]) for row in rows}


def test_closed_shifts_get_their_figures_and_the_downgrade_takes_them_away(
    old_engine: Engine,
) -> None:
    alembic_step(old_engine, "upgrade", "0020")

    assert _figures(old_engine) == {
        # 200 + 80 - 50 + 10 - 25 = 215 yuan expected.
        "A": (8_000, 5_000, 1_000, 2_500, 21_500),
        # 200 + 40 - 10 = 230 yuan expected.
        "B": (4_000, 1_000, 0, 0, 23_000),
        "C": (0, 0, 0, 0, 0),
    }
    # The month's sums: per terminal and clerk, the difference counted minus expected.
    with old_engine.connect() as connection:
        months = connection.execute(
            text(
                "SELECT terminal_id, shifts, expected_cash_fen, difference_fen,"
                " largest_shortage_fen FROM shift_cash_month ORDER BY terminal_id"
            )
        ).all()
    assert [tuple(row) for row in months] == [
        ("t1", 1, 21_500, 3_800, 0),
        ("t2", 1, 23_000, 2_300, 0),
    ]
    assert {
        "ix_shift_closed",
        "ix_shift_terminal_closed",
        "ix_shift_clerk_closed",
        "ix_shift_short",
    } <= {i["name"] for i in inspect(old_engine).get_indexes("shift")}

    alembic_step(old_engine, "downgrade", "0019")
    columns = {c["name"] for c in inspect(old_engine).get_columns("shift")}
    assert not columns & set(FIGURES)
    assert {i["name"] for i in inspect(old_engine).get_indexes("shift")} == {"ix_shift_terminal_id"}
    assert "shift_cash_month" not in inspect(old_engine).get_table_names()
    with old_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM shift")).scalar_one() == 3
