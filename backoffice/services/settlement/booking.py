"""What a settlement run books for a dealer's sales and returns: each sale line at the
dealer price once, each return taken back once, whatever period it synced in. The database
does it in one pass: settlement_pending's rows of the period are taken off the list and
booked into the ledger by one INSERT … SELECT, never read into Python."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Insert,
    Select,
    String,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    tuple_,
    union_all,
)
from sqlmodel import Session

from backoffice.domain.calendar import day_start
from backoffice.domain.settlement.accounts import LedgerKind
from backoffice.domain.settlement.commission import Period
from backoffice.models import Sale, SaleLine
from backoffice.models.settlement import SettlementPending
from backoffice.models.types import utcnow
from backoffice.services import bulk
from backoffice.services.settlement.accounts import _ENTRIES, closed_periods
from backoffice.services.settlement.sql import Dialect, text_of

_SALES = Sale.__table__  # type: ignore[attr-defined]
_LINES = SaleLine.__table__  # type: ignore[attr-defined]
_PENDING = SettlementPending.__table__  # type: ignore[attr-defined]
ENTRY_COLUMNS = (
    "id",
    "dealer_id",
    "kind",
    "amount_fen",
    "retail_fen",
    "occurred_on",
    "booked_on",
    "late",
    "source_key",
    "item_key",
    "description",
    "reason",
    "approver",
    "actor",
    "created_at",
)
_SOURCE = ENTRY_COLUMNS.index("source_key")
_SALE, _RETURN = LedgerKind.sale.value, LedgerKind.sale_return.value
# What a pending row's entry is made from: its line and the line's sale.
_LINE_COLUMNS = (
    _LINES.c.id.label("line_id"),
    _LINES.c.item_key,
    _LINES.c.product,
    _LINES.c.price_fen,
    _LINES.c.dealer_fen,
    _SALES.c.dealer_id,
    _SALES.c.receipt_no,
    _SALES.c.sold_at,
    _LINES.c.returned_at,
)


@dataclass
class PeriodSums:
    """A dealer's entries of a period added up: fen by kind, the retail fen collected (sales
    less returns) and how many entries."""

    fen: Counter[str] = field(default_factory=Counter)
    retail: int = 0
    lines: int = 0

    def add(self, other: "PeriodSums") -> None:
        self.fen.update(other.fen)
        self.retail += other.retail
        self.lines += other.lines


@dataclass
class Booked:
    """What a run's booking step added to the ledger: how many entries, the dealers it
    touched (whose settlement versions move), and per dealer what it booked into the run's
    period, so that the statements add it to what the period held before instead of reading
    the period's entries back."""

    entries: int = 0
    dealers: set[str] = field(default_factory=set)
    period: defaultdict[str, PeriodSums] = field(default_factory=lambda: defaultdict(PeriodSums))

    def count(self, dealer_id: str, kind: str, fen: int, retail: int, entries: int) -> None:
        """Adds entries of a dealer booked into the period."""
        sums = self.period[dealer_id]
        sums.fen[kind] += fen
        sums.retail += retail
        sums.lines += entries

    def add(self, other: "Booked") -> None:
        self.entries += other.entries
        self.dealers |= other.dealers
        for dealer_id, sums in other.period.items():
            self.period[dealer_id].add(sums)


def _book_sales_and_returns(
    session: Session, dealer_ids: Sequence[str], period: Period, actor: str
) -> Booked:
    """Books every accepted sale line and return of the dealers up to the period's end that
    is not booked yet (those settlement_pending holds) and takes them off the list. An event
    from a closed period is booked late into the first open day (domain booking). The
    dealers touched include those whose only lines were zero-priced: they count for
    commission."""
    connection = session.connection()
    sql = Dialect(connection)
    end = day_start(period.end + timedelta(days=1))
    if sql.postgresql:
        return _take_and_book(connection, sql, dealer_ids, end, period, actor)
    due = (
        select(_PENDING.c.kind, *_LINE_COLUMNS)
        .select_from(_PENDING.join(_LINES, _LINES.c.id == _PENDING.c.line_id).join(_SALES))
        .where(_SALES.c.dealer_id.in_(dealer_ids))
        .where(_happened(_PENDING.c.kind) < end)
        .subquery("due")
    )
    # SQLite: the INSERT takes the database's write lock, so the list cannot grow before
    # the DELETE that follows it.
    booked = run_insert(connection, _entries(sql, due, dealer_ids, actor), period)
    booked.dealers.update(connection.execute(select(due.c.dealer_id).distinct()).scalars())
    connection.execute(
        delete(_PENDING).where(
            tuple_(_PENDING.c.line_id, _PENDING.c.kind).in_(select(due.c.line_id, due.c.kind))
        )
    )
    return booked


def _take_and_book(
    connection: Connection,
    sql: Dialect,
    dealer_ids: Sequence[str],
    end: datetime,
    period: Period,
    actor: str,
) -> Booked:
    """PostgreSQL: one statement takes the due rows off the list and books them, so that it
    books exactly what it takes, whatever terminals push meanwhile. The list is read as many
    rows as it held a moment before: its size swings from a month of sales to nothing within
    one run, faster than the planner's statistics follow it, and the LIMIT tells the planner
    the size to plan for (a plan made for a month would read every sale to book none; a row
    pushed since the count may wait for the next run)."""
    listed = connection.execute(select(func.count()).select_from(_PENDING)).scalar_one()
    pending = select(_PENDING).limit(listed).subquery("listed")
    due = (
        select(pending.c.kind, *_LINE_COLUMNS)
        .select_from(pending.join(_LINES, _LINES.c.id == pending.c.line_id).join(_SALES))
        .where(_SALES.c.dealer_id.in_(dealer_ids))
        .where(_happened(pending.c.kind) < end)
        .subquery("due")
    )
    taken = (
        delete(_PENDING)
        .where(_PENDING.c.line_id == due.c.line_id, _PENDING.c.kind == due.c.kind)
        .returning(*due.c)
        .cte("taken")
    )
    added = _returning(_entries(sql, taken, dealer_ids, actor)).cte("added")
    nothing = (cast(null(), String), cast(null(), Boolean), *(literal(0, BigInteger),) * 3)
    touched = select(taken.c.dealer_id, *nothing).distinct()
    return _fold(connection.execute(union_all(_sums(added, period), touched)))


