"""Table of back-office users."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from backoffice.models.types import utc_column, utcnow


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: str = Field(primary_key=True, max_length=36)
    username: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    full_name: str = Field(default="", max_length=128)
    role: str = Field(max_length=32)
    password_hash: str = Field(max_length=256)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    # Dealer staff only: their dealer, their outlet, and the PIN hash for terminal log-in.
    dealer_id: str | None = Field(default=None, max_length=36)
    outlet_id: str | None = Field(default=None, max_length=36)
    pin_hash: str | None = Field(default=None, max_length=256)
