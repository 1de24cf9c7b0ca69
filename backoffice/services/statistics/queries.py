"""Sales statistics read from the summaries: sales by period and dimension, rankings,
top-up cards, stock and ageing, sell-through, shift cash, and the dashboard."""

import base64
import binascii
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    Table,
    and_,
    func,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlmodel import Session

from backoffice.contracts.statistics import (
    Dashboard,
    RankingRow,
    SalesQuery,
    SalesRow,
    SellThroughRow,
    ShiftCashRow,
    StockRow,
    VoucherRow,
)
from backoffice.domain.calendar import business_day, day_start, month_of, quarter_of
from backoffice.domain.channel import face_value_of, grade_of
from backoffice.domain.settlement.commission import add_months
from backoffice.domain.statistics import (
    AGE_BANDS,
    Dimension,
    Grain,
    age_band,
    rate,
)
from backoffice.models import Shift, Terminal
from backoffice.models.counter import ShiftCashMonth
from backoffice.models.types import utcnow
from backoffice.services.settlement import shifts as shift_reconciliation
from backoffice.services.settlement.sql import Dialect
from backoffice.services.statistics.summaries import (
    _DEALER,
    _DEALERS,
    _DOCUMENT_LINES,
    _DOCUMENTS,
    _GRADES,
    _NUMBERS,
    _OUTLET,
    _OUTLET_MONTH,
    _OUTLETS,
    _PRODUCT,
    _VOUCHERS,
)
from shared.codes import DocumentKind
from shared.lifecycle import NumberStatus, VoucherStatus
from shared.money import format_fen


def _figures(values: dict[str, int]) -> dict[str, object]:
    sold_count, returned_count = values["sold_count"], values["returned_count"]
    return {
        "sold_count": sold_count,
        "sold_fen": values["sold_fen"],
        "dealer_fen": values["dealer_fen"],
        "returned_count": returned_count,
        "returned_fen": values["returned_fen"],
        "net_count": sold_count - returned_count,
        "net_fen": values["sold_fen"] - values["returned_fen"],
        "return_rate": rate(returned_count, sold_count),
        "returned_dealer_fen": values["returned_dealer_fen"],
        "net_dealer_fen": values["dealer_fen"] - values["returned_dealer_fen"],
    }


_FIGURE_SUMS = (
    "sold_count",
    "sold_fen",
    "dealer_fen",
    "returned_count",
    "returned_fen",
    "returned_dealer_fen",
)


def _sums(table: FromClause, names: Sequence[str] = _FIGURE_SUMS) -> list:  # type: ignore[type-arg]
    return [func.coalesce(func.sum(table.c[name]), 0).label(name) for name in names]


def _sold_or_returned(table: FromClause) -> ColumnElement[bool]:
    """Groups with sales or returns: a summary row may hold only a card's redemption."""
    return (func.sum(table.c.sold_count) + func.sum(table.c.returned_count)) > 0


@dataclass(frozen=True)
class Scope:
    """Which outlets a query covers: all, one dealer's, or one outlet."""

    dealer_id: str | None = None
    outlet_id: str | None = None

    def apply(self, query, table: Table):  # type: ignore[no-untyped-def]
        if self.dealer_id is not None:
            query = query.where(table.c.dealer_id == self.dealer_id)
        if self.outlet_id is not None:
            query = query.where(table.c.outlet_id == self.outlet_id)
        return query


def _labels(session: Session, kind: Dimension, keys: set[str]) -> dict[str, tuple[str, str]]:
    """Code and name per key: dealers and outlets by id, grades by code, products by key
    (a number's grade name, or a card's face value)."""
    if not keys or kind is Dimension.total:
        return {}
    connection = session.connection()
    if kind in (Dimension.dealer, Dimension.outlet):
        table = _DEALERS if kind is Dimension.dealer else _OUTLETS
        rows = connection.execute(
            select(table.c.id, table.c.code, table.c.name).where(table.c.id.in_(sorted(keys)))
        )
        return {row.id: (row.code, row.name) for row in rows}
    grades = {key: grade_of(key) if kind is Dimension.product else key for key in keys}
    names = dict(
        connection.execute(
            select(_GRADES.c.code, _GRADES.c.name).where(
                _GRADES.c.code.in_(sorted(set(grades.values())))
            )
        ).all()
    )
    labels = {}
    for key, grade in grades.items():
        if grade:
            labels[key] = (key, names.get(grade, grade))
        elif kind is Dimension.product:
            labels[key] = (key, f"充值卡 {format_fen(face_value_of(key))}")
        else:
            labels[key] = (key, "充值卡")
    return labels