def _happened(kind: Any) -> Any:
    """When a pending row's sale or return happened."""
    return case((kind == _SALE, _SALES.c.sold_at), else_=_LINES.c.returned_at)


def _returning(statement: Insert) -> Insert:
    return statement.returning(
        _ENTRIES.c.dealer_id,
        _ENTRIES.c.kind,
        _ENTRIES.c.booked_on,
        _ENTRIES.c.amount_fen,
        _ENTRIES.c.retail_fen,
    )


def _sums(added: Any, period: Period) -> Select[Any]:
    """The rows an INSERT … RETURNING added, per dealer, kind and whether they are booked
    into the period: entries, fen, retail fen."""
    inside = and_(added.c.booked_on >= period.start, added.c.booked_on <= period.end)
    return select(
        added.c.dealer_id,
        added.c.kind,
        inside,
        func.count(),
        cast(func.sum(added.c.amount_fen), BigInteger),
        cast(func.sum(added.c.retail_fen), BigInteger),
    ).group_by(added.c.dealer_id, added.c.kind, inside)


def _fold(rows: Iterable[Sequence[Any]]) -> Booked:
    """Booked from (dealer, kind, in the period, entries, fen, retail fen) rows; a row
    without a kind only names a dealer touched."""
    booked = Booked()
    for dealer_id, kind, inside, entries, fen, retail in rows:
        booked.dealers.add(dealer_id)
        if kind is None:
            continue
        booked.entries += int(entries)
        if inside:
            booked.count(dealer_id, kind, int(fen), int(retail), int(entries))
    return booked


def run_insert(connection: Connection, statement: Insert, period: Period) -> Booked:
    """Runs an INSERT … SELECT into the ledger; returns what it booked, added up by
    PostgreSQL itself (no row travels back)."""
    if connection.dialect.name == "postgresql":
        added = _returning(statement).cte("added")
        return _fold(connection.execute(_sums(added, period)))
    return _fold(
        (dealer_id, kind, period.start <= booked_on <= period.end, 1, fen, retail)
        for dealer_id, kind, booked_on, fen, retail in connection.execute(_returning(statement))
    )


def _entries(sql: Dialect, due: Any, dealer_ids: Sequence[str], actor: str) -> Insert:
    """The INSERT of the ledger rows of `due` (pending rows with their line and sale): sales
    before returns, each in line order, as their ids rise; a zero-priced line (a free SIM
    pack) owes nothing and records nothing."""
    selling = due.c.kind == _SALE
    sign = case((selling, 1), else_=-1)
    occurred = sql.day(case((selling, due.c.sold_at), else_=due.c.returned_at))
    closed = closed_periods(dealer_ids).subquery("closed")
    # domain.settlement.accounts.booking: the ledger up to the dealer's last closed day is
    # frozen; an entry from inside it goes to the day after, labelled late.
    late = sql.flag(occurred <= closed.c.closed_until)
    booked_on = case((late, sql.next_day(closed.c.closed_until)), else_=occurred)
    order = (case((selling, 0), else_=1), due.c.line_id)
    description = (
        case((selling, "销售"), else_="退货")
        + " "
        + _product_name(sql, due.c.product)
        + " 小票"
        + due.c.receipt_no
    )
    rows = (
        select(
            sql.ids(*order),
            due.c.dealer_id,
            due.c.kind,
            sign * due.c.dealer_fen,
            sign * due.c.price_fen,
            occurred,
            booked_on,
            late,
            due.c.kind + ":" + text_of(due.c.line_id),
            due.c.item_key,
            func.substr(description, 1, 255),
            literal(""),
            literal(""),
            literal(actor),
            literal(utcnow(), _ENTRIES.c.created_at.type),
        )
        .select_from(due.outerjoin(closed, closed.c.dealer_id == due.c.dealer_id))
        .where(due.c.dealer_fen != 0)
        .order_by(*order)
    )
    return insert(_ENTRIES).from_select(ENTRY_COLUMNS, rows)


def _product_name(sql: Dialect, product: Any) -> Any:
    """A product key as the statement names it: 充值卡50元, 号码STD, else the key itself."""
    card = func.substr(product, 9)
    return case(
        (
            (func.substr(product, 1, 8) == "voucher:") & sql.all_digits(card),
            "充值卡" + text_of(cast(card, BigInteger) // 100) + "元",
        ),
        (func.substr(product, 1, 7) == "number:", "号码" + func.substr(product, 8)),
        else_=product,
    )


def insert_entries(session: Session, rows: list[tuple[object, ...]]) -> None:
    """Inserts ledger rows made in Python (revenue share, in ENTRY_COLUMNS order) in bulk,
    sorted in place by source key: the index on revenue share keys then takes them in one
    sweep over its pages instead of one page anywhere in it per row."""
    rows.sort(key=_source_of)
    bulk.insert_rows(session, "dealer_account_entry", ENTRY_COLUMNS, rows)


def _source_of(row: tuple[object, ...]) -> str:
    return str(row[_SOURCE])
