"""Benchmark: generating and grading numbers (PostgreSQL and SQLite) against a raw COPY of the
same rows, and the first page of pattern searches over them.

The numbers are one segment of --numbers (1,000,000 by default) from 13905000000 (from
13900000000 past a million). The searches are taken from that range so that each matches
at any size from 10,000 up:

- `*88`, `*888`, `*8888`: suffixes of two, three and four digits;
- the rare suffix: nines matching about ten numbers (`*99999` at 1M, `*999999` at 10M);
- a `?` pattern: the number at 7/10 of the range ending 8888, its seventh digit `?`
  (`139057?8888` at 1M);
- `520` (contains) and a prefix: the first eight digits of the middle number (`13905500*`).

Each search's first page (50 numbers) runs 15 times on one connection; psycopg prepares a
statement on its fifth run, so most runs are the prepared statement's. Shown: the first run
(connected already, nothing prepared or cached for it) and the median; the ratio is the
median's.

--load copy fills the table without the service, for sizes whose generation would take too
long: the rows (graded by the same grader) go in by COPY (PostgreSQL) or executemany (SQLite)
with the table's secondary indexes dropped and built again afterwards, then ANALYZE as the
service does. It times no generation.

Limits: PostgreSQL generate+grade <= 2.0 x raw COPY; SQLite <= 20 s per million numbers;
first page of each search <= 20 ms. Figures and ratios are printed, not asserted; the exit
status is 1 only when a search answers wrongly (no match, a number not matching the pattern,
or out of order).
"""

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _cli
import psycopg
from sqlalchemy import Connection, text
from sqlmodel import Session

from backoffice import migrate
from backoffice.contracts.billing import SegmentRequest
from backoffice.db import make_engine
from backoffice.domain.billing import Grader
from backoffice.models import NumberBatch
from backoffice.services.billing import grading, numbers
from backoffice.services.bulk import db_timestamp, insert_rows
from shared.ids import new_id

DATABASES = ("postgresql", "sqlite")
COPY_LIMIT, SQLITE_LIMIT_S_PER_MILLION, SEARCH_LIMIT_MS = 2.0, 20.0, 20.0
RUNS, PAGE = 15, 50
_COLUMNS = ("msisdn", "msisdn_rev", "batch_id", "grade_code", "status", "version", "updated_at")
_CHUNK = 100_000


class Segment:
    """The generated numbers: prefix + zero-padded index, index 0 .. count-1."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.width = max(6, len(str(count - 1)))
        self.prefix = "13905"[: 11 - self.width]

    def number(self, index: int) -> str:
        return f"{self.prefix}{index:0{self.width}d}"

    def request(self) -> SegmentRequest:
        return SegmentRequest(prefix=self.prefix, start=0, end=self.count - 1, code="BENCH")

    def searches(self) -> dict[str, str]:
        """Label -> pattern, each matching at least one number of the segment."""
        rare = "9" * max(3, len(str(self.count)) - 2)
        last = self.count - 1
        question = min(self.count * 7 // 10 // 10_000 * 10_000 + 8888, last)
        ending = self.number(question)
        middle = self.number(self.count // 2)
        return {
            "suffix *88": "*88",
            "suffix *888": "*888",
            "suffix *8888": "*8888",
            "rare suffix": f"*{rare}",
            "? pattern": f"{ending[:6]}?{ending[7:]}",
            "contains 520": "520",
            "prefix": f"{middle[:8]}*",
        }

    def rows(self, batch_id: str, grader: Grader, stamp: str) -> Iterator[tuple[object, ...]]:
        for start in range(0, self.count, _CHUNK):
            chunk = [self.number(i) for i in range(start, min(start + _CHUNK, self.count))]
            for m, g in zip(chunk, grader.grade_many(chunk), strict=True):
                yield (m, m[::-1], batch_id, g, "imported", 1, stamp)


def _matches(pattern: str) -> re.Pattern[str]:
    text_ = pattern if "*" in pattern or "?" in pattern or len(pattern) == 11 else f"*{pattern}*"
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else c for c in text_))


def _generate(url: str, segment: Segment) -> float:
    engine = make_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        numbers.generate_segment(session, segment.request(), "bench")
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _secondary_indexes(connection: Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of mobile_number's indexes that back no constraint."""
    if connection.dialect.name == "postgresql":
        sql = (
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = 'mobile_number'::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        )
    else:
        sql = (
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'mobile_number' AND sql IS NOT NULL"
        )
    return [(name, ddl) for name, ddl in connection.exec_driver_sql(sql)]


