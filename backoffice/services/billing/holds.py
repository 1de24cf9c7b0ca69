"""Single-item lifecycle moves of the billing centre: admin holds (freeze, and unfreeze back to
the status the item had) of numbers and top-up cards, voiding a frozen card, deactivating a
number into cooling, and writing a SIM card off as damaged or lost.

Each move reads the item, asks its lifecycle table (shared/lifecycle.py) where the action
leads, and writes that with one UPDATE conditional on the version it read: a move racing a
sale, a receipt or another clerk either wins whole or reads the item again and decides anew.
It is audited with the clerk's reason in the same transaction.

Refusals are typed, for the API and the pages alike, each with a stable code and a message
naming the item: ItemNotFound (404), IllegalMove (409: the lifecycle does not allow it from
the item's status), ItemChanged (409: it kept changing under the move), BadItemKey and
ReasonRequired (422)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Column, Row, Select, Table, select, update
from sqlmodel import Session

from backoffice.contracts.billing import LifecycleMovePublic
from backoffice.core.config import get_settings
from backoffice.models import MobileNumber, NumberReservation, SimCard, Voucher
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.checks import excerpt, problem
from shared.codes import CodeError, parse_iccid, parse_msisdn, parse_voucher_serial
from shared.lifecycle import (
    NUMBER_LIFECYCLE,
    SIM_LIFECYCLE,
    VOUCHER_LIFECYCLE,
    IllegalTransition,
    ItemState,
    Lifecycle,
    NumberAction,
    NumberStatus,
    SimAction,
    VoucherAction,
)

ItemKind = Literal["number", "voucher", "sim"]
# Every move as a page, a route or a command calls it: (session, key, reason, actor).
Move = Callable[[Session, str, str, str], LifecycleMovePublic]
REASON_MAX = 500
# Reads and conditional writes before a move racing other writers gives up (ItemChanged).
_ATTEMPTS = 3


@dataclass
class ItemNotFound(NotFound):
    """No number, card or SIM with that key."""

    kind: str = ""
    key: str = ""


@dataclass
class BadItemKey(InvalidInput):
    """The key cannot name an item of the kind (an msisdn of 10 digits, say)."""

    kind: str = ""
    key: str = ""


@dataclass
class IllegalMove(Conflict):
    """The item's lifecycle does not allow the action from its status."""

    code: str = "illegal_transition"
    kind: str = ""
    key: str = ""
    status: str = ""
    action: str = ""


@dataclass
class ItemChanged(Conflict):
    """The item changed between each reading and writing of it (busy item); try again."""

    code: str = "item_changed"
    kind: str = ""
    key: str = ""


@dataclass
class ReasonRequired(InvalidInput):
    """A move without a reason (or with one the audit log cannot hold)."""

    code: str = "reason_required"


@dataclass(frozen=True)
class _Kind:
    name: ItemKind  # also the audit log's entity type
    label: str  # how messages name it
    table: Table
    key: Column  # type: ignore[type-arg]
    lifecycle: Lifecycle[Any, Any]
    parse: Callable[[str], str]
    # What a move reads of the row (never a card's PIN ciphertext).
    columns: tuple[str, ...]

    def read(self) -> Select[Any]:
        return select(*(self.table.c[name] for name in self.columns))


_NUMBERS = MobileNumber.__table__  # type: ignore[attr-defined]
_VOUCHERS = Voucher.__table__  # type: ignore[attr-defined]
_SIMS = SimCard.__table__  # type: ignore[attr-defined]
_RESERVATIONS = NumberReservation.__table__  # type: ignore[attr-defined]
_HELD = ("status", "held_from", "version", "outlet_id")
NUMBER = _Kind(
    "number", "number", _NUMBERS, _NUMBERS.c.msisdn, NUMBER_LIFECYCLE, parse_msisdn, _HELD
)
VOUCHER = _Kind(
    "voucher",
    "top-up card",
    _VOUCHERS,
    _VOUCHERS.c.serial,
    VOUCHER_LIFECYCLE,
    parse_voucher_serial,
    _HELD,
)
SIM = _Kind(
    "sim",
    "SIM card",
    _SIMS,
    _SIMS.c.iccid,
    SIM_LIFECYCLE,
    parse_iccid,
    ("status", "version", "msisdn"),
)


def clean_reason(reason: str) -> str:
    """The reason as the audit log records it: trimmed, present, at most REASON_MAX
    characters, without what the database cannot store."""
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired("give a reason: it is recorded in the audit log with the move")
    if len(text) > REASON_MAX:
        raise ReasonRequired(
            f"the reason has {len(text)} characters; at most {REASON_MAX}",
            code="reason_too_long",
        )
    if found := problem(text):
        raise ReasonRequired(f"the reason {found}", code="invalid_reason")
    return text


