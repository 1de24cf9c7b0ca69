"""What a settlement run books for a dealer's sales and returns: each sale line at the
dealer price once, each return taken back once, whatever period it synced in; and the
number sales a period's commission is computed from."""

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Integer,
    and_,
    any_,
    bindparam,
    delete,
    or_,
    select,
    union_all,
)
from sqlmodel import Session

from backoffice.domain.calendar import business_day, day_start
from backoffice.domain.channel import grade_of
from backoffice.domain.settlement.accounts import (
    LedgerKind,
    booking,
)
from backoffice.domain.settlement.commission import (
    CommissionLine,
    NumberSale,
    Period,
    add_months,
)
from backoffice.models import (
    Sale,
    SaleLine,
)
from backoffice.models.settlement import SettlementPending
from backoffice.services import bulk
from backoffice.services.settlement.accounts import _ENTRIES, closed_until
from backoffice.services.settlement.revenue import _ACTIVATIONS
from shared.ids import new_id

_SALES = Sale.__table__  # type: ignore[attr-defined]
_LINES = SaleLine.__table__  # type: ignore[attr-defined]
_PENDING = SettlementPending.__table__  # type: ignore[attr-defined]
_CHUNK = 10_000
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


def _business_days() -> Callable[[datetime], date]:
    """`business_day`, its answers for UTC instants (as the tables' columns read back) kept
    per UTC hour for the caller's loop: the business zone's offsets are whole hours, so
    every instant of one UTC hour falls on one day."""
    days: dict[int, date] = {}

    def day_of(at: datetime) -> date:
        if at.tzinfo is not UTC:
            return business_day(at)
        hour = at.toordinal() * 24 + at.hour
        day = days.get(hour)
        if day is None:
            day = days[hour] = business_day(at)
        return day

    return day_of


def _product_name(product: str) -> str:
    kind, _, detail = product.partition(":")
    if kind == "voucher" and detail.isdigit():
        return f"充值卡{int(detail) // 100}元"
    return f"号码{detail}" if kind == "number" else product


def _book_sales_and_returns(
    session: Session, dealer_ids: Sequence[str], period: Period, actor: str
) -> tuple[int, set[str]]:
    """Books every accepted sale line and return up to the period's end that is not booked
    yet: those settlement_pending holds, read in one pass and inserted in bulk (COPY on
    PostgreSQL), then taken off it. An event from a closed period is booked late into the
    first open day (domain.settlement.booking). Returns the entries booked and the dealers
    whose lines were taken (zero-priced ones too: they count for commission)."""
    end = day_start(period.end + timedelta(days=1))
    frozen = closed_until(session, dealer_ids)
    sale, sale_return = LedgerKind.sale.value, LedgerKind.sale_return.value
    connection = session.connection()
    # The list first, then its lines by key: the list's size swings from a period's sales
    # to nothing within one run, faster than the planner's statistics follow it.
    pending: dict[int, list[str]] = defaultdict(list)
    for line_id, kind in connection.execute(select(_PENDING.c.line_id, _PENDING.c.kind)):
        pending[line_id].append(kind)
    lines = []
    for by_id in _keyed(connection, _LINES.c.id, sorted(pending)):
        lines += connection.execute(
            select(
                _LINES.c.id,
                _LINES.c.item_key,
                _LINES.c.product,
                _LINES.c.price_fen,
                _LINES.c.dealer_fen,
                _SALES.c.dealer_id,
                _SALES.c.receipt_no,
                _SALES.c.sold_at,
                _LINES.c.returned_at,
            )
            .join(_SALES, _SALES.c.id == _LINES.c.sale_id)
            .where(by_id)
            .where(_SALES.c.dealer_id.in_(dealer_ids))
        ).all()
    due = [
        (kind, line)
        for line in lines
        for kind in pending[line.id]
        if (line.sold_at if kind == sale else line.returned_at) < end
    ]
    rows: list[tuple[object, ...]] = []
    done: dict[str, list[int]] = {sale: [], sale_return: []}
    dealers: set[str] = set()
    now = bulk.db_timestamp()
    day_of = _business_days()
    # Sales before returns, each in line order.
    for kind, line in sorted(due, key=lambda due: (due[0] != sale, due[1].id)):
        done[kind].append(line.id)
        dealers.add(line.dealer_id)
        # A zero-priced line (a free SIM pack) owes nothing and records nothing.
        if not line.dealer_fen:
            continue
        selling = kind == sale
        occurred = day_of(line.sold_at if selling else line.returned_at)
        booked_on, late = booking(occurred, frozen.get(line.dealer_id))
        sign = 1 if selling else -1
        word = "销售" if selling else "退货"
        rows.append(
            (
                new_id(),
                line.dealer_id,
                kind,
                sign * line.dealer_fen,
                sign * line.price_fen,
                occurred.isoformat(),
                booked_on.isoformat(),
                late,
                f"{kind}:{line.id}",
                line.item_key,
                f"{word} {_product_name(line.product)} 小票{line.receipt_no}",
                "",
                "",
                actor,
                now,
            )
        )
    insert_entries(session, rows)
    for kind, ids in done.items():
        _settled(session, kind, ids)
    return len(rows), dealers