def _load(url: str, segment: Segment) -> float:
    """--load copy: the graded rows straight into the table, indexes built afterwards,
    statistics taken as the service takes them after a bulk insert into an empty table."""
    engine = make_engine(url)
    started = time.perf_counter()
    with Session(engine) as session:
        first, last = segment.number(0), segment.number(segment.count - 1)
        batch = NumberBatch(
            id=new_id(),
            code="BENCH",
            source="segment",
            source_name=f"{first}-{last}",
            first_msisdn=first,
            last_msisdn=last,
            item_count=segment.count,
            created_by="bench",
        )
        session.add(batch)
        session.flush()
        grader = grading.load_grader(session)
        connection = session.connection()
        indexes = _secondary_indexes(connection)
        for name, _ in indexes:
            connection.exec_driver_sql(f"DROP INDEX {name}")
        rows = segment.rows(batch.id, grader, db_timestamp())
        insert_rows(session, "mobile_number", _COLUMNS, rows)
        for _, ddl in indexes:
            connection.exec_driver_sql(ddl)
        connection.exec_driver_sql("ANALYZE mobile_number")
        session.commit()
    engine.dispose()
    return time.perf_counter() - started


def _search_times(url: str, searches: dict[str, str]) -> tuple[dict[str, dict[str, Any]], bool]:
    engine = make_engine(url)
    result: dict[str, dict[str, Any]] = {}
    correct = True
    with Session(engine) as session:
        session.execute(text("SELECT 1"))  # connected before the first timed search
        session.rollback()
        for label, pattern in searches.items():
            runs = []
            for _ in range(RUNS):
                started = time.perf_counter()
                page = numbers.search_numbers(session, pattern, limit=PAGE)
                runs.append((time.perf_counter() - started) * 1000)
                session.rollback()
            found = [n.msisdn for n in page.items]
            matcher = _matches(pattern)
            right = bool(found) and found == sorted(found)
            right = right and all(matcher.fullmatch(m) for m in found)
            if not right:
                print(f"  WRONG: {pattern!r} answered {found[:5]}…", file=sys.stderr)
                correct = False
            median = statistics.median(runs)
            result[label] = {
                "pattern": pattern,
                "found": len(found),
                "first_ms": round(runs[0], 2),
                "median_ms": round(median, 2),
                "ratio": round(median / SEARCH_LIMIT_MS, 3),
            }
    engine.dispose()
    return result, correct


def _raw_copy_seconds(url: str, segment: Segment) -> float:
    """The same rows, graded beforehand, COPYed straight into the same indexed table."""
    engine = make_engine(url)
    with Session(engine) as session:
        grader = grading.load_grader(session)
        batch_id = session.execute(text("SELECT id FROM number_batch")).scalar_one()
        session.execute(text("TRUNCATE mobile_number"))
        session.commit()
    engine.dispose()
    lines = []
    for row in segment.rows(batch_id, grader, db_timestamp()):
        lines.append("\t".join(map(str, row)) + "\n")
    with psycopg.connect(_cli_dsn(url)) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY mobile_number ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
        ):
            for i in range(0, len(lines), _CHUNK):
                copy.write("".join(lines[i : i + _CHUNK]))
        conn.commit()
        return time.perf_counter() - started