_DIMENSION_COLUMN = {
    Dimension.dealer: "dealer_id",
    Dimension.outlet: "outlet_id",
    Dimension.product: "product",
    Dimension.grade: "grade_code",
}


def _sales_table(query: SalesQuery, scope: Scope) -> Table:
    """The coarsest summary that answers: product and grade breakdowns or filters read the
    product grain, an outlet's or a breakdown by outlet the outlet-day grain, and the rest
    (totals and dealers, of one dealer or all) the dealer-day grain."""
    if query.by in (Dimension.product, Dimension.grade) or query.product or query.grade:
        return _PRODUCT
    if query.by is Dimension.outlet or scope.outlet_id is not None:
        return _OUTLET
    return _DEALER


def sales(session: Session, query: SalesQuery, scope: Scope) -> list[SalesRow]:
    """Sales per period and, unless `by` is total, per dealer, outlet, product or grade,
    read from the coarsest summary that answers (`_sales_table`)."""
    table = _sales_table(query, scope)
    period = table.c[query.grain.value]
    columns = [period.label("period")]
    group = [period]
    if query.by is not Dimension.total:
        dimension = table.c[_DIMENSION_COLUMN[query.by]]
        columns.append(dimension.label("key"))
        group.append(dimension)
    statement = (
        select(*columns, *_sums(table))
        .where(table.c.day >= query.start)
        .where(table.c.day <= query.end)
        .group_by(*group)
        .having(_sold_or_returned(table))
    )
    if query.product:
        statement = statement.where(table.c.product == query.product)
    if query.grade:
        statement = statement.where(table.c.grade_code == query.grade)
    statement = scope.apply(statement, table)
    rows = session.connection().execute(statement).mappings().all()
    labels = _labels(session, query.by, {row["key"] for row in rows if "key" in row})
    result = []
    for row in rows:
        key = row.get("key", "")
        code, name = labels.get(key, (key, key))
        result.append(SalesRow(period=row["period"], key=code, name=name, **_figures(row)))
    result.sort(key=lambda r: (r.period, r.key))
    return result


def _next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def _per_outlet_rows(start: date, end: date, scope: Scope, today: date) -> FromClause:
    """Rows whose counters, added up per outlet, are the outlet's figures from `start` to
    `end`: each month of the range either from the outlet-month summary less its days
    outside the range, or as its days inside the range from the outlet-day summary,
    whichever reads fewer days (days after today hold no sales: they cost nothing to take
    off, so a period to date reads its months whole)."""
    months: list[date] = []
    added: list[tuple[date, date]] = []
    taken_off: list[tuple[date, date]] = []
    month = month_of(start)
    while month <= end:
        last = _next_month(month) - timedelta(days=1)
        inside = (max(month, start), min(last, end))
        outside = [
            (first, final)
            for first, final in (
                (month, start - timedelta(days=1)),
                (end + timedelta(days=1), last),
            )
            if first <= final
        ]
        outside_cost = sum(max((min(final, today) - first).days + 1, 0) for first, final in outside)
        if outside_cost < (inside[1] - inside[0]).days + 1:
            months.append(month)
            taken_off.extend(outside)
        else:
            added.append(inside)
        month = _next_month(month)

    def days(ranges: list[tuple[date, date]]) -> ColumnElement[bool]:
        return or_(*(and_(_OUTLET.c.day >= a, _OUTLET.c.day <= b) for a, b in ranges))

    def part(table: Table, sign: int, where: ColumnElement[bool]) -> Select:  # type: ignore[type-arg]
        counters = (
            (table.c[name] if sign > 0 else -table.c[name]).label(name) for name in _FIGURE_SUMS
        )
        return scope.apply(
            select(table.c.outlet_id, table.c.dealer_id, *counters).where(where), table
        )

    parts = []
    if months:
        parts.append(part(_OUTLET_MONTH, 1, _OUTLET_MONTH.c.month.in_(months)))
    if added:
        parts.append(part(_OUTLET, 1, days(added)))
    if taken_off:
        parts.append(part(_OUTLET, -1, days(taken_off)))
    return union_all(*parts).subquery("per_outlet_rows")


