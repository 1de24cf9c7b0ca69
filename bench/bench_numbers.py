"""Benchmark: generating and grading 1,000,000 numbers (PostgreSQL and SQLite) against a raw
COPY of the same rows, and the first page of pattern searches over them.

Limits: PostgreSQL generate+grade <= 2.0 x raw COPY; SQLite <= 20 s; first page <= 200 ms.
Set HAOKA_BENCH_POSTGRES_URL to use another server; HAOKA_BENCH_NUMBERS to change the size.
"""

import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlmodel import Session

from backoffice import migrate
from backoffice.contracts.billing import SegmentRequest
from backoffice.db import make_engine
from backoffice.services.billing import grading, numbers
from backoffice.services.bulk import db_timestamp

SERVER = os.environ.get(
    "HAOKA_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
COUNT = int(os.environ.get("HAOKA_BENCH_NUMBERS", "1000000"))
PREFIX = "13905"
SEARCHES = ["*88", "*8888", "139057?8888", "*99999", "520", "1390512*"]
COPY_LIMIT, SQLITE_LIMIT_S, SEARCH_LIMIT_MS = 2.0, 20.0, 200.0


def _request() -> SegmentRequest:
    return SegmentRequest(prefix=PREFIX, start=0, end=COUNT - 1, code="BENCH")


def _generate(url: str) -> float:
    engine = make_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        numbers.generate_segment(session, _request(), "bench")
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _search_times(url: str) -> dict[str, float]:
    engine = make_engine(url)
    result = {}
    with Session(engine) as session:
        for pattern in SEARCHES:
            runs = []
            for _ in range(15):
                started = time.perf_counter()
                page = numbers.search_numbers(session, pattern, limit=50)
                runs.append((time.perf_counter() - started) * 1000)
            assert page.items, pattern
            result[pattern] = statistics.median(runs)
    engine.dispose()
    return result


def _raw_copy_seconds(url: str) -> float:
    """The same rows, graded beforehand, COPYed straight into the same indexed table."""
    engine = make_engine(url)
    with Session(engine) as session:
        grader = grading.load_grader(session)
        batch_id = session.execute(text("SELECT id FROM number_batch")).scalar_one()
        session.execute(text("TRUNCATE mobile_number"))
        session.commit()
    engine.dispose()
    width = 11 - len(PREFIX)
    stamp = db_timestamp()
    buffer = io.StringIO()
    for i in range(COUNT):
        m = f"{PREFIX}{i:0{width}d}"
        buffer.write(f"{m}\t{m[::-1]}\t{batch_id}\t{grader.grade(m)}\timported\t1\t{stamp}\n")
    payload = buffer.getvalue()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY mobile_number (msisdn, msisdn_rev, batch_id, grade_code, status, version, "
                "updated_at) FROM STDIN"
            ) as copy,
        ):
            copy.write(payload)
        conn.commit()
        return time.perf_counter() - started


def _print_searches(label: str, times: dict[str, float]) -> None:
    for pattern, ms in times.items():
        print(
            f"  {label} first page {pattern!r:>14}: {ms:7.1f} ms  (ratio to "
            f"{SEARCH_LIMIT_MS:.0f} ms limit: {ms / SEARCH_LIMIT_MS:.2f})"
        )


def bench_postgresql() -> None:
    admin_dsn = SERVER.replace("postgresql+psycopg://", "postgresql://")
    name = f"haoka_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = SERVER.rsplit("/", 1)[0] + "/" + name
    try:
        migrate.upgrade(url)
        service = _generate(url)
        searches = _search_times(url)
        raw = _raw_copy_seconds(url)
        print(
            f"PostgreSQL: generate+grade {COUNT:,} numbers: {service:.2f} s; raw COPY of the "
            f"same rows: {raw:.2f} s; ratio {service / raw:.2f} (limit {COPY_LIMIT})"
        )
        _print_searches("PostgreSQL", searches)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_sqlite() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        service = _generate(url)
        print(
            f"SQLite: generate+grade {COUNT:,} numbers: {service:.2f} s "
            f"(ratio to {SQLITE_LIMIT_S:.0f} s limit: {service / SQLITE_LIMIT_S:.2f})"
        )
        _print_searches("SQLite", _search_times(url))


if __name__ == "__main__":
    bench_postgresql()
    bench_sqlite()
    sys.exit(0)
