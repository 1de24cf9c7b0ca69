"""The sales summaries (per day, outlet and product; per day and outlet), kept in the
transaction that applies each sale, return and redemption, and rebuilt from the sales."""

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Insert,
    Integer,
    String,
    Subquery,
    Table,
    case,
    cast,
    delete,
    extract,
    func,
    insert,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from backoffice.domain.calendar import business_day, month_of, week_of
from backoffice.domain.channel import number_product, voucher_product
from backoffice.domain.statistics import (
    COUNTER_NAMES,
    Counters,
    StatKey,
    fold,
    redeemed,
    returned,
    sold,
)
from backoffice.models import (
    AuditEntry,
    Dealer,
    MobileNumber,
    NumberGrade,
    Outlet,
    Sale,
    SaleLine,
    StockDocument,
    StockDocumentLine,
    Voucher,
)
from backoffice.models.statistics import (
    SalesStatDealer,
    SalesStatOutlet,
    SalesStatOutletMonth,
    SalesStatProduct,
)

_PRODUCT = SalesStatProduct.__table__  # type: ignore[attr-defined]
_OUTLET = SalesStatOutlet.__table__  # type: ignore[attr-defined]
_DEALER = SalesStatDealer.__table__  # type: ignore[attr-defined]
_OUTLET_MONTH = SalesStatOutletMonth.__table__  # type: ignore[attr-defined]
_SALES = Sale.__table__  # type: ignore[attr-defined]
_LINES = SaleLine.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
_VOUCHERS = Voucher.__table__  # type: ignore[attr-defined]
_NUMBERS = MobileNumber.__table__  # type: ignore[attr-defined]
_OUTLETS = Outlet.__table__  # type: ignore[attr-defined]
_DEALERS = Dealer.__table__  # type: ignore[attr-defined]
_DOCUMENTS = StockDocument.__table__  # type: ignore[attr-defined]
_DOCUMENT_LINES = StockDocumentLine.__table__  # type: ignore[attr-defined]
_GRADES = NumberGrade.__table__  # type: ignore[attr-defined]


Entry = tuple[StatKey, Counters]


def sale_entries(sale: dict[str, object], lines: Iterable[dict[str, object]]) -> list[Entry]:
    """What an accepted sale adds, from the rows it writes: each line on its business day."""
    at = sale["sold_at"]
    assert isinstance(at, datetime)
    day = business_day(at)
    outlet, dealer = str(sale["outlet_id"]), str(sale["dealer_id"])
    return [
        (
            StatKey(day, outlet, str(line["product"]), dealer),
            sold(int(line["price_fen"]), int(line["dealer_fen"])),  # type: ignore[call-overload]
        )
        for line in lines
    ]


def return_entry(sale: Sale, line: SaleLine, at: datetime) -> Entry:
    """A returned line counts on the day of the return, under the outlet that sold it."""
    key = StatKey(business_day(at), sale.outlet_id, line.product, sale.dealer_id)
    return key, returned(line.price_fen, line.dealer_fen)


def redemption_entry(session: Session, voucher: Voucher, at: datetime) -> Entry | None:
    """A redeemed card counts on the day of redemption, under the outlet that sold it."""
    if voucher.outlet_id is None:
        return None
    outlet = session.get(Outlet, voucher.outlet_id)
    if outlet is None:
        return None
    key = StatKey(
        business_day(at), outlet.id, voucher_product(voucher.face_value_fen), outlet.dealer_id
    )
    return key, redeemed(voucher.face_value_fen)


Row = dict[str, object]


def _rows(totals: dict[StatKey, Counters]) -> dict[Table, list[Row]]:
    """The rows of folded entries for each grain, in key order: every writer takes the rows'
    locks in that order (the tables too, in the order of `_GRAINS`), so two pushes of one
    outlet or dealer may wait for each other but never deadlock."""
    per_product = []
    per_outlet: dict[tuple[date, str, str], Counters] = {}
    per_dealer: dict[tuple[date, str], Counters] = {}
    per_month: dict[tuple[date, str, str], Counters] = {}
    for key in sorted(totals):
        counters = totals[key]
        per_product.append(
            {
                "day": key.day,
                "outlet_id": key.outlet_id,
                "product": key.product,
                "dealer_id": key.dealer_id,
                "grade_code": key.grade,
                "week": week_of(key.day),
                "month": month_of(key.day),
                **counters.values(),
            }
        )
        per_outlet.setdefault((key.day, key.outlet_id, key.dealer_id), Counters()).add(counters)
        per_dealer.setdefault((key.day, key.dealer_id), Counters()).add(counters)
        month = month_of(key.day)
        per_month.setdefault((month, key.outlet_id, key.dealer_id), Counters()).add(counters)
    return {
        _PRODUCT: per_product,
        _OUTLET: [
            {
                "day": day,
                "outlet_id": outlet,
                "dealer_id": dealer,
                "week": week_of(day),
                "month": month_of(day),
                **counters.values(),
            }
            for (day, outlet, dealer), counters in sorted(per_outlet.items())
        ],
        _DEALER: [
            {
                "day": day,
                "dealer_id": dealer,
                "week": week_of(day),
                "month": month_of(day),
                **counters.values(),
            }
            for (day, dealer), counters in sorted(per_dealer.items())
        ],
        _OUTLET_MONTH: [
            {"month": month, "outlet_id": outlet, "dealer_id": dealer, **counters.values()}
            for (month, outlet, dealer), counters in sorted(per_month.items())
        ],
    }


