"""Benchmark of the audit log's hash chain on PostgreSQL.

- migration 0008 over an audit log of 1,000,000 rows written before the chain: every row
  sealed (hashed in Python, staged with COPY, one set-based UPDATE), indexes and triggers
  built; limit 60 s;
- the sealer's round after a busy interval: 10,000 new rows (a push of 1,500 events/s for the
  worker's 5 s, with room), sealed by `audit.seal`; limit 1 s;
- `audit verify` walking the 1,000,000-row chain (read, re-hashed, compared); limit 60 s;
- the cost of the insert trigger that stamps `at`: COPY of 100,000 audit rows, against the
  same COPY into a copy of the table without triggers; reported as µs per row.

The sizes are options (--rows, --round-rows, --copy-rows; HAOKA_BENCH_AUDIT_ROWS still gives
--rows its default). Figures and ratios are printed, not asserted; the exit status is 1 only
if the migrated or sealed chain does not verify (a correctness bug).
"""

import os
import sys
import time
import uuid
from typing import Any

import _cli
import psycopg
from _channel_data import dsn
from sqlmodel import Session

from backoffice import migrate
from backoffice.db import make_engine
from backoffice.services import audit

MIGRATION_LIMIT_S, ROUND_LIMIT_S, VERIFY_LIMIT_S = 60.0, 1.0, 60.0
_OLD_ROWS = """
INSERT INTO audit_entry (id, at, actor, entity_type, entity_id, action, from_status,
                         to_status, item_count, document_id, reason)
SELECT '0190' || lpad(to_hex(g), 32, '0'), timestamp '2026-01-01' + g * interval '1 second',
       'terminal:7/clerk' || (g % 5), 'number', '1390575' || lpad((g % 10000)::text, 4, '0'),
       'sell', 'in_stock', 'sold', 1, NULL, 'sale R0007-' || g
FROM generate_series(1, {rows}) AS g
"""
_COLUMNS = "id, actor, entity_type, entity_id, action, from_status, to_status, item_count"


def _copy(conn: psycopg.Connection, table: str, count: int, prefix: str) -> float:  # type: ignore[type-arg]
    started = time.perf_counter()
    with conn.cursor().copy(f"COPY {table} ({_COLUMNS}) FROM STDIN") as copy:
        for n in range(count):
            copy.write_row(
                (f"{prefix}{n:031d}", "terminal:1/clerk1", "number", "13905750001", "sell",
                 "in_stock", "sold", 1)
            )  # fmt: skip
    conn.commit()
    return time.perf_counter() - started


def _report(label: str, seconds: float, limit: float) -> dict[str, float]:
    print(f"{label:58} {seconds:7.2f} s   limit {limit:4.0f} s   ratio {seconds / limit:.2f}")
    return {"s": round(seconds, 3), "limit_s": limit, "ratio": round(seconds / limit, 3)}


def main() -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument(
        "--rows",
        type=_cli.positive,
        default=int(os.environ.get("HAOKA_BENCH_AUDIT_ROWS", "1000000")),
        help="audit rows written before the chain, sealed by migration 0008 (default %(default)s)",
    )
    parser.add_argument(
        "--round-rows",
        type=_cli.positive,
        default=10_000,
        help="new rows for the sealer's round (default %(default)s)",
    )
    parser.add_argument(
        "--copy-rows",
        type=_cli.positive,
        default=100_000,
        help="rows COPYed to measure the stamping trigger (default %(default)s)",
    )
    args = parser.parse_args()
    rows, round_rows, copy_rows = args.rows, args.round_rows, args.copy_rows
    server = args.postgres_url
    name = f"haoka_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn(server), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    intact = True
    figures: dict[str, Any] = {}
    try:
        migrate.upgrade(url, "0007")
        with psycopg.connect(dsn(url), autocommit=True) as conn:
            conn.execute(_OLD_ROWS.format(rows=rows))  # type: ignore[arg-type]
            conn.execute("VACUUM ANALYZE audit_entry")
        started = time.perf_counter()
        migrate.upgrade(url)
        figures["migration_0008"] = _report(
            f"migration 0008 sealing {rows:,} rows",
            time.perf_counter() - started,
            MIGRATION_LIMIT_S,
        )
        with psycopg.connect(dsn(url), autocommit=True) as conn:
            # What autovacuum does after the migration's update, before the worker's rounds.
            conn.execute("VACUUM ANALYZE audit_entry")

        with psycopg.connect(dsn(url)) as conn:
            _copy(conn, "audit_entry", round_rows, "0193c")
        with Session(engine) as session:
            started = time.perf_counter()
            sealing = audit.seal(session)
            figures["sealer_round"] = _report(
                f"sealer round: {sealing.sealed:,} new rows",
                time.perf_counter() - started,
                ROUND_LIMIT_S,
            )

            started = time.perf_counter()
            report = audit.verify(session, seal_first=False)
            elapsed = time.perf_counter() - started
            figures["verify"] = _report(
                f"verify: walk {report.walk.rows:,} rows", elapsed, VERIFY_LIMIT_S
            )
            intact = report.intact and report.walk.rows == rows + round_rows

        with psycopg.connect(dsn(url)) as conn:
            conn.execute("CREATE TABLE audit_plain (LIKE audit_entry INCLUDING ALL)")
            conn.commit()
            plain = _copy(conn, "audit_plain", copy_rows, "0193d")
            stamped = _copy(conn, "audit_entry", copy_rows, "0193e")
        print(
            f"COPY of {copy_rows:,} audit rows: {stamped / copy_rows * 1e6:.1f} µs per row with "
            f"the stamping trigger, {plain / copy_rows * 1e6:.1f} µs without "
            f"(+{(stamped - plain) / copy_rows * 1e6:.1f} µs)"
        )
        figures["copy_us_per_row"] = {
            "with_trigger": round(stamped / copy_rows * 1e6, 2),
            "without": round(plain / copy_rows * 1e6, 2),
        }
    finally:
        engine.dispose()
        with psycopg.connect(dsn(server), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    figures["intact"] = intact
    _cli.emit("audit", args, figures)
    if not intact:
        print("the chain does not verify", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
