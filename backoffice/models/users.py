"""Tables of back-office users, the tokens revoked at log-out, and the log-in rate-limit
counters (which several office processes must share, so they live in the database)."""

from datetime import datetime

from sqlalchemy import Index
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
    # Every token names the epoch it was issued in; deactivation and password changes raise
    # it, which ends all the user's tokens at once.
    token_epoch: int = 0


class RevokedToken(SQLModel, table=True):
    """A token ended at log-out before its expiry; kept until then, pruned after."""

    __tablename__ = "revoked_token"
    __table_args__ = (Index("ix_revoked_token_expires_at", "expires_at"),)

    jti: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="app_user.id", max_length=36)
    expires_at: datetime = Field(sa_column=utc_column())
    revoked_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


class RateLimitCounter(SQLModel, table=True):
    """One fixed window of a rate limit: the hits counted in it and when it ends."""

    __tablename__ = "rate_limit_counter"
    __table_args__ = (Index("ix_rate_limit_counter_expires_at", "expires_at"),)

    key: str = Field(primary_key=True, max_length=255)
    count: int
    expires_at: datetime = Field(sa_column=utc_column())
