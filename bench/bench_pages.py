"""Benchmark: the server time of the first page of every list of the back office's web pages,
on PostgreSQL with 1,000,000 numbers and 1,000,000 audit rows (sizes are options).

The database is a throwaway one on the server, migrated, seeded with the demo's dealers,
outlets, terminals and users, then filled by COPY: --numbers numbers in one batch from
13908000000 (graded by
the grader, indexes built and analysed as after an import) and --audit-rows audit entries
spread over those numbers, a few actors and actions, a year of time. The pages are asked
through the app in this process (Starlette's test client: the whole request, routing,
dependencies, database and template, without a network), logged in as an administrator
(who may open every page). Each URL is asked --runs times; shown: the first run and the
median, and the median's ratio to the limit.

Limit: 300 ms per first page. Figures and ratios are printed, not asserted; the exit status
is 1 only when a page does not answer 200.
"""

import re
import statistics
import sys
import time
from typing import Any

import _cli
import psycopg
from _channel_data import dsn, fresh_database
from bench_numbers import Segment, _load
from fastapi.testclient import TestClient
from sqlmodel import Session

from backoffice.api.main import create_app
from backoffice.contracts.users import UserCreate
from backoffice.core.config import Settings
from backoffice.db import make_engine
from backoffice.demo import seed
from backoffice.domain.users import Role
from backoffice.services import users

LIMIT_MS = 300.0
PASSWORD = "bench-password-1"
# label → path: the first page of each list, plain and with the filters people use.
PAGES = {
    "batches": "/billing/batches",
    "imports": "/billing/imports",
    "numbers": "/billing/numbers",
    "numbers *88": "/billing/numbers?pattern=*88",
    "numbers 139087*, available": "/billing/numbers?pattern=139087*&status=available",
    "numbers by grade": "/billing/numbers?grade={grade}",
    "a number's page": "/billing/numbers/{number}",
    "releases": "/billing/releases",
    "top-up cards": "/billing/vouchers",
    "grading rules": "/billing/grading",
    "users": "/admin/users",
    "terminals": "/admin/terminals",
    "price lists": "/admin/prices",
    "audit log": "/admin/audit",
    "audit of a number": "/admin/audit?entity_type=number&entity_id={number}",
    "audit by actor": "/admin/audit?actor=terminal:7/clerk3",
    "outbox": "/admin/outbox",
    "configuration": "/admin/config",
    "jobs": "/jobs",
    "dashboard": "/dashboard",
}
_AUDIT = """
INSERT INTO audit_entry (id, actor, entity_type, entity_id, action, from_status, to_status,
                         item_count, reason)
SELECT '0191' || lpad(to_hex(g), 32, '0'),
       'terminal:7/clerk' || (g % 5),
       'number',
       '{prefix}' || lpad(((g::bigint * 7919) % {count})::text, {width}, '0'),
       (ARRAY['release', 'allocate', 'receive', 'sell', 'activate'])[g % 5 + 1],
       'available', 'allocated', 1, 'bench'
FROM generate_series(1, {rows}) AS g
"""


def _fill_audit(url: str, segment: Segment, rows: int) -> float:
    started = time.perf_counter()
    sql = _AUDIT.format(prefix=segment.prefix, count=segment.count, width=segment.width, rows=rows)
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute(sql)
        conn.execute("ANALYZE audit_entry")
    return time.perf_counter() - started


def _log_in(client: TestClient) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    reply = client.post(
        "/login",
        data={"username": "bench-admin", "password": PASSWORD, "csrf_token": token.group(1)},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text


def _time_pages(client: TestClient, runs: int, fill: dict[str, str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label, path in PAGES.items():
        url = path.format(**fill)
        times = []
        status = 0
        for _ in range(runs):
            started = time.perf_counter()
            reply = client.get(url, follow_redirects=False)
            times.append((time.perf_counter() - started) * 1000)
            status = reply.status_code
        median = statistics.median(times)
        figures[label] = {
            "path": url,
            "status": status,
            "first_ms": round(times[0], 1),
            "median_ms": round(median, 1),
            "ratio": round(median / LIMIT_MS, 3),
        }
        print(
            f"{label:30} {status:3}  first {times[0]:7.1f} ms  median {median:7.1f} ms  "
            f"limit {LIMIT_MS:.0f} ms  ratio {median / LIMIT_MS:.2f}"
        )
    return figures


def main() -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument(
        "--numbers", type=_cli.positive, default=1_000_000, help="default %(default)s"
    )
    parser.add_argument(
        "--audit-rows", type=_cli.positive, default=1_000_000, help="default %(default)s"
    )
    parser.add_argument(
        "--runs", type=_cli.positive, default=7, help="asks per page (default %(default)s)"
    )
    args = parser.parse_args()
    segment = Segment(args.numbers)
    # Beside the demo's segments 1390575 and 1390576, not over them.
    segment.prefix = "13908"[: 11 - segment.width]
    with fresh_database(args.postgres_url) as url:
        settings = Settings(database_url=url, run_jobs=False)
        seed(settings)
        loaded = _load(url, segment)
        audited = _fill_audit(url, segment, args.audit_rows)
        print(f"loaded {args.numbers:,} numbers in {loaded:.1f} s, "
              f"{args.audit_rows:,} audit rows in {audited:.1f} s")  # fmt: skip
        engine = make_engine(url)
        with Session(engine) as session:
            users.create_user(
                session,
                UserCreate(username="bench-admin", password=PASSWORD, role=Role.admin),
                "bench",
            )
            grade = (
                session.connection()
                .exec_driver_sql(
                    "SELECT grade_code FROM mobile_number GROUP BY grade_code "
                    "ORDER BY COUNT(*) LIMIT 1"
                )
                .scalar_one()
            )
        engine.dispose()
        fill = {"number": segment.number(segment.count // 3), "grade": grade}
        with TestClient(create_app(settings)) as client:
            _log_in(client)
            figures = _time_pages(client, args.runs, fill)
    _cli.emit("bench_pages", args, {"limit_ms": LIMIT_MS, "pages": figures})
    return 0 if all(f["status"] == 200 for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