def _key(kind: _Kind, text: str) -> str:
    try:
        return kind.parse(text)
    except CodeError as exc:
        shown = excerpt(str(text).strip(), 40)
        raise BadItemKey(
            f"{kind.label} {shown!r} {exc.reason}",
            code=f"invalid_{kind.name}",
            kind=kind.name,
            key=shown,
        ) from exc


def _current(session: Session, kind: _Kind, key: str) -> Row[Any]:
    row = session.connection().execute(kind.read().where(kind.key == key)).first()
    if row is None:
        raise ItemNotFound(
            f"{kind.label} {key} not found", code=f"{kind.name}_not_found", kind=kind.name, key=key
        )
    return row


def _next_state(kind: _Kind, key: str, row: Row[Any], action: str) -> ItemState[Any]:
    held_from = getattr(row, "held_from", None)
    try:
        return kind.lifecycle.apply(ItemState(row.status, held_from), action)
    except IllegalTransition as exc:
        allowed = ", ".join(sorted(s.value for s in kind.lifecycle.sources(action)))
        # The lifecycle's wording ("<entity> in status sold cannot be frozen"), naming the item.
        refusal = str(exc)[len(exc.entity) :]
        raise IllegalMove(
            f"{kind.label} {key}{refusal} (only from {allowed})",
            kind=kind.name,
            key=key,
            status=row.status,
            action=str(action),
        ) from exc
    except ValueError as exc:  # a status the lifecycle does not know, or a broken hold
        raise IllegalMove(
            f"{kind.label} {key} is in an inconsistent state: {exc}",
            code="inconsistent_item",
            kind=kind.name,
            key=key,
            status=row.status,
            action=str(action),
        ) from exc


# Columns of the item's UPDATE beyond status, held_from and version, from the row as read and
# the state it moves to.
Extra = Callable[[Row[Any], ItemState[Any], datetime], dict[str, object]]


@dataclass(frozen=True)
class _Moved:
    kind: _Kind
    key: str
    before: Row[Any]
    after: ItemState[Any]
    at: datetime
    reason: str
    values: dict[str, object] = field(default_factory=dict)


def _write(
    session: Session,
    kind: _Kind,
    text: str,
    action: str,
    reason: str,
    extra: Extra | None = None,
) -> _Moved:
    """Reads the item, applies the action and writes the result if the item is still as it
    was read; else reads it again (a few times). Leaves the transaction open."""
    why = clean_reason(reason)
    key = _key(kind, text)
    t = kind.table
    for _ in range(_ATTEMPTS):
        row = _current(session, kind, key)
        after = _next_state(kind, key, row, action)
        now = utcnow()
        values: dict[str, object] = {"status": after.status.value}
        if "held_from" in t.c:
            values["held_from"] = None if after.held_from is None else after.held_from.value
        if extra is not None:
            values.update(extra(row, after, now))
        written = (
            session.connection()
            .execute(
                update(t)
                .where(kind.key == key)
                .where(t.c.version == row.version)
                .values(**values, version=t.c.version + 1, updated_at=now)
            )
            .rowcount
        )
        if written == 1:
            return _Moved(kind, key, row, after, now, why, values)
    session.rollback()
    raise ItemChanged(
        f"{kind.label} {key} kept changing while it was being moved ({action}); try again",
        kind=kind.name,
        key=key,
    )


def _finish(session: Session, moved: _Moved, action: str, actor: str) -> LifecycleMovePublic:
    """Audits the move and commits it."""
    entry = audit.record(
        session,
        actor=actor,
        entity_type=moved.kind.name,
        entity_id=moved.key,
        action=str(action),
        from_status=moved.before.status,
        to_status=moved.after.status.value,
        reason=moved.reason,
    )
    session.commit()
    return LifecycleMovePublic(
        item_kind=moved.kind.name,
        item=moved.key,
        action=str(action),
        from_status=moved.before.status,
        to_status=moved.after.status.value,
        held_from=None if moved.after.held_from is None else moved.after.held_from.value,
        cooling_until=moved.values.get("cooling_until"),  # type: ignore[arg-type]
        unpaired=moved.before.msisdn if moved.kind is SIM else None,
        reason=moved.reason,
        actor=actor,
        at=entry.at,  # type: ignore[arg-type]
    )


# --- numbers ---------------------------------------------------------------------------------


def _leave_reservation(row: Row[Any], after: ItemState[Any], _: datetime) -> dict[str, object]:
    """A reserved number frozen: its reservation ends, and one reserved from the pool leaves
    the outlet that reserved it (the outlet's terminals learn it at their next pull)."""
    if row.status == NumberStatus.reserved.value and after.held_from == NumberStatus.available:
        return {"outlet_id": None, "prev_outlet_id": row.outlet_id}
    return {}


