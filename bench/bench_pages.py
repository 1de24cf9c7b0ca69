"""Benchmark: the server time of the back office's web pages at a province's scale, on
PostgreSQL: 2,000 dealers and 1,000,000 sales beside 1,000,000 numbers and 1,000,000 audit
rows (sizes are options).

The database is a throwaway one on the server, migrated and seeded with the demo; then:

- --numbers numbers in one batch from 13908000000 by COPY (graded by the grader, indexes
  built and analysed as after an import), and --audit-rows audit entries spread over them;
- --dealers dealers with --outlets-per-dealer outlets each, a terminal per outlet, a dealer
  manager per dealer and a clerk per outlet, monthly settlement profiles;
- --sales sales over --months months ending with last month (bench_settlement's generator:
  one in five a top-up card, the rest numbers of three grades, one in fifty returned), each
  at one of its dealer's outlets, with the numbers and cards sold, a Z report per terminal
  and day, a sync event per sale and return, a reconciliation queue; a delivery note and its
  receipt per outlet (numbers of the batch in stock there, one receipt in ten short), the
  channel's credit ledger; every month settled (statements confirmed, last month's draft);
  the sales summaries rebuilt. All of it set-based (COPY, INSERT … SELECT), then analysed.

Timed pages: every href of the menu (backoffice/api/pages/frame.py MENU, so a page added
there is measured too), for the roles that open it (the sales centre, a dealer manager for
the pages scoped to a dealer, the billing clerk, an administrator for the administration);
the item pages of a dealer, an outlet, a delivery note and a statement (the dealer
manager's own); each statistics page with its default filters, last month and the last
three months; and the billing centre's searches. The pages are asked through the app in
this process (Starlette's test client: the whole request, routing, dependencies, database
and template, without a network). Each is asked once to warm it, then --runs times: shown
are the first ask, the median and the worst of the runs, the median's ratio to the limit,
and, from one more ask, the number of SQL statements and their time. For every page whose
median is over --explain-ms, its slowest statement is shown with EXPLAIN (ANALYZE, BUFFERS).

Limit: 300 ms per page. Figures and ratios are printed, not asserted; a page that does not
answer 200 (not built yet, refused, failing) is reported with its status, and makes the
exit status 1.
"""

import re
import statistics
import sys
import time
from datetime import date, timedelta
from typing import Any

import _cli
import _province
import httpx
import psycopg
from _channel_data import dsn, fresh_database
from bench_numbers import Segment, _load
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from backoffice.api.main import create_app
from backoffice.api.pages.frame import MENU
from backoffice.contracts.users import UserCreate
from backoffice.core.config import Settings
from backoffice.db import make_engine
from backoffice.demo import seed
from backoffice.domain.settlement.commission import add_months
from backoffice.domain.users import Role
from backoffice.services import users

LIMIT_MS = 300.0
PASSWORD = "bench-password-1"
# The roles a page is timed for, in this order, where the menu opens it to them; a page
# open to none of them (administration) is timed for the administrator.
ROLES = (Role.sales_centre, Role.dealer_manager, Role.billing)
USERS = {
    Role.admin: "bench-admin",
    Role.billing: "bench-billing",
    Role.sales_centre: "bench-sales",
    Role.manager: "bench-manager",
    Role.dealer_manager: "bench-dealer",
}
# label → path: the billing centre's and the administration's lists, with the filters
# people use, asked as an administrator.
SEARCHES = {
    "numbers *88": "/billing/numbers?pattern=*88",
    "numbers 139087*, available": "/billing/numbers?pattern=139087*&status=available",
    "numbers by grade": "/billing/numbers?grade={grade}",
    "a number's page": "/billing/numbers/{number}",
    "audit of a number": "/admin/audit?entity_type=number&entity_id={number}",
    "audit by actor": "/admin/audit?actor=terminal:7/clerk3",
}
# The item pages, with the roles that open them (the dealer manager its own dealer's).
ITEMS = {
    "a dealer's page": ("/channel/dealers/{dealer}", (Role.sales_centre,)),
    "an outlet's page": ("/channel/outlets/{outlet}", (Role.sales_centre, Role.dealer_manager)),
    "a delivery note": ("/channel/documents/{document}", (Role.sales_centre,)),
    "a draft statement": ("/settlement/statements/{draft}", (Role.sales_centre,)),
    "a confirmed statement": (
        "/settlement/statements/{statement}",
        (Role.sales_centre, Role.dealer_manager),
    ),
}
_STATUS_NOTE = {401: "LOGGED OUT", 404: "NOT FOUND", 403: "REFUSED", 500: "SERVER ERROR"}
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

