"""The append-only audit log: who changed what, when, from which status to which; the sealer
that hash-chains its rows, and the verification of the chain.

Rows are written unsealed, by any number of concurrent transactions, on hot paths (a push
writes its audit rows with COPY): chaining them at insert time would make every writer wait
for the one before it. The sealer (the worker every few seconds, `haoka-office audit seal`,
and `audit verify` first) takes the committed unsealed rows in id order under one lock
(an advisory lock on PostgreSQL, the write lock on SQLite) and gives each its sequence number
and hash = SHA-256(previous hash ‖ canonical content)."""

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Row,
    Select,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlmodel import Session, col

from backoffice.domain.audit import CONTENT, GENESIS, Anchor, Sealed, Walk, check_anchor, link, walk
from backoffice.models import AuditEntry, Dealer, Outlet, PriceList, StockDocument, Terminal, User
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


# --- searching the log (the administrators' page and its exports) ----------------------------

# Rows are written with a UUIDv7 id made by the office as it writes them, and `at` by the
# database in the same statement: the id carries the time too. A search by time bounds the
# primary key by the id range of the times widened by this much (clock differences between
# the office and the database, a long transaction), so that it reads an index range instead of
# the whole log; `at` then decides exactly.
ID_TIME_SLACK = timedelta(days=1)
# How much a search may export at once: the newest rows of a wider search. A CSV streams
# (100,000 rows in about 5 s); an XLSX is built whole first (openpyxl: about 5 s for 20,000).
EXPORT_MAX_ROWS = 100_000
XLSX_MAX_ROWS = 20_000
_EXPORT_BATCH = 5_000
# Resident ID numbers never appear in the log (the sale keeps them encrypted, errors masked),
# but a reason may be text someone typed: shown and exported with any such number masked.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")


@dataclass(frozen=True)
class AuditSearch:
    """What to find in the log; every filter given must hold. `actor` is exact, or a prefix
    when it ends in `*` ("terminal:7/*"); `start` is inclusive and `end` exclusive (UTC)."""

    entity_type: str | None = None
    entity_id: str | None = None
    document_id: str | None = None
    actor: str | None = None
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _id_floor(moment: datetime) -> str:
    """The smallest UUIDv7 of the moment's millisecond, in the ids' text form."""
    stamp = f"{max(int(moment.timestamp() * 1000), 0):012x}"
    return f"{stamp[:8]}-{stamp[8:12]}-0000-0000-000000000000"


