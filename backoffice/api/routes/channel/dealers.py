"""Dealers, outlets, dealer staff, terminals and prices: the sales centre's master data."""

from fastapi import APIRouter, status
from sqlmodel import Session

from backoffice.api.deps import Admin, ChannelReader, SalesCentre, SessionDep, dealer_scope
from backoffice.contracts.channel import (
    DealerCapsPublic,
    DealerCreate,
    DealerPricePublic,
    DealerPublic,
    DealerStatusChange,
    DealerUpdate,
    LedgerEntryPublic,
    OutletCreate,
    OutletPublic,
    OverrideCapsIn,
    PaymentIn,
    PriceIn,
    PriceListCreate,
    PriceListPublic,
    ProductRange,
    StaffCreate,
    StaffPublic,
    TerminalCreate,
    TerminalPublic,
    TerminalRegistered,
    TerminalRevoke,
)
from backoffice.contracts.common import Int32
from backoffice.models import Dealer
from backoffice.services.channel import dealers, prices, product_range
from backoffice.services.errors import NotFound
from backoffice.services.settlement import accounts

router = APIRouter(tags=["dealers"])


def _dealer(
    session: Session, dealer: Dealer, owed: int | None = None, products: ProductRange | None = None
) -> DealerPublic:
    if owed is None:
        owed = dealers.owed(session, dealer.id)
    if products is None:
        products = product_range.range_of(session, dealer.id)
    return DealerPublic.model_validate(
        {**dealer.model_dump(), "owed_fen": owed, "product_range": products}
    )


@router.post("/dealers", status_code=status.HTTP_201_CREATED)
def create_dealer(request: DealerCreate, session: SessionDep, clerk: SalesCentre) -> DealerPublic:
    return _dealer(session, dealers.create_dealer(session, request, clerk.username))


@router.get("/dealers")
def list_dealers(session: SessionDep, user: ChannelReader) -> list[DealerPublic]:
    scope = dealer_scope(user)
    owed = dealers.owed_by_dealer(session)
    shown = [d for d in dealers.list_dealers(session) if scope in (None, d.id)]
    ranges = product_range.ranges_by_dealer(session, [d.id for d in shown])
    return [_dealer(session, d, owed.get(d.id, 0), ranges[d.id]) for d in shown]


@router.get("/dealers/{key}")
def get_dealer(key: str, session: SessionDep, user: ChannelReader) -> DealerPublic:
    dealer = dealers.find_dealer(session, key)
    if dealer_scope(user) not in (None, dealer.id):
        raise NotFound(f"dealer {key!r} not found", code="dealer_not_found")
    return _dealer(session, dealer)


@router.patch("/dealers/{key}")
def update_dealer(
    key: str, request: DealerUpdate, session: SessionDep, clerk: SalesCentre
) -> DealerPublic:
    return _dealer(session, dealers.update_dealer(session, key, request, clerk.username))


@router.post("/dealers/{key}/status")
def change_dealer_status(
    key: str, request: DealerStatusChange, session: SessionDep, clerk: SalesCentre
) -> DealerPublic:
    return _dealer(session, dealers.change_dealer_status(session, key, request, clerk.username))


@router.post("/dealers/{key}/payments")
def record_payment(
    key: str, request: PaymentIn, session: SessionDep, clerk: SalesCentre
) -> DealerPublic:
    """A payment received: on the settlement account and, releasing credit, the channel
    ledger (the same as posting a payment entry to the account)."""
    return _dealer(session, accounts.record_payment(session, key, request, clerk.username))


@router.get("/dealers/{key}/ledger")
def dealer_ledger(key: str, session: SessionDep, _: SalesCentre) -> list[LedgerEntryPublic]:
    return [LedgerEntryPublic.model_validate(e) for e in dealers.ledger(session, key)]


@router.post("/dealers/{key}/staff", status_code=status.HTTP_201_CREATED)
def create_staff(
    key: str, request: StaffCreate, session: SessionDep, clerk: SalesCentre
) -> StaffPublic:
    return StaffPublic.model_validate(dealers.create_staff(session, key, request, clerk.username))


@router.get("/dealers/{key}/prices")
def list_dealer_prices(key: str, session: SessionDep, _: SalesCentre) -> list[DealerPricePublic]:
    return prices.list_dealer_prices(session, key)


@router.put("/dealers/{key}/prices")
def set_dealer_price(
    key: str, request: PriceIn, session: SessionDep, clerk: SalesCentre
) -> DealerPricePublic:
    return prices.set_dealer_price(session, key, request, clerk.username)


@router.get("/dealers/{key}/override-caps")
def dealer_override_caps(key: str, session: SessionDep, user: ChannelReader) -> DealerCapsPublic:
    """The caps on price overrides the dealer's counters work under."""
    dealer = dealers.find_dealer(session, key)
    if dealer_scope(user) not in (None, dealer.id):
        raise NotFound(f"dealer {key!r} not found", code="dealer_not_found")
    return prices.dealer_caps_public(session, dealer.id)


@router.put("/dealers/{key}/override-caps")
def set_dealer_override_caps(
    key: str, request: OverrideCapsIn, session: SessionDep, clerk: SalesCentre
) -> DealerCapsPublic:
    """Gives the dealer its own caps on price overrides, in place of its price list's."""
    return prices.set_dealer_caps(session, key, request, clerk.username)


@router.delete("/dealers/{key}/override-caps")
def clear_dealer_override_caps(
    key: str, session: SessionDep, clerk: SalesCentre
) -> DealerCapsPublic:
    """Returns the dealer to its price list's default caps."""
    return prices.set_dealer_caps(session, key, None, clerk.username)


@router.post("/outlets", status_code=status.HTTP_201_CREATED)
def create_outlet(request: OutletCreate, session: SessionDep, clerk: SalesCentre) -> OutletPublic:
    return OutletPublic.model_validate(dealers.create_outlet(session, request, clerk.username))


@router.get("/outlets")
def list_outlets(session: SessionDep, user: ChannelReader) -> list[OutletPublic]:
    return [
        OutletPublic.model_validate(o) for o in dealers.list_outlets(session, dealer_scope(user))
    ]


@router.post("/terminals", status_code=status.HTTP_201_CREATED)
def register_terminal(
    request: TerminalCreate, session: SessionDep, admin: Admin
) -> TerminalRegistered:
    return dealers.register_terminal(session, request, admin.username)


@router.get("/terminals")
def list_terminals(
    session: SessionDep, _: Admin, outlet: str | None = None
) -> list[TerminalPublic]:
    return [dealers.terminal_public(t) for t in dealers.list_terminals(session, outlet)]


@router.post("/terminals/{terminal_id}/revoke")
def revoke_terminal(
    terminal_id: str,
    session: SessionDep,
    admin: Admin,
    request: TerminalRevoke,
) -> TerminalPublic:
    return dealers.terminal_public(
        dealers.revoke_terminal(session, terminal_id, request.reason, admin.username)
    )


@router.post("/price-lists", status_code=status.HTTP_201_CREATED)
def create_price_list(
    request: PriceListCreate, session: SessionDep, admin: Admin
) -> PriceListPublic:
    return prices.create_price_list(session, request, admin.username)


@router.get("/price-lists/current")
def current_price_list(session: SessionDep, _: ChannelReader) -> PriceListPublic:
    return prices.price_list_public(session, prices.list_in_force(session))


@router.get("/price-lists/{version}")
def price_list_version(version: Int32, session: SessionDep, _: ChannelReader) -> PriceListPublic:
    return prices.price_list_public(session, prices.get_version(session, version))
