"""Migration 0012 on a database with numbers: each gets an empty cooling end, the cooling index
and the cards' (batch, status) index appear, and the downgrade takes them away again, keeping
the numbers."""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from backoffice import migrate
from backoffice.db import make_engine
from tests.conftest import BACKENDS, Templates, alembic_step

BATCH = "b0000000-0000-0000-0000-000000000001"
NOW = datetime(2026, 12, 1, 4, 0)


@pytest.fixture(params=BACKENDS)
def old_engine(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[Engine]:
    """A database at revision 0011 with three numbers, one of them active."""
    url = templates.empty(request.param, tmp_path)
    migrate.upgrade(url, "0011")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO number_batch (id, code, source, source_name, first_msisdn,"
                " last_msisdn, item_count, created_by, created_at) VALUES (:id, 'SEG-OLD',"
                " 'segment', '', '13905750000', '13905750002', 3, 'billing1', :now)"
            ),
            {"id": BATCH, "now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO mobile_number (msisdn, msisdn_rev, batch_id, grade_code, status,"
                " version, updated_at) VALUES (:msisdn, :rev, :batch, 'STD', :status, 1, :now)"
            ),
            [
                {
                    "msisdn": msisdn,
                    "rev": msisdn[::-1],
                    "batch": BATCH,
                    "status": "active" if n == 0 else "available",
                    "now": NOW,
                }
                for n, msisdn in enumerate(("13905750000", "13905750001", "13905750002"))
            ],
        )
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        templates.drop(url)


def _indexes(engine: Engine, table: str) -> set[str]:
    """The table's indexes by name, from the catalog: SQLAlchemy's reflection leaves out
    SQLite's expression indexes (ix_number_tail), which the downgrade must keep."""
    if engine.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE tablename = :table"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
    with engine.connect() as connection:
        return set(connection.execute(text(query), {"table": table}).scalars())


def _numbers(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT msisdn, status FROM mobile_number ORDER BY msisdn"))
        return [(r[0], r[1]) for r in rows]


def test_upgrade_adds_the_cooling_end_and_the_indexes_and_downgrade_removes_them(
    old_engine: Engine,
) -> None:
    before = _numbers(old_engine)

    alembic_step(old_engine, "upgrade", "0012")

    with old_engine.connect() as connection:
        ends = connection.execute(text("SELECT cooling_until FROM mobile_number")).scalars()
        assert list(ends) == [None, None, None]
    assert "ix_number_cooling" in _indexes(old_engine, "mobile_number")
    assert {"ix_voucher_batch_status", "ix_voucher_status"} <= _indexes(old_engine, "voucher")
    assert "ix_voucher_batch" not in _indexes(old_engine, "voucher")
    with old_engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE mobile_number SET status = 'cooling', cooling_until = :end"
                " WHERE msisdn = '13905750000'"
            ),
            {"end": datetime(2027, 3, 1)},
        )

    alembic_step(old_engine, "downgrade", "0011")

    columns = {c["name"] for c in inspect(old_engine).get_columns("mobile_number")}
    assert "cooling_until" not in columns
    assert "ix_number_cooling" not in _indexes(old_engine, "mobile_number")
    assert "ix_number_tail" in _indexes(old_engine, "mobile_number")
    assert "ix_voucher_batch" in _indexes(old_engine, "voucher")
    assert "ix_voucher_batch_status" not in _indexes(old_engine, "voucher")
    assert _numbers(old_engine) == [("13905750000", "cooling"), *before[1:]]

    alembic_step(old_engine, "upgrade", "0012")
    assert "cooling_until" in {c["name"] for c in inspect(old_engine).get_columns("mobile_number")}