@cache
def _upsert_statement(dialect_name: str, table: Table, keys: tuple[str, ...]) -> Insert:
    """Built once per dialect and table: every push runs it."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTER_NAMES},
    )


def _upsert(session: Session, table: Table, keys: Sequence[str], rows: list[Row]) -> None:
    if not rows:
        return
    connection = session.connection()
    connection.execute(_upsert_statement(connection.dialect.name, table, tuple(keys)), rows)


# Each summary and its key, in the order every writer takes their rows' locks.
_GRAINS: tuple[tuple[Table, tuple[str, ...]], ...] = (
    (_PRODUCT, ("day", "outlet_id", "product")),
    (_OUTLET, ("day", "outlet_id")),
    (_DEALER, ("day", "dealer_id")),
    (_OUTLET_MONTH, ("month", "outlet_id")),
)


def record(session: Session, entries: Iterable[Entry]) -> None:
    """Adds entries to the summaries inside the caller's transaction."""
    rows = _rows(fold(entries))
    for table, keys in _GRAINS:
        _upsert(session, table, keys, rows[table])


# China has kept UTC+8 all year since 1991 (backoffice.domain.calendar.ZONE): in SQL, a
# business day is the date of the UTC instant moved on by these hours.
_CHINA_HOURS = 8
_NUMBER = number_product("")  # a number's product key is this prefix and its grade
_VOUCHER = "voucher:"  # a card's is this prefix and its face value (domain voucher_product)


class _Dialect:
    """What the rebuild's SQL says differently on PostgreSQL and SQLite: the business
    calendar of backoffice.domain.calendar over the naive-UTC timestamps the tables hold
    (models.types.UTCDateTime), and the text keys it groups by."""

    def __init__(self, name: str) -> None:
        self.postgresql = name == "postgresql"

    def day(self, at: ColumnElement[Any]) -> ColumnElement[Any]:
        """The business day of an instant."""
        if self.postgresql:
            return cast(at + literal_column(f"INTERVAL '{_CHINA_HOURS} hours'"), Date)
        # SQLite holds the text 'YYYY-MM-DD HH:MM:SS.ffffff' and would round the fraction to
        # the millisecond, carrying 23:59:59.9999 China time into the next day: whole seconds
        # only (a day starts on a whole second). The result is the text a Date column holds.
        return func.date(func.substr(at, 1, 19), f"+{_CHINA_HOURS} hours")

    def week(self, day: ColumnElement[Any]) -> ColumnElement[Any]:
        """The Monday the day's week starts on."""
        if self.postgresql:
            return day - (cast(extract("isodow", day), Integer) - 1)
        return func.date(day, "-6 days", "weekday 1")

    def month(self, day: ColumnElement[Any]) -> ColumnElement[Any]:
        """The first of the day's month."""
        if self.postgresql:
            return day - (cast(extract("day", day), Integer) - 1)
        return func.date(day, "start of month")

    def key(self, text: ColumnElement[Any]) -> ColumnElement[Any]:
        """A text column to group by, compared byte by byte: a PostgreSQL database may
        compare text by its locale, which is slower and makes the same groups."""
        return text.collate("C") if self.postgresql else text


def _moves(sql: _Dialect) -> Subquery:
    """Every sale line on the day sold, every return on the day returned (under the outlet
    and product that sold it) and every redemption on the day redeemed (under the outlet
    that sold the card), each with the counters it adds: what `sale_entries`,
    `return_entry` and `redemption_entry` add as they happen."""
    zero = literal_column("0")
    one = literal_column("1")

    def counters(**values: ColumnElement[Any]) -> list[ColumnElement[Any]]:
        return [values.get(name, zero).label(name) for name in COUNTER_NAMES]

    # One pass over the lines and their sales: each line once as sold (back = 0) and, if it
    # was returned, once more as returned (back = 1).
    twice = select(zero.label("back")).union_all(select(one)).subquery("twice")
    back = twice.c.back
    sold = one - back
    lines = (
        select(
            sql.day(case((back == 0, _SALES.c.sold_at), else_=_LINES.c.returned_at)).label("day"),
            sql.key(_SALES.c.outlet_id).label("outlet_id"),
            sql.key(_LINES.c.product).label("product"),
            sql.key(_SALES.c.dealer_id).label("dealer_id"),
            *counters(
                sold_count=sold,
                sold_fen=sold * _LINES.c.price_fen,
                dealer_fen=sold * _LINES.c.dealer_fen,
                returned_count=back,
                returned_fen=back * _LINES.c.price_fen,
                returned_dealer_fen=back * _LINES.c.dealer_fen,
            ),
        )
        .select_from(_LINES.join(_SALES, _SALES.c.id == _LINES.c.sale_id))
        .join(twice, (back == 0) | _LINES.c.returned_at.is_not(None))
    )
    product = (literal(_VOUCHER) + cast(_VOUCHERS.c.face_value_fen, String)).self_group()
    redemptions = (
        select(
            sql.day(_AUDIT.c.at).label("day"),
            sql.key(_VOUCHERS.c.outlet_id).label("outlet_id"),
            sql.key(product).label("product"),
            sql.key(_OUTLETS.c.dealer_id).label("dealer_id"),
            *counters(redeemed_count=one, redeemed_fen=_VOUCHERS.c.face_value_fen),
        )
        .select_from(
            _AUDIT.join(_VOUCHERS, _VOUCHERS.c.serial == _AUDIT.c.entity_id).join(
                _OUTLETS, _OUTLETS.c.id == _VOUCHERS.c.outlet_id
            )
        )
        .where(_AUDIT.c.entity_type == "voucher")
        .where(_AUDIT.c.action == "redeem")
    )
    return union_all(lines, redemptions).subquery("moves")


