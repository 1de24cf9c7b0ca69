"""The events outbox: every business act as a numbered event, written with its local effect."""

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, TypeAdapter, ValidationError

from pos_terminal.store import Store, from_text, next_counter, to_text
from shared.codes import mask_resident_id
from shared.ids import new_id
from shared.sync import Event, EventResolution, EventResult, EventStatus, EventType

EVENT_SEQ = "event_seq"
PENDING = "pending"

_EVENT = TypeAdapter(Event)


@dataclass(frozen=True)
class OutboxEvent:
    """An event as stored: the wire envelope's fields plus what the back office answered."""

    seq: int
    id: str
    type: EventType
    occurred_at: datetime
    payload: dict[str, object]
    status: str
    reason: str | None
    message: str | None
    attempts: int
    acknowledged_by: str | None = None
    # The back office failed on it (a server error, no answer) this many times: it stays
    # pending and is sent again from retry_at on; `failure` is the last one.
    failures: int = 0
    retry_at: datetime | None = None
    failure: str | None = None
    # The sales centre's decision on a rejected event (shared.sync.ResolutionKind), and its note.
    resolution: str | None = None
    resolution_note: str | None = None

    def to_wire(self) -> Event:
        try:
            return _EVENT.validate_python(
                {
                    "id": self.id,
                    "seq": self.seq,
                    "type": self.type,
                    "occurred_at": self.occurred_at,
                    "payload": self.payload,
                }
            )
        except ValidationError as error:
            # The sync loop logs this: pydantic's own text quotes the values (a buyer's ID
            # number among them), so only the fields and the problems are told.
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in error.errors(include_input=False, include_url=False)
            )
            raise ValueError(f"stored event {self.seq} is not valid: {problems}") from None


def record_event(
    conn: sqlite3.Connection, event_type: EventType, payload: BaseModel, at: datetime
) -> OutboxEvent:
    """Adds an event inside the caller's write transaction, so it commits with its effect.

    The envelope is validated here: an event the back office would refuse as malformed
    makes the whole act fail before anything is committed."""
    seq = next_counter(conn, EVENT_SEQ)
    event_id = new_id()
    body = json.loads(payload.model_dump_json())
    _EVENT.validate_python(
        {"id": event_id, "seq": seq, "type": event_type, "occurred_at": at, "payload": body}
    )
    conn.execute(
        "INSERT INTO events (seq, id, type, occurred_at, payload) VALUES (?, ?, ?, ?, ?)",
        (seq, event_id, event_type.value, to_text(at), json.dumps(body, ensure_ascii=False)),
    )
    return OutboxEvent(seq, event_id, event_type, at, body, PENDING, None, None, 0)


def _row(row: sqlite3.Row) -> OutboxEvent:
    return OutboxEvent(
        seq=row["seq"],
        id=row["id"],
        type=EventType(row["type"]),
        occurred_at=from_text(row["occurred_at"]),
        payload=json.loads(row["payload"]),
        status=row["status"],
        reason=row["reason"],
        message=row["message"],
        attempts=row["attempts"],
        acknowledged_by=row["acknowledged_by"],
        failures=row["failures"],
        retry_at=None if row["retry_at"] is None else from_text(row["retry_at"]),
        failure=row["failure"],
        resolution=row["resolution"],
        resolution_note=row["resolution_note"],
    )


def pending_events(store: Store, limit: int, after: int = 0) -> list[OutboxEvent]:
    """The oldest unanswered events after seq `after`, in sequence order."""
    rows = store.conn.execute(
        "SELECT * FROM events WHERE status = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
        (after, limit),
    ).fetchall()
    return [_row(r) for r in rows]


