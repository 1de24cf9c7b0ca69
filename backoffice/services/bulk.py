"""Bulk insertion: COPY on PostgreSQL, batched executemany elsewhere; fresh planner
statistics after it."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy import Connection, text
from sqlmodel import Session

CHUNK = 20_000
# A bulk insert adding at least this share of the rows the statistics describe refreshes them
# (PostgreSQL's autovacuum analyses at the same share, but later; SQLite never does).
STALE_SHARE = 0.1


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


def _rows_in_statistics(connection: Connection, table: str) -> float | None:
    """How many rows the planner's statistics of `table` describe; None if it has none."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)"), {"t": table}
        ).scalar_one()
        return None if rows < 0 else float(rows)
    if not connection.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
    ).first():
        return None
    stats = connection.execute(
        text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t"), {"t": table}
    ).scalars()
    counts = [int(stat.split()[0]) for stat in stats if stat]
    return float(max(counts)) if counts else None


def refresh_statistics(session: Session | Connection, table: str, added: int) -> bool:
    """ANALYZE `table` inside the current transaction after a bulk insert of `added` rows,
    when its statistics are missing or describe too few rows for them (STALE_SHARE), so that
    the next query is planned for the table as it now is. Returns whether it ran."""
    connection = session.connection() if isinstance(session, Session) else session
    known = _rows_in_statistics(connection, table)
    if known is not None and added < known * STALE_SHARE:
        return False
    connection.exec_driver_sql(f"ANALYZE {table}")
    return True