def insert_entries(session: Session, rows: list[tuple[object, ...]]) -> None:
    """Inserts ledger rows (in ENTRY_COLUMNS order) in bulk, sorted in place by source key:
    the index on it then takes them in one sweep over its pages instead of one page
    anywhere in it per row."""
    rows.sort(key=_source_of)
    bulk.insert_rows(session, "dealer_account_entry", ENTRY_COLUMNS, rows)


def _source_of(row: tuple[object, ...]) -> str:
    return str(row[_SOURCE])


def _keyed(
    connection: Connection, column: ColumnElement[int], keys: list[int]
) -> Iterator[ColumnElement[bool]]:
    """Conditions that together select the rows whose `column` is one of `keys`: one array
    on PostgreSQL, lists of a size SQLite takes elsewhere; none for no keys."""
    if connection.dialect.name == "postgresql":
        if keys:
            yield column == any_(bindparam(None, keys, type_=ARRAY(Integer)))
        return
    for start in range(0, len(keys), _CHUNK):
        yield column.in_(keys[start : start + _CHUNK])


def _settled(session: Session, kind: str, line_ids: list[int]) -> None:
    """Takes lines' sales (or returns) off settlement_pending: exactly those read, never one
    pushed since."""
    connection = session.connection()
    for by_id in _keyed(connection, _PENDING.c.line_id, line_ids):
        connection.execute(delete(_PENDING).where(_PENDING.c.kind == kind).where(by_id))


def _late_bookings(
    session: Session, dealer_ids: Sequence[str], since: date
) -> dict[tuple[str, int], date]:
    """The sales and returns of the dealers booked late (after their own day, into the
    first open day after a closed period) on or after `since`: (kind, line id) → the day
    booked. Any other is booked on its own day."""
    late: dict[tuple[str, int], date] = {}
    for kind, source, booked_on in session.connection().execute(
        select(_ENTRIES.c.kind, _ENTRIES.c.source_key, _ENTRIES.c.booked_on)
        .where(_ENTRIES.c.late)
        .where(_ENTRIES.c.booked_on >= since)
        .where(_ENTRIES.c.kind.in_([LedgerKind.sale.value, LedgerKind.sale_return.value]))
        .where(_ENTRIES.c.dealer_id.in_(dealer_ids))
    ):
        late[(kind, int(source.rsplit(":", 1)[1]))] = booked_on
    return late


class _Sold(NamedTuple):
    sale: NumberSale
    # The days its sale and its return (None: not returned) count in: the day booked when
    # booked late, else their own day.
    booked_on: date
    return_booked_on: date | None

    def late_return_in(self, period: Period) -> bool:
        """Returned in an earlier, closed period, and only booked into this one."""
        returned = self.sale.returned_on
        return returned is not None and returned < period.start and self.return_booked_on in period