# --- the SQL of a request, for the statement count, the database time and EXPLAIN --------

_capture: list[tuple[float, str, Any]] | None = None


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
    if _capture is not None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
    if _capture is not None and conn.info.get("bench_started"):
        started = conn.info["bench_started"].pop()
        _capture.append(((time.perf_counter() - started) * 1000, statement, params))


def _fill_audit(url: str, segment: Segment, rows: int) -> float:
    started = time.perf_counter()
    sql = _AUDIT.format(prefix=segment.prefix, count=segment.count, width=segment.width, rows=rows)
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute(sql)
        conn.execute("ANALYZE audit_entry")
    return time.perf_counter() - started


def _log_in(client: TestClient, username: str) -> httpx.Cookies:
    """The cookies of `username` logged in (the client's own are replaced)."""
    client.cookies.clear()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    reply = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return httpx.Cookies(client.cookies)


def _roles_of(allowed: frozenset[Role]) -> tuple[Role, ...]:
    return tuple(r for r in ROLES if r in allowed) or (Role.admin,)


def _plan(fill: dict[str, str], month: tuple[date, date], quarter: tuple[date, date]) -> list:
    """(label, role, path) of every page to time."""
    pages: list[tuple[str, Role, str]] = []
    hrefs: dict[str, frozenset[Role]] = {}
    for section in MENU:
        for item in section.items:
            hrefs.setdefault(item.href, item.roles)
    for href, allowed in hrefs.items():
        for role in _roles_of(allowed):
            pages.append((href, role, href))
            if href == "/dashboard" or href.startswith("/statistics/"):
                for name, (start, end) in (("last month", month), ("3 months", quarter)):
                    pages.append((f"{href} {name}", role, f"{href}?start={start}&end={end}"))
    for label, (path, roles) in ITEMS.items():
        for role in roles:
            pages.append((label, role, path.format(**fill)))
    for label, path in SEARCHES.items():
        pages.append((label, Role.admin, path.format(**fill)))
    return pages


def _ask(client: TestClient, url: str) -> tuple[float, int, str]:
    """Milliseconds, status and the path answered: a redirect (/my goes to the dealer's
    page) is followed and timed with it; one to the log-in page counts as 401."""
    started = time.perf_counter()
    reply = client.get(url, follow_redirects=True)
    elapsed = (time.perf_counter() - started) * 1000
    path = reply.url.path
    return elapsed, 401 if path == "/login" else reply.status_code, path


