"""Bulk insertion: COPY on PostgreSQL, batched executemany elsewhere."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy import Connection
from sqlmodel import Session

CHUNK = 20_000


def db_timestamp(moment: datetime | None = None) -> str:
    """A UTC instant in the text form both backends read into our timestamp columns."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _chunks(rows: Iterable[Sequence[object]], size: int) -> Iterator[list[Sequence[object]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def insert_rows(
    session: Session | Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Inserts rows inside the session's (or connection's) transaction; returns how many
    went in."""
    connection = session.connection() if isinstance(session, Session) else session
    column_list = ", ".join(columns)
    written = 0
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy,
        ):
            for chunk in _chunks(rows, CHUNK):
                for row in chunk:
                    copy.write_row(row)
                written += len(chunk)
                if progress:
                    progress(len(chunk))
        return written
    placeholders = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table} ({column_list}) VALUES ({placeholders})"
    for chunk in _chunks(rows, CHUNK):
        connection.exec_driver_sql(statement, chunk)
        written += len(chunk)
        if progress:
            progress(len(chunk))
    return written
