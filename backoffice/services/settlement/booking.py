"""What a settlement run books for a dealer's sales and returns: each sale line at the
dealer price once, each return taken back once, whatever period it synced in."""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    case,
    cast,
    exists,
    literal,
    or_,
    select,
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
from backoffice.services import bulk
from backoffice.services.settlement.accounts import _ENTRIES, closed_until
from backoffice.services.settlement.revenue import _ACTIVATIONS
from shared.ids import new_id

_SALES = Sale.__table__  # type: ignore[attr-defined]
_LINES = SaleLine.__table__  # type: ignore[attr-defined]
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


def _source(prefix: str, line_id: object) -> object:
    return literal(prefix) + cast(line_id, String)


def _product_name(product: str) -> str:
    kind, _, detail = product.partition(":")
    if kind == "voucher" and detail.isdigit():
        return f"充值卡{int(detail) // 100}元"
    return f"号码{detail}" if kind == "number" else product


def _book_sales_and_returns(
    session: Session, dealer_ids: Sequence[str], period: Period, actor: str
) -> int:
    """Books every accepted sale line and return up to the period's end that is not booked
    yet, in two set-based reads and one bulk insert (COPY on PostgreSQL). An event from a
    closed period is booked late into the first open day (domain.settlement.booking)."""
    end = day_start(period.end + timedelta(days=1))
    frozen = closed_until(session, dealer_ids)
    rows: list[tuple[object, ...]] = []
    now = bulk.db_timestamp()
    for kind, stamp, sign in (
        (LedgerKind.sale, _SALES.c.sold_at, 1),
        (LedgerKind.sale_return, _LINES.c.returned_at, -1),
    ):
        key = _source(f"{kind.value}:", _LINES.c.id)
        booked = exists().where(_ENTRIES.c.source_key == key)
        query = (
            select(
                _LINES.c.id,
                _LINES.c.item_key,
                _LINES.c.product,
                _LINES.c.price_fen,
                _LINES.c.dealer_fen,
                _SALES.c.dealer_id,
                _SALES.c.receipt_no,
                stamp,
            )
            .join(_SALES, _SALES.c.id == _LINES.c.sale_id)
            .where(_SALES.c.dealer_id.in_(dealer_ids))
            .where(stamp.is_not(None))
            .where(stamp < end)
            .where(~booked)
        )
        for line in session.connection().execute(query):
            occurred = business_day(line[7])
            booked_on, late = booking(occurred, frozen.get(line.dealer_id))
            word = "销售" if kind is LedgerKind.sale else "退货"
            amount = sign * line.dealer_fen
            # A zero-priced line (a free SIM pack) owes nothing and records nothing.
            if not amount:
                continue
            rows.append(
                (
                    new_id(),
                    line.dealer_id,
                    kind.value,
                    amount,
                    sign * line.price_fen,
                    occurred.isoformat(),
                    booked_on.isoformat(),
                    late,
                    f"{kind.value}:{line.id}",
                    line.item_key,
                    f"{word} {_product_name(line.product)} 小票{line.receipt_no}",
                    "",
                    "",
                    actor,
                    now,
                )
            )
    bulk.insert_rows(session, "dealer_account_entry", ENTRY_COLUMNS, rows)
    return len(rows)


def _booked_on(kind: LedgerKind):  # type: ignore[no-untyped-def]
    """The day a sale line's sale (or return) was booked on the dealer's account; None: not
    yet, or never (a zero-priced line books nothing)."""
    return (
        select(_ENTRIES.c.booked_on)
        .where(_ENTRIES.c.source_key == _source(f"{kind.value}:", _LINES.c.id))
        .limit(1)
        .scalar_subquery()
    )


_SALE_BOOKED = _booked_on(LedgerKind.sale)
_RETURN_BOOKED = _booked_on(LedgerKind.sale_return)


class _Sold(NamedTuple):
    sale: NumberSale
    booked_on: date | None
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
) -> dict[str, list[_Sold]]:
    """The numbers each dealer sold that can earn or lose commission in the period, with
    their provisioning status and the day their sale is booked on (None for a zero-priced
    line, which books nothing), in one read: sold in the period's months (one-off, slabs),
    sold a stage's months before (staged), returned in the period, or sold or returned
    earlier and booked late here."""
    end = day_start(period.end + timedelta(days=1))
    windows = [(period.start.replace(day=1), period.end)]
    # Month ends clamp (31 Jan + 1 month = 28 Feb), so a stage's window is a few days wider;
    # commission_for decides exactly.
    slack = timedelta(days=4)
    for months in set(stage_months):
        windows.append(
            (add_months(period.start, -months) - slack, add_months(period.end, -months) + slack)
        )
    sold = _SALES.c.sold_at
    return _sales_where(
        session,
        dealer_ids,
        or_(
            *(
                and_(sold >= day_start(a), sold < day_start(b + timedelta(days=1)))
                for a, b in windows
            ),
            and_(_LINES.c.returned_at >= day_start(period.start), _LINES.c.returned_at < end),
            and_(sold < day_start(period.start), _SALE_BOOKED.between(period.start, period.end)),
            and_(
                _LINES.c.returned_at < day_start(period.start),
                _RETURN_BOOKED.between(period.start, period.end),
            ),
        ),
        end,
    )


def _sales_where(
    session: Session, dealer_ids: Sequence[str], condition: ColumnElement[bool], end: datetime
) -> dict[str, list[_Sold]]:
    """The number sales of the dealers sold before `end` that meet `condition`, with their
    provisioning status and the day each was booked on, per dealer."""
    query = (
        select(
            _SALES.c.dealer_id,
            _LINES.c.item_key,
            _LINES.c.product,
            _SALES.c.sold_at,
            _LINES.c.returned_at,
            _ACTIVATIONS.c.activated_on,
            _ACTIVATIONS.c.deactivated_on,
            _SALE_BOOKED.label("booked_on"),
            # Looked up only for the few lines returned.
            case((_LINES.c.returned_at.is_(None), None), else_=_RETURN_BOOKED).label(
                "return_booked_on"
            ),
        )
        .join(_SALES, _SALES.c.id == _LINES.c.sale_id)
        .outerjoin(_ACTIVATIONS, _ACTIVATIONS.c.msisdn == _LINES.c.item_key)
        .where(_SALES.c.dealer_id.in_(dealer_ids))
        .where(_LINES.c.item_kind == "number")
        .where(_SALES.c.sold_at < end)
        .where(condition)
    )
    sales: dict[str, list[_Sold]] = defaultdict(list)
    for row in session.connection().execute(query):
        sale = NumberSale(
            msisdn=row.item_key,
            grade=grade_of(row.product),
            sold_on=business_day(row.sold_at),
            returned_on=business_day(row.returned_at) if row.returned_at else None,
            activated_on=row.activated_on,
            deactivated_on=row.deactivated_on,
        )
        sales[row.dealer_id].append(_Sold(sale, row.booked_on, row.return_booked_on))
    return sales


def _line_key(line: CommissionLine) -> str:
    """A month's slab line is keyed by its month, so that a late sale's correction adds to
    it; every other line by what it pays for."""
    what = f"{line.month:%Y-%m}" if line.month is not None else line.description
    return _commission_key(line.plan, line.kind.value, line.msisdn, what)


def _commission_key(plan: str, kind: str, msisdn: str | None, description: str) -> str:
    digest = hashlib.sha1(f"{plan}|{kind}|{msisdn}|{description}".encode()).hexdigest()
    return f"commission:{digest[:32]}"