def _grade(product: ColumnElement[Any]) -> ColumnElement[Any]:
    """domain.channel.grade_of in SQL: the grade a number's product key names, else ''."""
    prefix = len(_NUMBER)
    return case(
        (func.substr(product, 1, prefix) == _NUMBER, func.substr(product, prefix + 1)),
        else_="",
    )


def rebuild(session: Session, *, rollups: bool = True) -> int:
    """Recomputes the summaries from the sales, returns and redemptions recorded; returns
    the number of product-grain rows. Runs in the caller's transaction as
    INSERT … SELECT … GROUP BY statements (the database adds everything up: nothing is read
    into Python, whatever the number of sales), and holds off the pushes that would count
    into the summaries meanwhile (they wait, then add their counts to the rebuilt rows), so
    that no sale is counted twice or lost. `rollups=False` leaves the dealer-day and
    outlet-month grains alone: migration 0004 rebuilds before their tables exist (0021
    makes them, with `rebuild_rollups`)."""
    connection = session.connection()
    sql = _Dialect(connection.dialect.name)
    tables = [table for table, _ in _GRAINS[: 4 if rollups else 2]]
    if sql.postgresql:
        names = ", ".join(table.name for table in tables)
        connection.exec_driver_sql(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
    # On SQLite the first write takes the database's write lock before the sales are read.
    for table in tables:
        connection.execute(delete(table))
    moves = _moves(sql)
    keys = (moves.c.day, moves.c.outlet_id, moves.c.product, moves.c.dealer_id)
    per_product = (
        select(
            *keys,
            _grade(moves.c.product),
            sql.week(moves.c.day),
            sql.month(moves.c.day),
            *(func.sum(moves.c[name]) for name in COUNTER_NAMES),
        )
        .group_by(*keys)
        # in key order, as `record` writes them
        .order_by(moves.c.day, moves.c.outlet_id, moves.c.product)
    )
    columns = ["day", "outlet_id", "product", "dealer_id", "grade_code", "week", "month"]
    product_rows = connection.execute(
        insert(_PRODUCT).from_select([*columns, *COUNTER_NAMES], per_product),
        execution_options={"preserve_rowcount": True},
    ).rowcount
    # The outlet grain adds up the product grain just written, as `_rows` does.
    _add_up(
        session,
        _PRODUCT,
        _OUTLET,
        (
            _PRODUCT.c.day,
            sql.key(_PRODUCT.c.outlet_id).label("outlet_id"),
            sql.key(_PRODUCT.c.dealer_id).label("dealer_id"),
            _PRODUCT.c.week,
            _PRODUCT.c.month,
        ),
    )
    if rollups:
        rebuild_rollups(session)
    return product_rows


def rebuild_rollups(session: Session) -> None:
    """The dealer-day and outlet-month grains added up from the outlet-day one (which the
    caller has just rebuilt, or which is right), as `_rows` adds them up."""
    sql = _Dialect(session.connection().dialect.name)
    _add_up(
        session,
        _OUTLET,
        _DEALER,
        (
            _OUTLET.c.day,
            sql.key(_OUTLET.c.dealer_id).label("dealer_id"),
            _OUTLET.c.week,
            _OUTLET.c.month,
        ),
    )
    _add_up(
        session,
        _OUTLET,
        _OUTLET_MONTH,
        (
            _OUTLET.c.month,
            sql.key(_OUTLET.c.outlet_id).label("outlet_id"),
            sql.key(_OUTLET.c.dealer_id).label("dealer_id"),
        ),
    )


def _add_up(
    session: Session, source: Table, target: Table, keys: Sequence[ColumnElement[Any]]
) -> None:
    """INSERT … SELECT of the source's counters added up by `keys` (the target's columns of
    the same names, its key first), in the target's key order."""
    sums = (
        select(*keys, *(func.sum(source.c[name]) for name in COUNTER_NAMES))
        .group_by(*keys)
        .order_by(*keys[:2])
    )
    columns = [key.name for key in keys]
    session.connection().execute(insert(target).from_select([*columns, *COUNTER_NAMES], sums))
