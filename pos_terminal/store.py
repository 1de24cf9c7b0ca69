"""The terminal's local SQLite database: schema, migrations, connections and transactions.

WAL lets the sync thread read while the counter writes. synchronous=FULL: the receipt is
printed right after a commit, so a commit must survive a power cut; NORMAL in WAL mode may
lose the last transactions on power loss, which would leave a customer holding a receipt for
a sale the terminal forgot. A counter commits a few times a minute; the extra fsync is cheap.
"""

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000

# Each entry upgrades the schema by one version; never edit a released entry, append one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE stock (
        item TEXT PRIMARY KEY,
        item_kind TEXT NOT NULL CHECK (item_kind IN ('number', 'voucher')),
        product TEXT NOT NULL,
        status TEXT NOT NULL,
        iccid TEXT,
        document_number TEXT,
        item_rev TEXT NOT NULL,
        -- the latest local event that changed this item, until the back office answers it;
        -- while set, pulls do not overwrite the local status
        local_seq INTEGER,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX ix_stock_iccid ON stock (iccid) WHERE iccid IS NOT NULL;
    CREATE INDEX ix_stock_rev ON stock (item_rev);
    CREATE INDEX ix_stock_status ON stock (item_kind, status, item);

    CREATE TABLE prices (
        product TEXT PRIMARY KEY,
        retail_fen INTEGER NOT NULL,
        dealer_fen INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE grades (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        rank INTEGER NOT NULL,
        selection_fee_fen INTEGER NOT NULL,
        prestore_fen INTEGER NOT NULL,
        min_monthly_fen INTEGER NOT NULL,
        lockin_months INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE clerks (
        username TEXT PRIMARY KEY,
        full_name TEXT NOT NULL,
        role TEXT NOT NULL,
        pin_hash TEXT,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT
    ) WITHOUT ROWID;

    CREATE TABLE shifts (
        id TEXT PRIMARY KEY,
        clerk TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        opening_float_fen INTEGER NOT NULL,
        closed_at TEXT,
        closed_by TEXT,
        counted_cash_fen INTEGER,
        counted_json TEXT,
        expected_cash_fen INTEGER,
        z_number INTEGER UNIQUE
    ) WITHOUT ROWID;
    -- one open shift per terminal
    CREATE UNIQUE INDEX ix_shift_open ON shifts ((closed_at IS NULL)) WHERE closed_at IS NULL;

    CREATE TABLE cash_moves (
        id TEXT PRIMARY KEY,
        shift_id TEXT NOT NULL REFERENCES shifts (id),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
        reason TEXT NOT NULL,
        clerk TEXT NOT NULL,
        at TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE sales (
        id TEXT PRIMARY KEY,
        receipt_no TEXT NOT NULL UNIQUE,
        shift_id TEXT NOT NULL REFERENCES shifts (id),
        clerk TEXT NOT NULL,
        at TEXT NOT NULL,
        total_fen INTEGER NOT NULL,
        tendered_fen INTEGER NOT NULL,
        change_fen INTEGER NOT NULL,
        customer_name TEXT,
        customer_resident_id TEXT,
        event_seq INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX ix_sales_shift ON sales (shift_id);
    CREATE INDEX ix_sales_at ON sales (at);

    CREATE TABLE sale_lines (
        sale_id TEXT NOT NULL REFERENCES sales (id),
        line_no INTEGER NOT NULL,
        item_kind TEXT NOT NULL,
        item TEXT NOT NULL,
        product TEXT NOT NULL,
        list_price_fen INTEGER NOT NULL,
        price_fen INTEGER NOT NULL,
        override_by TEXT,
        override_reason TEXT,
        return_id TEXT,
        PRIMARY KEY (sale_id, line_no)
    ) WITHOUT ROWID;
    CREATE INDEX ix_sale_lines_item ON sale_lines (item);

    CREATE TABLE payments (
        sale_id TEXT NOT NULL REFERENCES sales (id),
        n INTEGER NOT NULL,
        method TEXT NOT NULL CHECK (method IN ('cash', 'card', 'wallet')),
        amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
        PRIMARY KEY (sale_id, n)
    ) WITHOUT ROWID;

    CREATE TABLE returns (
        id TEXT PRIMARY KEY,
        sale_id TEXT NOT NULL REFERENCES sales (id),
        shift_id TEXT NOT NULL REFERENCES shifts (id),
        clerk TEXT NOT NULL,
        at TEXT NOT NULL,
        refund_fen INTEGER NOT NULL,
        refund_method TEXT NOT NULL,
        event_seq INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE stock_documents (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('receipt', 'count', 'stock_out')),
        document_number TEXT,
        clerk TEXT NOT NULL,
        at TEXT NOT NULL,
        scanned INTEGER NOT NULL,
        missing_json TEXT NOT NULL,
        unexpected_json TEXT NOT NULL,
        event_seq INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE reservations (
        msisdn TEXT PRIMARY KEY,
        reservation_id TEXT NOT NULL,
        clerk TEXT NOT NULL,
        expires_at TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'accepted', 'duplicate', 'rejected')),
        reason TEXT,
        message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        answered_at TEXT
    );
    CREATE INDEX ix_events_status ON events (status, seq);

    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    );

    CREATE TABLE print_jobs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT NOT NULL,
        receipt_json TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'printed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        printed_at TEXT
    ) WITHOUT ROWID;
    CREATE INDEX ix_print_jobs_status ON print_jobs (status, created_at);
    CREATE INDEX ix_print_jobs_ref ON print_jobs (ref);
    """,
    # 2: a manager acknowledges a rejected event; it stays listed for reconciliation.
    """
    ALTER TABLE events ADD COLUMN acknowledged_by TEXT;
    ALTER TABLE events ADD COLUMN acknowledged_at TEXT;
    """,
    # 3: clerks log in offline against per-terminal PIN verifiers (shared/pins.py); the argon2
    # hashes earlier pulls left, which a copied database would give up to brute force, go.
    """
    ALTER TABLE clerks ADD COLUMN pin_verifier TEXT;
    UPDATE clerks SET pin_hash = NULL;
    """,
    # 4: an event the back office failed on (a server error, no answer) stays pending, data and
    # all, and is retried with back-off: how often it failed, when it is due, the last failure.
    """
    ALTER TABLE events ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE events ADD COLUMN retry_at TEXT;
    ALTER TABLE events ADD COLUMN failure TEXT;
    """,
    # 5: number search by the last three digits (services/stock.py): a number's ending, then
    # the number, so one ending's numbers are read in number order; it replaces the index on
    # the reversed number, which found them in no useful order (all sorted on every search).
    """
    CREATE INDEX ix_stock_tail ON stock (substr(item, 9, 3), item);
    DROP INDEX ix_stock_rev;
    """,
    # 6: the sales centre's decision on a rejected event (manual_sale, refund, write_off,
    # note), as a pull brings it, with its note and time.
    """
    ALTER TABLE events ADD COLUMN resolution TEXT;
    ALTER TABLE events ADD COLUMN resolution_note TEXT;
    ALTER TABLE events ADD COLUMN resolved_at TEXT;
    """,
    # 7: each drawer opening without a sale is counted on its shift, for the Z report and the
    # shift-close event.
    """
    ALTER TABLE shifts ADD COLUMN no_sale_openings INTEGER NOT NULL DEFAULT 0;
    """,
)

# Migrations that erase secrets: after upgrading an existing database past one, the file is
# rewritten (VACUUM) and the WAL emptied, so that no copy is left in free pages, in free space
# inside pages or in old WAL frames. secure_delete covers what is erased later, not the copies
# that software without it left. 3: the argon2 PIN hashes.
SCRUBBING_MIGRATIONS = frozenset({3})
SCRUB_PENDING = "scrub_pending"  # meta: set with such a migration, cleared once scrubbed

SCHEMA_VERSION = len(MIGRATIONS)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    """A UTC timestamp as stored: ISO 8601 with offset, which sorts in time order."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored; give a UTC time")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


