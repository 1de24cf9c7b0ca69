"""The central price list with its versions, per-dealer prices, and the caps on price
overrides at the counter (defaults with each price list, a dealer's own in place of them)."""

from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backoffice.contracts.channel import (
    DealerCapsPublic,
    DealerPricePublic,
    OverrideCapsIn,
    PriceIn,
    PriceListCreate,
    PriceListPublic,
)
from backoffice.domain.channel import Price, PricingError, check_price, effective_prices
from backoffice.models import Dealer, DealerOverrideCap, DealerPrice, PriceList, PriceListItem
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel.dealers import find_dealer
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.ids import new_id
from shared.overrides import DEFAULT_CAPS, OverrideCaps

_CAP_FIELDS = tuple(OverrideCaps.model_fields)


def caps_of(row: PriceList | DealerOverrideCap) -> OverrideCaps:
    return OverrideCaps.model_validate({name: getattr(row, name) for name in _CAP_FIELDS})


def _checked(prices: list[PriceIn]) -> list[Price]:
    seen: set[str] = set()
    out = []
    for index, item in enumerate(prices):
        if item.product in seen:
            raise InvalidInput(f"prices[{index}]: product {item.product} is listed twice")
        seen.add(item.product)
        try:
            out.append(check_price(Price(item.product, item.retail_fen, item.dealer_fen)))
        except PricingError as exc:
            raise InvalidInput(f"prices[{index}]: {exc}", code="invalid_price") from exc
    return out


def create_price_list(session: Session, request: PriceListCreate, actor: str) -> PriceListPublic:
    prices = _checked(request.prices)
    version = (session.exec(select(func.max(PriceList.version))).one() or 0) + 1
    caps: OverrideCaps | None = request.override_caps
    if caps is None:
        previous = session.exec(select(PriceList).where(PriceList.version == version - 1)).first()
        caps = DEFAULT_CAPS if previous is None else caps_of(previous)
    price_list = PriceList(
        id=new_id(),
        version=version,
        effective_from=request.effective_from or utcnow(),
        created_by=actor,
        note=request.note,
        **caps.model_dump(),
    )
    session.add(price_list)
    session.flush()
    for p in prices:
        session.add(
            PriceListItem(
                price_list_id=price_list.id,
                product=p.product,
                retail_fen=p.retail_fen,
                dealer_fen=p.dealer_fen,
            )
        )
    audit.record(
        session,
        actor=actor,
        entity_type="price_list",
        entity_id=price_list.id,
        action="create",
        item_count=len(prices),
        reason=f"version {version} from {price_list.effective_from.isoformat()}; "
        f"override caps {caps.model_dump_json()}",
    )
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict("another price list was created at the same time; retry") from exc
    return _public(price_list, prices)


def _public(price_list: PriceList, prices: list[Price]) -> PriceListPublic:
    return PriceListPublic(
        id=price_list.id,
        version=price_list.version,
        effective_from=price_list.effective_from,
        created_by=price_list.created_by,
        note=price_list.note,
        prices=[
            PriceIn(product=p.product, retail_fen=p.retail_fen, dealer_fen=p.dealer_fen)
            for p in prices
        ],
        override_caps=caps_of(price_list),
    )


def list_in_force(session: Session, at: datetime | None = None) -> PriceList:
    """The newest version whose effective time has come."""
    price_list = session.exec(
        select(PriceList)
        .where(col(PriceList.effective_from) <= (at or utcnow()))
        .order_by(col(PriceList.version).desc())
        .limit(1)
    ).first()
    if price_list is None:
        raise NotFound("no price list is in force", code="no_price_list")
    return price_list


def get_version(session: Session, version: int) -> PriceList:
    price_list = session.exec(select(PriceList).where(PriceList.version == version)).first()
    if price_list is None:
        raise NotFound(f"price list version {version} not found", code="unknown_price_list")
    return price_list


def central_prices(session: Session, price_list: PriceList) -> dict[str, Price]:
    return central_prices_of(session, price_list.id)


def central_prices_of(session: Session, price_list_id: str) -> dict[str, Price]:
    rows = session.exec(
        select(PriceListItem).where(PriceListItem.price_list_id == price_list_id)
    ).all()
    return {r.product: Price(r.product, r.retail_fen, r.dealer_fen) for r in rows}


def dealer_overrides(session: Session, dealer_id: str) -> dict[str, Price]:
    rows = session.exec(select(DealerPrice).where(DealerPrice.dealer_id == dealer_id)).all()
    return {r.product: Price(r.product, r.retail_fen, r.dealer_fen) for r in rows}


def prices_for_dealer(
    session: Session, dealer_id: str, price_list: PriceList | None = None
) -> dict[str, Price]:
    central = central_prices(session, price_list or list_in_force(session))
    return effective_prices(central, dealer_overrides(session, dealer_id))


def price_list_public(session: Session, price_list: PriceList) -> PriceListPublic:
    return _public(
        price_list, sorted(central_prices(session, price_list).values(), key=lambda p: p.product)
    )


def _new_prices_version(session: Session, dealer_id: str) -> None:
    """The dealer's own prices or caps change with this transaction: pushes drop the price
    book they kept of it (services/counter/pricing.py)."""
    session.execute(
        update(Dealer)
        .where(col(Dealer.id) == dealer_id)
        .values(prices_version=col(Dealer.prices_version) + 1)
    )