def _escape_like(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _searched(wanted: AuditSearch, after: str | None, query: Select) -> Select:  # type: ignore[type-arg]
    for column, value in (
        (_AUDIT.c.entity_type, wanted.entity_type),
        (_AUDIT.c.entity_id, wanted.entity_id),
        (_AUDIT.c.document_id, wanted.document_id),
        (_AUDIT.c.action, wanted.action),
    ):
        if value:
            query = query.where(column == value)
    if wanted.actor:
        if wanted.actor.endswith("*"):
            prefix = _escape_like(wanted.actor.rstrip("*"))
            query = query.where(_AUDIT.c.actor.like(prefix + "%", escape="\\"))
        else:
            query = query.where(_AUDIT.c.actor == wanted.actor)
    if wanted.start is not None:
        query = query.where(_AUDIT.c.at >= wanted.start)
        query = query.where(_AUDIT.c.id >= _id_floor(wanted.start - ID_TIME_SLACK))
    if wanted.end is not None:
        query = query.where(_AUDIT.c.at < wanted.end)
        query = query.where(_AUDIT.c.id < _id_floor(wanted.end + ID_TIME_SLACK))
    if after:
        query = query.where(_AUDIT.c.id < after)
    return query.order_by(_AUDIT.c.id.desc())


def find(
    session: Session, wanted: AuditSearch, after: str | None = None, limit: int = 50
) -> tuple[list[AuditEntry], str | None]:
    """A page of the rows found, newest first, and the key of the next page (None at the
    end): keyset pagination on the primary key, never an offset."""
    rows = list(session.scalars(_searched(wanted, after, select(AuditEntry)).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def find_all(
    session: Session, wanted: AuditSearch, max_rows: int = EXPORT_MAX_ROWS
) -> Iterator[Row[Any]]:
    """The rows found, newest first, at most `max_rows`, read a batch at a time (an export
    streams them without holding them all): plain rows with the entries' attributes, not
    ORM objects, which would cost several times as much per row."""
    after: str | None = None
    left = max_rows
    while left > 0:
        size = min(_EXPORT_BATCH, left)
        query = _searched(wanted, after, select(*_AUDIT.c)).limit(size)
        rows = session.connection().execute(query).all()
        yield from rows
        left -= len(rows)
        if len(rows) < size:
            return
        after = rows[-1].id


def shown_reason(reason: str | None) -> str:
    """A row's reason as pages and exports show it: any resident ID number masked."""
    return _RESIDENT_ID.sub(r"\1********\2", reason) if reason else ""


def entity_key(session: Session, entity_type: str, key: str) -> str:
    """The id the log files an entity under, from what people know it by: a user's name, a
    dealer's or outlet's code, a terminal's number, a price list's version, a document's
    number (`entity_type` "document": the rows of the document's items). Anything else (a
    number, a card's serial, an id) is its own key, and so is a name nothing is known by."""
    known = _KNOWN_BY.get(entity_type)
    if known is None:
        return key
    id_column, key_column = known
    if isinstance(key_column.type, Integer):
        if not key.isascii() or not key.isdigit() or len(key) > 9:
            return key
        found = session.scalars(select(id_column).where(key_column == int(key)).limit(1)).first()
    else:
        found = session.scalars(select(id_column).where(key_column == key).limit(1)).first()
    return str(found) if found is not None else key


_KNOWN_BY = {
    "user": (col(User.id), col(User.username)),
    "dealer": (col(Dealer.id), col(Dealer.code)),
    "outlet": (col(Outlet.id), col(Outlet.code)),
    "terminal": (col(Terminal.id), col(Terminal.terminal_no)),
    "price_list": (col(PriceList.id), col(PriceList.version)),
    "document": (col(StockDocument.id), col(StockDocument.number)),
}


def entity_names(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """What people know the entities of some rows by (a user's name, a dealer's code, a
    document's number…), for those (entity type, id) that have such a name."""
    wanted: dict[str, set[str]] = {}
    for entity_type, entity_id in keys:
        if entity_type in _KNOWN_BY and entity_id:
            wanted.setdefault(entity_type, set()).add(entity_id)
    names = {}
    for entity_type, ids in wanted.items():
        id_column, key_column = _KNOWN_BY[entity_type]
        for found_id, key in session.execute(
            select(id_column, key_column).where(id_column.in_(sorted(ids)))
        ):
            names[(entity_type, str(found_id))] = str(key)
    return names


# --- an item's timeline (the billing centre's pages of a number, a card, a SIM card) ---------


@dataclass(frozen=True)
class EntityRef:
    """One entity's rows in a timeline: all of them, or (`document_ids` given) only those of
    some stock documents or with one of some reasons: an outlet's rows of the document that
    moved an item, and of the receipt of that document, whose reason names it."""

    entity_type: str
    entity_id: str
    document_ids: tuple[str, ...] | None = None
    reasons: tuple[str, ...] = ()


def timeline(
    session: Session,
    refs: Sequence[EntityRef],
    *,
    after: str | None = None,
    newest_first: bool = True,
    limit: int = 50,
) -> tuple[list[AuditEntry], str | None]:
    """The rows of several entities as one list in time order (ids are UUIDv7), a keyset page
    of `limit` after the id `after`; returns the page and the `after` of the next one.

    Each entity is read through ix_audit_entity, at most limit + 1 of its rows past `after`,
    and the lists merged: an item's own rows, its batch's and its document's are few, so the
    page costs a few index probes however long the log."""
    ordering = _AUDIT.c.id.desc() if newest_first else _AUDIT.c.id.asc()
    found: dict[str, AuditEntry] = {}
    for ref in refs:
        query = (
            select(AuditEntry)
            .where(_AUDIT.c.entity_type == ref.entity_type)
            .where(_AUDIT.c.entity_id == ref.entity_id)
        )
        if ref.document_ids is not None:
            query = query.where(
                or_(
                    _AUDIT.c.document_id.in_(ref.document_ids or ("",)),
                    _AUDIT.c.reason.in_(ref.reasons or ("",)),
                )
            )
        if after:
            query = query.where(_AUDIT.c.id < after if newest_first else _AUDIT.c.id > after)
        for entry in session.scalars(query.order_by(ordering).limit(limit + 1)):
            found[entry.id] = entry
    rows = sorted(found.values(), key=lambda e: e.id, reverse=newest_first)
    page = rows[:limit]
    return page, (page[-1].id if len(rows) > limit else None)
