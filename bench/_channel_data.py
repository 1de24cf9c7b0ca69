"""What the PostgreSQL benches of the channel share: a throwaway migrated database, COPY of
generated rows, and the rows of dealers, outlets, terminals, sales and sale lines in the
column order of their tables. Not a benchmark itself (`make bench` runs bench_*.py)."""

import io
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import psycopg

from backoffice import migrate
from backoffice.domain.channel import DealerKind

SERVER = os.environ.get(
    "HAOKA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
KINDS = [k.value for k in DealerKind]
CHUNK = 100_000

DEALER_COLUMNS = (
    "id",
    "code",
    "name",
    "kind",
    "status",
    "credit_limit_fen",
    "created_at",
    "updated_at",
)
OUTLET_COLUMNS = (
    "id",
    "dealer_id",
    "code",
    "name",
    "address",
    "timezone",
    "reservation_quota",
    "created_at",
)
TERMINAL_COLUMNS = (
    "id",
    "terminal_no",
    "outlet_id",
    "name",
    "credential_hash",
    "status",
    "registered_at",
)
SALE_COLUMNS = (
    "id",
    "event_id",
    "receipt_no",
    "terminal_id",
    "outlet_id",
    "dealer_id",
    "clerk",
    "sold_at",
    "total_fen",
    "payments",
)
LINE_COLUMNS = (
    "sale_id",
    "item_kind",
    "item_key",
    "product",
    "price_fen",
    "list_price_fen",
    "dealer_fen",
    "returned_at",
)


def dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL, for psycopg."""
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def fresh_database(server: str = SERVER) -> Iterator[str]:
    """A new database on the server, migrated to head; dropped on leaving. Yields its URL."""
    name = f"haoka_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn(server), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(dsn(server), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def copy_rows(
    conn: psycopg.Connection,  # type: ignore[type-arg]
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> int:
    """COPY rows (None for NULL, everything else by str()) into a table; returns the count."""
    written = 0
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
            written += 1
            if written % CHUNK == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return written


def dealer_rows(ids: Sequence[str], now: datetime) -> list[tuple[object, ...]]:
    """Active dealers D0000… of the three kinds in turn, with room on their credit."""
    return [
        (d, f"D{i:04d}", f"代理商{i:04d}", KINDS[i % 3], "active", 10**12, now, now)
        for i, d in enumerate(ids)
    ]


def outlet_rows(dealers: Sequence[str], per_dealer: int, now: datetime) -> list[tuple[object, ...]]:
    """`per_dealer` outlets O00000… for each dealer, in dealer order."""
    return [
        (
            str(uuid.uuid4()),
            dealer,
            f"O{i * per_dealer + j:05d}",
            f"网点{i * per_dealer + j:05d}",
            "",
            "Asia/Shanghai",
            20,
            now,
        )
        for i, dealer in enumerate(dealers)
        for j in range(per_dealer)
    ]


def terminal_rows(outlets: Sequence[str], now: datetime) -> list[tuple[object, ...]]:
    """One active terminal per outlet."""
    return [
        (str(uuid.uuid4()), n, outlet, f"POS{n:05d}", "0" * 64, "active", now)
        for n, outlet in enumerate(outlets, start=1)
    ]


def sale_row(
    sale_id: str,
    number: int,
    terminal: str,
    outlet: str,
    dealer: str,
    sold_at: datetime,
    total_fen: int,
) -> tuple[object, ...]:
    """A sale paid in cash, its receipt numbered after `number`."""
    return (
        sale_id,
        str(uuid.uuid4()),
        f"S{number:016d}",
        terminal,
        outlet,
        dealer,
        "clerk1",
        sold_at,
        total_fen,
        f'[{{"method": "cash", "amount_fen": {total_fen}}}]',
    )
