"""A province's channel for the pages' benchmark: dealers with outlets, terminals, staff and
settlement profiles; months of sales with their lines (bench_settlement's generator), their
numbers and top-up cards, returns, shifts with Z reports, sync events and a reconciliation
queue; delivery notes and receipts with discrepancies, the channel's credit ledger; the
settlement runs' ledger and statements; the sales summaries. Everything goes in by COPY or
INSERT … SELECT. Not a benchmark itself (`make bench` runs bench_*.py)."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import bench_settlement
import psycopg
from _channel_data import copy_rows, dsn
from sqlmodel import Session

from backoffice.contracts.settlement import SettlementRunIn
from backoffice.core.security import hash_password
from backoffice.db import make_engine
from backoffice.domain.settlement.accounts import Cadence
from backoffice.domain.settlement.commission import add_months
from backoffice.domain.users import Role
from backoffice.services.settlement import runs, shifts
from backoffice.services.statistics import summaries
from shared.codes import DocumentKind, format_document_number

# The generator's dealers are D0000…; the demo's own dealer (D0575) steps aside for them.
DEALER_CODE = "^D[0-9]+$"
# China business day of a naive-UTC timestamp column.
_DAY = "((({0} AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Shanghai')::date)"


@dataclass
class Province:
    """What was loaded, and keys for the item pages."""

    sales: int = 0
    months: list[date] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    dealer_code: str = ""
    dealer_id: str = ""
    outlet_code: str = ""
    document_number: str = ""
    statement_number: str = ""  # the newest confirmed one
    draft_number: str = ""


def _step(province: Province, name: str, work: Callable[[], object]) -> None:
    started = time.perf_counter()
    work()
    province.steps[name] = round(time.perf_counter() - started, 1)
    print(f"  {name}: {province.steps[name]:.1f} s", flush=True)


def _sales(url: str, sales: int, dealers: int, months: int, last_month: date) -> int:
    """bench_settlement's dealers and sales (outlet and terminal left as placeholders, filled
    in afterwards): its months end with `last_month`, its yearly rate gives `sales`."""
    first = add_months(last_month, -(months - 1))
    days = (add_months(last_month, 1) - first).days
    bench_settlement.MONTH = last_month
    per_year = -(-sales * 365 // days)
    return bench_settlement._seed(url, per_year, dealers, months)


def _channel(conn: psycopg.Connection, per_dealer: int, password_hash: str) -> None:  # type: ignore[type-arg]
    """Outlets, a terminal each, a dealer manager per dealer and a clerk per outlet, monthly
    settlement profiles; then every sale put at one of its dealer's outlets, in the shift of
    that terminal and day."""
    conn.execute(
        f"""
        INSERT INTO outlet (id, dealer_id, code, name, address, timezone, reservation_quota,
                            created_at)
        SELECT md5(d.id || ':' || j)::uuid::text, d.id, 'O' || substr(d.code, 2) || '-' || j,
               '网点' || substr(d.code, 2) || '-' || j, '人民路' || j || '号', 'Asia/Shanghai',
               20, d.created_at
          FROM dealer d CROSS JOIN generate_series(1, {per_dealer}) AS j
         WHERE d.code ~ '{DEALER_CODE}'
        """
    )
    conn.execute(
        f"""
        CREATE TEMP TABLE bench_map AS
        SELECT o.dealer_id, (row_number() OVER (PARTITION BY o.dealer_id ORDER BY o.code)) - 1
                   AS k,
               o.id AS outlet_id, md5(o.id || ':t')::uuid::text AS terminal_id,
               'c' || lower(o.code) AS clerk, o.code
          FROM outlet o JOIN dealer d ON d.id = o.dealer_id
         WHERE d.code ~ '{DEALER_CODE}'
        """
    )
    conn.execute("CREATE INDEX ON bench_map (dealer_id, k)")
    conn.execute(
        """
        INSERT INTO terminal (id, terminal_no, outlet_id, name, credential_hash, status,
                              registered_at)
        SELECT m.terminal_id,
               (SELECT coalesce(max(terminal_no), 0) FROM terminal)
                   + row_number() OVER (ORDER BY m.code),
               m.outlet_id, 'POS ' || m.code, repeat('0', 64), 'active', now()
          FROM bench_map m
        """
    )
    conn.execute(
        f"""
        INSERT INTO app_user (id, username, full_name, role, password_hash, is_active,
                              created_at, dealer_id, outlet_id, pin_hash, token_epoch)
        SELECT md5(d.id || ':manager')::uuid::text, 'm' || lower(d.code), '店长' || d.code,
               '{Role.dealer_manager.value}', %(hash)s, true, now(), d.id, NULL, %(hash)s, 0
          FROM dealer d WHERE d.code ~ '{DEALER_CODE}'
        UNION ALL
        SELECT md5(m.outlet_id || ':clerk')::uuid::text, m.clerk, '营业员' || m.code,
               '{Role.clerk.value}', %(hash)s, true, now(), m.dealer_id, m.outlet_id,
               %(hash)s, 0
          FROM bench_map m
        """,
        {"hash": password_hash},
    )
    conn.execute(
        f"""
        INSERT INTO settlement_profile (dealer_id, cadence, updated_by, updated_at)
        SELECT id, '{Cadence.month.value}', 'bench', now() FROM dealer
         WHERE code ~ '{DEALER_CODE}'
        """
    )
    conn.execute(
        f"""
        UPDATE sale s
           SET outlet_id = m.outlet_id, terminal_id = m.terminal_id, clerk = m.clerk,
               shift_id = md5(m.terminal_id || {_DAY.format("s.sold_at")})::uuid::text
          FROM bench_map m
         WHERE s.outlet_id = 'o' AND m.dealer_id = s.dealer_id
           AND m.k = abs(hashtext(s.id)) % {per_dealer}
        """
    )


def _shifts_and_events(conn: psycopg.Connection, url: str) -> None:  # type: ignore[type-arg]
    """A closed shift (Z report) per terminal and day with sales, one in twenty with cash
    short; a sync event for every sale and return as the terminals pushed them; and the
    reconciliation queue: one sale in 500 rejected (half still open), one in 700 accepted
    with an override approved offline."""
    # The cash figures as services/settlement/shifts.py record_cash works them out at the
    # close: the cash part of each sale's payments here, the refunds once the returns' events
    # are in (below); no cash is put in or taken out.
    conn.execute(
        """
        INSERT INTO shift (id, terminal_id, clerk, opened_at, opening_float_fen, closed_at,
                           z_number, cash_sales_fen)
        SELECT s.shift_id, s.terminal_id, min(s.clerk), min(s.sold_at) - interval '30 minutes',
               20000, max(s.sold_at) + interval '30 minutes',
               row_number() OVER (PARTITION BY s.terminal_id ORDER BY min(s.sold_at)),
               sum(cash.fen)
          FROM sale s JOIN bench_map m ON m.terminal_id = s.terminal_id
         CROSS JOIN LATERAL (
               SELECT coalesce(sum((p ->> 'amount_fen')::bigint), 0) AS fen
                 FROM json_array_elements(s.payments::json) AS p
                WHERE p ->> 'method' = 'cash'
               ) cash
         GROUP BY s.shift_id, s.terminal_id
        """
    )
    conn.execute(
        """
        INSERT INTO sync_event (id, terminal_id, outlet_id, dealer_id, seq, type, occurred_at,
                                received_at, result, reason, message, payload, resolution)
        SELECT e.id, e.terminal_id, e.outlet_id, e.dealer_id,
               row_number() OVER (PARTITION BY e.terminal_id ORDER BY e.at, e.id),
               e.type, e.at, e.at + interval '20 seconds', e.result, e.reason, e.message,
               e.payload, e.resolution
          FROM (
            SELECT s.event_id AS id, s.terminal_id, s.outlet_id, s.dealer_id, 'sale' AS type,
                   s.sold_at AS at,
                   'accepted' AS result,
                   CASE WHEN abs(hashtext(s.id)) % 700 = 0 THEN 'override_offline' END
                       AS reason,
                   NULL AS message,
                   json_build_object('sale_id', s.id, 'receipt_no', s.receipt_no,
                                     'total_fen', s.total_fen, 'shift_id', s.shift_id)::text
                       AS payload,
                   CASE WHEN abs(hashtext(s.id)) % 700 = 0 THEN 'open' END AS resolution
              FROM sale s JOIN bench_map m ON m.terminal_id = s.terminal_id
            UNION ALL
            SELECT md5(l.id || ':return')::uuid::text, s.terminal_id, s.outlet_id, s.dealer_id,
                   'return', l.returned_at, 'accepted', NULL, NULL,
                   json_build_object('sale_id', s.id, 'refund_fen', l.price_fen,
                                     'refund_method', 'cash', 'shift_id', NULL)::text,
                   NULL
              FROM sale_line l JOIN sale s ON s.id = l.sale_id
              JOIN bench_map m ON m.terminal_id = s.terminal_id
             WHERE l.returned_at IS NOT NULL
            UNION ALL
            SELECT md5(s.id || ':rejected')::uuid::text, s.terminal_id, s.outlet_id,
                   s.dealer_id, 'sale', s.sold_at + interval '1 minute', 'rejected',
                   'item_already_sold', 'number already sold at another outlet',
                   json_build_object('sale_id', md5(s.id || ':rejected')::uuid::text,
                                     'total_fen', s.total_fen)::text,
                   CASE WHEN abs(hashtext(s.id)) % 1000 < 500 THEN 'open' ELSE 'resolved' END
              FROM sale s JOIN bench_map m ON m.terminal_id = s.terminal_id
             WHERE abs(hashtext(s.id || 'r')) % 500 = 0
          ) e
        """
    )
    # A cash refund counts in the shift it names, or without one in the shift open on its
    # terminal at the time; the clerk counts what was expected, one shift in twenty ¥5 short.
    conn.execute(
        """
        UPDATE shift h
           SET cash_refunds_fen = r.fen
          FROM (SELECT h.id, sum((e.payload::json ->> 'refund_fen')::bigint) AS fen
                  FROM shift h
                  JOIN bench_map m ON m.terminal_id = h.terminal_id
                  JOIN sync_event e ON e.terminal_id = h.terminal_id
                   AND e.occurred_at BETWEEN h.opened_at AND h.closed_at
                 WHERE e.type = 'return' AND e.result = 'accepted'
                   AND coalesce(e.payload::json ->> 'refund_method', 'cash') = 'cash'
                   AND coalesce(e.payload::json ->> 'shift_id', h.id) = h.id
                 GROUP BY h.id) r
         WHERE h.id = r.id
        """
    )
    conn.execute(
        """
        UPDATE shift h
           SET expected_cash_fen = h.opening_float_fen + h.cash_sales_fen - h.cash_refunds_fen
                   + h.cash_in_fen - h.cash_out_fen,
               counted_cash_fen = h.opening_float_fen + h.cash_sales_fen - h.cash_refunds_fen
                   + h.cash_in_fen - h.cash_out_fen
                   - CASE WHEN abs(hashtext(h.id)) % 20 = 0 THEN 500 ELSE 0 END
          FROM bench_map m
         WHERE m.terminal_id = h.terminal_id
        """
    )
    # Their months' sums, as each close adds them up.
    engine = make_engine(url)
    with Session(engine) as session:
        shifts.roll_up_months(session)
        session.commit()
    engine.dispose()


def _items(conn: psycopg.Connection) -> None:  # type: ignore[type-arg]
    """The sold numbers (active; in stock again when returned) and top-up cards (half of
    them redeemed), each at the outlet that sold it."""
    now = datetime.now()
    conn.execute(
        "INSERT INTO number_batch (id, code, source, source_name, first_msisdn, last_msisdn, "
        "item_count, created_by, created_at) VALUES ('bench-sold-numbers', 'BENCH-SOLD', "
        "'segment', '', '13900000000', '13909999999', 0, 'bench', %s)",
        (now,),
    )
    conn.execute(
        "INSERT INTO voucher_batch (id, code, source, source_name, face_value_fen, "
        "dealer_price_fen, expires_on, first_serial, last_serial, item_count, created_by, "
        "created_at) VALUES ('bench-sold-cards', 'BENCH-SOLD-CARDS', 'generated', '', 5000, "
        "4850, %s, '10570000000000000', '10579999999999999', 0, 'bench', %s)",
        (date(now.year + 2, 12, 31), now),
    )
    conn.execute(
        """
        INSERT INTO mobile_number (msisdn, msisdn_rev, batch_id, grade_code, status, version,
                                   updated_at, outlet_id)
        SELECT l.item_key, reverse(l.item_key), 'bench-sold-numbers',
               CASE split_part(l.product, ':', 2) WHEN 'STD' THEN 'STD'
                    ELSE 'G' || split_part(l.product, ':', 2) END,
               CASE WHEN l.returned_at IS NULL THEN 'active' ELSE 'in_stock' END, 2,
               coalesce(l.returned_at, s.sold_at), s.outlet_id
          FROM sale_line l JOIN sale s ON s.id = l.sale_id
         WHERE l.item_kind = 'number'
        ON CONFLICT DO NOTHING
        """
    )
    conn.execute(
        """
        INSERT INTO voucher (serial, batch_id, face_value_fen, pin_cipher, status, version,
                             updated_at, outlet_id)
        SELECT l.item_key, 'bench-sold-cards', 5000, 'bench',
               CASE WHEN l.returned_at IS NOT NULL THEN 'in_stock'
                    WHEN abs(hashtext(l.item_key)) % 2 = 0 THEN 'redeemed' ELSE 'active' END,
               2, coalesce(l.returned_at, s.sold_at), s.outlet_id
          FROM sale_line l JOIN sale s ON s.id = l.sale_id
         WHERE l.item_kind = 'voucher'
        ON CONFLICT DO NOTHING
        """
    )


def _documents(
    conn: psycopg.Connection,  # type: ignore[type-arg]
    batch_id: str,
    prefix: str,
    width: int,
    per_outlet: int,
    day: date,
) -> None:
    """Per outlet a delivery note of `per_outlet` numbers of the loaded segment (numbers
    outlet × per_outlet onwards) and its receipt, one in ten with a number missing (an open
    discrepancy); the numbers in stock at the outlet; the delivery charged on the channel's
    credit ledger, and a payment per dealer."""
    outlets = conn.execute("SELECT outlet_id, dealer_id, code FROM bench_map ORDER BY code")
    documents, lines, discrepancies, ledger = [], [], [], []
    stamp = datetime.combine(day, datetime.min.time()) + timedelta(hours=2)
    seq = 0
    for n, (outlet, dealer, code) in enumerate(outlets.fetchall()):
        first, last = n * per_outlet, (n + 1) * per_outlet - 1
        short = n % 10 == 0
        for kind, status in (
            (DocumentKind.DN, "discrepancy" if short else "received"),
            (DocumentKind.RC, "done"),
        ):
            seq += 1
            number = format_document_number(kind, day, seq)
            doc_id = f"bench-{kind.value}-{code}"
            documents.append(
                (doc_id, number, kind.value, status, "bench", stamp, f"bench {code}", outlet)
            )
            count = per_outlet - (1 if short and kind is DocumentKind.RC else 0)
            lines.append(
                (
                    doc_id,
                    "number",
                    batch_id,
                    f"{prefix}{first:0{width}d}",
                    f"{prefix}{first + count - 1:0{width}d}",
                    count,
                )
            )
        if short:
            discrepancies.append(
                (f"bench-DN-{code}", outlet, "number", f"{prefix}{last:0{width}d}", "missing")
            )
        ledger.append((f"bench-ledger-{code}", dealer, stamp, per_outlet * 4_000, code))
    copy_rows(
        conn,
        "stock_document",
        ("id", "number", "kind", "status", "created_by", "created_at", "note", "outlet_id"),
        documents,
    )
    copy_rows(
        conn,
        "stock_document_line",
        ("document_id", "item_kind", "batch_id", "first_item", "last_item", "item_count"),
        lines,
    )
    copy_rows(
        conn,
        "document_discrepancy",
        ("document_id", "outlet_id", "item_kind", "item_key", "kind", "status", "note"),
        [(*d, "open", "") for d in discrepancies],
    )
    copy_rows(
        conn,
        "dealer_ledger_entry",
        ("id", "dealer_id", "at", "kind", "amount_fen", "document_id", "actor", "note"),
        [
            (i, d, at, "allocation", fen, f"bench-DN-{c}", "bench", "")
            for i, d, at, fen, c in ledger
        ],
    )
    conn.execute(
        f"""
        INSERT INTO dealer_ledger_entry (id, dealer_id, at, kind, amount_fen, document_id,
                                         actor, note)
        SELECT 'bench-payment-' || d.code, d.id, %(at)s, 'payment', -{per_outlet * 4_000},
               NULL, 'bench', ''
          FROM dealer d WHERE d.code ~ '{DEALER_CODE}'
        """,
        {"at": stamp + timedelta(days=3)},
    )
    conn.execute(
        f"""
        UPDATE mobile_number n
           SET status = 'in_stock', outlet_id = o.outlet_id, document_id = o.document_id,
               version = 3
          FROM (SELECT outlet_id, 'bench-DN-' || code AS document_id,
                       row_number() OVER (ORDER BY code) - 1 AS n
                  FROM bench_map) o
         WHERE n.batch_id = %(batch)s
           AND substr(n.msisdn, {12 - width})::int / {per_outlet} = o.n
        """,
        {"batch": batch_id},
    )
    # What the audit log says of each delivery and receipt (the document pages show it).
    conn.execute(
        f"""
        INSERT INTO audit_entry (id, actor, entity_type, entity_id, action, from_status,
                                 to_status, item_count, document_id, reason)
        SELECT '0192' || lpad(to_hex(row_number() OVER (ORDER BY d.number)), 32, '0'),
               'bench', 'outlet', d.outlet_id,
               CASE d.kind WHEN 'DN' THEN 'allocate' ELSE 'receive' END,
               CASE d.kind WHEN 'DN' THEN 'available' ELSE 'allocated' END,
               CASE d.kind WHEN 'DN' THEN 'allocated' ELSE 'in_stock' END,
               {per_outlet}, d.id, d.note
          FROM stock_document d WHERE d.id LIKE 'bench-%%'
        """
    )


def _settle(url: str, months: list[date]) -> None:
    """bench_settlement's commission plans, then a run per month, every month but the last
    confirmed (as the sales centre's review leaves them); the last stays draft."""
    engine = make_engine(url)
    with Session(engine) as session:
        bench_settlement._plans(session)
        for month in months:
            done = runs.run_settlement(
                session, SettlementRunIn(day=month, cadence=Cadence.month), "bench"
            )
            if month != months[-1]:
                with psycopg.connect(dsn(url)) as conn:
                    conn.execute(
                        "UPDATE settlement_statement SET status = 'confirmed' "
                        "WHERE period_start = %s",
                        (month,),
                    )
            print(
                f"    {month:%Y-%m}: {done.statements:,} statements, "
                f"{done.entries_booked:,} entries in {done.seconds:.1f} s",
                flush=True,
            )
    engine.dispose()


def _summaries(url: str) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        summaries.rebuild(session)
        session.commit()
    engine.dispose()


def load(
    url: str,
    *,
    sales: int,
    dealers: int,
    months: int,
    outlets_per_dealer: int,
    numbers_per_outlet: int,
    segment_batch: str,
    segment_prefix: str,
    segment_width: int,
    password: str,
    today: date,
) -> Province:
    """Loads the province beside what the database holds (the demo, the numbers' segment)."""
    province = Province()
    last_month = add_months(date(today.year, today.month, 1), -1)
    province.months = [add_months(last_month, -back) for back in range(months - 1, -1, -1)]
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute(f"UPDATE dealer SET code = 'DEMO-' || code WHERE code ~ '{DEALER_CODE}'")

    def sales_() -> None:
        province.sales = _sales(url, sales, dealers, months, last_month)

    _step(province, f"dealers and sales ({months} months, bench_settlement)", sales_)
    digest = hash_password(password)
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        _step(province, "outlets, terminals, staff, profiles; sales to outlets",
              lambda: _channel(conn, outlets_per_dealer, digest))  # fmt: skip
        _step(province, "shifts, sync events, reconciliation queue",
              lambda: _shifts_and_events(conn, url))  # fmt: skip
        _step(province, "sold numbers and top-up cards", lambda: _items(conn))
        _step(
            province,
            "delivery notes, receipts, discrepancies, credit ledger, stock",
            lambda: _documents(
                conn,
                segment_batch,
                segment_prefix,
                segment_width,
                numbers_per_outlet,
                today - timedelta(days=20),
            ),
        )
        _step(province, "VACUUM ANALYZE", lambda: conn.execute("VACUUM ANALYZE"))
    _step(province, "sales summaries (statistics.rebuild)", lambda: _summaries(url))
    _step(province, "settlement runs", lambda: _settle(url, province.months))
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        _step(province, "VACUUM ANALYZE again", lambda: conn.execute("VACUUM ANALYZE"))
        for table in (
            "dealer",
            "outlet",
            "terminal",
            "app_user",
            "sale",
            "sale_line",
            "shift",
            "sync_event",
            "mobile_number",
            "voucher",
            "stock_document",
            "document_discrepancy",
            "dealer_ledger_entry",
            "dealer_account_entry",
            "settlement_statement",
            "stat_sales_outlet",
            "audit_entry",
        ):
            province.counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
        province.dealer_code, province.dealer_id = conn.execute(
            "SELECT code, id FROM dealer WHERE code = 'D0001'"
        ).fetchone()  # type: ignore[misc]
        province.outlet_code = conn.execute(
            "SELECT min(o.code) FROM outlet o WHERE o.dealer_id = %s", (province.dealer_id,)
        ).fetchone()[0]  # type: ignore[index]
        province.document_number = conn.execute(
            "SELECT d.number FROM stock_document d JOIN outlet o ON o.id = d.outlet_id "
            "WHERE o.code = %s AND d.kind = 'DN'",
            (province.outlet_code,),
        ).fetchone()[0]  # type: ignore[index]
        numbers = dict(
            conn.execute(
                "SELECT DISTINCT ON (status = 'draft') status = 'draft', number "
                "FROM settlement_statement WHERE dealer_id = %s "
                "ORDER BY status = 'draft', period_start DESC",
                (province.dealer_id,),
            ).fetchall()
        )
        province.draft_number = numbers.get(True, "")
        province.statement_number = numbers.get(False, province.draft_number)
    return province