def get_event(store: Store, seq: int) -> OutboxEvent | None:
    row = store.conn.execute("SELECT * FROM events WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else _row(row)


def all_events(store: Store) -> list[OutboxEvent]:
    return [_row(r) for r in store.conn.execute("SELECT * FROM events ORDER BY seq")]


def rejected_events(store: Store) -> list[OutboxEvent]:
    """Rejections, newest first: shown to the clerk and kept for the manager."""
    rows = store.conn.execute(
        "SELECT * FROM events WHERE status = 'rejected' ORDER BY seq DESC"
    ).fetchall()
    return [_row(r) for r in rows]


def rejected_count(store: Store) -> int:
    row = store.conn.execute("SELECT count(*) FROM events WHERE status = 'rejected'").fetchone()
    return int(row[0])


def unacknowledged_rejections(store: Store) -> list[OutboxEvent]:
    """Rejections no manager has acknowledged yet: what the status bar warns about."""
    rows = store.conn.execute(
        "SELECT * FROM events WHERE status = 'rejected' AND acknowledged_by IS NULL "
        "ORDER BY seq DESC"
    ).fetchall()
    return [_row(r) for r in rows]


def acknowledge_rejection(store: Store, seq: int, manager: str) -> None:
    """A manager has seen a rejection; it stays in the list for the sales centre."""
    with store.write() as conn:
        changed = conn.execute(
            "UPDATE events SET acknowledged_by = ?, acknowledged_at = ? "
            "WHERE seq = ? AND status = 'rejected' AND acknowledged_by IS NULL",
            (manager, to_text(store.now()), seq),
        ).rowcount
    if changed != 1:
        raise ValueError(f"event {seq} is not an unacknowledged rejection")


def store_resolutions(conn: sqlite3.Connection, resolutions: list[EventResolution]) -> int:
    """Keeps the sales centre's decisions on this terminal's rejected events (inside the
    pull's transaction); returns how many it had not kept yet (pulls overlap a little, so a
    decision may come twice)."""
    settled = 0
    for decision in resolutions:
        settled += conn.execute(
            "UPDATE events SET resolution = ?, resolution_note = ?, resolved_at = ? "
            "WHERE id = ? AND seq = ? AND status = 'rejected' AND resolved_at IS NOT ?",
            (
                decision.kind.value,
                decision.note,
                to_text(decision.resolved_at),
                decision.id,
                decision.seq,
                to_text(decision.resolved_at),
            ),
        ).rowcount
    return settled


def backlog(store: Store) -> int:
    """How many events still wait for the back office."""
    row = store.conn.execute("SELECT count(*) FROM events WHERE status = 'pending'").fetchone()
    return int(row[0])


def retrying(store: Store) -> int:
    """How many waiting events the back office failed on: they are being retried."""
    row = store.conn.execute(
        "SELECT count(*) FROM events WHERE status = 'pending' AND failures > 0"
    ).fetchone()
    return int(row[0])


def note_attempt(store: Store, seqs: list[int]) -> None:
    with store.write() as conn:
        conn.executemany(
            "UPDATE events SET attempts = attempts + 1 WHERE seq = ?", [(s,) for s in seqs]
        )


def note_failures(store: Store, failed: list[tuple[OutboxEvent, str, timedelta]]) -> None:
    """Events the back office failed on, each with the failure and how long to wait before
    sending it again. They stay pending with all their data: nothing is given up on for the
    back office's own failures."""
    now = store.now()
    with store.write() as conn:
        conn.executemany(
            "UPDATE events SET failures = failures + 1, retry_at = ?, failure = ? "
            "WHERE seq = ? AND status = 'pending'",
            [(to_text(now + wait), why[:500], event.seq) for event, why, wait in failed],
        )


def store_results(store: Store, results: list[EventResult], *, from_office: bool = True) -> None:
    """Records the back office's answers. Only pending events change: an answer is final.

    `from_office=False`: rejections made here, for events the back office refused to take at
    all. It holds no copy of them, so they keep the buyer's full ID for reconciliation."""
    now = to_text(store.now())
    with store.write() as conn:
        for result in results:
            status = result.status
            if status == EventStatus.duplicate and result.original == EventStatus.rejected:
                # A resend of a rejected event: the rejection is what the manager must see.
                status = EventStatus.rejected
            conn.execute(
                "UPDATE events SET status = ?, reason = ?, message = ?, answered_at = ? "
                "WHERE id = ? AND seq = ? AND status = 'pending'",
                (
                    status.value,
                    result.reason.value if result.reason is not None else None,
                    result.message,
                    now,
                    result.id,
                    result.seq,
                ),
            )
            # The back office knows the item's fate now; its next pull is the truth.
            conn.execute("UPDATE stock SET local_seq = NULL WHERE local_seq = ?", (result.seq,))
            if from_office:
                _redact_resident_id(conn, result.seq)


def _redact_resident_id(conn: sqlite3.Connection, seq: int) -> None:
    """Once the back office holds a sale (it stores the ID encrypted), the terminal keeps only
    the masked ID: a stolen POS box should not be a list of customers' ID numbers."""
    row = conn.execute(
        "SELECT payload FROM events WHERE seq = ? AND type = ? AND status != 'pending'",
        (seq, EventType.sale.value),
    ).fetchone()
    if row is None:
        return
    payload = json.loads(row[0])
    customer = payload.get("customer")
    if not customer or "*" in customer["resident_id"]:
        return
    masked = mask_resident_id(customer["resident_id"])
    customer["resident_id"] = masked
    conn.execute(
        "UPDATE events SET payload = ? WHERE seq = ?",
        (json.dumps(payload, ensure_ascii=False), seq),
    )
    conn.execute("UPDATE sales SET customer_resident_id = ? WHERE event_seq = ?", (masked, seq))
