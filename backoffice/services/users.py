"""Back-office users: accounts (creation, deactivation, passwords, dealer staff's PINs), log-in
with its limits per account and per client address, and the sessions (tokens) it hands out."""

import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from limits import RateLimitItem, parse_many
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backoffice.contracts.users import UserCreate
from backoffice.core.config import Settings
from backoffice.core.i18n import N_
from backoffice.core.security import (
    CLOCK_LEEWAY,
    IssuedToken,
    create_access_token,
    hash_password,
    verify_password,
)
from backoffice.domain.users import PIN_PATTERN, PIN_ROLES, Role, password_problem
from backoffice.models import RevokedToken, User
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    Unauthenticated,
)
from backoffice.services.rate_limits import DatabaseStorage
from shared.ids import new_id

# Verifying against a real hash even for unknown users keeps the timing the same.
_DUMMY_HASH = hash_password("not-a-user-password")


# --- accounts -------------------------------------------------------------------------------


def _check_password(username: str, password: str) -> None:
    problem = password_problem(username, password)
    if problem is not None:
        raise InvalidInput(f"password of {username}: {problem}", code="weak_password")


def create_user(
    session: Session,
    request: UserCreate,
    actor: str,
    *,
    dealer_id: str | None = None,
    outlet_id: str | None = None,
    pin: str | None = None,
    note: str = "",
) -> User:
    """A back-office user; a dealer's staff also carry their dealer, outlet and POS PIN."""
    _check_password(request.username, request.password)
    user = User(
        id=new_id(),
        username=request.username,
        full_name=request.full_name,
        role=request.role.value,
        password_hash=hash_password(request.password),
        dealer_id=dealer_id,
        outlet_id=outlet_id,
        pin_hash=hash_password(pin) if pin is not None else None,
    )
    session.add(user)
    audit.record(
        session,
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        action="create",
        to_status=request.role.value,
        reason=f"username {request.username}{note}",
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"username {request.username!r} is taken", code="username_taken") from exc
    return user


def _printable(text: str) -> str:
    """Text for a key or an audit row: at most 64 characters, no control characters (a NUL
    is refused by PostgreSQL; a log-in form may carry anything)."""
    return _CONTROL.sub("?", text[:64])


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def authenticate(session: Session, username: str, password: str) -> User | None:
    plausible = _printable(username) == username
    user = (
        session.exec(select(User).where(User.username == username)).first() if plausible else None
    )
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def find_user(session: Session, username: str, dealer_scope: str | None = None) -> User:
    """The user by name; a dealer's staff find only their own dealer's users."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or (dealer_scope is not None and user.dealer_id != dealer_scope):
        raise NotFound(f"user {username!r} not found", code="user_not_found")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))))


def _end_sessions(session: Session, user: User, **changes: object) -> None:
    """Applies `changes` and raises the session epoch in one statement, so that every token
    issued before stops working the moment this commits."""
    session.execute(
        update(User)
        .where(col(User.id) == user.id)
        .values(token_epoch=col(User.token_epoch) + 1, **changes)
    )


def set_active(session: Session, username: str, active: bool, actor: str, reason: str) -> User:
    """Deactivates (ending the user's tokens and dropping a clerk from the terminals' next
    pull) or reactivates a user; old tokens stay ended either way."""
    user = find_user(session, username)
    if user.is_active == active:
        state = "active" if active else "inactive"
        raise Conflict(f"user {username!r} is already {state}", code=f"user_already_{state}")
    if not active and username == actor:
        raise Conflict("you cannot deactivate yourself", code="cannot_deactivate_self")
    _end_sessions(session, user, is_active=active)
    audit.record(
        session,
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        action="reactivate" if active else "deactivate",
        from_status="inactive" if active else "active",
        to_status="active" if active else "inactive",
        reason=reason or None,
    )
    session.commit()
    session.refresh(user)
    return user


def reset_password(session: Session, username: str, new_password: str, actor: str) -> User:
    """An admin sets a new password; the user's tokens end."""
    user = find_user(session, username)
    _check_password(user.username, new_password)
    _end_sessions(session, user, password_hash=hash_password(new_password))
    audit.record(
        session, actor=actor, entity_type="user", entity_id=user.id, action="password_reset"
    )
    session.commit()
    session.refresh(user)
    return user


def change_password(
    session: Session,
    user: User,
    old_password: str,
    new_password: str,
    address: str,
    settings: Settings,
) -> None:
    """The user's own change, giving the old password (counted against the log-in limits, as
    it is a guess at the password too); all the user's tokens end, this one included."""
    guard = LoginGuard(session, settings, user.username, address)
    guard.admit()
    if not verify_password(user.password_hash, old_password):
        guard.failed()
        raise Forbidden("the current password is wrong", code="wrong_password")
    guard.succeeded()
    _check_password(user.username, new_password)
    _end_sessions(session, user, password_hash=hash_password(new_password))
    audit.record(
        session,
        actor=user.username,
        entity_type="user",
        entity_id=user.id,
        action="password_change",
    )
    session.commit()


