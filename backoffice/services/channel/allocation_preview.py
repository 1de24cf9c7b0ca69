"""What an allocation would do, before it is made: for each rule, how many items the pool
holds and whether the count can be met, the dealer price of what would be allocated, and the
dealer's credit after it. Reads only; allocation.allocate makes the allocation (and checks
everything again, under its locks)."""

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.channel import AllocationRule
from backoffice.domain.channel import (
    DealerStatus,
    ItemKind,
    Price,
    number_product,
    voucher_product,
)
from backoffice.models import Dealer, NumberGrade, Outlet
from backoffice.services.channel.dealers import owed
from backoffice.services.channel.items import NUMBERS, VOUCHERS, Items
from backoffice.services.channel.prices import central_prices, list_in_force, prices_for_dealer
from backoffice.services.errors import NotFound


@dataclass(frozen=True)
class RulePreview:
    """One rule: what it asks for, what the pool holds of it, and its dealer price."""

    product: str
    item_kind: ItemKind
    count: int
    in_pool: int
    price: Price | None

    @property
    def met(self) -> bool:
        return self.in_pool >= self.count

    @property
    def amount_fen(self) -> int | None:
        return None if self.price is None else self.count * self.price.dealer_fen


@dataclass(frozen=True)
class AllocationPreview:
    dealer: Dealer
    outlet: Outlet
    rules: list[RulePreview]
    credit_limit_fen: int
    owed_fen: int

    @property
    def charge_fen(self) -> int:
        return sum(rule.amount_fen or 0 for rule in self.rules)

    @property
    def item_count(self) -> int:
        return sum(rule.count for rule in self.rules)

    @property
    def credit_after_fen(self) -> int:
        """The credit limit, less what the dealer owes, less this allocation."""
        return self.credit_limit_fen - self.owed_fen - self.charge_fen

    @property
    def dealer_active(self) -> bool:
        return self.dealer.status == DealerStatus.active.value

    @property
    def over_limit(self) -> bool:
        return self.credit_after_fen < 0

    @property
    def possible(self) -> bool:
        return (
            self.dealer_active
            and not self.over_limit
            and all(rule.met and rule.price is not None for rule in self.rules)
        )


def _items_of(rule: AllocationRule) -> tuple[Items, object, str]:
    if rule.item_kind == ItemKind.number.value:
        assert rule.grade is not None
        return NUMBERS, rule.grade, number_product(rule.grade)
    assert rule.face_value_fen is not None
    return VOUCHERS, rule.face_value_fen, voucher_product(rule.face_value_fen)


def in_pool(session: Session, items: Items, value: object) -> int:
    """How many items of one product the pool holds (what an allocation may take)."""
    t = items.table
    query = (
        select(func.count())
        .select_from(t)
        .where(t.c.status == items.allocate_from)
        .where(items.product_column == value)
    )
    return int(session.connection().execute(query).scalar_one())


def preview(session: Session, outlet: Outlet, rules: list[AllocationRule]) -> AllocationPreview:
    """The allocation of these rules to the outlet, as it would be made now."""
    dealer = session.get(Dealer, outlet.dealer_id)
    assert dealer is not None
    prices = prices_for_dealer(session, dealer.id)
    shown = []
    for rule in rules:
        items, value, product = _items_of(rule)
        shown.append(
            RulePreview(
                product=product,
                item_kind=items.kind,
                count=rule.count,
                in_pool=in_pool(session, items, value),
                price=prices.get(product),
            )
        )
    return AllocationPreview(
        dealer=dealer,
        outlet=outlet,
        rules=shown,
        credit_limit_fen=dealer.credit_limit_fen,
        owed_fen=owed(session, dealer.id),
    )


def grades(session: Session) -> list[NumberGrade]:
    """The grades a number rule may name, best first."""
    return list(session.exec(sql_select(NumberGrade).order_by(col(NumberGrade.rank))))


def card_face_values(session: Session) -> list[int]:
    """The face values of top-up cards the price list in force prices, lowest first."""
    try:
        prices = central_prices(session, list_in_force(session))
    except NotFound:
        return []
    prefix = "voucher:"
    return sorted(
        int(product[len(prefix) :])
        for product in prices
        if product.startswith(prefix) and product[len(prefix) :].isdigit()
    )
