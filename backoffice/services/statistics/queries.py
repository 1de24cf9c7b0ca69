"""Sales statistics read from the summaries: sales by period and dimension, rankings,
top-up cards, stock and ageing, sell-through, shift cash, and the dashboard."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, FromClause, Table, func, select
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
from backoffice.domain.statistics import (
    AGE_BANDS,
    Dimension,
    Grain,
    age_band,
    rate,
)
from backoffice.models.types import utcnow
from backoffice.services.settlement import shifts as shift_reconciliation
from backoffice.services.statistics.summaries import (
    _DEALERS,
    _DOCUMENT_LINES,
    _DOCUMENTS,
    _GRADES,
    _NUMBERS,
    _OUTLET,
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


def sales(session: Session, query: SalesQuery, scope: Scope) -> list[SalesRow]:
    """Sales per period and, unless `by` is total, per dealer, outlet, product or grade.
    Totals and dealer/outlet breakdowns read the outlet-day summary; product and grade read
    the product one."""
    by_product = query.by in (Dimension.product, Dimension.grade) or bool(
        query.product or query.grade
    )
    table = _PRODUCT if by_product else _OUTLET
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


def _ranking(
    session: Session, start: date, end: date, scope: Scope, limit: int, kind: Dimension
) -> list[RankingRow]:
    key = _OUTLET.c.dealer_id if kind is Dimension.dealer else _OUTLET.c.outlet_id
    # Per outlet first, then per key, the outlets counted as rows: count(DISTINCT) would make
    # PostgreSQL sort every outlet-day of the range (spilling to disk for a quarter) where
    # two hash aggregations do.
    per_outlet = (
        select(
            key.label("key"),
            func.min(_OUTLET.c.dealer_id).label("dealer_id"),
            *(func.sum(_OUTLET.c[name]).label(name) for name in _FIGURE_SUMS),
        )
        .where(_OUTLET.c.day >= start)
        .where(_OUTLET.c.day <= end)
        .group_by(*([key] if kind is Dimension.outlet else [key, _OUTLET.c.outlet_id]))
        .having(_sold_or_returned(_OUTLET))
    )
    outlets = scope.apply(per_outlet, _OUTLET).subquery()
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
    session: Session, scope: Scope, outlet_ids: Sequence[str] | None = None
) -> dict[str, _OutletInfo]:
    statement = select(_OUTLETS.c.id, _OUTLETS.c.code, _OUTLETS.c.name, _DEALERS.c.code).join(
        _DEALERS, _DEALERS.c.id == _OUTLETS.c.dealer_id
    )
    if scope.dealer_id is not None:
        statement = statement.where(_OUTLETS.c.dealer_id == scope.dealer_id)
    if scope.outlet_id is not None:
        statement = statement.where(_OUTLETS.c.id == scope.outlet_id)
    if outlet_ids is not None:
        statement = statement.where(_OUTLETS.c.id.in_(list(outlet_ids)))
    return {
        row[0]: _OutletInfo(row[1], row[2], row[3])
        for row in session.connection().execute(statement)
    }


_STOCK = (
    ("number", _NUMBERS, NumberStatus.in_stock.value, NumberStatus.reserved.value),
    ("voucher", _VOUCHERS, VoucherStatus.in_stock.value, None),
)


def stock(
    session: Session,
    scope: Scope,
    today: date | None = None,
    outlet_ids: Sequence[str] | None = None,
) -> list[StockRow]:
    """Numbers and top-up cards on hand per outlet, with their age: days since the stock
    document that brought them to the outlet (allocation or transfer); of the outlets in
    `outlet_ids` only, when given (a page of a list)."""
    today = today or business_day(utcnow())
    outlets = _outlets(session, scope, outlet_ids)
    if not outlets:
        return []
    rows = []
    connection = session.connection()
    for kind, table, in_stock, held in _STOCK:
        statuses = [s for s in (in_stock, held) if s is not None]
        # One row per outlet, status and document: items arrive by the thousand per document.
        statement = (
            select(
                table.c.outlet_id,
                table.c.status,
                _DOCUMENTS.c.created_at,
                func.count().label("items"),
            )
            .select_from(table.outerjoin(_DOCUMENTS, _DOCUMENTS.c.id == table.c.document_id))
            .where(table.c.status.in_(statuses))
            .where(table.c.outlet_id.in_(sorted(outlets)))
            .group_by(table.c.outlet_id, table.c.status, _DOCUMENTS.c.created_at)
        )
        per_outlet: dict[str, list[tuple[str, datetime | None, int]]] = defaultdict(list)
        for outlet_id, status, arrived, items in connection.execute(statement):
            per_outlet[outlet_id].append((status, arrived, items))
        for outlet_id in sorted(per_outlet, key=lambda o: outlets[o].code):
            bands = dict.fromkeys((band for _, band in AGE_BANDS), 0)
            on_hand = reserved = aged = age_total = 0
            oldest: int | None = None
            for status, arrived, items in per_outlet[outlet_id]:
                on_hand += items
                if status == held:
                    reserved += items
                if arrived is None:
                    continue
                age = max((today - business_day(arrived)).days, 0)
                bands[age_band(age)] += items
                aged += items
                age_total += age * items
                oldest = age if oldest is None else max(oldest, age)
            info = outlets[outlet_id]
            rows.append(
                StockRow(
                    outlet_code=info.code,
                    outlet_name=info.name,
                    dealer_code=info.dealer_code,
                    item_kind=kind,
                    on_hand=on_hand,
                    reserved=reserved,
                    days_0_30=bands["0-30"],
                    days_31_60=bands["31-60"],
                    days_61_90=bands["61-90"],
                    days_over_90=bands["90+"],
                    oldest_days=oldest,
                    average_days=round(age_total / aged, 1) if aged else None,
                )
            )
    rows.sort(key=lambda r: (r.outlet_code, r.item_kind))
    return rows


def sell_through(session: Session, start: date, end: date, scope: Scope) -> list[SellThroughRow]:
    """Per outlet and kind: items received (allocations and transfers in) during the range,
    items sold and returned in it, stock on hand now, and sold / received."""
    outlets = _outlets(session, scope)
    ids = sorted(outlets)
    connection = session.connection()
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
        .where(_DOCUMENTS.c.outlet_id.in_(ids))
        .where(_DOCUMENTS.c.created_at >= day_start(start))
        .where(_DOCUMENTS.c.created_at < day_start(end + timedelta(days=1)))
        .group_by(_DOCUMENTS.c.outlet_id, _DOCUMENT_LINES.c.item_kind)
    )
    for outlet_id, kind, items in connection.execute(documents):
        received[outlet_id, kind] += int(items)
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


def shift_cash(
    session: Session,
    start: date,
    end: date,
    scope: Scope,
    clerk: str | None = None,
) -> list[ShiftCashRow]:
    """Z-report cash differences and drawer openings without a sale, added up per outlet
    and clerk."""
    reports = shift_reconciliation.z_reports(
        session,
        outlet=scope.outlet_id,
        clerk=clerk,
        dealer_id=scope.dealer_id,
        start=start,
        end=end,
        limit=None,
    )
    groups: dict[tuple[str, str], list] = defaultdict(list)  # type: ignore[type-arg]
    names: dict[str, str] = {}
    for report in reports:
        groups[report.outlet_code, report.clerk].append(report)
        names[report.outlet_code] = report.outlet_name
    return [
        ShiftCashRow(
            outlet_code=outlet,
            outlet_name=names[outlet],
            clerk=clerk_name,
            shifts=len(shifts),
            shifts_with_difference=sum(1 for s in shifts if s.difference_fen),
            expected_cash_fen=sum(s.expected_cash_fen for s in shifts),
            counted_cash_fen=sum(s.counted_cash_fen for s in shifts),
            difference_fen=sum(s.difference_fen for s in shifts),
            largest_shortage_fen=min([0, *(s.difference_fen for s in shifts)]),
            no_sale_openings=sum(s.no_sale_openings for s in shifts),
        )
        for (outlet, clerk_name), shifts in sorted(groups.items())
    ]


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
