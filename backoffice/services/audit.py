"""The append-only audit log: who changed what, when, from which status to which; the sealer
that hash-chains its rows, and the verification of the chain.

Rows are written unsealed, by any number of concurrent transactions, on hot paths (a push
writes its audit rows with COPY): chaining them at insert time would make every writer wait
for the one before it. The sealer (the worker every few seconds, `haoka-office audit seal`,
and `audit verify` first) takes the committed unsealed rows in id order under one lock
(an advisory lock on PostgreSQL, the write lock on SQLite) and gives each its sequence number
and hash = SHA-256(previous hash ‖ canonical content)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, func, insert, select, text, update
from sqlmodel import Session, col

from backoffice.domain.audit import CONTENT, GENESIS, Anchor, Sealed, Walk, check_anchor, link, walk
from backoffice.models import AuditEntry
from backoffice.models.types import utcnow
from backoffice.services import bulk
from shared.ids import new_id

_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
_CONTENT = [_AUDIT.c[name] for name in CONTENT]
# The sealer's advisory lock (settlement runs hold 6006).
SEAL_LOCK = 8008
_CHUNK = 20_000


def record(
    session: Session,
    *,
    actor: str,
    entity_type: str,
    entity_id: str,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    item_count: int = 1,
    document_id: str | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Writes one audit row in the session's transaction and returns it, with the time the
    database gave it."""
    values = {
        "id": new_id(),
        "actor": actor,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "action": action,
        "from_status": from_status,
        "to_status": to_status,
        "item_count": item_count,
        "document_id": document_id,
        "reason": reason,
    }
    # Written now rather than at the next flush: `at` is the database's, and callers use it.
    at = (
        session.connection()
        .execute(insert(_AUDIT).values(values).returning(_AUDIT.c.at))
        .scalar_one()
    )
    return AuditEntry(**values, at=at)


def entries(
    session: Session,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    query = select(AuditEntry)
    if entity_type:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    query = query.order_by(col(AuditEntry.id).desc()).limit(limit)
    return list(session.scalars(query))


@dataclass(frozen=True)
class Sealing:
    """What a sealing round did: rows sealed, and the chain's end afterwards."""

    sealed: int
    anchor: Anchor | None


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEAL_LOCK})
    else:
        # A write that touches nothing still takes SQLite's write lock, until the commit.
        connection.execute(update(_AUDIT).where(text("0")).values(seq=None))