def _check_pin(user: User, pin: str) -> None:
    if Role(user.role) not in PIN_ROLES or user.dealer_id is None:
        raise InvalidInput(
            f"user {user.username!r} is not dealer staff and has no PIN", code="no_pin"
        )
    if not re.fullmatch(PIN_PATTERN, pin):
        raise InvalidInput("a PIN is 4 to 8 digits", code="invalid_pin")


def set_pin(
    session: Session, username: str, pin: str, actor: str, dealer_scope: str | None = None
) -> User:
    """Sets a dealer clerk's or manager's counter PIN; the terminals take it at their next
    pull. The sales centre (and an admin) sets any dealer staff's; a dealer manager
    (`dealer_scope`) only the own dealer's clerks' (a manager's PIN signs override approvals:
    none may set another manager's, and so approve in that manager's name)."""
    user = find_user(session, username, dealer_scope)
    if dealer_scope is not None and Role(user.role) is not Role.clerk:
        raise Forbidden(
            f"user {user.username!r} is not a clerk: a dealer manager sets only the own "
            "dealer's clerks' PINs; the sales centre sets a manager's",
            code="not_a_clerk",
        )
    _check_pin(user, pin)
    user.pin_hash = hash_password(pin)
    session.add(user)
    audit.record(session, actor=actor, entity_type="user", entity_id=user.id, action="pin_set")
    session.commit()
    return user


def change_pin(
    session: Session, user: User, old_pin: str, new_pin: str, address: str, settings: Settings
) -> None:
    """The user's own PIN change, giving the old PIN (counted against the log-in limits: a
    PIN has few digits)."""
    _check_pin(user, new_pin)
    guard = LoginGuard(session, settings, user.username, address)
    guard.admit()
    if user.pin_hash is None or not verify_password(user.pin_hash, old_pin):
        guard.failed()
        raise Forbidden("the current PIN is wrong", code="wrong_pin")
    guard.succeeded()
    user.pin_hash = hash_password(new_pin)
    session.add(user)
    audit.record(
        session, actor=user.username, entity_type="user", entity_id=user.id, action="pin_change"
    )
    session.commit()


# --- the administrators' pages -------------------------------------------------------------


