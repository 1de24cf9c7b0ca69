"""The number activation outbox: deliveries to the provisioning system by signed webhook,
with retries and back-off, and the backlog for the API."""

import json
import time
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Select, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backoffice.contracts.counter import DeliveryRun, OutboxSummary
from backoffice.core.config import Settings
from backoffice.core.crypto import NAME_KEYS, Cipher, CipherError
from backoffice.domain.channel import OutboxStatus, retry_delay
from backoffice.domain.counter import DELIVERY_HEADER, SIGNATURE_HEADER, sign
from backoffice.models import ActivationOutbox
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.bulk import insert_rows
from backoffice.services.counter.sales import move_paired_sim
from backoffice.services.counter.tables import NUMBERS, OUTBOX
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.ids import new_id
from shared.lifecycle import NumberStatus, SimStatus

# While one worker is sending, others leave the entry alone for this long.
_LEASE_SECONDS = 60
_BATCH = 100


def _claim(session: Session, entry_id: str, now: datetime) -> bool:
    """Pushes the entry's next attempt into the future; only the worker that did so sends."""
    claimed = (
        session.connection()
        .execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == entry_id)
            .where(OUTBOX.c.status == OutboxStatus.pending.value)
            .where(OUTBOX.c.next_attempt_at <= now)
            .values(next_attempt_at=now + timedelta(seconds=_LEASE_SECONDS))
        )
        .rowcount
    )
    session.commit()
    return claimed == 1


def _delivered(session: Session, entry: ActivationOutbox, now: datetime) -> None:
    session.connection().execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == entry.id)
        .where(OUTBOX.c.status == OutboxStatus.pending.value)
        .values(
            status=OutboxStatus.delivered.value,
            attempts=entry.attempts + 1,
            delivered_at=now,
            last_error=None,
        )
    )
    activated = (
        session.connection()
        .execute(
            update(NUMBERS)
            .where(NUMBERS.c.msisdn == entry.msisdn)
            .where(NUMBERS.c.status == NumberStatus.sold.value)
            .values(status=NumberStatus.active.value, version=NUMBERS.c.version + 1, updated_at=now)
        )
        .rowcount
    )
    if activated:
        move_paired_sim(session, entry.msisdn, SimStatus.sold, SimStatus.active)
        audit.record(
            session,
            actor="provisioning",
            entity_type="number",
            entity_id=entry.msisdn,
            action="activate",
            from_status=NumberStatus.sold.value,
            to_status=NumberStatus.active.value,
            reason=f"activation {entry.id} delivered",
        )
    session.commit()


def _failed(
    session: Session, entry: ActivationOutbox, now: datetime, error: str, max_attempts: int
) -> bool:
    attempts = entry.attempts + 1
    gave_up = attempts >= max_attempts
    session.connection().execute(
        update(OUTBOX)
        .where(OUTBOX.c.id == entry.id)
        .where(OUTBOX.c.status == OutboxStatus.pending.value)
        .values(
            attempts=attempts,
            last_error=error[:255],
            next_attempt_at=now + retry_delay(attempts),
            status=OutboxStatus.failed.value if gave_up else OutboxStatus.pending.value,
        )
    )
    if gave_up:
        audit.record(
            session,
            actor="provisioning",
            entity_type="number",
            entity_id=entry.msisdn,
            action="activation_failed",
            reason=f"gave up after {attempts} attempts: {error[:200]}",
        )
    session.commit()
    return gave_up


def _body(entry: ActivationOutbox, names: Cipher) -> bytes:
    """What provisioning receives: the stored entry with the buyer's name decrypted, which
    the outbox keeps encrypted like the sale does."""
    body = {}
    for key, value in json.loads(entry.payload).items():
        if key == "customer_name_cipher":
            key = "customer_name"
            value = names.decrypt(entry.sale_id, value) if value else None
        body[key] = value
    return json.dumps(body, ensure_ascii=False).encode()


def deliver_due(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> DeliveryRun:
    """Sends every entry that is due, one POST each; 2xx is delivered (and the number
    active), anything else is retried later with exponential back-off."""
    if not settings.activation_webhook_url or not settings.activation_webhook_secret:
        raise InvalidInput(
            "set HAOKA_ACTIVATION_WEBHOOK_URL and HAOKA_ACTIVATION_WEBHOOK_SECRET first",
            code="webhook_not_configured",
        )
    now = now or utcnow()
    names = NAME_KEYS.cipher(settings)
    due = list(
        session.exec(
            select(ActivationOutbox)
            .where(ActivationOutbox.status == OutboxStatus.pending.value)
            .where(col(ActivationOutbox.next_attempt_at) <= now)
            .order_by(col(ActivationOutbox.created_at))
            .limit(_BATCH)
            # Another worker may have counted attempts since these rows were last loaded.
            .execution_options(populate_existing=True)
        )
    )
    session.commit()
    run = DeliveryRun(attempted=0, delivered=0, failed=0)
    own_client = client is None
    http = client or httpx.Client(timeout=10.0)
    try:
        for entry in due:
            if not _claim(session, entry.id, now):
                continue
            run.attempted += 1
            try:
                body = _body(entry, names)
            except CipherError as exc:
                if _failed(session, entry, now, str(exc), settings.activation_max_attempts):
                    run.failed += 1
                continue
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(settings.activation_webhook_secret, int(time.time()), body),
                DELIVERY_HEADER: entry.id,
            }
            try:
                reply = http.post(settings.activation_webhook_url, content=body, headers=headers)
                error = None if reply.is_success else f"HTTP {reply.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                _delivered(session, entry, now)
                run.delivered += 1
            elif _failed(session, entry, now, error, settings.activation_max_attempts):
                run.failed += 1
    finally:
        if own_client:
            http.close()
    return run


