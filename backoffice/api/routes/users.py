"""Back-office users (admins manage them; everyone can see who they are)."""

from fastapi import APIRouter, status

from backoffice.api.deps import Admin, CurrentUser, SessionDep
from backoffice.contracts.users import UserCreate, UserPublic
from backoffice.services import users

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.get("")
def list_users(session: SessionDep, _: Admin) -> list[UserPublic]:
    return [UserPublic.model_validate(u) for u in users.list_users(session)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(request: UserCreate, session: SessionDep, admin: Admin) -> UserPublic:
    return UserPublic.model_validate(users.create_user(session, request, admin.username))
