"""Request and response models of users, log-in, passwords and PINs."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from backoffice.contracts.common import CheckedModel, Public
from backoffice.domain.users import PASSWORD_MIN_LENGTH, PIN_PATTERN, Role


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    role: Role


class UserCreate(CheckedModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,64}$")
    password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=128)
    role: Role
    full_name: str = Field(default="", max_length=128)


class UserPublic(Public):
    id: str
    username: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime


class UserStatusChange(CheckedModel):
    reason: str = Field(default="", max_length=500, description="why, for the audit log")


class PasswordReset(CheckedModel):
    new_password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=128)


class PasswordChange(CheckedModel):
    old_password: str = Field(max_length=128)
    new_password: str = Field(min_length=PASSWORD_MIN_LENGTH, max_length=128)


class PinSet(CheckedModel):
    pin: str = Field(pattern=PIN_PATTERN, description="4 to 8 digits, for the counter terminal")


class PinChange(CheckedModel):
    old_pin: str = Field(max_length=8)
    new_pin: str = Field(pattern=PIN_PATTERN)
