"""Malformed entries of a push: who they claim to be, why they are refused, and the copy kept
for reconciliation — without NUL characters, bounded in size, personal data masked."""

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import AwareDatetime, TypeAdapter, ValidationError
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backoffice.models import SyncEvent
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel.dealers import TerminalContext
from shared.checks import INT32_MAX, excerpt, printable, problem
from shared.codes import CodeError, mask_resident_id
from shared.ids import is_uuid7
from shared.sync import Event, EventResult, EventStatus, EventType, RejectReason

EVENT: TypeAdapter[Event] = TypeAdapter(Event)
_WHEN: TypeAdapter[datetime] = TypeAdapter(AwareDatetime)
# Keys of an event (its customer's real name and ID, PINs, credentials) never kept in clear.
PERSONAL_KEYS = frozenset(
    {"name", "resident_id", "pin", "password", "credential", "token", "secret", "customer"}
)
# An 18-character resident ID anywhere in text, even where no key says so.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9A-Za-z])")
MASKED = "[masked]"
MAX_TEXT = 200
MAX_ITEMS = 20
MAX_DEPTH = 6
MAX_STORED = 8_000
MAX_MESSAGE = 500
MAX_ANSWER_ID = 64
_NAMESPACE = uuid.UUID("5f0c6c1e-2b1a-4e55-9a51-0d7c2f6b9e3a")
UNKNOWN_TYPE = "unknown"


@dataclass(frozen=True)
class Malformed:
    """An entry that is not a valid event, as it is answered and filed."""

    id: str  # the key it is filed under: its own UUIDv7, or one derived from its content
    answer_id: str  # what the terminal sent as its id, so that it can match the answer
    seq: int
    type: str
    occurred_at: datetime
    payload: str  # JSON, safe to store
    message: str


def mask_text(text: str) -> str:
    """Text safe to keep: NUL shown as ␀, resident IDs masked, at most MAX_TEXT characters."""
    return excerpt(_RESIDENT_ID.sub(r"\1********\2", printable(text)), MAX_TEXT)


def redact(value: object, depth: int = 0) -> object:
    """A JSON value as received, made safe to store and bounded: personal fields masked, text
    cut to an excerpt, long lists and deep nesting summarised."""
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value if problem(value) is None else mask_text(str(value))
    if depth >= MAX_DEPTH:
        return "[nested too deep]"
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for index, (key, item) in enumerate(value.items()):
            if index == MAX_ITEMS:
                out["…"] = f"{len(value) - MAX_ITEMS} more keys"
                break
            name = mask_text(str(key))
            if key == "resident_id" and isinstance(item, str) and len(item) == 18:
                out[name] = mask_resident_id(printable(item))
            elif key in PERSONAL_KEYS:
                out[name] = redact_personal(item, depth + 1)
            else:
                out[name] = redact(item, depth + 1)
        return out
    if isinstance(value, list | tuple):
        items = [redact(item, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            items.append(f"… {len(value) - MAX_ITEMS} more items")
        return items
    return mask_text(repr(value))


def redact_personal(value: object, depth: int) -> object:
    """A personal field: its shape is kept for the sales centre, its text is not."""
    if isinstance(value, dict):
        return {
            mask_text(str(key)): (
                mask_resident_id(printable(item))
                if key == "resident_id" and isinstance(item, str) and len(item) == 18
                else MASKED
            )
            for key, item in list(value.items())[:MAX_ITEMS]
        }
    return MASKED if value is not None else None


def stored_payload(entry: object) -> str:
    """The entry as kept in the reconciliation queue: a JSON object of at most MAX_STORED
    characters, whatever was sent."""
    text = json.dumps({"received": redact(entry)}, ensure_ascii=False)
    if len(text) <= MAX_STORED:
        return text
    return json.dumps(
        {"received_excerpt": text[: MAX_STORED - 200], "truncated": True}, ensure_ascii=False
    )


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(mask_text(str(part)) for part in loc)


def validation_message(error: ValidationError) -> str:
    """Why the entry is not a valid event: the first problems with their fields. A problem in a
    personal field is named without its value (a validator's message may quote it)."""
    parts = []
    problems = error.errors(include_url=False, include_input=False)
    for detail in problems[:3]:
        loc = tuple(detail["loc"])
        cause = detail.get("ctx", {}).get("error")
        if isinstance(cause, CodeError):
            why = mask_text(f"{cause.kind}: {cause.reason}")  # its message quotes the value
        elif detail["type"] == "value_error" and any(str(p) in PERSONAL_KEYS for p in loc):
            why = "not valid (value not shown)"
        else:
            why = mask_text(detail["msg"])
        parts.append(f"{_location(loc) or 'event'}: {why}")
    if len(problems) > 3:
        parts.append(f"and {len(problems) - 3} more problems")
    return excerpt("malformed event: " + "; ".join(parts), MAX_MESSAGE)


def why(entry: object) -> str:
    """Validates the entry again for its error messages (it failed once already)."""
    try:
        EVENT.validate_python(entry)
    except ValidationError as error:
        return validation_message(error)
    # Valid on its own yet not taken as an event: e.g. a model instance of another kind.
    return "malformed event: not an event"


def describe(entry: object, terminal_id: str, message: str | None = None) -> Malformed:
    """Who the entry claims to be, as far as that can be trusted, and what to keep of it."""
    fields = entry if isinstance(entry, dict) else {}
    raw_id = fields.get("id")
    if isinstance(raw_id, str) and is_uuid7(raw_id):
        key = raw_id.lower()
    else:
        # The same entry sent again is the same row, answered as a duplicate.
        content = json.dumps(entry, sort_keys=True, ensure_ascii=False, default=repr)
        key = str(uuid.uuid5(_NAMESPACE, f"{terminal_id}\n{content}"))
    answer_id = raw_id if isinstance(raw_id, str) and len(raw_id) <= MAX_ANSWER_ID else key
    raw_seq = fields.get("seq")
    seq = raw_seq if type(raw_seq) is int and 1 <= raw_seq <= INT32_MAX else 0
    raw_type = fields.get("type")
    kind = raw_type if raw_type in {t.value for t in EventType} else UNKNOWN_TYPE
    try:
        occurred_at = _WHEN.validate_python(fields.get("occurred_at"))
        if problem(occurred_at) is not None:
            occurred_at = utcnow()
    except ValidationError:
        occurred_at = utcnow()
    return Malformed(
        id=key,
        answer_id=answer_id,
        seq=seq,
        type=str(kind),
        occurred_at=occurred_at,
        payload=stored_payload(entry),
        message=message if message is not None else why(entry),
    )


_INSERT = insert(SyncEvent.__table__)  # type: ignore[attr-defined]


def file(session: Session, context: TerminalContext, entry: Malformed) -> EventResult:
    """Files an entry that is not a valid event in the reconciliation queue, rejected as
    `malformed_event`, in the caller's transaction; the same entry again is answered as a
    duplicate with the first result."""
    savepoint = session.begin_nested()
    try:
        session.connection().execute(
            _INSERT,
            {
                "id": entry.id,
                "terminal_id": context.terminal.id,
                "outlet_id": context.outlet.id,
                "dealer_id": context.dealer.id,
                "seq": entry.seq,
                "type": entry.type,
                "occurred_at": entry.occurred_at,
                "received_at": utcnow(),
                "result": EventStatus.rejected.value,
                "reason": RejectReason.malformed_event.value,
                "message": entry.message,
                "payload": entry.payload,
                "resolution": "open",
            },
        )
        audit.record(
            session,
            actor=context.actor,
            entity_type="sync_event",
            entity_id=entry.id,
            action="reject",
            to_status=RejectReason.malformed_event.value,
            reason=entry.message[:500],
        )
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        first = session.exec(
            select(SyncEvent)
            .where(SyncEvent.terminal_id == context.terminal.id, SyncEvent.id == entry.id)
            .execution_options(populate_existing=True)
        ).first()
        if first is None:
            raise
        rejected = first.result == EventStatus.rejected.value
        return EventResult(
            id=entry.answer_id,
            seq=entry.seq,
            status=EventStatus.duplicate,
            reason=RejectReason(first.reason) if first.reason and rejected else None,
            message=first.message or "",
            original=EventStatus(first.result),
        )
    return EventResult(
        id=entry.answer_id,
        seq=entry.seq,
        status=EventStatus.rejected,
        reason=RejectReason.malformed_event,
        message=entry.message,
    )
