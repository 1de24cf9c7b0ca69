"""The audit log on both databases: rows written unsealed at the database's time, sealed into
the hash chain in id order, and every other change refused by the triggers."""

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from backoffice.core.config import Settings
from backoffice.domain.audit import CONTENT as FIELDS
from backoffice.domain.audit import GENESIS, Anchor, chain
from backoffice.models import AuditEntry
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.counter.outcomes import insert_many
from backoffice.worker import run_once
from tests.backoffice.audit.helpers import chain_rows, write

AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]


def _at(session: Session, entry_id: str) -> datetime:
    row = session.get(AuditEntry, entry_id)
    assert row is not None and row.at is not None
    session.refresh(row)
    return row.at  # type: ignore[return-value]


def test_rows_are_written_unsealed_with_the_time_the_database_gives(session: Session) -> None:
    before = utcnow() - timedelta(seconds=1)
    entry = audit.record(session, actor="sales1", entity_type="dealer", entity_id="D1", action="x")
    session.commit()
    stored = session.get(AuditEntry, entry.id)
    assert stored is not None and stored.seq is None and stored.hash is None
    assert entry.at == stored.at
    assert before <= stored.at <= utcnow() + timedelta(seconds=1)  # type: ignore[operator]


def test_sealing_chains_the_rows_in_id_order_and_continues_the_chain(session: Session) -> None:
    ids = write(session, 3) + write(session, 2)
    first = audit.seal(session)
    rows = chain_rows(session)
    assert [r.id for r in rows] == sorted(ids) and [r.seq for r in rows] == [1, 2, 3, 4, 5]
    contents = [tuple(getattr(r, f) for f in FIELDS) for r in rows]
    assert [r.hash for r in rows] == list(chain(GENESIS, contents))
    assert first.sealed == 5 and first.anchor == Anchor(5, str(rows[-1].hash))
    # Nothing new: nothing sealed, the same end; new rows carry on from it.
    assert audit.seal(session) == audit.Sealing(0, first.anchor)
    write(session, 2)
    assert audit.seal(session, batch=1).sealed == 2
    report = audit.verify(session, first.anchor)
    assert report.intact and report.walk.rows == 7 and report.walk.last.seq == 7  # type: ignore[union-attr]


def test_rows_written_in_bulk_are_sealed_like_the_others(session: Session) -> None:
    # A push writes its audit rows with COPY (PostgreSQL), sending its own time.
    insert_many(
        session,
        AUDIT,
        [
            {
                "id": f"0193b{n:031d}",
                "at": utcnow(),
                "actor": "terminal:1/clerk1",
                "entity_type": "number",
                "entity_id": f"1390575{n:04d}",
                "action": "sell",
                "from_status": "in_stock",
                "to_status": "sold",
                "item_count": 1,
                "document_id": None,
                "reason": "sale",
            }
            for n in range(50)
        ],
    )
    session.commit()
    assert audit.seal(session).sealed == 50
    assert audit.verify(session).intact


def test_the_log_refuses_every_change_but_sealing_an_unsealed_row_once(
    session: Session,
) -> None:
    sealed_id = write(session, 1)[0]
    audit.seal(session)
    unsealed_id = write(session, 1)[0]
    refused = [
        f"UPDATE audit_entry SET actor = 'mallory' WHERE id = '{sealed_id}'",
        f"UPDATE audit_entry SET seq = 9, hash = '{'a' * 64}' WHERE id = '{sealed_id}'",
        f"UPDATE audit_entry SET seq = NULL, hash = NULL WHERE id = '{sealed_id}'",
        # Sealing, but with another column changed on the way.
        f"UPDATE audit_entry SET seq = 2, hash = '{'a' * 64}', actor = 'mallory' "
        f"WHERE id = '{unsealed_id}'",
        f"UPDATE audit_entry SET seq = 2 WHERE id = '{unsealed_id}'",
        "DELETE FROM audit_entry",
        "INSERT INTO audit_entry (id, at, actor, entity_type, entity_id, action, item_count, "
        f"seq, hash) VALUES ('forged', CURRENT_TIMESTAMP, 'a', 'b', 'c', 'd', 1, 2, '{'a' * 64}')",
    ]
    if session.connection().dialect.name == "postgresql":
        refused.append("TRUNCATE audit_entry")
        refused.append("TRUNCATE dealer_ledger_entry")
        refused.append("TRUNCATE dealer_account_entry")
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"):
            session.connection().exec_driver_sql(statement)
        session.rollback()
    # The sealer's own move is allowed, exactly once.
    session.connection().exec_driver_sql(
        f"UPDATE audit_entry SET seq = 2, hash = '{'b' * 64}' WHERE id = '{unsealed_id}'"
    )
    session.commit()
    assert [r.actor for r in chain_rows(session)] == ["sales1", "sales1"]


def test_a_back_dated_time_does_not_get_in(session: Session) -> None:
    insert = (
        "INSERT INTO audit_entry (id, at, actor, entity_type, entity_id, action, item_count) "
        "VALUES ('backdated', '2020-01-01 00:00:00.000000', 'mallory', 'voucher', 'V1', "
        "'redeem', 1)"
    )
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # The database stamps the row with its own time, whatever was sent.
        connection.exec_driver_sql(insert)
        session.commit()
        assert abs(_at(session, "backdated") - utcnow()) < timedelta(minutes=1)
    else:
        with pytest.raises(DBAPIError, match="time of writing"):
            connection.exec_driver_sql(insert)
        session.rollback()
        assert session.get(AuditEntry, "backdated") is None


def test_verify_reports_rows_left_unsealed_too_long(session: Session) -> None:
    write(session, 2)
    report = audit.verify(session, unsealed_after=timedelta(0), seal_first=False)
    assert not report.intact and report.stale_unsealed == 2
    assert report.oldest_unsealed is not None
    assert audit.verify(session, unsealed_after=timedelta(0)).intact


def test_concurrent_writers_and_sealers_chain_every_row_exactly_once(
    engine: Engine, session: Session
) -> None:
    writers, per_writer = 4, 15
    done = threading.Event()
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with Session(engine) as own:
                for _ in range(per_writer):
                    write(own, 2, actor=f"writer{n}")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    def sealer() -> None:
        try:
            with Session(engine) as own:
                while not done.is_set():
                    audit.seal(own, batch=7)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    for t in threads + sealers:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in sealers:
        t.join()
    assert failures == []
    audit.seal(session)
    rows = chain_rows(session)
    assert [r.seq for r in rows] == list(range(1, writers * per_writer * 2 + 1))
    assert audit.verify(session).intact


def test_the_worker_seals_each_round_and_logs_the_anchor(
    session: Session, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    write(session, 3)
    caplog.set_level("INFO", logger="haoka.worker")
    run_once(session, settings)
    rows = chain_rows(session)
    assert [r.seq for r in rows] == [1, 2, 3]
    assert f"anchor {Anchor(3, str(rows[-1].hash))}" in caplog.text
