"""The lifecycle's scheduled steps, run by the worker every round (and `haoka-office
lifecycle-sweep`): numbers whose cooling has ended go back to the pool, active top-up cards of
batches past their expiry date expire.

Both are set-based and bounded: a batch of due keys is read by index, moved with one UPDATE
that checks each row is still due (so that two workers, or a worker and a clerk, never move
or audit one item twice), audited one row per item in one bulk insert, and committed, batch
after batch. Nothing due costs an index probe, and a round that finds nothing changes nothing:
the steps are idempotent."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, select, update
from sqlmodel import Session

from backoffice.domain.calendar import business_day
from backoffice.models import MobileNumber, SimCard, Voucher, VoucherBatch
from backoffice.models.types import utcnow
from backoffice.services.bulk import insert_rows
from shared.ids import new_id
from shared.lifecycle import (
    NUMBER_LIFECYCLE,
    VOUCHER_LIFECYCLE,
    NumberAction,
    VoucherAction,
)

BATCH = 1_000
_NUMBERS = MobileNumber.__table__  # type: ignore[attr-defined]
_SIMS = SimCard.__table__  # type: ignore[attr-defined]
_VOUCHERS = Voucher.__table__  # type: ignore[attr-defined]
_BATCHES = VoucherBatch.__table__  # type: ignore[attr-defined]
_AUDIT_COLUMNS = (
    "id",
    "actor",
    "entity_type",
    "entity_id",
    "action",
    "from_status",
    "to_status",
    "item_count",
    "reason",
)

# From the transition tables: which statuses each step moves, and where to.
(_COOLING,) = NUMBER_LIFECYCLE.sources(NumberAction.end_cooling)
_POOL = NUMBER_LIFECYCLE.target(_COOLING, NumberAction.end_cooling)
(_ACTIVE_CARD,) = VOUCHER_LIFECYCLE.sources(VoucherAction.expire)
_EXPIRED_CARD = VOUCHER_LIFECYCLE.target(_ACTIVE_CARD, VoucherAction.expire)


@dataclass(frozen=True)
class Sweep:
    """What one run of the steps moved."""

    numbers_recycled: int
    vouchers_expired: int


def _audit_rows(
    session: Session, actor: str, entity_type: str, action: str, moved: Sequence[tuple[str, str]]
) -> None:
    """One audit row per item (key, reason), as audit.record writes them, in one bulk insert."""
    source, target = (
        (_COOLING.value, _POOL.value)
        if entity_type == "number"
        else (_ACTIVE_CARD.value, _EXPIRED_CARD.value)
    )
    insert_rows(
        session,
        "audit_entry",
        _AUDIT_COLUMNS,
        ((new_id(), actor, entity_type, key, action, source, target, 1, why) for key, why in moved),
    )


def end_cooling(
    session: Session, actor: str = "worker", *, now: datetime | None = None, batch: int = BATCH
) -> int:
    """Returns to the pool (available, owned by no outlet) every number whose cooling ended by
    `now`; the SIM card it was paired with (its last subscriber's) is unpaired, so the number
    can go out with a new card. Returns how many numbers."""
    moment = now or utcnow()
    n = _NUMBERS
    total = 0
    while True:
        due = (
            session.connection()
            .execute(
                select(n.c.msisdn, n.c.iccid, n.c.cooling_until)
                .where(n.c.cooling_until.is_not(None))
                .where(n.c.cooling_until <= moment)
                .where(n.c.status == _COOLING.value)
                # The index's own order: a batch reads its rows and stops, where a second
                # sort key would sort every number due.
                .order_by(n.c.cooling_until)
                .limit(batch)
            )
            .all()
        )
        if not due:
            break
        recycled = set(
            session.connection()
            .execute(
                update(n)
                .where(n.c.msisdn.in_([row.msisdn for row in due]))
                .where(n.c.status == _COOLING.value)
                .where(n.c.cooling_until <= moment)
                .values(
                    status=_POOL.value,
                    held_from=None,
                    cooling_until=None,
                    iccid=None,
                    outlet_id=None,
                    prev_outlet_id=n.c.outlet_id,
                    version=n.c.version + 1,
                    updated_at=moment,
                )
                .returning(n.c.msisdn)
            )
            .scalars()
        )
        if recycled:
            session.connection().execute(
                update(_SIMS)
                .where(_SIMS.c.msisdn.in_(sorted(recycled)))
                .values(msisdn=None, version=_SIMS.c.version + 1, updated_at=moment)
            )
            _audit_rows(
                session,
                actor,
                "number",
                NumberAction.end_cooling.value,
                [
                    (
                        row.msisdn,
                        f"cooling ended {row.cooling_until.isoformat(timespec='seconds')}"
                        + (f"; SIM card {row.iccid} unpaired" if row.iccid else ""),
                    )
                    for row in due
                    if row.msisdn in recycled
                ],
            )
        session.commit()
        total += len(recycled)
        if len(due) < batch:
            break
    return total


def expire_vouchers(
    session: Session, actor: str = "worker", *, today: date | None = None, batch: int = BATCH
) -> int:
    """Expires the active (sold, unredeemed) cards of every batch whose last day of use
    (`expires_on`, a business day in China time) is before `today`. Returns how many."""
    day = today or business_day(utcnow())
    v, b = _VOUCHERS, _BATCHES
    has_active = exists().where(v.c.batch_id == b.c.id).where(v.c.status == _ACTIVE_CARD.value)
    expired_batches = (
        session.connection()
        .execute(
            select(b.c.id, b.c.code, b.c.expires_on)
            .where(b.c.expires_on < day)
            .where(has_active)
            .order_by(b.c.expires_on, b.c.id)
        )
        .all()
    )
    total = 0
    for batch_id, code, expires_on in expired_batches:
        why = f"batch {code} expired after {expires_on.isoformat()}"
        while True:
            due = list(
                session.connection()
                .execute(
                    select(v.c.serial)
                    .where(v.c.batch_id == batch_id)
                    .where(v.c.status == _ACTIVE_CARD.value)
                    .limit(batch)
                )
                .scalars()
            )
            if not due:
                break
            expired = list(
                session.connection()
                .execute(
                    update(v)
                    .where(v.c.serial.in_(due))
                    .where(v.c.status == _ACTIVE_CARD.value)
                    .values(
                        status=_EXPIRED_CARD.value,
                        version=v.c.version + 1,
                        updated_at=utcnow(),
                    )
                    .returning(v.c.serial)
                )
                .scalars()
            )
            if expired:
                _audit_rows(
                    session,
                    actor,
                    "voucher",
                    VoucherAction.expire.value,
                    [(serial, why) for serial in sorted(expired)],
                )
            session.commit()
            total += len(expired)
            if len(due) < batch:
                break
    return total


def run_due(session: Session, actor: str = "worker") -> Sweep:
    """The worker's lifecycle steps: cooling numbers back to the pool, expired cards."""
    return Sweep(
        numbers_recycled=end_cooling(session, actor),
        vouchers_expired=expire_vouchers(session, actor),
    )