def summary(session: Session) -> OutboxSummary:
    counts = dict(
        session.exec(
            select(ActivationOutbox.status, func.count()).group_by(ActivationOutbox.status)
        ).all()
    )
    oldest = session.exec(
        select(func.min(ActivationOutbox.created_at)).where(
            ActivationOutbox.status == OutboxStatus.pending.value
        )
    ).one()
    return OutboxSummary(
        pending=counts.get(OutboxStatus.pending.value, 0),
        failed=counts.get(OutboxStatus.failed.value, 0),
        delivered=counts.get(OutboxStatus.delivered.value, 0),
        oldest_pending_at=oldest,
    )


def entries(
    session: Session, status: str | None = None, limit: int = 200
) -> list[ActivationOutbox]:
    query = select(ActivationOutbox).order_by(col(ActivationOutbox.created_at)).limit(limit)
    if status:
        query = query.where(ActivationOutbox.status == status)
    return list(session.exec(query))


def retry(session: Session, entry_id: str, actor: str) -> ActivationOutbox:
    """A failed entry goes back in the queue, due now."""
    entry = session.get(ActivationOutbox, entry_id)
    if entry is None:
        raise NotFound(f"activation {entry_id} not found")
    if entry.status != OutboxStatus.failed.value:
        raise Conflict(f"activation {entry_id} is {entry.status}, not failed", code="not_failed")
    entry.status, entry.next_attempt_at, entry.attempts = OutboxStatus.pending.value, utcnow(), 0
    session.add(entry)
    audit.record(
        session,
        actor=actor,
        entity_type="number",
        entity_id=entry.msisdn,
        action="activation_retry",
        reason=f"activation {entry_id}",
    )
    session.commit()
    return entry


# --- the administrators' outbox page ----------------------------------------------------------

# A view of the pending entries, not a status: those whose last attempt failed, waiting to try
# again.
RETRYING = "retrying"
# Counts stop here ("more than"): delivered entries grow with every number sold, and a page
# counts an index range per status, never the whole table.
COUNT_CAP = 100_000
_OUTBOX_AUDIT_COLUMNS = (
    "id",
    "actor",
    "entity_type",
    "entity_id",
    "action",
    "item_count",
    "reason",
)


def _in_view(query: Select, view: str | None) -> Select:  # type: ignore[type-arg]
    if view == RETRYING:
        return query.where(OUTBOX.c.status == OutboxStatus.pending.value).where(
            OUTBOX.c.last_error.is_not(None)
        )
    if view:
        return query.where(OUTBOX.c.status == view)
    return query


def view_counts(session: Session, cap: int = COUNT_CAP) -> dict[str, int]:
    """Entries per status, and retrying ones, each counted up to `cap` + 1 (more is shown as
    "more than `cap`")."""
    counts = {}
    for view in (*(s.value for s in OutboxStatus), RETRYING):
        found = _in_view(sa_select(OUTBOX.c.id), view).limit(cap + 1).subquery()
        counts[view] = (
            session.connection().execute(sa_select(func.count()).select_from(found)).scalar_one()
        )
    return counts


def oldest_pending_at(session: Session) -> datetime | None:
    return session.exec(
        select(func.min(ActivationOutbox.next_attempt_at)).where(
            ActivationOutbox.status == OutboxStatus.pending.value
        )
    ).one()


def entries_page(
    session: Session, view: str | None = None, after: str | None = None, limit: int = 50
) -> tuple[list[ActivationOutbox], str | None]:
    """A page of entries newest first (`view`: a status, RETRYING, or None for all), and the
    key of the next page: keyset pagination on the id, a UUIDv7."""
    query = _in_view(select(ActivationOutbox), view)
    if after:
        query = query.where(col(ActivationOutbox.id) < after)
    rows = list(session.exec(query.order_by(col(ActivationOutbox.id).desc()).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def retry_failed(session: Session, actor: str) -> int:
    """Every failed entry back in the queue, due now, as `retry` does one; how many. One
    conditional UPDATE: an entry retried meanwhile by someone else is not counted twice."""
    moved = (
        session.connection()
        .execute(
            update(OUTBOX)
            .where(OUTBOX.c.status == OutboxStatus.failed.value)
            .values(status=OutboxStatus.pending.value, next_attempt_at=utcnow(), attempts=0)
            .returning(OUTBOX.c.id, OUTBOX.c.msisdn)
        )
        .all()
    )
    insert_rows(
        session,
        "audit_entry",
        _OUTBOX_AUDIT_COLUMNS,
        (
            (new_id(), actor, "number", msisdn, "activation_retry", 1, f"activation {entry_id}")
            for entry_id, msisdn in moved
        ),
    )
    session.commit()
    return len(moved)
