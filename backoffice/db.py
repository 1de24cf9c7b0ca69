"""Database engines and sessions for SQLite (embedded default) and PostgreSQL."""

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

from backoffice.core.config import Settings, get_settings


def make_engine(url: str, settings: Settings | None = None) -> Engine:
    """An engine for the URL; with `settings`, its connection pool sized by them (the office's
    processes: see backoffice/api/admission.py), else 10 and 20 more on PostgreSQL and
    SQLAlchemy's defaults on SQLite."""
    pool: dict[str, Any] = {}
    if settings is not None:
        pool = {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout_seconds,
        }
    # Errors (and so tracebacks in logs) name the statement but never its parameters, which
    # may be personal data or secrets.
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool = {}  # one connection, kept: nothing to size
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            **pool,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    pool = pool or {"pool_size": 10, "max_overflow": 20}
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, **pool)


@lru_cache
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(settings: Settings | None = None) -> Engine:
    return _engine_for((settings or get_settings()).database_url)


def session_scope(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
