"""A storage for the `limits` library kept in the database: office processes share nothing but
the database (SQLite embedded, PostgreSQL when scaled out), so every process must count
against the same counters. Fixed windows only: one row per key with its count and its end."""

import time
from datetime import UTC, datetime, timedelta

from limits.storage import Storage
from sqlalchemy import Engine, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from backoffice.models import RateLimitCounter

_TABLE = RateLimitCounter.__table__  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now(UTC)


class DatabaseStorage(Storage):
    """Each call is its own short transaction, committed at once, as with a counter server:
    a count must hold even when the request that made it fails afterwards."""

    STORAGE_SCHEME = None

    def __init__(self, engine: Engine, wrap_exceptions: bool = False) -> None:
        super().__init__(None, wrap_exceptions)
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Adds `amount` to the key's window, starting a new window of `expiry` seconds where
        none is running; returns the count. One upsert, so concurrent hits never lose one."""
        now = _now()
        fresh = self._insert(_TABLE).values(
            key=key, count=amount, expires_at=now + timedelta(seconds=expiry)
        )
        stale = _TABLE.c.expires_at <= now
        added = _TABLE.c.count + fresh.excluded.count
        statement = fresh.on_conflict_do_update(
            index_elements=[_TABLE.c.key],
            set_={
                "count": case((stale, fresh.excluded.count), else_=added),
                "expires_at": case((stale, fresh.excluded.expires_at), else_=_TABLE.c.expires_at),
            },
        ).returning(_TABLE.c.count)
        with self.engine.begin() as connection:
            count = connection.execute(statement).scalar_one()
            # Windows that ended are of no use; dropping them here keeps the table small.
            connection.execute(delete(_TABLE).where(_TABLE.c.expires_at < now))
        return int(count)

    def decr(self, key: str, amount: int = 1) -> int:
        """Takes `amount` back from the key's running window (never below zero)."""
        statement = (
            update(_TABLE)
            .where(_TABLE.c.key == key, _TABLE.c.expires_at > _now())
            .values(count=case((_TABLE.c.count > amount, _TABLE.c.count - amount), else_=0))
            .returning(_TABLE.c.count)
        )
        with self.engine.begin() as connection:
            count = connection.execute(statement).scalar_one_or_none()
        return int(count or 0)

    def get(self, key: str) -> int:
        query = select(_TABLE.c.count).where(_TABLE.c.key == key, _TABLE.c.expires_at > _now())
        with self.engine.connect() as connection:
            count = connection.execute(query).scalar_one_or_none()
        return int(count or 0)

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (epoch seconds); now when none is running."""
        query = select(_TABLE.c.expires_at).where(_TABLE.c.key == key, _TABLE.c.expires_at > _now())
        with self.engine.connect() as connection:
            expires = connection.execute(query).scalar_one_or_none()
        return expires.timestamp() if expires is not None else time.time()

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(select(1))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return connection.execute(delete(_TABLE)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(_TABLE).where(_TABLE.c.key == key))
