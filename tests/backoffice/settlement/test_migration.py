"""Migration 0010 on a database with sales: what no run has booked yet becomes pending, the
triggers keep it so for new lines and returns, and back."""

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from backoffice import migrate
from backoffice.db import make_engine
from tests.conftest import BACKENDS, Templates, alembic_step

DEALER = "d0000000-0000-0000-0000-000000000001"
NOW = datetime(2026, 11, 20, 4, 0)


@pytest.fixture(params=BACKENDS)
def old_engine(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[Engine]:
    """A database at revision 0009 with a dealer and four number sales."""
    url = templates.empty(request.param, tmp_path)
    migrate.upgrade(url, "0009")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO dealer (id, code, name, kind, status, credit_limit_fen,"
                " created_at, updated_at) VALUES (:id, 'D1', '代理商', 'partner', 'active', 0,"
                " :now, :now)"
            ),
            {"id": DEALER, "now": NOW},
        )
        for n in range(1, 5):
            _sell(connection, n, returned=n >= 3)
        # Booked before the migration: line 1's sale, line 3's sale, line 4's sale and return.
        for source in ("sale:1", "sale:3", "sale:4", "return:4"):
            connection.execute(
                text(
                    "INSERT INTO dealer_account_entry (id, dealer_id, kind, amount_fen,"
                    " retail_fen, occurred_on, booked_on, late, source_key, item_key,"
                    " description, reason, approver, actor, created_at) VALUES (:id, :dealer,"
                    " :kind, 5000, 5000, :day, :day, :late, :source, NULL, '', '', '', 'run',"
                    " :now)"
                ),
                {
                    "id": str(uuid.uuid4()),
                    "dealer": DEALER,
                    "kind": source.split(":")[0],
                    "day": date(2026, 11, 20),
                    "late": False,
                    "source": source,
                    "now": NOW,
                },
            )
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        templates.drop(url)


def _sell(connection, n: int, returned: bool = False) -> None:  # type: ignore[no-untyped-def]
    sale = str(uuid.uuid4())
    connection.execute(
        text(
            "INSERT INTO sale (id, event_id, receipt_no, terminal_id, outlet_id, dealer_id,"
            " clerk, sold_at, total_fen, payments) VALUES (:id, :event, :receipt, 't', 'o',"
            " :dealer, 'clerk1', :now, 5000, '[]')"
        ),
        {
            "id": sale,
            "event": str(uuid.uuid4()),
            "receipt": f"S{n:016d}",
            "dealer": DEALER,
            "now": NOW,
        },
    )
    connection.execute(
        text(
            "INSERT INTO sale_line (id, sale_id, item_kind, item_key, product, price_fen,"
            " list_price_fen, dealer_fen, returned_at) VALUES (:n, :sale, 'number', :msisdn,"
            " 'number:STD', 5000, 5000, 5000, :returned)"
        ),
        {"n": n, "sale": sale, "msisdn": f"139{n:08d}", "returned": NOW if returned else None},
    )


def _pending(engine: Engine) -> set[tuple[int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT line_id, kind FROM settlement_pending"))
        return {(int(line), kind) for line, kind in rows}


def test_what_is_not_booked_becomes_pending_and_the_triggers_add_new_lines_and_returns(
    old_engine: Engine,
) -> None:
    alembic_step(old_engine, "upgrade", "0010")

    assert _pending(old_engine) == {(2, "sale"), (3, "return")}

    with old_engine.begin() as connection:
        _sell(connection, 5)
        _sell(connection, 6, returned=True)
        connection.execute(
            text("UPDATE sale_line SET returned_at = :now WHERE id = 2"), {"now": NOW}
        )
        # A line already returned keeps the one pending return it has.
        connection.execute(
            text("UPDATE sale_line SET returned_at = :now WHERE id = 3"), {"now": NOW}
        )
        connection.execute(text("UPDATE sale_line SET product = 'number:G1' WHERE id = 1"))
    assert _pending(old_engine) == {
        (2, "sale"),
        (2, "return"),
        (3, "return"),
        (5, "sale"),
        (6, "sale"),
        (6, "return"),
    }

    alembic_step(old_engine, "downgrade", "0009")
    assert "settlement_pending" not in inspect(old_engine).get_table_names()
    with old_engine.begin() as connection:
        _sell(connection, 7)  # no trigger left behind
    alembic_step(old_engine, "upgrade", "0010")
    assert (7, "sale") in _pending(old_engine)
