"""Migration 0008 on an audit log the schema before it wrote: every row sealed into the
chain in id order, times kept, the new triggers in place; and back."""

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from backoffice import migrate
from backoffice.db import make_engine
from backoffice.services import audit
from tests.conftest import BACKENDS, Templates, alembic_step

OLD_ROWS = 250


@pytest.fixture(params=BACKENDS)
def old_engine(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[Engine]:
    """A database at revision 0007 with an audit log written before the chain."""
    url = templates.empty(request.param, tmp_path)
    migrate.upgrade(url, "0007")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_entry (id, at, actor, entity_type, entity_id, action,"
                " from_status, to_status, item_count, document_id, reason)"
                " VALUES (:id, :at, 'billing1', 'number_batch', :entity, 'generate', NULL,"
                " 'imported', 10000, NULL, :reason)"
            ),
            [
                {
                    # Inserted out of id order: the chain follows the ids.
                    "id": f"0192{(n * 7919) % OLD_ROWS:032d}",
                    "at": datetime(2026, 11, 1, 8, n // 60, n % 60, 250_000),
                    "entity": f"B{n}",
                    "reason": f"号段 {n}" if n % 3 else None,
                }
                for n in range(OLD_ROWS)
            ],
        )
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        templates.drop(url)


def test_existing_rows_are_sealed_in_id_order_and_the_triggers_replaced(
    old_engine: Engine,
) -> None:
    alembic_step(old_engine, "upgrade", "0008")
    with Session(old_engine) as session:
        rows = (
            session.connection()
            .execute(text("SELECT id, seq, at FROM audit_entry ORDER BY seq"))
            .all()
        )
        assert [r.seq for r in rows] == list(range(1, OLD_ROWS + 1))
        assert [r.id for r in rows] == sorted(r.id for r in rows)
        # The old rows keep their times.
        assert str(min(r.at for r in rows)).startswith("2026-11-01 08:00:00.25")
        report = audit.verify(session)
        assert report.intact and report.walk.rows == OLD_ROWS and report.sealed_now == 0
        with pytest.raises(DBAPIError, match="append-only"):
            session.connection().exec_driver_sql("UPDATE audit_entry SET actor = 'mallory'")
        session.rollback()
        # New rows go on from the migrated chain.
        audit.record(session, actor="a", entity_type="b", entity_id="c", action="d")
        session.commit()
        assert audit.seal(session).anchor.seq == OLD_ROWS + 1  # type: ignore[union-attr]


def test_the_downgrade_restores_the_append_only_log_without_the_chain(
    old_engine: Engine,
) -> None:
    alembic_step(old_engine, "upgrade", "0008")
    alembic_step(old_engine, "downgrade", "0007")
    columns = {c["name"] for c in inspect(old_engine).get_columns("audit_entry")}
    assert "seq" not in columns and "hash" not in columns
    with Session(old_engine) as session:
        connection = session.connection()
        count = connection.exec_driver_sql("SELECT count(*) FROM audit_entry").scalar_one()
        assert count == OLD_ROWS
        for statement in ("UPDATE audit_entry SET actor = 'mallory'", "DELETE FROM audit_entry"):
            with pytest.raises(DBAPIError, match="append-only"):
                session.connection().exec_driver_sql(statement)
            session.rollback()
    alembic_step(old_engine, "upgrade", "0008")
    with Session(old_engine) as session:
        assert audit.verify(session).walk.rows == OLD_ROWS