class StoreError(RuntimeError):
    """The database on disk is newer than this program or otherwise unusable."""


class Store:
    """The local database. Each thread gets its own connection; writes go through write()."""

    def __init__(self, path: Path | str, *, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self.clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    def now(self) -> datetime:
        return self.clock()

    def _open(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE in write()).
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Overwrite deleted content, so redacted ID numbers do not linger in free pages.
        conn.execute("PRAGMA secure_delete = ON")
        with self._lock:
            self._connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, for reads outside a transaction."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        conn = self.conn
        if conn.in_transaction:
            raise RuntimeError("write transactions do not nest")
        # IMMEDIATE takes the write lock now, so counters read inside cannot go stale.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _migrate(self) -> None:
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this program knows up to "
                f"{SCHEMA_VERSION}. Update the terminal software."
            )
        for number in range(version, SCHEMA_VERSION):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in split_sql(MIGRATIONS[number]):
                    conn.execute(statement)
                if number + 1 in SCRUBBING_MIGRATIONS and version > 0:
                    # Committed with the migration: a crash before the scrub redoes it.
                    set_meta(conn, SCRUB_PENDING, str(number + 1))
                conn.execute(f"PRAGMA user_version = {number + 1}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        if self.get_meta(SCRUB_PENDING) is not None:
            self._scrub()

    def _scrub(self) -> None:
        """Rewrites the file from its live rows and empties the WAL. VACUUM cannot run inside
        a transaction, hence after the migration's commit; the mark goes only afterwards."""
        conn = self.conn
        conn.execute("VACUUM")
        conn.execute("DELETE FROM meta WHERE key = ?", (SCRUB_PENDING,))
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            # Another process reads the database: its WAL is emptied at its next checkpoint.
            log.warning("%s: the WAL could not be emptied after the upgrade", self.path)

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # --- small shared helpers ---------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def next_counter(conn: sqlite3.Connection, name: str) -> int:
    """The next value (from 1) of a named sequence; call inside a write transaction."""
    row = conn.execute(
        "INSERT INTO counters (name, value) VALUES (?, 1) "
        "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
        (name,),
    ).fetchone()
    return int(row[0])


def audit(conn: sqlite3.Connection, at: datetime, actor: str, action: str, detail: str) -> None:
    """A local audit row (overrides, drawer opens, lock-outs) kept for the dealer manager."""
    conn.execute(
        "INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)",
        (to_text(at), actor, action, detail),
    )


def split_sql(script: str) -> list[str]:
    # executescript() would COMMIT on its own; splitting keeps each migration one transaction.
    parts, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            parts.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        parts.append(buffer.strip())
    return [p for p in parts if p]