def _time_pages(
    client: TestClient, runs: int, pages: list, cookies: dict[Role, httpx.Cookies]
) -> list[dict[str, Any]]:
    global _capture
    figures = []
    for label, role, url in pages:
        client.cookies = httpx.Cookies(cookies[role])
        first, status, _ = _ask(client, url)
        times = [_ask(client, url)[0] for _ in range(runs)]
        _capture = []
        _, status, answered = _ask(client, url)
        statements, _capture = _capture, None
        median, worst = statistics.median(times), max(times)
        slowest = max(statements, default=(0.0, "", None), key=lambda s: s[0])
        figure = {
            "page": label,
            "role": role.value,
            "path": url,
            "status": status,
            "answered_by": answered,
            "first_ms": round(first, 1),
            "median_ms": round(median, 1),
            "worst_ms": round(worst, 1),
            "ratio": round(median / LIMIT_MS, 3),
            "sql_statements": len(statements),
            "sql_ms": round(sum(s[0] for s in statements), 1),
            "slowest_sql_ms": round(slowest[0], 1),
            "_slowest": slowest,
        }
        figures.append(figure)
        note = _STATUS_NOTE.get(status, "" if status == 200 else f"status {status}")
        if answered != url.split("?")[0]:
            note += f" → {answered}"
        print(
            f"{label[:38]:38} {role.value:14} {status:3} first {first:7.1f}  median "
            f"{median:7.1f}  worst {worst:7.1f} ms  ratio {median / LIMIT_MS:5.2f}  "
            f"sql {len(statements):3} / {figure['sql_ms']:6.1f} ms  {note}",
            flush=True,
        )
    return figures


