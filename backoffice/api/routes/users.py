"""Back-office users: admins create, deactivate and reactivate them and reset passwords; every
user changes the own password; dealer staff's counter PINs are set by the sales centre or the
dealer's manager, or changed by their owner."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from backoffice.api.deps import Admin, CurrentUser, SessionDep, SettingsDep, dealer_scope, require
from backoffice.api.routes.auth import client_address, too_many_attempts
from backoffice.contracts.users import (
    PasswordChange,
    PasswordReset,
    PinChange,
    PinSet,
    UserCreate,
    UserPublic,
    UserStatusChange,
)
from backoffice.domain.users import Role
from backoffice.models import User
from backoffice.services import users

router = APIRouter(prefix="/users", tags=["users"])
PinSetter = Annotated[User, Depends(require(Role.sales_centre, Role.dealer_manager))]
LOCKED = {429: {"description": "too many wrong passwords or PINs (`too_many_attempts`)"}}


@router.get("/me")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=LOCKED)
def change_own_password(
    body: PasswordChange,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> None:
    """Every token of the user ends, this one too: log in again with the new password."""
    try:
        users.change_password(
            session,
            user,
            body.old_password,
            body.new_password,
            client_address(request),
            settings,
        )
    except users.LoginLocked as error:
        raise too_many_attempts(error) from error


@router.post("/me/pin", status_code=status.HTTP_204_NO_CONTENT, responses=LOCKED)
def change_own_pin(
    body: PinChange,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> None:
    """The terminals take the new PIN at their next pull."""
    try:
        users.change_pin(
            session, user, body.old_pin, body.new_pin, client_address(request), settings
        )
    except users.LoginLocked as error:
        raise too_many_attempts(error) from error


@router.get("")
def list_users(session: SessionDep, _: Admin) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in users.list_users(session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(request: UserCreate, session: SessionDep, admin: Admin) -> UserPublic:
    return UserPublic.model_validate(users.create_user(session, request, admin.username))


@router.post("/{username}/deactivate")
def deactivate_user(
    username: str, body: UserStatusChange, session: SessionDep, admin: Admin
) -> UserPublic:
    """The user's tokens stop working at once; a dealer clerk drops out of the terminals'
    next pull."""
    return UserPublic.model_validate(
        users.set_active(session, username, False, admin.username, body.reason)
    )


@router.post("/{username}/reactivate")
def reactivate_user(
    username: str, body: UserStatusChange, session: SessionDep, admin: Admin
) -> UserPublic:
    """The user may log in again; tokens from before the deactivation stay ended."""
    return UserPublic.model_validate(
        users.set_active(session, username, True, admin.username, body.reason)
    )


@router.post("/{username}/password")
def reset_password(
    username: str, body: PasswordReset, session: SessionDep, admin: Admin
) -> UserPublic:
    """A new password set by an admin; the user's tokens end."""
    return UserPublic.model_validate(
        users.reset_password(session, username, body.new_password, admin.username)
    )


@router.put("/{username}/pin")
def set_pin(username: str, body: PinSet, session: SessionDep, setter: PinSetter) -> UserPublic:
    """A dealer clerk's or manager's counter PIN, set by the sales centre; a dealer manager
    sets only the own dealer's clerks'."""
    if Role(setter.role) is Role.dealer_manager and setter.username == username:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail={"code": "forbidden", "message": "change your own PIN at /users/me/pin"},
        )
    scope = dealer_scope(setter)
    return UserPublic.model_validate(
        users.set_pin(session, username, body.pin, setter.username, scope)
    )
