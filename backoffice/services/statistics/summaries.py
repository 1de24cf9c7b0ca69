"""The sales summaries (per day, outlet and product; per day and outlet), kept in the
transaction that applies each sale, return and redemption, and rebuilt from the sales."""

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from backoffice.domain.calendar import business_day, month_of, week_of
from backoffice.domain.channel import voucher_product
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
from backoffice.models.statistics import SalesStatOutlet, SalesStatProduct
from backoffice.services import bulk

_PRODUCT = SalesStatProduct.__table__  # type: ignore[attr-defined]
_OUTLET = SalesStatOutlet.__table__  # type: ignore[attr-defined]
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


def _rows(totals: dict[StatKey, Counters]) -> tuple[list[Row], list[Row]]:
    """The product-grain and outlet-grain rows of folded entries, in key order: every writer
    takes the rows' locks in that order, so two pushes of one outlet may wait for each other
    but never deadlock."""
    per_product = []
    per_outlet: dict[tuple[date, str, str], Counters] = {}
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
        outlet_key = (key.day, key.outlet_id, key.dealer_id)
        per_outlet.setdefault(outlet_key, Counters()).add(counters)
    outlet_rows = [
        {
            "day": day,
            "outlet_id": outlet,
            "dealer_id": dealer,
            "week": week_of(day),
            "month": month_of(day),
            **counters.values(),
        }
        for (day, outlet, dealer), counters in sorted(per_outlet.items())
    ]
    return per_product, outlet_rows


def _upsert(session: Session, table: Table, keys: Sequence[str], rows: list[Row]) -> None:
    if not rows:
        return
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTER_NAMES},
    )
    connection.execute(statement, rows)


def record(session: Session, entries: Iterable[Entry]) -> None:
    """Adds entries to the summaries inside the caller's transaction."""
    product_rows, outlet_rows = _rows(fold(entries))
    _upsert(session, _PRODUCT, ("day", "outlet_id", "product"), product_rows)
    _upsert(session, _OUTLET, ("day", "outlet_id"), outlet_rows)


def _raw_entries(session: Session) -> Iterable[Entry]:
    """Every sale line, return and redemption, from the records themselves."""
    connection = session.connection()
    lines = (
        select(
            _SALES.c.sold_at,
            _SALES.c.outlet_id,
            _SALES.c.dealer_id,
            _LINES.c.product,
            _LINES.c.price_fen,
            _LINES.c.dealer_fen,
            _LINES.c.returned_at,
        )
        .select_from(_LINES.join(_SALES, _SALES.c.id == _LINES.c.sale_id))
        .execution_options(yield_per=20_000)
    )
    # The business day changes on the hour (China time is a whole number of hours from UTC):
    # one conversion per hour of sales instead of one per line.
    days: dict[datetime, date] = {}
    for sold_at, outlet, dealer, product, price, dealer_fen, returned_at in connection.execute(
        lines
    ):
        hour = sold_at.replace(minute=0, second=0, microsecond=0)
        day = days.get(hour)
        if day is None:
            day = days[hour] = business_day(hour)
        yield StatKey(day, outlet, product, dealer), sold(price, dealer_fen)
        if returned_at is not None:
            key = StatKey(business_day(returned_at), outlet, product, dealer)
            yield key, returned(price, dealer_fen)
    redemptions = (
        select(_AUDIT.c.at, _VOUCHERS.c.outlet_id, _OUTLETS.c.dealer_id, _VOUCHERS.c.face_value_fen)
        .select_from(
            _AUDIT.join(_VOUCHERS, _VOUCHERS.c.serial == _AUDIT.c.entity_id).join(
                _OUTLETS, _OUTLETS.c.id == _VOUCHERS.c.outlet_id
            )
        )
        .where(_AUDIT.c.entity_type == "voucher")
        .where(_AUDIT.c.action == "redeem")
    )
    for at, outlet, dealer, face in connection.execute(redemptions):
        yield StatKey(business_day(at), outlet, voucher_product(face), dealer), redeemed(face)


def rebuild(session: Session) -> int:
    """Recomputes both summaries from the sales, returns and redemptions recorded; returns
    the number of product-grain rows. Runs in the caller's transaction, and holds off the
    pushes that would count into the summaries meanwhile (they wait, then add their counts
    to the rebuilt rows), so that no sale is counted twice or lost."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            f"LOCK TABLE {_PRODUCT.name}, {_OUTLET.name} IN SHARE ROW EXCLUSIVE MODE"
        )
    # On SQLite the first write takes the database's write lock before the sales are read.
    connection.execute(delete(_PRODUCT))
    connection.execute(delete(_OUTLET))
    product_rows, outlet_rows = _rows(fold(_raw_entries(session)))
    for table, rows in ((_PRODUCT, product_rows), (_OUTLET, outlet_rows)):
        if rows:
            columns = list(rows[0])
            bulk.insert_rows(
                session, table.name, columns, (tuple(row[c] for c in columns) for row in rows)
            )
    return len(product_rows)