class _Links:
    """Where the sealer puts the (id, seq, hash) it computed. PostgreSQL: COPY into a
    session-local table, then one UPDATE joining it (a million rows in seconds, where an
    UPDATE per chunk would scan the table again each time); SQLite: an UPDATE by primary key
    per row, which is what it does well."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"
        self.staged = 0
        if self.postgresql:
            # Kept for the connection's life and emptied at each commit: the worker seals
            # every few seconds without creating a table each time.
            connection.exec_driver_sql(
                "CREATE TEMPORARY TABLE IF NOT EXISTS audit_seal"
                " (id varchar(36) PRIMARY KEY, seq bigint NOT NULL, hash varchar(64) NOT NULL)"
                " ON COMMIT DELETE ROWS"
            )
            # Empty unless an earlier round in this transaction failed half-way.
            connection.exec_driver_sql("DELETE FROM audit_seal")

    def add(self, links: list[tuple[str, int, str]]) -> None:
        if self.postgresql:
            bulk.insert_rows(self.connection, "audit_seal", ("id", "seq", "hash"), links)
            self.staged += len(links)
            return
        written = self.connection.execute(
            update(_AUDIT)
            .where(_AUDIT.c.id == bindparam("b_id"))
            .where(_AUDIT.c.seq.is_(None))
            .values(seq=bindparam("b_seq"), hash=bindparam("b_hash")),
            [{"b_id": i, "b_seq": q, "b_hash": h} for i, q, h in links],
        ).rowcount
        self._check(written, len(links))

    def apply(self) -> None:
        if not self.staged:
            return
        self.connection.exec_driver_sql("ANALYZE audit_seal")
        written = self.connection.exec_driver_sql(
            "UPDATE audit_entry AS a SET seq = s.seq, hash = s.hash FROM audit_seal AS s"
            " WHERE a.id = s.id AND a.seq IS NULL"
        ).rowcount
        self._check(written, self.staged)

    @staticmethod
    def _check(written: int, expected: int) -> None:
        if written != expected:
            # Only the lock holder seals; anything else means the lock was bypassed.
            raise RuntimeError(f"sealed {written} audit rows of {expected}: another sealer ran")


def seal_pending(connection: Connection, limit: int | None = None) -> Sealing:
    """Seals the committed unsealed rows in id order (at most `limit`) under the sealer's
    lock, in the connection's transaction: the caller commits. The migration that introduced
    the chain calls it for every existing row."""
    _lock(connection)
    last = connection.execute(
        select(_AUDIT.c.seq, _AUDIT.c.hash)
        .where(_AUDIT.c.seq.is_not(None))
        .order_by(_AUDIT.c.seq.desc())
        .limit(1)
    ).first()
    seq, previous = (last[0], last[1]) if last is not None else (0, GENESIS)
    out = _Links(connection)
    sealed = 0
    after: str | None = None
    while limit is None or sealed < limit:
        size = _CHUNK if limit is None else min(_CHUNK, limit - sealed)
        query = select(*_CONTENT).where(_AUDIT.c.seq.is_(None)).order_by(_AUDIT.c.id).limit(size)
        if after is not None:
            query = query.where(_AUDIT.c.id > after)
        rows = connection.execute(query).all()
        links = []
        for content in rows:
            seq += 1
            previous = link(previous, content)
            links.append((content[0], seq, previous))
        if links:
            out.add(links)
            sealed += len(links)
            after = links[-1][0]
        if len(rows) < size:
            break
    out.apply()
    return Sealing(sealed, Anchor(seq, previous) if seq else None)


def seal(session: Session, batch: int = 5_000) -> Sealing:
    """Seals every committed unsealed row, committing each batch (the lock is held for one
    batch at a time); returns how many and the chain's end."""
    total = 0
    while True:
        step = seal_pending(session.connection(), batch)
        session.commit()
        total += step.sealed
        if step.sealed < batch:
            return Sealing(total, step.anchor)


@dataclass(frozen=True)
class ChainReport:
    """What `audit verify` found: the walk over the sealed rows, the anchor's check, and the
    rows the chain does not cover yet although it should."""

    sealed_now: int
    walk: Walk
    anchor_problem: str | None
    stale_unsealed: int
    oldest_unsealed: tuple[str, datetime] | None
    unsealed_after: timedelta

    @property
    def intact(self) -> bool:
        return self.walk.broken is None and self.anchor_problem is None and not self.stale_unsealed


def _sealed_rows(connection: Connection) -> Iterator[Sealed]:
    query = select(_AUDIT.c.seq, _AUDIT.c.hash, *_CONTENT).where(_AUDIT.c.seq.is_not(None))
    result = connection.execution_options(stream_results=True, yield_per=_CHUNK).execute(
        query.order_by(_AUDIT.c.seq)
    )
    for row in result:
        yield Sealed(seq=row[0], id=row[2], hash=row[1], content=row[2:])


def verify(
    session: Session,
    anchor: Anchor | None = None,
    unsealed_after: timedelta = timedelta(minutes=10),
    seal_first: bool = True,
) -> ChainReport:
    """Seals what is pending (unless told not to: a read-only auditor), then walks the whole
    chain from its first row, checks it against an anchor recorded earlier, and counts the
    unsealed rows older than `unsealed_after` (the worker is not sealing)."""
    sealed_now = seal(session).sealed if seal_first else 0
    connection = session.connection()
    walked = walk(_sealed_rows(connection), anchor.seq if anchor else None)
    cutoff = utcnow() - unsealed_after
    stale = (_AUDIT.c.seq.is_(None), _AUDIT.c.at < cutoff)
    count = connection.execute(select(func.count()).where(*stale)).scalar_one()
    oldest = connection.execute(
        select(_AUDIT.c.id, _AUDIT.c.at).where(*stale).order_by(_AUDIT.c.at).limit(1)
    ).first()
    session.rollback()
    return ChainReport(
        sealed_now=sealed_now,
        walk=walked,
        anchor_problem=check_anchor(walked, anchor) if anchor else None,
        stale_unsealed=count,
        oldest_unsealed=None if oldest is None else (oldest[0], oldest[1]),
        unsealed_after=unsealed_after,
    )
