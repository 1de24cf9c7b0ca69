"""The local store and outbox: durability settings, schema version, one transaction per act."""

import sqlite3
from pathlib import Path

import pytest

from pos_terminal import outbox
from pos_terminal.services.errors import PosError
from pos_terminal.services.login import LoginService, hash_pin
from pos_terminal.services.sale import Tender
from pos_terminal.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    SCRUB_PENDING,
    Store,
    StoreError,
    next_counter,
    split_sql,
)
from pos_terminal.sync import apply_pull
from shared.ids import is_uuid7
from shared.sync import (
    EventResult,
    EventStatus,
    EventType,
    RejectReason,
    ShiftOpenEvent,
    ShiftOpenPayload,
)
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import (
    CLERK,
    CLERK_PIN,
    PIN_KEY,
    T0,
    default_stock,
    msisdn,
    pull_response,
    resident_id,
    voucher,
)


def test_new_store_is_migrated_wal_and_fully_synchronous(tmp_path: Path) -> None:
    store = Store(tmp_path / "a" / "t.db")
    assert store.schema_version == SCHEMA_VERSION >= 1
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # What is erased (ID numbers, PIN hashes) is overwritten, not left in free space.
    assert store.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    store.close()
    # Opening again does not migrate twice.
    again = Store(tmp_path / "a" / "t.db")
    assert again.schema_version == SCHEMA_VERSION
    again.close()


def test_a_store_from_newer_software_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="Update the terminal software"):
        Store(path)


def test_write_commits_all_or_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    with pytest.raises(RuntimeError), store.write() as conn:
        next_counter(conn, "x")
        raise RuntimeError("boom")
    with store.write() as conn:
        assert next_counter(conn, "x") == 1
        assert next_counter(conn, "x") == 2
    store.close()


def test_events_get_uuid7_ids_and_gapless_sequence_in_their_acts_transaction(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "t.db")
    payload = ShiftOpenPayload(
        shift_id="01a2069c-9353-74f8-ad44-fb1d2394daea", clerk="c", opening_float_fen=0
    )
    with store.write() as conn:
        first = outbox.record_event(conn, EventType.shift_open, payload, T0)
    with pytest.raises(ValueError), store.write() as conn:
        outbox.record_event(conn, EventType.shift_open, payload, T0)
        raise ValueError("the act failed after its event was written")
    with store.write() as conn:
        second = outbox.record_event(conn, EventType.shift_open, payload, T0)
    assert (first.seq, second.seq) == (1, 2)  # the rolled-back event left no gap
    assert is_uuid7(first.id) and first.id < second.id
    wire = outbox.pending_events(store, 10)[0].to_wire()
    assert isinstance(wire, ShiftOpenEvent)
    assert (wire.id, wire.seq, wire.occurred_at, wire.payload) == (first.id, 1, T0, payload)
    store.close()


def test_a_malformed_event_stops_the_act_before_commit(open_counter: Counter) -> None:
    before = outbox.backlog(open_counter.store)
    with pytest.raises(PosError):
        open_counter.stock.stock_out(CLERK, [voucher(1)], "x" * 300)  # reason too long
    assert outbox.backlog(open_counter.store) == before
    status = open_counter.store.conn.execute(
        "SELECT status FROM stock WHERE item = ?", (voucher(1),)
    ).fetchone()[0]
    assert status == "in_stock"


def test_answers_are_stored_once_and_rejections_kept(open_counter: Counter) -> None:
    store = open_counter.store
    open_counter.shifts.cash_in(CLERK, 100, "coins")
    open_counter.shifts.cash_in(CLERK, 100, "coins")
    events = outbox.pending_events(store, 10)
    assert [e.seq for e in events] == [1, 2, 3]
    outbox.store_results(
        store,
        [
            EventResult(id=events[0].id, seq=1, status=EventStatus.accepted),
            EventResult(
                id=events[1].id,
                seq=2,
                status=EventStatus.rejected,
                reason=RejectReason.shift_closed,
                message="shift closed",
            ),
            # A resend of an event that was rejected the first time stays a rejection.
            EventResult(
                id=events[2].id,
                seq=3,
                status=EventStatus.duplicate,
                reason=RejectReason.unknown_shift,
                message="never opened",
                original=EventStatus.rejected,
            ),
        ],
    )
    # A later, different answer for an answered event changes nothing.
    outbox.store_results(store, [EventResult(id=events[1].id, seq=2, status=EventStatus.accepted)])
    assert outbox.backlog(store) == 0
    assert [(e.seq, e.reason) for e in outbox.rejected_events(store)] == [
        (3, "unknown_shift"),
        (2, "shift_closed"),
    ]
    assert outbox.get_event(store, 1).status == "accepted"  # type: ignore[union-attr]