def _explain(url: str, figures: list[dict[str, Any]], over_ms: float) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest statement of each page over `over_ms`."""
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        for figure in figures:
            ms, statement, params = figure["_slowest"]
            if figure["median_ms"] <= over_ms or not statement:
                continue
            try:
                plan = [
                    row[0]
                    for row in conn.execute(
                        f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params or None
                    )
                ]
            except psycopg.Error as error:
                plan = [f"(not explained: {error})"]
            figure["slowest_sql"] = _short(" ".join(statement.split()), 2_000)
            figure["slowest_plan"] = [_short(line, 400) for line in plan]
            print(
                f"\n{figure['page']} as {figure['role']}: median {figure['median_ms']} ms, "
                f"{figure['sql_statements']} statements taking {figure['sql_ms']} ms; "
                f"the slowest ({ms:.1f} ms):\n  {figure['slowest_sql']}\n  params "
                f"{_short(repr(params), 400)}\n"
                + "\n".join(f"    {line}" for line in figure["slowest_plan"])
            )


def _short(text: str, most: int) -> str:
    """A long statement or plan line (an IN list of hundreds of keys) cut to `most`."""
    text = re.sub(r"(%\(\w+?)_\d+\)s::VARCHAR(, \1_\d+\)s::VARCHAR)+", r"\1_…)s", text)
    return text if len(text) <= most else f"{text[:most]}… ({len(text):,} characters)"


def _users(url: str, dealer_id: str) -> str:
    """The bench's users, one per role (the dealer manager of `dealer_id`); returns the
    grade holding the fewest numbers."""
    engine = make_engine(url)
    with Session(engine) as session:
        for role, username in USERS.items():
            users.create_user(
                session,
                UserCreate(username=username, password=PASSWORD, role=role),
                "bench",
                dealer_id=dealer_id if role is Role.dealer_manager else None,
            )
        grade = (
            session.connection()
            .exec_driver_sql(
                "SELECT grade_code FROM mobile_number GROUP BY grade_code ORDER BY COUNT(*) LIMIT 1"
            )
            .scalar_one()
        )
        session.commit()
    engine.dispose()
    return str(grade)


def main() -> int:
    parser = _cli.parser(__doc__)
    for name, default, what in (
        ("--numbers", 1_000_000, "numbers in the billing centre's batch"),
        ("--audit-rows", 1_000_000, "audit rows over those numbers"),
        ("--sales", 1_000_000, "sales"),
        ("--dealers", 2_000, "dealers"),
        ("--months", 6, "months of sales, the last one last month"),
        ("--outlets-per-dealer", 3, "outlets of each dealer"),
        ("--numbers-per-outlet", 50, "numbers in stock at each outlet, at most"),
        ("--runs", 7, "timed asks per page, after one to warm it"),
    ):
        parser.add_argument(
            name, type=_cli.positive, default=default, help=f"{what} (default %(default)s)"
        )
    parser.add_argument(
        "--explain-ms",
        type=float,
        default=LIMIT_MS,
        help="EXPLAIN ANALYZE the slowest statement of pages slower than this (default "
        "%(default)s)",
    )
    args = parser.parse_args()
    segment = Segment(args.numbers)
    # Beside the demo's segments 1390575 and 1390576 and the sold numbers 1390…, not over them.
    segment.prefix = "13908"[: 11 - segment.width]
    outlets = args.dealers * args.outlets_per_dealer
    per_outlet = max(1, min(args.numbers_per_outlet, args.numbers // outlets))
    today = date.today()
    with fresh_database(args.postgres_url) as url:
        started = time.perf_counter()
        settings = Settings(database_url=url, run_jobs=False)
        seed(settings)
        loaded = _load(url, segment)
        audited = _fill_audit(url, segment, args.audit_rows)
        print(f"loaded {args.numbers:,} numbers in {loaded:.1f} s, "
              f"{args.audit_rows:,} audit rows in {audited:.1f} s", flush=True)  # fmt: skip
        with psycopg.connect(dsn(url)) as conn:
            batch = conn.execute("SELECT id FROM number_batch WHERE code = 'BENCH'").fetchone()
        assert batch is not None
        province = _province.load(
            url,
            sales=args.sales,
            dealers=args.dealers,
            months=args.months,
            outlets_per_dealer=args.outlets_per_dealer,
            numbers_per_outlet=per_outlet,
            segment_batch=batch[0],
            segment_prefix=segment.prefix,
            segment_width=segment.width,
            password=PASSWORD,
            today=today,
        )
        seeded = time.perf_counter() - started
        rows = ", ".join(f"{table} {n:,}" for table, n in province.counts.items())
        print(f"loaded {province.sales:,} sales for {args.dealers:,} dealers; everything in "
              f"{seeded:.0f} s: {rows}")  # fmt: skip
        grade = _users(url, province.dealer_id)
        last_month = province.months[-1]
        month_end = add_months(last_month, 1) - timedelta(days=1)
        fill = {
            "number": segment.number(segment.count // 3),
            "grade": grade,
            "dealer": province.dealer_code,
            "outlet": province.outlet_code,
            "document": province.document_number,
            "draft": province.draft_number,
            "statement": province.statement_number,
        }
        pages = _plan(fill, (last_month, month_end), (add_months(last_month, -2), month_end))
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            cookies = {role: _log_in(client, username) for role, username in USERS.items()}
            figures = _time_pages(client, args.runs, pages, cookies)
        _explain(url, figures, args.explain_ms)
    for figure in figures:
        figure.pop("_slowest")
    over = [f for f in figures if f["status"] == 200 and f["median_ms"] > LIMIT_MS]
    failing = [f for f in figures if f["status"] != 200]
    answered = [f for f in figures if f["status"] == 200]
    worst = max(answered, key=lambda f: f["median_ms"], default=None)
    print(
        f"\n{len(figures)} pages timed: {len(answered)} answered 200, {len(over)} of them over "
        f"{LIMIT_MS:.0f} ms; {len(failing)} did not answer 200"
        + (
            f"; slowest median {worst['median_ms']} ms ({worst['page']} as {worst['role']}), "
            f"ratio {worst['median_ms'] / LIMIT_MS:.2f}"
            if worst
            else ""
        )
    )
    for f in failing:
        print(f"  {f['status']} {f['path']} as {f['role']}")
    _cli.emit(
        "bench_pages",
        args,
        {
            "limit_ms": LIMIT_MS,
            "sales": province.sales,
            "months": [m.isoformat() for m in province.months],
            "rows": province.counts,
            "load_s": round(seeded, 1),
            "load_steps_s": province.steps,
            "over_limit": [f"{f['page']} [{f['role']}]" for f in over],
            "not_200": [f"{f['status']} {f['path']} [{f['role']}]" for f in failing],
            "pages": figures,
        },
    )
    return 0 if not failing else 1


if __name__ == "__main__":
    sys.exit(main())