def _cli_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _print_searches(label: str, times: dict[str, dict[str, Any]]) -> None:
    for name, t in times.items():
        print(
            f"  {label} first page {name:>14} {t['pattern']!r:>15}: median "
            f"{t['median_ms']:7.2f} ms, first run {t['first_ms']:7.2f} ms ({t['found']} found; "
            f"ratio to the {SEARCH_LIMIT_MS:.0f} ms limit: {t['ratio']:.2f})"
        )


def bench_postgresql(args: argparse.Namespace, segment: Segment) -> tuple[dict[str, Any], bool]:
    admin_dsn = _cli_dsn(args.postgres_url)
    name = f"haoka_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.postgres_url.rsplit("/", 1)[0] + "/" + name
    figures: dict[str, Any] = {}
    try:
        migrate.upgrade(url)
        if args.load == "copy":
            figures["load_s"] = round(_load(url, segment), 2)
            print(f"PostgreSQL: {segment.count:,} numbers loaded in {figures['load_s']:.2f} s")
        else:
            service = _generate(url, segment)
        searches, correct = _search_times(url, segment.searches())
        if args.load == "service":
            raw = _raw_copy_seconds(url, segment)
            figures |= {
                "generate_s": round(service, 2),
                "raw_copy_s": round(raw, 2),
                "ratio_to_copy": round(service / raw, 3),
                "limit_ratio_to_copy": COPY_LIMIT,
            }
            print(
                f"PostgreSQL: generate+grade {segment.count:,} numbers: {service:.2f} s; raw "
                f"COPY of the same rows: {raw:.2f} s; ratio {service / raw:.2f} (limit "
                f"{COPY_LIMIT})"
            )
        _print_searches("PostgreSQL", searches)
        figures["searches"] = searches
        return figures, correct
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_sqlite(args: argparse.Namespace, segment: Segment) -> tuple[dict[str, Any], bool]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        if args.load == "copy":
            figures["load_s"] = round(_load(url, segment), 2)
            print(f"SQLite: {segment.count:,} numbers loaded in {figures['load_s']:.2f} s")
        else:
            service = _generate(url, segment)
            limit = SQLITE_LIMIT_S_PER_MILLION * segment.count / 1_000_000
            figures |= {
                "generate_s": round(service, 2),
                "limit_s": round(limit, 1),
                "ratio": round(service / limit, 3),
            }
            print(
                f"SQLite: generate+grade {segment.count:,} numbers: {service:.2f} s "
                f"(ratio to the {limit:.0f} s limit: {service / limit:.2f})"
            )
        searches, correct = _search_times(url, segment.searches())
        _print_searches("SQLite", searches)
        figures["searches"] = searches
    return figures, correct


def _databases(value: str) -> list[str]:
    chosen = [part.strip() for part in value.split(",") if part.strip()]
    unknown = sorted(set(chosen) - set(DATABASES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(DATABASES)}")
    return chosen


def _size(value: str) -> int:
    count = _cli.positive(value)
    if count < 10_000:
        raise argparse.ArgumentTypeError("at least 10,000 numbers (the searches need them)")
    if count > 100_000_000:
        raise argparse.ArgumentTypeError("at most 100,000,000 numbers (11 digits from 1390)")
    return count


def main() -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument(
        "--numbers", type=_size, default=1_000_000, help="numbers in the segment (%(default)s)"
    )
    parser.add_argument(
        "--databases",
        type=_databases,
        default=list(DATABASES),
        help="comma-separated: postgresql, sqlite (default: both)",
    )
    parser.add_argument(
        "--load",
        choices=("service", "copy"),
        default="service",
        help="fill the table through the service (timed against a raw COPY) or by bulk "
        "load with indexes built afterwards (default: %(default)s)",
    )
    args = parser.parse_args()
    segment = Segment(args.numbers)
    figures: dict[str, Any] = {"limit_first_page_ms": SEARCH_LIMIT_MS}
    correct = True
    for database in args.databases:
        run = bench_postgresql if database == "postgresql" else bench_sqlite
        figures[database], right = run(args, segment)
        correct = correct and right
    _cli.emit("numbers", args, figures)
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