def _ranking(
    session: Session, start: date, end: date, scope: Scope, limit: int, kind: Dimension
) -> list[RankingRow]:
    if end < start:
        return []
    rows_in = _per_outlet_rows(start, end, scope, business_day(utcnow()))
    key = rows_in.c.dealer_id if kind is Dimension.dealer else rows_in.c.outlet_id
    # Per outlet first, then per key, the outlets counted as rows: count(DISTINCT) would make
    # PostgreSQL sort every outlet of the range where two hash aggregations do.
    per_outlet = (
        select(
            key.label("key"),
            func.min(rows_in.c.dealer_id).label("dealer_id"),
            *(func.sum(rows_in.c[name]).label(name) for name in _FIGURE_SUMS),
        )
        .group_by(*([key] if kind is Dimension.outlet else [key, rows_in.c.outlet_id]))
        .having(_sold_or_returned(rows_in))
    )
    outlets = per_outlet.subquery()
    net = func.sum(outlets.c.sold_fen) - func.sum(outlets.c.returned_fen)
    statement = (
        select(
            outlets.c.key,
            func.min(outlets.c.dealer_id).label("dealer_id"),
            func.count().label("outlets"),
            *_sums(outlets),
        )
        .group_by(outlets.c.key)
        .order_by(net.desc(), outlets.c.key)
        .limit(limit)
    )
    rows = [
        {**row, **{name: int(row[name]) for name in _FIGURE_SUMS}}
        for row in session.connection().execute(statement).mappings()
    ]
    labels = _labels(session, kind, {row["key"] for row in rows})
    dealers = _labels(session, Dimension.dealer, {row["dealer_id"] for row in rows})
    return [
        RankingRow(
            rank=index,
            code=labels.get(row["key"], (row["key"], ""))[0],
            name=labels.get(row["key"], ("", row["key"]))[1],
            dealer_code=dealers.get(row["dealer_id"], (row["dealer_id"], ""))[0],
            outlets=row["outlets"],
            **_figures(row),
        )
        for index, row in enumerate(rows, start=1)
    ]


def dealer_ranking(
    session: Session, start: date, end: date, scope: Scope, limit: int = 20
) -> list[RankingRow]:
    """Dealers by net sales (sold minus returned, retail fen), best first."""
    return _ranking(session, start, end, scope, limit, Dimension.dealer)


def top_outlets(
    session: Session, start: date, end: date, scope: Scope, limit: int = 20
) -> list[RankingRow]:
    """Outlets by net sales, best first."""
    return _ranking(session, start, end, scope, limit, Dimension.outlet)


