"""Typed dependencies of the routes: settings, database session, current user, role checks."""

import re
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from backoffice.core.config import Settings
from backoffice.core.crypto import Cipher, Keys
from backoffice.core.security import TokenError, decode_access_token
from backoffice.domain.users import Role, allows
from backoffice.models import User
from backoffice.services import users
from backoffice.services.channel.dealers import TerminalContext, authenticate_terminal
from backoffice.services.errors import Unauthenticated

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# Dependencies that do no I/O are `async def`: FastAPI runs them in the event loop instead
# of handing each to a thread of its own.


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """The request's session. It connects lazily, on the thread of the route or dependency
    that first uses it; closing it (in the event loop: no thread needed to give back its
    connection) rolls back what was not committed."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[Session, Depends(get_db)]


async def get_keys(request: Request, settings: SettingsDep) -> Keys:
    """The keys, read once per process and app: a push needs them for every sale, and a key
    change takes effect when the servers restart (see the README's Security section)."""
    keys: Keys | None = getattr(request.app.state, "keys", None)
    if keys is None:
        keys = request.app.state.keys = Keys.from_settings(settings)
    return keys


KeysDep = Annotated[Keys, Depends(get_keys)]


async def get_pin_cipher(keys: KeysDep) -> Cipher:
    return keys.pins


PinCipherDep = Annotated[Cipher, Depends(get_pin_cipher)]


# The web pages log in with this cookie (HttpOnly, SameSite=Strict) holding the same token.
SESSION_COOKIE = "haoka_session"


def user_of_token(session: Session, settings: Settings, token: str | None) -> User | None:
    """The active user a token names, or None (no token, expired, forged, revoked at log-out,
    user disabled since)."""
    if not token:
        return None
    try:
        claims = decode_access_token(token, settings)
    except TokenError:
        return None
    return users.user_of_claims(session, claims)


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2)],
) -> User:
    """The bearer token's user; for reading (GET), a page's session cookie also does, so that
    the downloads a page links to open in the browser."""
    if not token and request.method in ("GET", "HEAD"):
        token = request.cookies.get(SESSION_COOKIE)
    user = user_of_token(session, settings, token)
    if user is None:
        message = "log in first" if not token else "the token is not valid (expired?)"
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "not_authenticated", "message": message},
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency that lets through admins and the given roles, 403 for anyone else."""
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> User:
        if not allows(Role(user.role), allowed):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail={
                    "code": "forbidden",
                    "message": f"role {user.role} may not do this; needs "
                    + " or ".join(sorted({"admin", *allowed})),
                },
            )
        return user

    return check


def require_system(role: Role):  # type: ignore[no-untyped-def]
    """A dependency for an operator system's route (charging, provisioning): that role
    only. Not admins either: no person should redeem a card or activate a number in a
    system's name."""

    def check(user: CurrentUser) -> User:
        if Role(user.role) is not role:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail={
                    "code": "forbidden",
                    "message": f"role {user.role} may not do this; only the {role.value} system",
                },
            )
        return user

    return check


BillingClerk = Annotated[User, Depends(require(Role.billing))]
StockReader = Annotated[User, Depends(require(Role.billing, Role.sales_centre, Role.manager))]
Admin = Annotated[User, Depends(require())]
AuditReader = Annotated[User, Depends(require(Role.manager))]


SalesCentre = Annotated[User, Depends(require(Role.sales_centre))]
ChannelReader = Annotated[
    User, Depends(require(Role.sales_centre, Role.manager, Role.dealer_manager))
]
ChargingSystem = Annotated[User, Depends(require_system(Role.charging))]
ProvisioningSystem = Annotated[User, Depends(require_system(Role.provisioning))]


def dealer_scope(user: User) -> str | None:
    """The only dealer whose data a user may see; None for the operator's own staff.
    Dealer staff not attached to a dealer see nothing rather than everything."""
    if user.dealer_id is None and Role(user.role) in (Role.dealer_manager, Role.clerk):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "no_dealer", "message": f"user {user.username} has no dealer"},
        )
    return user.dealer_id


def get_terminal(
    session: SessionDep, token: Annotated[str | None, Depends(oauth2)]
) -> TerminalContext:
    """The terminal whose device credential came as the bearer token."""
    return authenticate_terminal(session, token)


TerminalDep = Annotated[TerminalContext, Depends(get_terminal)]


async def terminal_credential(token: Annotated[str | None, Depends(oauth2)]) -> str:
    """The device credential as sent, for a route that authenticates the terminal in its own
    unit of work (the push: no connection held between the authentication and the work).
    One missing or not of the form `<terminal id>.<secret>` is refused here, before the body
    is read."""
    if not token or "." not in token:
        raise Unauthenticated("send the terminal credential as Authorization: Bearer …")
    return token


TerminalCredential = Annotated[str, Depends(terminal_credential)]


def disposition(file_name: str, kind: str = "attachment") -> dict[str, str]:
    """The Content-Disposition of a file: its own name (maybe Chinese, RFC 6266/5987) and an
    ASCII stand-in for clients that know no other (a header is Latin-1)."""
    fallback = re.sub(r"[^0-9A-Za-z._-]", "_", file_name)
    return {
        "Content-Disposition": f'{kind}; filename="{fallback}"; '
        f"filename*=UTF-8''{quote(file_name, safe='')}"
    }


def attachment(body: bytes, media_type: str, file_name: str) -> Response:
    """A download: the browser saves it under `file_name`."""
    return Response(body, media_type=media_type, headers=disposition(file_name))
