"""Back-office users: creation, authentication, listing."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backoffice.contracts.users import UserCreate
from backoffice.core.security import hash_password, verify_password
from backoffice.domain.users import Role
from backoffice.models import User
from backoffice.services import audit
from backoffice.services.errors import Conflict
from shared.ids import new_id

# Verifying against a real hash even for unknown users keeps the timing the same.
_DUMMY_HASH = hash_password("not-a-user-password")


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


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)
        return None
    return user if verify_password(user.password_hash, password) else None


def get_user(session: Session, user_id: str) -> User | None:
    return session.get(User, user_id)


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))))


def role_of(user: User) -> Role:
    return Role(user.role)
