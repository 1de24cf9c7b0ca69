"""Reservations of one number for a limited time within a daily quota per outlet; expired
ones release themselves."""

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import text, update
from sqlmodel import Session

from backoffice.models import MobileNumber, NumberReservation, Outlet
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.codes import CodeError, parse_msisdn
from shared.ids import new_id
from shared.lifecycle import NumberStatus
from shared.sync import Reservation

_NUMBERS = MobileNumber.__table__  # type: ignore[attr-defined]
_RESERVATIONS = NumberReservation.__table__  # type: ignore[attr-defined]

# One upsert counts the reservation and checks the quota: concurrent clerks of one outlet
# serialize on the counter row and the one past the quota gets no row back.
_TAKE_QUOTA = text(
    "INSERT INTO reservation_quota (outlet_id, day, used) VALUES (:outlet, :day, 1) "
    "ON CONFLICT (outlet_id, day) DO UPDATE SET used = reservation_quota.used + 1 "
    "WHERE reservation_quota.used < :quota RETURNING used"
)


def _public(row: NumberReservation) -> Reservation:
    return Reservation(id=row.id, msisdn=row.msisdn, status=row.status, expires_at=row.expires_at)


def reserve(
    session: Session,
    outlet: Outlet,
    msisdn: str,
    actor: str,
    minutes: int,
    terminal_id: str | None = None,
) -> Reservation:
    """Holds a number from the central pool (or the outlet's own stock) for `minutes`.
    Of concurrent requests for one number exactly one wins: a single conditional UPDATE."""
    try:
        msisdn = parse_msisdn(msisdn)
    except CodeError as exc:
        raise InvalidInput(str(exc), code="invalid_msisdn") from exc
    expire_reservations(session, actor)
    if outlet.reservation_quota <= 0:
        raise Conflict(f"outlet {outlet.code} may not reserve numbers", code="quota_exhausted")
    now = utcnow()
    used = session.execute(
        _TAKE_QUOTA, {"outlet": outlet.id, "day": now.date(), "quota": outlet.reservation_quota}
    ).scalar()
    if used is None:
        session.rollback()
        raise Conflict(
            f"outlet {outlet.code} has used its {outlet.reservation_quota} reservations today",
            code="quota_exhausted",
        )
    statement = (
        update(_NUMBERS)
        .where(_NUMBERS.c.msisdn == msisdn)
        .where(
            (_NUMBERS.c.status == NumberStatus.available.value)
            | (
                (_NUMBERS.c.status == NumberStatus.in_stock.value)
                & (_NUMBERS.c.outlet_id == outlet.id)
            )
        )
        .values(
            status=NumberStatus.reserved.value,
            held_from=_NUMBERS.c.status,
            outlet_id=outlet.id,
            version=_NUMBERS.c.version + 1,
            updated_at=now,
        )
        .returning(_NUMBERS.c.held_from)
    )
    held_from = session.connection().execute(statement).scalar()
    if held_from is None:
        session.rollback()
        raise Conflict(f"number {msisdn} cannot be reserved now", code="number_not_available")
    row = NumberReservation(
        id=new_id(),
        msisdn=msisdn,
        outlet_id=outlet.id,
        terminal_id=terminal_id,
        status="active",
        held_from=held_from,
        reserved_by=actor,
        reserved_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(row)
    audit.record(
        session,
        actor=actor,
        entity_type="number",
        entity_id=msisdn,
        action="reserve",
        from_status=held_from,
        to_status=NumberStatus.reserved.value,
        reason=f"for outlet {outlet.code} until {row.expires_at.isoformat()}",
    )
    session.commit()
    return _public(row)


def _release(session: Session, rows: list[tuple[str, str]], actor: str, why: str) -> None:
    """Reserved numbers back to where they were: the pool (leaving the outlet) or its stock."""
    by_origin: dict[str, list[str]] = defaultdict(list)
    for msisdn, held_from in rows:
        by_origin[held_from].append(msisdn)
    for held_from, msisdns in by_origin.items():
        back_to_pool = held_from == NumberStatus.available.value
        session.connection().execute(
            update(_NUMBERS)
            .where(_NUMBERS.c.msisdn.in_(msisdns))
            .where(_NUMBERS.c.status == NumberStatus.reserved.value)
            .values(
                status=held_from,
                held_from=None,
                outlet_id=None if back_to_pool else _NUMBERS.c.outlet_id,
                prev_outlet_id=_NUMBERS.c.outlet_id if back_to_pool else _NUMBERS.c.prev_outlet_id,
                version=_NUMBERS.c.version + 1,
                updated_at=utcnow(),
            )
        )
        audit.record(
            session,
            actor=actor,
            entity_type="number",
            entity_id=msisdns[0] if len(msisdns) == 1 else f"{len(msisdns)} numbers",
            action="release_reservation",
            from_status=NumberStatus.reserved.value,
            to_status=held_from,
            item_count=len(msisdns),
            reason=why,
        )


def expire_reservations(session: Session, actor: str = "system") -> int:
    """Releases every reservation past its time; returns how many."""
    expired = [
        (r[0], r[1])
        for r in session.connection().execute(
            update(_RESERVATIONS)
            .where(_RESERVATIONS.c.status == "active")
            .where(_RESERVATIONS.c.expires_at < utcnow())
            .values(status="expired")
            .returning(_RESERVATIONS.c.msisdn, _RESERVATIONS.c.held_from)
        )
    ]
    if expired:
        _release(session, expired, actor, "reservation expired")
    session.commit()
    return len(expired)


def cancel(
    session: Session, reservation_id: str, actor: str, outlet_id: str | None = None
) -> Reservation:
    row = session.get(NumberReservation, reservation_id)
    if row is None or (outlet_id is not None and row.outlet_id != outlet_id):
        raise NotFound(f"reservation {reservation_id} not found", code="reservation_not_found")
    cancelled = (
        session.connection()
        .execute(
            update(_RESERVATIONS)
            .where(_RESERVATIONS.c.id == reservation_id)
            .where(_RESERVATIONS.c.status == "active")
            .values(status="cancelled")
        )
        .rowcount
    )
    if not cancelled:
        session.rollback()
        raise Conflict(f"reservation {reservation_id} is not active", code="reservation_closed")
    _release(session, [(row.msisdn, row.held_from)], actor, "reservation cancelled")
    session.commit()
    session.refresh(row)
    return _public(row)