def test_full_id_numbers_leave_the_terminal_once_the_back_office_has_the_sale(
    open_counter: Counter,
) -> None:
    store = open_counter.store
    draft = open_counter.sales.start(CLERK)
    open_counter.sales.scan(draft, msisdn(2))
    open_counter.sales.set_customer(draft, "王五", resident_id())
    sale = open_counter.sales.complete(draft, [Tender("cash", 5_000)])
    # Until it is answered the event must carry the full ID (the back office needs it).
    [pending] = [e for e in outbox.pending_events(store, 10) if e.type == EventType.sale]
    assert pending.payload["customer"]["resident_id"] == resident_id()  # type: ignore[index]
    outbox.store_results(
        store,
        [
            EventResult(id=e.id, seq=e.seq, status=EventStatus.accepted)
            for e in outbox.pending_events(store, 10)
        ],
    )
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in store.path.parent.glob(store.path.name + "*"))
    assert resident_id().encode() not in raw
    assert open_counter.returns.find(sale.receipt_no).customer_masked == "王五 330602********1238"


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in split_sql(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute(
        "INSERT INTO events (seq, id, type, occurred_at, payload, status, reason) "
        "VALUES (1, 'x', 'cash_in', '2026-01-01T00:00:00+00:00', '{}', 'rejected', 'shift_closed')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION == 7
    [rejected] = outbox.unacknowledged_rejections(store)
    assert rejected.reason == "shift_closed"
    outbox.acknowledge_rejection(store, 1, "boss1")
    assert outbox.unacknowledged_rejections(store) == []
    assert [e.seq for e in outbox.rejected_events(store)] == [1]  # kept for the manager
    with pytest.raises(ValueError):
        outbox.acknowledge_rejection(store, 1, "boss1")
    store.close()


def _raw(store_path: Path) -> bytes:
    """The database file and its WAL, as a copy of the terminal's disk would have them."""
    return b"".join(p.read_bytes() for p in store_path.parent.glob(store_path.name + "*"))


def test_an_upgraded_store_keeps_no_pin_hash_a_thief_could_crack(tmp_path: Path) -> None:
    """Pulls before PIN verifiers cached argon2 hashes of the PINs, with software that left
    what it erased in free pages and the WAL; the upgrade wipes the hashes and every copy."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA secure_delete = OFF")
    for migration in MIGRATIONS[:2]:
        for statement in split_sql(migration):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    cached = hash_pin(CLERK_PIN)
    # Staff that came and went: their rows filled pages that are free now.
    conn.executemany(
        "INSERT INTO clerks (username, full_name, role, pin_hash) VALUES (?, '李四', 'clerk', ?)",
        [(f"gone{n:03d}", cached) for n in range(100)],
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("DELETE FROM clerks")
    conn.execute(
        "INSERT INTO clerks (username, full_name, role, pin_hash) VALUES (?, '张三', 'clerk', ?)",
        (CLERK, cached),
    )
    # A thief's copy: the WAL still holds pages, the file holds free pages, with the hash.
    assert _raw(path).count(cached.encode()) > 1
    conn.close()
    assert cached.encode() in _raw(path)
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    # Right after the upgrade, the store still open: neither the file nor its WAL has it.
    assert cached.encode() not in _raw(path)
    assert store.get_meta(SCRUB_PENDING) is None
    row = store.conn.execute("SELECT pin_hash, pin_verifier FROM clerks").fetchone()
    assert tuple(row) == (None, None)
    # Until the next pull brings this terminal's verifiers, nobody logs in with the old hash.
    with pytest.raises(PosError) as refused:
        LoginService(store, pin_key=PIN_KEY).login(CLERK, CLERK_PIN)
    assert refused.value.code == "bad_login"
    apply_pull(store, pull_response(default_stock()))
    assert LoginService(store, pin_key=PIN_KEY).login(CLERK, CLERK_PIN).clerk.username == CLERK
    store.close()
    assert cached.encode() not in _raw(path)


def test_a_scrub_cut_short_is_done_at_the_next_start(tmp_path: Path) -> None:
    """The mark goes in with the migration: a crash before the VACUUM does not skip it."""
    store = Store(tmp_path / "t.db")
    with store.write() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, '3')", (SCRUB_PENDING,))
        conn.execute("INSERT INTO meta (key, value) VALUES ('doomed', ?)", ("secret" * 50,))
    store.conn.execute("PRAGMA secure_delete = OFF")
    with store.write() as conn:
        conn.execute("DELETE FROM meta WHERE key = 'doomed'")
    store.close()
    assert b"secret" * 50 in _raw(store.path)
    again = Store(tmp_path / "t.db")
    assert again.get_meta(SCRUB_PENDING) is None
    assert b"secret" * 50 not in _raw(again.path)
    again.close()