def set_dealer_price(
    session: Session, dealer_key: str, request: PriceIn, actor: str
) -> DealerPricePublic:
    dealer = find_dealer(session, dealer_key)
    (price,) = _checked([request])
    row = session.exec(
        select(DealerPrice)
        .where(DealerPrice.dealer_id == dealer.id)
        .where(DealerPrice.product == price.product)
    ).first()
    before = None if row is None else f"{row.retail_fen}/{row.dealer_fen}"
    if row is None:
        row = DealerPrice(
            dealer_id=dealer.id, product=price.product, retail_fen=0, dealer_fen=0, created_by=actor
        )
    row.retail_fen, row.dealer_fen, row.created_by = price.retail_fen, price.dealer_fen, actor
    session.add(row)
    _new_prices_version(session, dealer.id)
    audit.record(
        session,
        actor=actor,
        entity_type="dealer_price",
        entity_id=dealer.id,
        action="set",
        from_status=before,
        to_status=f"{price.retail_fen}/{price.dealer_fen}",
        reason=f"{price.product} for dealer {dealer.code} (retail/dealer fen)",
    )
    session.commit()
    return DealerPricePublic(
        dealer_id=dealer.id,
        product=price.product,
        retail_fen=price.retail_fen,
        dealer_fen=price.dealer_fen,
    )


def list_dealer_prices(session: Session, dealer_key: str) -> list[DealerPricePublic]:
    dealer = find_dealer(session, dealer_key)
    return [
        DealerPricePublic(
            dealer_id=dealer.id, product=p.product, retail_fen=p.retail_fen, dealer_fen=p.dealer_fen
        )
        for p in sorted(dealer_overrides(session, dealer.id).values(), key=lambda p: p.product)
    ]


# --- caps on price overrides ----------------------------------------------------------------


def dealer_caps(session: Session, dealer_id: str) -> OverrideCaps | None:
    """The dealer's own caps, or None when its price list's defaults apply."""
    row = session.get(DealerOverrideCap, dealer_id)
    return None if row is None else caps_of(row)


def override_caps(session: Session, dealer_id: str, price_list: PriceList) -> OverrideCaps:
    """The caps the dealer's counters work under with this price list."""
    return dealer_caps(session, dealer_id) or caps_of(price_list)


def dealer_caps_public(session: Session, dealer_key: str) -> DealerCapsPublic:
    dealer = find_dealer(session, dealer_key)
    own = dealer_caps(session, dealer.id)
    return DealerCapsPublic(
        dealer_id=dealer.id,
        own=own is not None,
        override_caps=own or caps_of(list_in_force(session)),
    )


def set_dealer_caps(
    session: Session, dealer_key: str, caps: OverrideCapsIn | None, actor: str
) -> DealerCapsPublic:
    """Gives the dealer its own caps, or (None) returns it to its price list's defaults."""
    dealer = find_dealer(session, dealer_key)
    row = session.get(DealerOverrideCap, dealer.id)
    before = None if row is None else caps_of(row).model_dump_json()
    if caps is None:
        if row is not None:
            session.delete(row)
    else:
        if row is None:
            row = DealerOverrideCap(dealer_id=dealer.id, set_by=actor)
        row.sqlmodel_update(caps.model_dump() | {"set_by": actor, "set_at": utcnow()})
        session.add(row)
    _new_prices_version(session, dealer.id)
    audit.record(
        session,
        actor=actor,
        entity_type="dealer_override_cap",
        entity_id=dealer.id,
        action="set" if caps is not None else "clear",
        reason=f"dealer {dealer.code}: "
        + (caps.model_dump_json() if caps is not None else "price list defaults")
        + f" (was {before or 'price list defaults'})",
    )
    session.commit()
    return dealer_caps_public(session, dealer.id)


# --- the administrators' price pages -----------------------------------------------------------


def versions_page(
    session: Session, after: int | None = None, limit: int = 50
) -> tuple[list[tuple[PriceList, int]], int | None]:
    """Price list versions newest first with their item counts, and the version to continue
    after (None at the end): keyset pagination on the version."""
    query = select(PriceList).order_by(col(PriceList.version).desc()).limit(limit + 1)
    if after is not None:
        query = query.where(col(PriceList.version) < after)
    rows = list(session.exec(query))
    more = len(rows) > limit
    rows = rows[:limit]
    counts = dict(
        session.exec(
            select(PriceListItem.price_list_id, func.count())
            .where(col(PriceListItem.price_list_id).in_([r.id for r in rows]))
            .group_by(col(PriceListItem.price_list_id))
        ).all()
    )
    return [(r, counts.get(r.id, 0)) for r in rows], (rows[-1].version if more else None)


def next_version(session: Session) -> int:
    """The version the next price list will get (unless another is created first)."""
    return (session.exec(select(func.max(PriceList.version))).one() or 0) + 1


def remove_dealer_price(session: Session, dealer_key: str, product: str, actor: str) -> None:
    """The dealer's own price of a product goes: the central price list's applies again."""
    dealer = find_dealer(session, dealer_key)
    row = session.exec(
        select(DealerPrice)
        .where(DealerPrice.dealer_id == dealer.id)
        .where(DealerPrice.product == product)
    ).first()
    if row is None:
        raise NotFound(
            f"dealer {dealer.code} has no price of its own for {product}",
            code="dealer_price_not_found",
        )
    before = f"{row.retail_fen}/{row.dealer_fen}"
    session.delete(row)
    _new_prices_version(session, dealer.id)
    audit.record(
        session,
        actor=actor,
        entity_type="dealer_price",
        entity_id=dealer.id,
        action="remove",
        from_status=before,
        reason=f"{product} for dealer {dealer.code}: the price list's price applies again",
    )
    session.commit()
