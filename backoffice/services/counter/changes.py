"""Terminal pull: the outlet's changes since a cursor (stock, prices and override caps,
grades, clerks with this terminal's PIN verifiers, dealer status)."""

import base64
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.core.config import Settings
from backoffice.models import NumberGrade
from backoffice.models.types import utcnow
from backoffice.services.channel import dealers, prices, reservations
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.channel.items import ALL_ITEMS
from backoffice.services.counter import reconciliation
from backoffice.services.errors import Conflict
from shared import pins
from shared.sync import (
    ClerkState,
    DealerState,
    GradeState,
    OutletState,
    PriceListState,
    ProductPrice,
    PullResponse,
    StockItem,
)


def _encode_cursor(moment: datetime) -> str:
    return base64.urlsafe_b64encode(moment.isoformat().encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> datetime:
    try:
        moment = datetime.fromisoformat(base64.urlsafe_b64decode(cursor + "==").decode())
    except ValueError as exc:
        raise Conflict(f"cursor {cursor!r} is not one this server gave", code="bad_cursor") from exc
    if moment.tzinfo is None:
        raise Conflict(f"cursor {cursor!r} is not one this server gave", code="bad_cursor")
    return moment


def pull(
    session: Session, context: TerminalContext, since: str | None, settings: Settings
) -> PullResponse:
    """The outlet's stock changed since the cursor (all of it without one), and the small
    reference data whole: prices and override caps, grades, clerks with PIN verifiers for
    this terminal (never PIN hashes: shared/pins.py), the dealer's status."""
    dealers.require_active_dealer(context)
    reservations.expire_reservations(session, "sync")
    started = utcnow()
    outlet = context.outlet
    changed_after = None if since is None else _decode_cursor(since)
    stock: list[StockItem] = []
    for kind in ALL_ITEMS:
        t = kind.table
        query = select(t.c[kind.key.name], t.c.status, kind.product_column, t.c.outlet_id)
        if changed_after is None:
            query = query.where(t.c.outlet_id == outlet.id)
        else:
            # Items that left this outlet still name it in prev_outlet_id.
            query = query.where(t.c.updated_at >= changed_after).where(
                or_(t.c.outlet_id == outlet.id, t.c.prev_outlet_id == outlet.id)
            )
        for key, status, product, owner in session.connection().execute(query):
            stock.append(
                StockItem(
                    item_kind=kind.kind.value,
                    item=key,
                    status=status,
                    product=kind.product(product),
                    in_outlet=owner == outlet.id,
                )
            )
    price_list = prices.list_in_force(session)
    book = prices.prices_for_dealer(session, context.dealer.id, price_list)
    grades = session.exec(sql_select(NumberGrade).order_by(col(NumberGrade.rank))).all()
    staff = dealers.outlet_staff(session, outlet)
    pin_key = pins.terminal_pin_key(context.terminal.credential_hash)
    cursor_at = started - timedelta(seconds=settings.sync_cursor_overlap_seconds)
    return PullResponse(
        cursor=_encode_cursor(cursor_at),
        full=since is None,
        dealer=DealerState(
            code=context.dealer.code, name=context.dealer.name, status=context.dealer.status
        ),
        outlet=OutletState(
            id=outlet.id, code=outlet.code, name=outlet.name, timezone=outlet.timezone
        ),
        stock=stock,
        price_list=PriceListState(
            version=price_list.version,
            effective_from=price_list.effective_from,
            prices=[
                ProductPrice(product=p.product, retail_fen=p.retail_fen, dealer_fen=p.dealer_fen)
                for p in sorted(book.values(), key=lambda p: p.product)
            ],
        ),
        grades=[GradeState.model_validate(g, from_attributes=True) for g in grades],
        clerks=[
            ClerkState(
                username=u.username,
                full_name=u.full_name,
                role=u.role,
                pin_verifier=pins.make_verifier(pin_key, u.pin_hash) if u.pin_hash else None,
            )
            for u in staff
        ],
        override_caps=prices.override_caps(session, context.dealer.id, price_list),
        resolutions=reconciliation.resolutions_for(session, context.terminal.id, changed_after),
    )
