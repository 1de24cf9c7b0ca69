"""What the sales centre's dealer and outlet pages read: stock by status per outlet (and by
product), a dealer's open stock documents, and pages of its settlement account."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, tuple_
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.models import DealerAccountEntry, Outlet, StockDocument
from backoffice.services.channel.items import ALL_ITEMS
from shared.lifecycle import NumberStatus, VoucherStatus

# The statuses of stock held by an outlet: on its way (allocated), on the shelf, held for a
# customer, frozen by the office.
STOCK_STATUSES = (
    NumberStatus.allocated.value,
    NumberStatus.in_stock.value,
    NumberStatus.reserved.value,
    NumberStatus.frozen.value,
)
assert {VoucherStatus.allocated.value, VoucherStatus.in_stock.value} <= set(STOCK_STATUSES)
# Stock documents still open: in transit, or received with discrepancies to resolve.
OPEN_DOCUMENT_STATUSES = ("allocated", "discrepancy")


@dataclass(frozen=True)
class StockCount:
    outlet_id: str
    item_kind: str
    product: str
    status: str
    items: int


def stock_by_status(session: Session, outlet_ids: Sequence[str]) -> list[StockCount]:
    """Numbers and top-up cards the outlets hold, counted by product and status."""
    if not outlet_ids:
        return []
    out: list[StockCount] = []
    for items in ALL_ITEMS:
        t = items.table
        rows = session.connection().execute(
            select(t.c.outlet_id, items.product_column, t.c.status, func.count())
            .where(t.c.outlet_id.in_(list(outlet_ids)))
            .where(t.c.status.in_(STOCK_STATUSES))
            .group_by(t.c.outlet_id, items.product_column, t.c.status)
        )
        out += [
            StockCount(outlet, items.kind.value, items.product(value), status, int(n))
            for outlet, value, status, n in rows
        ]
    out.sort(key=lambda c: (c.outlet_id, c.item_kind, c.product, c.status))
    return out


def totals_by_outlet(counts: Sequence[StockCount]) -> dict[str, dict[tuple[str, str], int]]:
    """Per outlet: (kind, status) → items."""
    totals: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for count in counts:
        totals[count.outlet_id][(count.item_kind, count.status)] += count.items
    return totals


def open_documents(
    session: Session, outlet_ids: Sequence[str], limit: int = 50
) -> list[StockDocument]:
    """Stock documents to or from the outlets not yet closed, newest first."""
    if not outlet_ids:
        return []
    ids = list(outlet_ids)
    return list(
        session.exec(
            sql_select(StockDocument)
            .where(col(StockDocument.status).in_(OPEN_DOCUMENT_STATUSES))
            .where(
                col(StockDocument.outlet_id).in_(ids) | col(StockDocument.from_outlet_id).in_(ids)
            )
            .order_by(col(StockDocument.created_at).desc(), col(StockDocument.id).desc())
            .limit(limit)
        )
    )


def outlet_codes(session: Session, outlet_ids: set[str]) -> dict[str, str]:
    if not outlet_ids:
        return {}
    return dict(
        session.exec(sql_select(Outlet.id, Outlet.code).where(col(Outlet.id).in_(outlet_ids))).all()
    )


def account_page(
    session: Session, dealer_id: str, after: tuple[date, str] | None = None, limit: int = 50
) -> tuple[list[DealerAccountEntry], tuple[date, str] | None]:
    """A page of the dealer's settlement account, newest first (by day booked, then entry),
    after the key `after`; and the next page's key (None at the end)."""
    query = (
        sql_select(DealerAccountEntry)
        .where(DealerAccountEntry.dealer_id == dealer_id)
        .order_by(col(DealerAccountEntry.booked_on).desc(), col(DealerAccountEntry.id).desc())
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(
            tuple_(col(DealerAccountEntry.booked_on), col(DealerAccountEntry.id)) < tuple_(*after)
        )
    rows = list(session.exec(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].booked_on, rows[-1].id) if more else None)
