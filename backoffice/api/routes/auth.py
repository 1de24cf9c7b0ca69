"""Logging in (username and password for a short-lived bearer token, within the log-in limits)
and out (the token is revoked)."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from backoffice.api.deps import CurrentUser, SessionDep, SettingsDep, oauth2
from backoffice.contracts.users import Token
from backoffice.core.security import decode_access_token
from backoffice.domain.users import Role
from backoffice.services import users

router = APIRouter(prefix="/auth", tags=["auth"])


def client_address(request: Request) -> str:
    """The address the log-in limits count per. Behind a reverse proxy, uvicorn puts the
    client's own address here from X-Forwarded-For when the proxy is trusted
    (`--forwarded-allow-ips`); otherwise every client would share the proxy's."""
    return request.client.host if request.client else "unknown"


def too_many_attempts(error: users.LoginLocked) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail={"code": error.code, "message": str(error)},
        headers={"Retry-After": str(error.retry_after)},
    )


@router.post(
    "/token",
    responses={
        401: {"description": "wrong username or password (`bad_credentials`)"},
        429: {"description": "too many failed log-ins (`too_many_attempts`); see Retry-After"},
    },
)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    try:
        user, issued = users.log_in(
            session, form.username, form.password, client_address(request), settings
        )
    except users.LoginLocked as error:
        raise too_many_attempts(error) from error
    return Token(access_token=issued.token, expires_at=issued.expires_at, role=Role(user.role))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    _: CurrentUser,
    token: Annotated[str | None, Depends(oauth2)],
    session: SessionDep,
    settings: SettingsDep,
) -> None:
    """Ends this token at once (other sessions of the user go on)."""
    assert token is not None  # CurrentUser has checked it
    users.end_session(session, decode_access_token(token, settings))
