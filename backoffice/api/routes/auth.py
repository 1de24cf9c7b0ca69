"""Logging in: username and password for a short-lived bearer token."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from backoffice.api.deps import SessionDep, SettingsDep
from backoffice.contracts.users import Token
from backoffice.core.security import create_access_token
from backoffice.domain.users import Role
from backoffice.services import users

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/token")
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    user = users.authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail={"code": "bad_credentials", "message": "wrong username or password"},
        )
    token, expires = create_access_token(user.id, user.role, settings)
    return Token(access_token=token, expires_at=expires, role=Role(user.role))