def vouchers(
    session: Session, start: date, end: date, grain: Grain, scope: Scope
) -> list[VoucherRow]:
    """Top-up cards activated (sold) and redeemed per period."""
    period = _PRODUCT.c[grain.value]
    statement = (
        select(
            period.label("period"),
            *_sums(
                _PRODUCT,
                ("sold_count", "sold_fen", "returned_count", "redeemed_count", "redeemed_fen"),
            ),
        )
        .where(_PRODUCT.c.day >= start)
        .where(_PRODUCT.c.day <= end)
        .where(_PRODUCT.c.grade_code == "")
        .group_by(period)
        .order_by(period)
    )
    rows = session.connection().execute(scope.apply(statement, _PRODUCT)).mappings().all()
    return [
        VoucherRow(
            period=row["period"],
            activated_count=row["sold_count"],
            activated_fen=row["sold_fen"],
            returned_count=row["returned_count"],
            redeemed_count=row["redeemed_count"],
            redeemed_fen=row["redeemed_fen"],
            redemption_rate=rate(row["redeemed_count"], row["sold_count"]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class _OutletInfo:
    code: str
    name: str
    dealer_code: str


def _outlets(
    session: Session,
    scope: Scope,
    outlet_ids: Sequence[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> dict[str, _OutletInfo]:
    """The scope's outlets by id, in code order: of `outlet_ids` only when given, and from
    after the code `after`, `limit` of them, when asked for a page."""
    statement = (
        select(_OUTLETS.c.id, _OUTLETS.c.code, _OUTLETS.c.name, _DEALERS.c.code)
        .join(_DEALERS, _DEALERS.c.id == _OUTLETS.c.dealer_id)
        .order_by(_OUTLETS.c.code)
        .limit(limit)
    )
    if scope.dealer_id is not None:
        statement = statement.where(_OUTLETS.c.dealer_id == scope.dealer_id)
    if scope.outlet_id is not None:
        statement = statement.where(_OUTLETS.c.id == scope.outlet_id)
    if outlet_ids is not None:
        statement = statement.where(_OUTLETS.c.id.in_(list(outlet_ids)))
    if after:
        statement = statement.where(_OUTLETS.c.code > after)
    return {
        row[0]: _OutletInfo(row[1], row[2], row[3])
        for row in session.connection().execute(statement)
    }


def outlet_page(
    session: Session, scope: Scope, after: str = "", limit: int = 50
) -> tuple[list[str], str | None]:
    """A page of the scope's outlets for the reports per outlet: their ids in code order
    from after the code `after`, and the code to go on from (None on the last page)."""
    outlets = _outlets(session, scope, after=after, limit=limit + 1)
    ids = list(outlets)
    more = len(ids) > limit
    return ids[:limit], (outlets[ids[limit - 1]].code if more else None)


def _in_scope(column: ColumnElement[Any], scope: Scope) -> ColumnElement[bool]:
    """An outlet id column within the scope (no condition when the scope is everything:
    items in stock or reserved are always at an outlet, and without a condition on the
    outlet the stock is counted from an index alone)."""
    if scope.outlet_id is not None:
        return column == scope.outlet_id
    if scope.dealer_id is not None:
        return column.in_(select(_OUTLETS.c.id).where(_OUTLETS.c.dealer_id == scope.dealer_id))
    return true()


_STOCK = (
    ("number", _NUMBERS, NumberStatus.in_stock.value, NumberStatus.reserved.value),
    ("voucher", _VOUCHERS, VoucherStatus.in_stock.value, None),
)


@dataclass
class _Ageing:
    """Items on hand added up with their age: days since the stock document that brought
    them to the outlet (allocation or transfer)."""

    today: date
    held: str | None
    on_hand: int = 0
    reserved: int = 0
    aged: int = 0
    age_total: int = 0
    oldest: int | None = None

    def __post_init__(self) -> None:
        self.bands = dict.fromkeys((band for _, band in AGE_BANDS), 0)

    def add(self, status: str, arrived: datetime | None, items: int) -> None:
        self.on_hand += items
        if status == self.held:
            self.reserved += items
        if arrived is None:
            return
        age = max((self.today - business_day(arrived)).days, 0)
        self.bands[age_band(age)] += items
        self.aged += items
        self.age_total += age * items
        self.oldest = age if self.oldest is None else max(self.oldest, age)

    def row(self, info: _OutletInfo, kind: str) -> StockRow:
        return StockRow(
            outlet_code=info.code,
            outlet_name=info.name,
            dealer_code=info.dealer_code,
            item_kind=kind,
            on_hand=self.on_hand,
            reserved=self.reserved,
            days_0_30=self.bands["0-30"],
            days_31_60=self.bands["31-60"],
            days_61_90=self.bands["61-90"],
            days_over_90=self.bands["90+"],
            oldest_days=self.oldest,
            average_days=round(self.age_total / self.aged, 1) if self.aged else None,
        )


def _stock_by_document(
    table: Table, statuses: list[str], where: ColumnElement[bool], per_outlet: bool = True
) -> Select:  # type: ignore[type-arg]
    """Items on hand per outlet (or all together), status and arrival (the document's time):
    items arrive by the thousand per document, so each document is read once, not each
    item's."""
    outlet = table.c.outlet_id if per_outlet else literal_column("''")
    keys = [table.c.outlet_id] if per_outlet else []
    per_document = (
        select(
            outlet.label("outlet_id"),
            table.c.status,
            table.c.document_id,
            func.count().label("on_hand"),
        )
        .where(table.c.status.in_(statuses))
        .where(where)
        .group_by(*keys, table.c.status, table.c.document_id)
        .subquery()
    )
    return select(
        per_document.c.outlet_id,
        per_document.c.status,
        _DOCUMENTS.c.created_at,
        per_document.c.on_hand,
    ).select_from(per_document.outerjoin(_DOCUMENTS, _DOCUMENTS.c.id == per_document.c.document_id))


def stock(
    session: Session,
    scope: Scope,
    today: date | None = None,
    outlet_ids: Sequence[str] | None = None,
) -> list[StockRow]:
    """Numbers and top-up cards on hand per outlet, with their age (`_Ageing`); of the
    outlets in `outlet_ids` only, when given (a page of a list)."""
    today = today or business_day(utcnow())
    outlets = _outlets(session, scope, outlet_ids)
    if not outlets:
        return []
    rows = []
    connection = session.connection()
    for kind, table, in_stock, held in _STOCK:
        statuses = [s for s in (in_stock, held) if s is not None]
        per_outlet: dict[str, _Ageing] = {}
        for outlet_id, status, arrived, items in connection.execute(
            _stock_by_document(table, statuses, table.c.outlet_id.in_(sorted(outlets)))
        ):
            per_outlet.setdefault(outlet_id, _Ageing(today, held)).add(status, arrived, items)
        rows.extend(ageing.row(outlets[outlet], kind) for outlet, ageing in per_outlet.items())
    rows.sort(key=lambda r: (r.outlet_code, r.item_kind))
    return rows


def stock_totals(session: Session, scope: Scope, today: date | None = None) -> StockRow:
    """Everything on hand at the scope's outlets added up, with its age, as one row (its
    outlet and kind left blank)."""
    total = _Ageing(today or business_day(utcnow()), None)
    connection = session.connection()
    for _kind, table, in_stock, held in _STOCK:
        statuses = [s for s in (in_stock, held) if s is not None]
        for _outlet, status, arrived, items in connection.execute(
            _stock_by_document(table, statuses, _in_scope(table.c.outlet_id, scope), False)
        ):
            total.add(status, arrived, items)
            if held is not None and status == held:
                total.reserved += items
    return total.row(_OutletInfo("", "", ""), "")


def _received(
    session: Session, start: date, end: date, where: ColumnElement[bool]
) -> dict[tuple[str, str], int]:
    """Items allocated or transferred to outlets in the range, per outlet and kind."""
    received: dict[tuple[str, str], int] = defaultdict(int)
    documents = (
        select(
            _DOCUMENTS.c.outlet_id,
            _DOCUMENT_LINES.c.item_kind,
            func.sum(_DOCUMENT_LINES.c.item_count),
        )
        .select_from(
            _DOCUMENT_LINES.join(_DOCUMENTS, _DOCUMENTS.c.id == _DOCUMENT_LINES.c.document_id)
        )
        .where(_DOCUMENTS.c.kind.in_([DocumentKind.DN.value, DocumentKind.TR.value]))
        .where(where)
        .where(_DOCUMENTS.c.created_at >= day_start(start))
        .where(_DOCUMENTS.c.created_at < day_start(end + timedelta(days=1)))
        .group_by(_DOCUMENTS.c.outlet_id, _DOCUMENT_LINES.c.item_kind)
    )
    for outlet_id, kind, items in session.connection().execute(documents):
        received[outlet_id, kind] += int(items)
    return received


def sell_through(
    session: Session,
    start: date,
    end: date,
    scope: Scope,
    outlet_ids: Sequence[str] | None = None,
) -> list[SellThroughRow]:
    """Per outlet and kind: items received (allocations and transfers in) during the range,
    items sold and returned in it, stock on hand now, and sold / received; of the outlets
    in `outlet_ids` only, when given (a page of a list)."""
    outlets = _outlets(session, scope, outlet_ids)
    ids = sorted(outlets)
    connection = session.connection()
    received = _received(session, start, end, _DOCUMENTS.c.outlet_id.in_(ids))
    sales_rows = (
        select(
            _PRODUCT.c.outlet_id,
            _PRODUCT.c.grade_code,
            *_sums(_PRODUCT, ("sold_count", "returned_count")),
        )
        .where(_PRODUCT.c.day >= start)
        .where(_PRODUCT.c.day <= end)
        .where(_PRODUCT.c.outlet_id.in_(ids))
        .group_by(_PRODUCT.c.outlet_id, _PRODUCT.c.grade_code)
    )
    moved: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for outlet_id, grade, sold_count, returned_count in connection.execute(sales_rows):
        counts = moved[outlet_id, "number" if grade else "voucher"]
        counts[0] += sold_count
        counts[1] += returned_count
    on_hand: dict[tuple[str, str], int] = {}
    for kind, table, in_stock, held in _STOCK:
        statuses = [s for s in (in_stock, held) if s is not None]
        for outlet_id, items in connection.execute(
            select(table.c.outlet_id, func.count())
            .where(table.c.status.in_(statuses))
            .where(table.c.outlet_id.in_(ids))
            .group_by(table.c.outlet_id)
        ):
            on_hand[outlet_id, kind] = items
    # A card redeemed at an outlet with nothing else in the range leaves a row of zeros.
    keys = set(received) | {k for k, counts in moved.items() if any(counts)} | set(on_hand)
    rows = []
    for outlet_id, kind in keys:
        if kind not in ("number", "voucher"):
            continue
        info = outlets[outlet_id]
        sold_count, returned_count = moved.get((outlet_id, kind), [0, 0])
        came = received.get((outlet_id, kind), 0)
        rows.append(
            SellThroughRow(
                outlet_code=info.code,
                outlet_name=info.name,
                dealer_code=info.dealer_code,
                item_kind=kind,
                received=came,
                sold=sold_count,
                returned=returned_count,
                on_hand=on_hand.get((outlet_id, kind), 0),
                sell_through=rate(sold_count, came),
            )
        )
    rows.sort(key=lambda r: (r.outlet_code, r.item_kind))
    return rows


@dataclass(frozen=True)
class SellThroughTotals:
    received: int
    sold: int
    returned: int

    @property
    def sell_through(self) -> float | None:
        return rate(self.sold, self.received)


def sell_through_totals(
    session: Session, start: date, end: date, scope: Scope
) -> SellThroughTotals:
    """The scope's items received, sold and returned in the range, all kinds together: what
    `sell_through` rows add up to, read from the dealer-day summary (the outlet-day one for
    an outlet) and the stock documents."""
    received = _received(session, start, end, _in_scope(_DOCUMENTS.c.outlet_id, scope))
    table = _OUTLET if scope.outlet_id is not None else _DEALER
    moved = (
        session.connection()
        .execute(
            scope.apply(
                select(*_sums(table, ("sold_count", "returned_count")))
                .where(table.c.day >= start)
                .where(table.c.day <= end),
                table,
            )
        )
        .one()
    )
    return SellThroughTotals(
        received=sum(n for (_, kind), n in received.items() if kind in ("number", "voucher")),
        sold=int(moved.sold_count),
        returned=int(moved.returned_count),
    )


# --- shift cash -------------------------------------------------------------------------------

_SHIFT = Shift.__table__  # type: ignore[attr-defined]
_SHIFT_MONTH = ShiftCashMonth.__table__  # type: ignore[attr-defined]
_TERMINAL = Terminal.__table__  # type: ignore[attr-defined]
_SHIFT_FIGURES = shift_reconciliation.SHIFT_FIGURES
# The one figure taken as the least, not added up; the others can be taken off too.
_LEAST = shift_reconciliation.LEAST
_SUMS = [name for name in _SHIFT_FIGURES if name != _LEAST]
_add = shift_reconciliation.added_up


@dataclass(frozen=True)
class ShiftCashTotals:
    """A period's shift cash added up over every outlet and clerk of the scope."""

    shifts: int = 0
    shifts_with_difference: int = 0
    expected_cash_fen: int = 0
    counted_cash_fen: int = 0
    difference_fen: int = 0
    no_sale_openings: int = 0


@dataclass(frozen=True)
class ShiftCashView:
    """What the shifts page shows of a period's shift cash per outlet and clerk."""

    totals: ShiftCashTotals  # over every row
    rows: list[ShiftCashRow]  # a page of shift_cash's rows
    next_after: str | None  # the next page's cursor; None on the last page
    shortages: list[ShiftCashRow]  # the largest shortage in a shift first; rows with one
    no_sale: list[ShiftCashRow]  # the most drawer openings without a sale first; rows with any


def _days_of_shifts(
    first: date, last: date, names: list[str], sign: int = 1, short: bool = False
) -> Select[Any]:
    """The figures of the shifts closed from `first` to `last` per terminal and clerk: added
    (`sign` 1) or taken off (-1: their sums; their largest shortage is not taken off, it is
    left 0); or (`short`) only the largest shortage, of the shifts short of cash alone."""
    closed = _SHIFT.c.closed_at

    def figure(name: str) -> ColumnElement[int]:
        if (name == _LEAST and sign < 0) or (name != _LEAST and short):
            return literal_column("0")
        added = _add(name, _SHIFT_FIGURES[name])
        return -added if sign < 0 else added

    query = (
        select(_SHIFT.c.terminal_id, _SHIFT.c.clerk, *(figure(n).label(n) for n in names))
        .where(closed >= day_start(first))
        .where(closed < day_start(last + timedelta(days=1)))
        .group_by(_SHIFT.c.terminal_id, _SHIFT.c.clerk)
    )
    return query.where(shift_reconciliation.SHORT) if short else query


def _closed_shifts(
    start: date, end: date, scope: Scope, clerk: str | None, names: list[str]
) -> Subquery:
    """Rows of terminal, clerk and figures (`names` of shift_reconciliation.SHIFT_FIGURES)
    that add up to those of the shifts closed on the China business days `start` to `end`,
    at the scope's outlets, of the clerk if one is given (groups that add up to no shift may
    be among them). The months of the period come from their sums (shift_cash_month; a
    month that goes on after `end` only into days yet to come is whole); a month partly in
    it, from its days inside shift by shift, or when fewer of its days are outside: its sums
    less its days outside, and its largest shortages from the shifts inside short of cash."""
    today = business_day(utcnow())
    whole: list[date] = []
    less: list[date] = []
    parts: list[Select[Any]] = []
    month = month_of(start)
    while month <= end:
        last = add_months(month, 1) - timedelta(days=1)
        inside = (max(month, start), min(last, end))
        outside = [
            (first, min(final, today))
            for first, final in (
                (month, start - timedelta(days=1)),
                (end + timedelta(days=1), last),
            )
            if first <= min(final, today)
        ]
        if not outside:
            whole.append(month)
        elif sum((b - a).days + 1 for a, b in outside) < (inside[1] - inside[0]).days + 1:
            less.append(month)
            parts += [_days_of_shifts(a, b, names, -1) for a, b in outside]
            if _LEAST in names:
                parts.append(_days_of_shifts(*inside, names, short=True))
        else:
            parts.append(_days_of_shifts(*inside, names))
        month = last + timedelta(days=1)
    for months, shortage in ((whole, True), (less, False)):
        if months:
            parts.append(
                select(
                    _SHIFT_MONTH.c.terminal_id,
                    _SHIFT_MONTH.c.clerk,
                    *(
                        (
                            _SHIFT_MONTH.c[n] if n != _LEAST or shortage else literal_column("0")
                        ).label(n)
                        for n in names
                    ),
                ).where(_SHIFT_MONTH.c.month.in_(months))
            )
    terminals = None
    if scope.outlet_id is not None:
        terminals = select(_TERMINAL.c.id).where(_TERMINAL.c.outlet_id == scope.outlet_id)
    elif scope.dealer_id is not None:
        terminals = (
            select(_TERMINAL.c.id)
            .join(_OUTLETS, _OUTLETS.c.id == _TERMINAL.c.outlet_id)
            .where(_OUTLETS.c.dealer_id == scope.dealer_id)
        )
    for n, part in enumerate(parts):
        table = part.selected_columns
        if terminals is not None:
            part = part.where(table.terminal_id.in_(terminals))
        if clerk:
            part = part.where(table.clerk == clerk)
        parts[n] = part
    return union_all(*parts).subquery("closed_shifts")


def _shift_groups(start: date, end: date, scope: Scope, clerk: str | None) -> Select[Any]:
    """The period's closed shifts added up per outlet and clerk: per terminal and clerk
    first, then per outlet (the few groups joined to their outlets, not every row)."""
    rows = _closed_shifts(start, end, scope, clerk, list(_SHIFT_FIGURES))
    per_terminal = (
        select(
            rows.c.terminal_id,
            rows.c.clerk,
            *(_add(n, rows.c[n]).label(n) for n in _SHIFT_FIGURES),
        )
        .group_by(rows.c.terminal_id, rows.c.clerk)
        .subquery("per_terminal")
    )
    return (
        select(
            _OUTLETS.c.code.label("outlet_code"),
            _OUTLETS.c.name.label("outlet_name"),
            per_terminal.c.clerk,
            *(_add(n, per_terminal.c[n]).label(n) for n in _SHIFT_FIGURES),
        )
        .select_from(
            per_terminal.join(_TERMINAL, _TERMINAL.c.id == per_terminal.c.terminal_id).join(
                _OUTLETS, _OUTLETS.c.id == _TERMINAL.c.outlet_id
            )
        )
        .group_by(_OUTLETS.c.code, _OUTLETS.c.name, per_terminal.c.clerk)
        .having(func.sum(per_terminal.c.shifts) > 0)
    )


def _shift_cash_rows(rows: Iterable[Any]) -> list[ShiftCashRow]:
    return [
        ShiftCashRow(
            outlet_code=row.outlet_code,
            outlet_name=row.outlet_name,
            clerk=row.clerk,
            **{n: int(getattr(row, n)) for n in _SHIFT_FIGURES},
        )
        for row in rows
    ]


def shift_cash(
    session: Session,
    start: date,
    end: date,
    scope: Scope,
    clerk: str | None = None,
) -> list[ShiftCashRow]:
    """Z-report cash differences and drawer openings without a sale, added up per outlet
    and clerk, by outlet code then clerk: every row (the exports)."""
    groups = _shift_groups(start, end, scope, clerk).subquery("shift_groups")
    key = Dialect(session.connection()).key
    query = select(groups).order_by(key(groups.c.outlet_code), key(groups.c.clerk))
    return _shift_cash_rows(session.connection().execute(query))


def shift_cash_view(
    session: Session,
    start: date,
    end: date,
    scope: Scope,
    clerk: str | None = None,
    after: str | None = None,
    limit: int = 50,
    chart: int = 40,
) -> ShiftCashView:
    """One statement for the page: the totals of shift_cash's rows, `limit` of them after
    `after` (keyset on outlet code and clerk: the cursor a page before gave; anything else
    gives the first page), and for the charts the `chart` rows with the largest shortage in
    a shift and those with the most drawer openings without a sale."""
    groups = _shift_groups(start, end, scope, clerk).cte("shift_groups")
    key = Dialect(session.connection()).key
    code, who = key(groups.c.outlet_code), key(groups.c.clerk)
    position = _decode_shift_cursor(after) if after else None
    page = select(groups)
    if position is not None:
        page = page.where(or_(code > position[0], and_(code == position[0], who > position[1])))
    largest, openings = groups.c.largest_shortage_fen, groups.c.no_sale_openings
    wanted = [
        (page, [code, who], limit + 1),
        (select(groups).where(largest < 0), [largest, code, who], chart),
        (select(groups).where(openings > 0), [openings.desc(), code, who], chart),
    ]
    parts = [
        query.add_columns(
            literal_column(str(n)).label("part"),
            func.row_number().over(order_by=order).label("position"),
        )
        .order_by(*order)
        .limit(count)
        .subquery()
        for n, (query, order, count) in enumerate(wanted)
    ]
    nothing = literal_column("''")
    added = select(
        *(nothing.label(name) for name in ("outlet_code", "outlet_name", "clerk")),
        *(func.coalesce(_add(n, groups.c[n]), 0).label(n) for n in _SHIFT_FIGURES),
        literal_column(str(len(parts))).label("part"),
        literal_column("1").label("position"),
    )
    union = union_all(*(select(part) for part in parts), added).subquery()
    found: list[list[Any]] = [[], [], [], []]
    for row in session.connection().execute(select(union).order_by(union.c.part, union.c.position)):
        found[int(row.part)].append(row)
    totals = ShiftCashTotals(**{n: int(getattr(found[-1][0], n)) for n in _SUMS})
    rows, shortages, no_sale = (_shift_cash_rows(each) for each in found[:-1])
    next_after = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor = json.dumps([rows[-1].outlet_code, rows[-1].clerk], ensure_ascii=False)
        next_after = base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")
    return ShiftCashView(totals, rows, next_after, shortages, no_sale)


def _decode_shift_cursor(cursor: str) -> tuple[str, str] | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        position = json.loads(text)
    except (ValueError, binascii.Error):
        return None
    if (
        isinstance(position, list)
        and len(position) == 2
        and all(isinstance(part, str) for part in position)
    ):
        return position[0], position[1]
    return None


def shift_cash_totals(
    session: Session, start: date, end: date, scope: Scope, clerk: str | None = None
) -> ShiftCashTotals:
    """shift_cash's figures added up over the period (shift_cash_view has them too): a
    month partly in the period is taken as its sums less its days outside, when they are
    fewer than its days inside."""
    rows = _closed_shifts(start, end, scope, clerk, _SUMS)
    query = select(*(func.coalesce(func.sum(rows.c[name]), 0).label(name) for name in _SUMS))
    row = session.connection().execute(query).one()
    return ShiftCashTotals(**{name: int(getattr(row, name)) for name in _SUMS})


def dashboard(session: Session, day: date | None, scope: Scope) -> Dashboard:
    """The three dashboard queries: sales by day for the quarter to date, by dealer for the
    month to date, and the month's top 20 outlets."""
    day = day or business_day(utcnow())
    quarter, month = quarter_of(day), month_of(day)
    return Dashboard(
        day=day,
        quarter_start=quarter,
        month_start=month,
        sales_by_day=sales(session, SalesQuery(start=quarter, end=day), scope),
        sales_by_dealer=sales(
            session,
            SalesQuery(start=month, end=day, grain=Grain.month, by=Dimension.dealer),
            scope,
        ),
        top_outlets=top_outlets(session, month, day, scope, 20),
    )