def freeze_number(session: Session, msisdn: str, reason: str, actor: str) -> LifecycleMovePublic:
    """Admin hold on a number not yet sold (imported, in the pool, allocated, in an outlet's
    stock, reserved): nobody can allocate, reserve or sell it until it is unfrozen. A
    reservation on it ends; the unfreeze returns it to where it was before that."""
    moved = _write(session, NUMBER, msisdn, NumberAction.freeze, reason, _leave_reservation)
    if moved.before.status == NumberStatus.reserved.value:
        session.connection().execute(
            update(_RESERVATIONS)
            .where(_RESERVATIONS.c.msisdn == moved.key)
            .where(_RESERVATIONS.c.status == "active")
            .values(status="cancelled")
        )
    return _finish(session, moved, NumberAction.freeze, actor)


def unfreeze_number(session: Session, msisdn: str, reason: str, actor: str) -> LifecycleMovePublic:
    """Ends an admin hold: the number is back in the status it was frozen from."""
    moved = _write(session, NUMBER, msisdn, NumberAction.unfreeze, reason)
    return _finish(session, moved, NumberAction.unfreeze, actor)


def deactivate_number(
    session: Session,
    msisdn: str,
    reason: str,
    actor: str,
    *,
    cooling_days: int | None = None,
) -> LifecycleMovePublic:
    """An active number is switched off (the subscriber left): it cools for `cooling_days`
    (default: the number_cooling_days setting), then the worker returns it to the pool
    (services/billing/lifecycle.py)."""
    days = get_settings().number_cooling_days if cooling_days is None else cooling_days
    if days < 0:
        raise InvalidInput(f"cooling days must be 0 or more, got {days}", code="invalid_cooling")

    def cooling(_row: Row[Any], _after: ItemState[Any], now: datetime) -> dict[str, object]:
        return {"cooling_until": now + timedelta(days=days)}

    moved = _write(session, NUMBER, msisdn, NumberAction.deactivate, reason, cooling)
    return _finish(session, moved, NumberAction.deactivate, actor)


# --- top-up cards ----------------------------------------------------------------------------


def freeze_voucher(session: Session, serial: str, reason: str, actor: str) -> LifecycleMovePublic:
    """Admin hold on a card not yet redeemed: it cannot be sold, and the charging system is
    told it is frozen if someone tries to redeem it."""
    moved = _write(session, VOUCHER, serial, VoucherAction.freeze, reason)
    return _finish(session, moved, VoucherAction.freeze, actor)


def unfreeze_voucher(session: Session, serial: str, reason: str, actor: str) -> LifecycleMovePublic:
    """Ends an admin hold: the card is back in the status it was frozen from (an active card
    of an expired batch then expires at the worker's next round)."""
    moved = _write(session, VOUCHER, serial, VoucherAction.unfreeze, reason)
    return _finish(session, moved, VoucherAction.unfreeze, actor)


def void_voucher(session: Session, serial: str, reason: str, actor: str) -> LifecycleMovePublic:
    """A frozen card is voided for good (stolen, misprinted PIN): it never sells or redeems."""
    moved = _write(session, VOUCHER, serial, VoucherAction.void, reason)
    return _finish(session, moved, VoucherAction.void, actor)


# --- SIM cards -------------------------------------------------------------------------------


def _unpair(_row: Row[Any], _after: ItemState[Any], _now: datetime) -> dict[str, object]:
    return {"msisdn": None}


def _write_off(
    session: Session, iccid: str, action: SimAction, reason: str, actor: str
) -> LifecycleMovePublic:
    """A SIM card that will never be used: its status ends, and a number paired with it is
    set free to be paired with another card (audited on the number too)."""
    moved = _write(session, SIM, iccid, action, reason, _unpair)
    msisdn = moved.before.msisdn
    if msisdn is not None:
        session.connection().execute(
            update(_NUMBERS)
            .where(_NUMBERS.c.msisdn == msisdn)
            .where(_NUMBERS.c.iccid == moved.key)
            .values(iccid=None, version=_NUMBERS.c.version + 1, updated_at=moved.at)
        )
        audit.record(
            session,
            actor=actor,
            entity_type=NUMBER.name,
            entity_id=msisdn,
            action="unpair",
            reason=f"SIM card {moved.key} {moved.after.status.value}: {moved.reason}",
        )
    return _finish(session, moved, action, actor)


def mark_sim_damaged(session: Session, iccid: str, reason: str, actor: str) -> LifecycleMovePublic:
    return _write_off(session, iccid, SimAction.mark_damaged, reason, actor)


def mark_sim_lost(session: Session, iccid: str, reason: str, actor: str) -> LifecycleMovePublic:
    return _write_off(session, iccid, SimAction.mark_lost, reason, actor)