def _like(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page_of_users(
    session: Session,
    *,
    role: Role | None = None,
    active: bool | None = None,
    dealer_id: str | None = None,
    search: str = "",
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[User], str | None]:
    """One page of users in username order, filtered, after the username `after` (keyset:
    the unique index on username answers it), and the key of the next page (None at the
    end). `search` finds a part of the username or the full name, in any case."""
    query = select(User).order_by(col(User.username)).limit(limit + 1)
    if role is not None:
        query = query.where(User.role == role.value)
    if active is not None:
        query = query.where(User.is_active == active)
    if dealer_id is not None:
        query = query.where(User.dealer_id == dealer_id)
    if search:
        pattern = _like(search)
        query = query.where(
            or_(
                col(User.username).ilike(pattern, escape="\\"),
                col(User.full_name).ilike(pattern, escape="\\"),
            )
        )
    if after is not None:
        query = query.where(col(User.username) > after)
    rows = list(session.exec(query))
    return rows[:limit], (rows[limit - 1].username if len(rows) > limit else None)


def assign(
    session: Session,
    username: str,
    role: Role,
    actor: str,
    *,
    dealer_id: str | None = None,
    outlet_id: str | None = None,
    note: str = "",
) -> User:
    """Gives a user another role, or moves dealer staff to another dealer or outlet (the
    dealer and outlet checked by the caller, services/channel/dealers.py `assign_user`). A
    new role or dealer ends the user's sessions (their pages and tokens were for the old
    one); someone who no longer works at a counter loses the PIN and the dealer."""
    user = find_user(session, username)
    staff = role in PIN_ROLES
    if staff and dealer_id is None:
        raise InvalidInput(
            N_("Dealer staff belong to a dealer: choose one."),
            code="dealer_required",
        )
    if not staff and (dealer_id is not None or outlet_id is not None):
        raise InvalidInput(
            N_("Only dealer staff (counter clerks, dealer managers) belong to a dealer."),
            code="not_dealer_staff",
        )
    before = (user.role, user.dealer_id, user.outlet_id)
    if before == (role.value, dealer_id, outlet_id):
        raise InvalidInput(
            N_("Nothing changes: the user has this role, dealer and outlet."), code="unchanged"
        )
    if username == actor and role.value != user.role:
        raise Conflict(N_("You cannot change your own role."), code="cannot_change_own_role")
    changes: dict[str, object] = {
        "role": role.value,
        "dealer_id": dealer_id,
        "outlet_id": outlet_id,
    }
    if not staff:
        changes["pin_hash"] = None
    if (user.role, user.dealer_id) != (role.value, dealer_id):
        _end_sessions(session, user, **changes)
    else:
        session.execute(update(User).where(col(User.id) == user.id).values(**changes))
    audit.record(
        session,
        actor=actor,
        entity_type="user",
        entity_id=user.id,
        action="assign",
        from_status=before[0],
        to_status=role.value,
        reason=note or None,
    )
    session.commit()
    session.refresh(user)
    return user


# --- log-in limits --------------------------------------------------------------------------


@dataclass
class LoginLocked(ServiceError):
    """Too many failed log-ins for the account or from the address: wait `retry_after`
    seconds (until `until`)."""

    code: str = "too_many_attempts"
    retry_after: int = 1
    until: datetime = field(default_factory=utcnow)
    scope: str = "account"


ACCOUNT = "login-account"
ADDRESS = "login-address"


class LoginGuard:
    """The limits one log-in attempt is counted against: failed log-ins per account and per
    client address, each a list of fixed windows (5 in 5 minutes, 20 in an hour, …), counted
    with `limits` in the database that all office processes share."""

    def __init__(self, session: Session, settings: Settings, username: str, address: str):
        self.session = session
        self.storage = DatabaseStorage(session.get_bind())  # type: ignore[arg-type]
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.username = _printable(username)
        self.address = _printable(address)
        per_account = parse_many(settings.login_limits_per_account)
        per_address = parse_many(settings.login_limits_per_address)
        self.checks: list[tuple[RateLimitItem, str, str]] = [
            *((limit, ACCOUNT, self.username) for limit in per_account),
            *((limit, ADDRESS, self.address) for limit in per_address),
        ]

    def admit(self) -> None:
        """Counts the attempt before its password is checked, so that guesses sent in parallel
        cannot all pass a test made before any of them is counted; refuses it past a limit.
        An attempt refused for a lock-out is not counted against the other limits."""
        refused = [c for c in self.checks if not self.limiter.test(*c)]
        if not refused:
            refused = [c for c in self.checks if not self.limiter.hit(*c)]
        if refused:
            raise self._locked(refused)

    def failed(self) -> None:
        """The attempt failed and stays counted; a limit it used up is a lock-out, audited."""
        for limit, kind, identifier in self.checks:
            stats = self.limiter.get_window_stats(limit, kind, identifier)
            if stats.remaining > 0:
                continue
            until = datetime.fromtimestamp(stats.reset_time, UTC)
            audit.record(
                self.session,
                actor="login-limits",
                entity_type=kind.replace("-", "_"),
                entity_id=identifier,
                action="lock",
                to_status="locked",
                reason=f"{limit} failed log-ins reached (account {self.username}, address "
                f"{self.address}); locked until {until:%Y-%m-%d %H:%M:%S} UTC",
            )
        self.session.commit()

    def succeeded(self) -> None:
        """The account's failures are forgotten; the address keeps counting its failures (a
        success there says nothing about the other accounts tried from it)."""
        for limit, kind, identifier in self.checks:
            if kind == ACCOUNT:
                self.limiter.clear(limit, kind, identifier)
            else:
                self.storage.decr(limit.key_for(kind, identifier))

    def _locked(self, refused: list[tuple[RateLimitItem, str, str]]) -> LoginLocked:
        reset, kind = max(
            (self.limiter.get_window_stats(limit, k, i).reset_time, k) for limit, k, i in refused
        )
        retry_after = max(1, math.ceil(reset - time.time()))
        until = datetime.fromtimestamp(reset, UTC)
        whose = "for this account" if kind == ACCOUNT else "from this address"
        return LoginLocked(
            f"too many failed log-ins {whose}; try again in {retry_after} s "
            f"(after {until:%Y-%m-%d %H:%M:%S} UTC)",
            retry_after=retry_after,
            until=until,
            scope="account" if kind == ACCOUNT else "address",
        )


def log_in(
    session: Session, username: str, password: str, address: str, settings: Settings
) -> tuple[User, IssuedToken]:
    """The user and a new token, within the log-in limits (LoginLocked past one of them)."""
    guard = LoginGuard(session, settings, username, address)
    guard.admit()
    user = authenticate(session, username, password)
    if user is None:
        guard.failed()
        raise Unauthenticated("wrong username or password", code="bad_credentials")
    guard.succeeded()
    return user, issue_token(user, settings)


# --- sessions -------------------------------------------------------------------------------


def issue_token(user: User, settings: Settings) -> IssuedToken:
    return create_access_token(user.id, user.role, user.token_epoch, settings)


def user_of_claims(session: Session, claims: dict) -> User | None:
    """The active user a verified token names, unless the token was revoked at log-out or
    issued before the user's sessions were ended (deactivation, password change)."""
    user = session.get(User, claims["sub"])
    if user is None or not user.is_active or claims.get("sep") != user.token_epoch:
        return None
    if session.get(RevokedToken, claims["jti"]) is not None:
        return None
    return user


def end_session(session: Session, claims: dict) -> None:
    """Log-out: the token is refused from now until it would have expired anyway (its
    revocation is kept that long, then pruned)."""
    now = utcnow()
    expires = datetime.fromtimestamp(claims["exp"], UTC) + CLOCK_LEEWAY
    session.execute(delete(RevokedToken).where(col(RevokedToken.expires_at) < now))
    if expires > now:
        session.add(RevokedToken(jti=claims["jti"], user_id=claims["sub"], expires_at=expires))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # logged out twice at once: it is revoked either way
