"""Request and response models of users and log-in."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from backoffice.contracts.common import Public
from backoffice.domain.users import Role


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    role: Role


class UserCreate(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,64}$")
    password: str = Field(min_length=8, max_length=128)
    role: Role
    full_name: str = Field(default="", max_length=128)


class UserPublic(Public):
    id: str
    username: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime
