"""Benchmark: a province's terminals pushing their backlogs at once (a thundering herd).

For each count of terminals (default 32, 256, 1,000 and 2,000) a fresh PostgreSQL database
gets the dealers (one per 20 terminals), outlets (two terminals each, a tenth of their
stock shared so that twins race for it), the clerks, and numbers in stock; the back office
runs as deployed (uvicorn, --workers office processes). Then every terminal, an asyncio
task with its own HTTP connection, starts at the same instant with a backlog of
--backlog sale events (default 200: a few hours of a busy counter, or a day offline) and
pushes it as a terminal does: batches of --min-batch
to --max-batch events (random; default 1 to 200), a batch that gets no answer sent again
(same event ids), and on 503 the terminal's own back-off (pos_terminal.sync.busy_delay: the
Retry-After, never sooner, with jitter).

Reported per count: answered events per second (events / time until the last answer),
push latency p50/p99 and the slowest, 503 answers, pushes that got no answer, every event
answered (exactly once as accepted or rejected; re-sent ones as duplicates), and the
database's integrity: items sold = sales accepted, no item sold twice, one stored event per
event sent. Limit: throughput at every count >= that at the first (32) count, ratio
printed. Also the direct sale statement's rate (the conditional UPDATE … RETURNING the
push runs per number, one transaction each, 32 connections) and the push's ratio to it
(target >= 0.5). Exit status 1 on an integrity failure.
"""

import asyncio
import base64
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import _cli
import httpx
import psycopg
from _channel_data import dsn, fresh_database
from sqlmodel import Session

from backoffice.contracts.billing import SegmentRequest
from backoffice.contracts.channel import (
    DealerCreate,
    OutletCreate,
    StaffCreate,
    TerminalCreate,
)
from backoffice.db import make_engine
from backoffice.domain.channel import DealerKind
from backoffice.domain.users import Role
from backoffice.services.billing import numbers, releases
from backoffice.services.channel import dealers
from pos_terminal.sync import busy_delay
from shared.codes import format_receipt_number, resident_id_check_char
from shared.ids import new_id
from shared.sync import Customer, Payment, SaleEvent, SaleLine, SalePayload

TERMINALS_PER_DEALER = 20
SHARED = 0.1  # share of a terminal's backlog its twin at the outlet also tries to sell
PUSH_PATH = "/api/v1/sync/push"
DIRECT_CONNECTIONS = 32


@dataclass
class Terminal:
    credential: str
    number: int
    events: list[str]  # each event as JSON, in sequence order
    ids: list[str]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    busy: int = 0
    unanswered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)  # event id → first answers seen
    last_answer: float = 0.0