def _number_sales(
    session: Session,
    dealer_ids: Sequence[str],
    period: Period,
    stage_months: Iterable[int],
) -> tuple[dict[str, list[_Sold]], dict[tuple[str, int], date]]:
    """The numbers each dealer sold that can earn or lose commission in the period, with
    their provisioning status and the days their sale and return count in, in one read:
    sold in the period's months (one-off, slabs), sold a stage's months before (staged),
    returned in the period, or sold or returned earlier and booked late here. Also the late
    bookings from the period on (`_late_bookings`), which `_late_slabs` reads again."""
    end = day_start(period.end + timedelta(days=1))
    windows = [(period.start.replace(day=1), period.end)]
    windows += [_sold_for(period, months) for months in set(stage_months)]
    late = _late_bookings(session, dealer_ids, period.start)
    sold = _SALES.c.sold_at
    returned = _LINES.c.returned_at
    conditions = [
        or_(
            *(
                and_(sold >= day_start(a), sold < day_start(b + timedelta(days=1)))
                for a, b in windows
            )
        ),
        and_(returned >= day_start(period.start), returned < end),
    ]
    late_here = sorted({line for (_, line), day in late.items() if day in period})
    if late_here:
        conditions.append(_LINES.c.id.in_(late_here))
    return _sales_where(session, dealer_ids, conditions, end, late), late


def _sold_for(period: Period, months: int) -> tuple[date, date]:
    """The first and last sale day whose stage of `months` falls due in the period. Month
    ends clamp (31 Jan + 1 month = 28 Feb), so the days are found from a few either side of
    the period moved back; add_months never goes backwards, so the days between are all."""
    first = add_months(period.start, -months) - timedelta(days=4)
    while add_months(first, months) < period.start:
        first += timedelta(days=1)
    last = add_months(period.end, -months) + timedelta(days=4)
    while add_months(last, months) > period.end:
        last -= timedelta(days=1)
    return first, last


def _sales_where(
    session: Session,
    dealer_ids: Sequence[str],
    conditions: Sequence[ColumnElement[bool]],
    end: datetime,
    late: dict[tuple[str, int], date],
) -> dict[str, list[_Sold]]:
    """The number sales of the dealers sold before `end` that meet any of `conditions`, each
    once, with their provisioning status and the days their sale and return count in
    (`late`: the late bookings), per dealer. Each condition is a branch of one UNION ALL,
    so that each is read by its own index."""
    base = (
        select(
            _LINES.c.id,
            _SALES.c.dealer_id,
            _LINES.c.item_key,
            _LINES.c.product,
            _SALES.c.sold_at,
            _LINES.c.returned_at,
            _ACTIVATIONS.c.activated_on,
            _ACTIVATIONS.c.deactivated_on,
        )
        .select_from(
            _LINES.join(_SALES, _SALES.c.id == _LINES.c.sale_id).outerjoin(
                _ACTIVATIONS, _ACTIVATIONS.c.msisdn == _LINES.c.item_key
            )
        )
        .where(_SALES.c.dealer_id.in_(dealer_ids))
        .where(_LINES.c.item_kind == "number")
        .where(_SALES.c.sold_at < end)
    )
    query = union_all(*(base.where(condition) for condition in conditions))
    sales: dict[str, list[_Sold]] = defaultdict(list)
    seen: set[int] = set()
    sale, sale_return = LedgerKind.sale.value, LedgerKind.sale_return.value
    day_of = _business_days()
    for line_id, dealer_id, msisdn, product, sold_at, returned_at, on, off in (
        session.connection().execute(query).all()
    ):
        if line_id in seen:
            continue
        seen.add(line_id)
        sold_on = day_of(sold_at)
        returned_on = day_of(returned_at) if returned_at is not None else None
        number = NumberSale(msisdn, grade_of(product), sold_on, returned_on, on, off)
        sales[dealer_id].append(
            _Sold(
                number,
                late.get((sale, line_id), sold_on),
                late.get((sale_return, line_id), returned_on) if returned_on else None,
            )
        )
    return sales


def _line_key(line: CommissionLine) -> str:
    """A month's slab line is keyed by its month, so that a late sale's correction adds to
    it; every other line by what it pays for."""
    what = f"{line.month:%Y-%m}" if line.month is not None else line.description
    return _commission_key(line.plan, line.kind.value, line.msisdn, what)


def _commission_key(plan: str, kind: str, msisdn: str | None, description: str) -> str:
    digest = hashlib.sha1(f"{plan}|{kind}|{msisdn}|{description}".encode()).hexdigest()
    return f"commission:{digest[:32]}"
