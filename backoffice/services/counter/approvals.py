"""Online approval of price overrides: the terminal sends the dealer manager's code and PIN,
the back office checks the price against the dealer's caps and the PIN against its hash
(locking the manager's approvals out for a while after repeated wrong PINs), and answers a
signed approval bound to that terminal, sale, item and price, which the sale event carries."""

from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from backoffice.core.config import Settings
from backoffice.core.security import hash_password, verify_password
from backoffice.domain.users import Role
from backoffice.models import PinLockout, User
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel.dealers import TerminalContext, require_active_dealer
from backoffice.services.counter import pricing
from backoffice.services.counter.outcomes import Rejection
from backoffice.services.errors import Conflict, Forbidden, InvalidInput
from shared.overrides import override_refusal
from shared.sync import ApprovalGranted, ApprovalRequest

# A 4-digit PIN has 10,000 values: five tries per quarter hour make guessing one take weeks,
# and every wrong one is in the audit log.
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)

_LOCKOUTS = PinLockout.__table__  # type: ignore[attr-defined]


@cache
def _decoy_hash() -> str:
    # Checked for unknown managers too, so that the answer's timing does not tell them apart.
    return hash_password("not-a-manager-pin")


def _manager(session: Session, context: TerminalContext, username: str) -> User | None:
    """An active dealer manager of the terminal's dealer who may work at its outlet."""
    return session.exec(
        select(User)
        .where(User.username == username)
        .where(User.dealer_id == context.dealer.id)
        .where(User.role == Role.dealer_manager.value)
        .where(col(User.is_active))
        .where(col(User.outlet_id).is_(None) | (User.outlet_id == context.outlet.id))
    ).first()


def _lockout(session: Session, user_id: str, now: datetime) -> tuple[int, datetime | None]:
    """The manager's failures so far and the end of a lock-out that is on (else None). The
    statement writes the row, which holds it (PostgreSQL) or the database (SQLite) until the
    commit, so concurrent attempts are counted one after the other."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    touch = (
        dialect.insert(_LOCKOUTS)
        .values(user_id=user_id, failures=0)
        .on_conflict_do_update(
            index_elements=[_LOCKOUTS.c.user_id], set_={"failures": _LOCKOUTS.c.failures}
        )
        .returning(_LOCKOUTS.c.failures, _LOCKOUTS.c.locked_until)
    )
    failures, locked_until = session.connection().execute(touch).one()
    return failures, locked_until if locked_until is not None and locked_until > now else None


def _count(
    session: Session, user_id: str, pin_ok: bool, failures: int, now: datetime
) -> datetime | None:
    """Records one PIN attempt; returns when the lock-out it starts ends (else None)."""
    if pin_ok:
        values: dict[str, object] = {"failures": 0, "locked_until": None}
    elif failures + 1 >= MAX_FAILURES:
        values = {"failures": 0, "locked_until": now + LOCKOUT, "last_failure_at": now}
    else:
        values = {"failures": failures + 1, "last_failure_at": now}
    session.connection().execute(
        update(_LOCKOUTS).where(_LOCKOUTS.c.user_id == user_id).values(**values)
    )
    return values.get("locked_until")  # type: ignore[return-value]


def approve(
    session: Session, context: TerminalContext, request: ApprovalRequest, settings: Settings
) -> ApprovalGranted:
    """A signed approval of one line's price, or a refusal: over the caps (409
    override_over_cap), wrong manager or PIN (403 approval_refused), too many wrong PINs
    (403 approvals_locked)."""
    require_active_dealer(context)
    now = utcnow()
    book = pricing.price_book(session, context.dealer, settings)
    try:
        listed = book.price(request.price_list_version, request.product, now).retail_fen
    except Rejection as refused:
        raise Conflict(refused.message, code=refused.reason.value) from None
    if request.price_fen == listed:
        raise InvalidInput(
            f"{request.price_fen} fen is the list price of {request.product}: nothing to approve",
            code="no_override",
        )
    refusal = override_refusal(
        book.caps(request.price_list_version), listed, request.price_fen, online=True
    )
    if refusal is not None:
        raise Conflict(f"{request.item}: {refusal}", code="override_over_cap")
    manager = _manager(session, context, request.manager)
    what = (
        f"{request.item} on sale {request.sale_id}: {request.price_fen} fen instead of "
        f"{listed} fen ({request.reason})"
    )
    actor = f"{context.actor}/{request.manager}"
    if manager is None:
        verify_password(_decoy_hash(), request.pin)  # as long as a manager's check takes
        audit.record(
            session,
            actor=actor,
            entity_type="sale",
            entity_id=request.sale_id,
            action="approval_refused",
            reason=f"{request.manager} is no manager of dealer {context.dealer.code}; {what}",
        )
        session.commit()
        raise Forbidden("wrong manager code or PIN", code="approval_refused")
    # A locked-out manager's PIN is not even checked: no argon2 work for a guesser.
    failures, locked_until = _lockout(session, manager.id, now)
    pin_ok, locked_before = False, locked_until is not None
    if not locked_before:
        pin_ok = manager.pin_hash is not None and verify_password(manager.pin_hash, request.pin)
        locked_until = _count(session, manager.id, pin_ok, failures, now)
    if not pin_ok or locked_until is not None:
        audit.record(
            session,
            actor=actor,
            entity_type="user",
            entity_id=manager.id,
            action="approval_locked_out" if locked_before else "approval_pin_failed",
            reason=what
            + (f"; approvals locked until {locked_until.isoformat()}" if locked_until else ""),
        )
        session.commit()
        if locked_until is not None:
            raise Forbidden(
                f"too many wrong PINs: {manager.username} cannot approve until "
                f"{locked_until.isoformat(timespec='minutes')} (UTC)",
                code="approvals_locked",
            )
        raise Forbidden("wrong manager code or PIN", code="approval_refused")
    claims = pricing.ApprovalClaims(
        terminal_id=context.terminal.id,
        sale_id=request.sale_id,
        item=request.item,
        list_fen=listed,
        price_fen=request.price_fen,
        approved_by=manager.username,
    )
    token, expires = pricing.sign_approval(book.approval_key, claims, now)
    audit.record(
        session,
        actor=actor,
        entity_type="sale",
        entity_id=request.sale_id,
        action="approve_override",
        reason=what,
    )
    session.commit()
    return ApprovalGranted(
        approval=token,
        approved_by=manager.username,
        list_price_fen=listed,
        price_fen=request.price_fen,
        expires_at=expires,
    )