def _resident_id(n: int) -> str:
    """A valid resident ID, a different one per n (up to 20 million)."""
    born = date(1960, 1, 1) + timedelta(days=n // 1000 % 20000)
    body = f"330602{born:%Y%m%d}{n % 1000:03d}"
    return body + resident_id_check_char(body)


def _setup(url: str, terminals: int, per_terminal: int) -> list[Terminal]:
    """Dealers, outlets, clerks and terminals through the services; numbers generated and
    put on the outlets' shelves with one UPDATE (what allocation and receipt would do)."""
    shared = int(per_terminal * SHARED)
    outlets = math.ceil(terminals / 2)
    per_outlet = 2 * per_terminal - shared
    engine = make_engine(url)
    plan: list[tuple[str, int, int]] = []  # credential, terminal no, outlet index
    codes: list[str] = []
    with Session(engine) as session:
        numbers.generate_segment(
            session,
            SegmentRequest(
                prefix="1390", start=0, end=outlets * per_outlet * 2 + 9_999, code="HERD"
            ),
            "bench",
        )
        releases.release_numbers(session, "HERD", "bench")
        for d in range(math.ceil(terminals / TERMINALS_PER_DEALER)):
            code = f"D{d:04d}"
            dealers.create_dealer(
                session,
                DealerCreate(
                    code=code, name=code, kind=DealerKind.partner, credit_limit_fen=10**12
                ),
                "bench",
            )
            dealers.create_staff(
                session,
                code,
                StaffCreate(
                    username=f"clerk-{code}",
                    password="herd-clerk-pass-9",
                    role=Role.clerk,
                    pin="135790",
                ),
                "bench",
            )
            codes.append(code)
        for o in range(outlets):
            dealer = codes[o * 2 // TERMINALS_PER_DEALER]
            outlet = dealers.create_outlet(
                session, OutletCreate(dealer=dealer, code=f"O{o:05d}", name=f"网点{o}"), "bench"
            )
            for _ in range(2 if 2 * o + 1 < terminals else 1):
                made = dealers.register_terminal(
                    session, TerminalCreate(outlet=outlet.code, name="herd"), "bench"
                )
                plan.append((made.credential, made.terminal.terminal_no, o))
    engine.dispose()
    with psycopg.connect(dsn(url)) as conn:
        conn.execute(
            "CREATE TEMP TABLE shelf AS SELECT id, row_number() OVER (ORDER BY code) - 1 AS k "
            "FROM outlet"
        )
        conn.execute(
            "UPDATE mobile_number m SET status = 'in_stock', outlet_id = s.id "
            "FROM (SELECT msisdn, (row_number() OVER (ORDER BY msisdn) - 1) / %s AS k "
            "      FROM mobile_number WHERE grade_code = 'STD') r "
            "JOIN shelf s ON s.k = r.k WHERE m.msisdn = r.msisdn",
            (per_outlet,),
        )
        stock: dict[int, list[str]] = {}
        for msisdn, k in conn.execute(
            "SELECT m.msisdn, s.k FROM mobile_number m JOIN shelf s ON s.id = m.outlet_id "
            "ORDER BY m.msisdn"
        ):
            stock.setdefault(k, []).append(msisdn)
        conn.commit()
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    made_terminals = []
    seen_outlet: set[int] = set()
    person = 0
    for credential, number, o in plan:
        shelf = stock[o]
        twin = o in seen_outlet
        seen_outlet.add(o)
        first = per_terminal - shared if twin else 0
        items = shelf[first : first + per_terminal]
        dealer = codes[o * 2 // TERMINALS_PER_DEALER]
        now = datetime.now(UTC)
        sale_events = []
        for seq, item in enumerate(items, start=1):
            person += 1
            sale_events.append(
                SaleEvent(
                    id=new_id(),
                    seq=seq,
                    occurred_at=now,
                    payload=SalePayload(
                        sale_id=new_id(),
                        receipt_no=format_receipt_number(number, seq),
                        clerk=f"clerk-{dealer}",
                        lines=[
                            SaleLine(
                                item_kind="number",
                                item=item,
                                product="number:STD",
                                price_fen=5_000,
                                price_list_version=1,
                            )
                        ],
                        payments=[Payment(method="cash", amount_fen=5_000)],
                        customer=Customer(name="张三", resident_id=_resident_id(person)),
                    ),
                )
            )
        made_terminals.append(
            Terminal(
                credential,
                number,
                [e.model_dump_json() for e in sale_events],
                [e.id for e in sale_events],
            )
        )
    return made_terminals


def _serve(url: str, data_dir: str, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HAOKA_DATA_DIR": data_dir,
        "HAOKA_SECRET_KEY": base64.urlsafe_b64encode(b"s" * 32).decode(),
        "HAOKA_PIN_KEY": base64.urlsafe_b64encode(b"p" * 32).decode(),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "backoffice.api.asgi:app",
            "--workers",
            str(workers),
            "--port",
            str(port),
            "--backlog",
            "4096",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz").is_success:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("uvicorn did not start")


async def _terminal(
    client: httpx.AsyncClient,
    terminal: Terminal,
    tally: Tally,
    start: asyncio.Event,
    batch: tuple[int, int],
    rng: random.Random,
    t0: list[float],
) -> None:
    headers = {"Authorization": f"Bearer {terminal.credential}", "Content-Type": "application/json"}
    await start.wait()
    sent = 0
    busy_in_a_row = 0
    failures = 0
    while sent < len(terminal.events):
        size = min(len(terminal.events) - sent, rng.randint(*batch))
        body = '{"events":[' + ",".join(terminal.events[sent : sent + size]) + "]}"
        started = time.perf_counter()
        try:
            reply = await client.post(PUSH_PATH, content=body, headers=headers)
        except httpx.HTTPError:
            tally.unanswered += 1
            failures += 1
            await asyncio.sleep(min(30.0, 2 ** min(failures, 5)) * rng.uniform(0.5, 1.0))
            continue
        if reply.status_code == 503:
            tally.busy += 1
            busy_in_a_row += 1
            retry_after = float(reply.headers.get("Retry-After", "1"))
            await asyncio.sleep(busy_delay(retry_after, busy_in_a_row, rng))
            continue
        if reply.status_code != 200:
            tally.unanswered += 1
            failures += 1
            await asyncio.sleep(min(30.0, 2 ** min(failures, 5)) * rng.uniform(0.5, 1.0))
            continue
        busy_in_a_row = failures = 0
        tally.latencies.append(time.perf_counter() - started)
        tally.last_answer = time.perf_counter() - t0[0]
        for result in reply.json()["results"]:
            status = result["status"]
            key = status if status != "rejected" else f"rejected:{result['reason']}"
            tally.statuses[key] = tally.statuses.get(key, 0) + 1
            if status != "duplicate":
                tally.answers[result["id"]] = tally.answers.get(result["id"], 0) + 1
        sent += size


async def _herd(
    base: str, terminals: list[Terminal], batch: tuple[int, int], timeout: float
) -> Tally:
    """Each terminal with its own HTTP client and connection, as in the field (one shared
    client's connection pool would itself be the bottleneck at a thousand connections)."""
    tally = Tally()
    start = asyncio.Event()
    t0 = [0.0]
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) for _ in terminals]
    try:
        tasks = [
            asyncio.create_task(
                _terminal(client, t, tally, start, batch, random.Random(t.number), t0)
            )
            for client, t in zip(clients, terminals, strict=True)
        ]
        await asyncio.sleep(0.5)
        t0[0] = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
    finally:
        for client in clients:
            await client.aclose()
    return tally


def _integrity(url: str, terminals: list[Terminal], tally: Tally) -> dict[str, object]:
    with psycopg.connect(dsn(url)) as conn:
        sold = conn.execute("SELECT count(*) FROM mobile_number WHERE status = 'sold'").fetchone()
        lines = conn.execute("SELECT count(*), count(DISTINCT item_key) FROM sale_line").fetchone()
        stored = conn.execute("SELECT count(*) FROM sync_event").fetchone()
    assert sold is not None and lines is not None and stored is not None
    sent = sum(len(t.ids) for t in terminals)
    every_id = {i for t in terminals for i in t.ids}
    answered_once = sum(1 for i in every_id if tally.answers.get(i) == 1)
    accepted = tally.statuses.get("accepted", 0)
    return {
        "events_sent": sent,
        "answered_once": answered_once,
        "answered_twice": sum(1 for n in tally.answers.values() if n > 1),
        "items_sold": sold[0],
        "sales_accepted": accepted,
        "sold_twice": lines[0] - lines[1],
        "events_stored": stored[0],
        "ok": answered_once == sent
        and sold[0] == accepted
        and lines[0] == lines[1]
        and stored[0] == sent,
    }


def _direct_rate(url: str) -> float:
    """The push's sale statement alone, one transaction each, on numbers put back on the
    shelf (the table settled as it was before the herd)."""
    with psycopg.connect(dsn(url)) as conn:
        rows = conn.execute(
            "UPDATE mobile_number SET status = 'in_stock' WHERE status = 'sold' "
            "RETURNING msisdn, outlet_id"
        ).fetchall()
        conn.commit()
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE mobile_number")
    statement = (
        "UPDATE mobile_number SET status = 'sold', held_from = NULL, version = version + 1, "
        "updated_at = now() WHERE msisdn = %s AND outlet_id = %s AND status = 'in_stock' "
        "RETURNING grade_code"
    )
    parts = [rows[i::DIRECT_CONNECTIONS] for i in range(DIRECT_CONNECTIONS)]
    barrier = threading.Barrier(DIRECT_CONNECTIONS)
    done: list[int] = []

    def run(part: list[tuple[str, str]]) -> None:
        with psycopg.connect(dsn(url), autocommit=True) as conn:
            barrier.wait()
            done.append(sum(conn.execute(statement, row).rowcount for row in part))

    threads = [threading.Thread(target=run, args=(p,)) for p in parts]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - started)


def bench(server: str, terminals: int, args: object) -> dict[str, object]:
    with fresh_database(server) as url, tempfile.TemporaryDirectory() as data_dir:
        plan = _setup(url, terminals, args.backlog)  # type: ignore[attr-defined]
        office, base = _serve(url, data_dir, args.workers)  # type: ignore[attr-defined]
        try:
            batch = (args.min_batch, args.max_batch)  # type: ignore[attr-defined]
            tally = asyncio.run(_herd(base, plan, batch, args.timeout))  # type: ignore[attr-defined]
        finally:
            office.terminate()
            office.wait(60)
        figures = _integrity(url, plan, tally)
        direct = _direct_rate(url) if args.direct else None  # type: ignore[attr-defined]
    lat = sorted(tally.latencies)
    rate = figures["events_sent"] / tally.last_answer  # type: ignore[operator]
    figures.update(
        terminals=terminals,
        events_per_s=round(rate, 1),
        seconds=round(tally.last_answer, 2),
        pushes=len(lat),
        p50_ms=round(statistics.median(lat) * 1000, 1),
        p99_ms=round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
        max_ms=round(lat[-1] * 1000, 1),
        busy_503=tally.busy,
        unanswered=tally.unanswered,
        statuses=tally.statuses,
    )
    if direct is not None:
        figures.update(direct_per_s=round(direct, 1), ratio_to_direct=round(rate / direct, 2))
    return figures


def main() -> int:
    parser = _cli.parser(__doc__)
    parser.add_argument("--terminals", type=_cli.counts, default=[32, 256, 1000, 2000])
    parser.add_argument(
        "--backlog", type=_cli.positive, default=200, help="sale events each terminal holds"
    )
    parser.add_argument("--min-batch", type=_cli.positive, default=1, help="events per push")
    parser.add_argument("--max-batch", type=_cli.positive, default=200, help="events per push")
    parser.add_argument("--workers", type=_cli.positive, default=2, help="office processes")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="a push's HTTP timeout (a terminal's: 10 s)"
    )
    parser.add_argument(
        "--no-direct", dest="direct", action="store_false", help="skip the direct statement"
    )
    args = parser.parse_args()
    if args.min_batch > args.max_batch:
        parser.error("--min-batch must not be above --max-batch")
    results = []
    for count in args.terminals:
        figures = bench(args.postgres_url, count, args)
        results.append(figures)
        base_rate = results[0]["events_per_s"]
        print(
            f"{count:>5} terminals: {figures['events_sent']:,} events in "
            f"{figures['seconds']} s = {figures['events_per_s']:,} events/s "
            f"(ratio to {results[0]['terminals']} terminals: "
            f"{figures['events_per_s'] / base_rate:.2f}); push p50 {figures['p50_ms']} ms, "
            f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms; 503 answers "
            f"{figures['busy_503']:,}, unanswered {figures['unanswered']}; answered once "
            f"{figures['answered_once']:,}/{figures['events_sent']:,}; sold twice "
            f"{figures['sold_twice']}; {figures['statuses']}"
            + (
                f"; direct statement {figures['direct_per_s']:,}/s, ratio "
                f"{figures['ratio_to_direct']}"
                if "direct_per_s" in figures
                else ""
            ),
            flush=True,
        )
    _cli.emit("push", args, {"runs": results})
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
