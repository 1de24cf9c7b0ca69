"""The prices a sale is checked against: the dealer's price book (list price, dealer
overrides, the previous list within its grace period) and approved overrides."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.core.config import Settings
from backoffice.domain.channel import (
    Price,
)
from backoffice.domain.users import Role
from backoffice.models import (
    PriceList,
    User,
)
from backoffice.services.channel.dealers import TerminalContext
from backoffice.services.channel.prices import central_prices, dealer_overrides
from backoffice.services.counter.outcomes import Rejection
from shared.sync import RejectReason, SalePayload


@dataclass
class PriceBook:
    """Price list versions and the dealer's overrides, loaded once per push."""

    session: Session
    dealer_id: str
    grace: timedelta

    def __post_init__(self) -> None:
        self._versions: dict[int, dict[str, Price]] = {}
        self._overrides = dealer_overrides(self.session, self.dealer_id)
        self._lists = list(
            self.session.exec(sql_select(PriceList).order_by(col(PriceList.version)))
        )
        self._by_version = {p.version: p for p in self._lists}

    def price(self, version: int, product: str, at: datetime) -> Price:
        price_list = self._by_version.get(version)
        if price_list is None or price_list.effective_from > at:
            raise Rejection(
                RejectReason.unknown_price_list,
                f"price list version {version} was not in force at {at.isoformat()}",
            )
        newer = [
            p for p in self._lists if p.version > version and p.effective_from <= at - self.grace
        ]
        if newer:
            raise Rejection(
                RejectReason.unknown_price_list,
                f"price list version {version} was replaced by version {newer[-1].version} "
                f"on {newer[-1].effective_from.isoformat()}",
            )
        if version not in self._versions:
            self._versions[version] = central_prices(self.session, price_list)
        price = {**self._versions[version], **self._overrides}.get(product)
        if price is None:
            raise Rejection(RejectReason.unknown_product, f"{product} has no price")
        return price


def _approver(session: Session, username: str, dealer_id: str) -> User | None:
    return session.exec(
        sql_select(User)
        .where(User.username == username)
        .where(User.dealer_id == dealer_id)
        .where(User.role == Role.dealer_manager.value)
        .where(col(User.is_active))
    ).first()


def _check_sale(context: TerminalContext, sale: SalePayload) -> None:
    """What a sale must satisfy before any of its items is looked at."""
    total = sum(line.price_fen for line in sale.lines)
    paid = sum(p.amount_fen for p in sale.payments)
    if paid != total:
        raise Rejection(
            RejectReason.payment_mismatch, f"payments {paid} fen do not add up to {total} fen"
        )
    has_number = any(line.item_kind == "number" for line in sale.lines)
    if has_number and sale.customer is None:
        raise Rejection(RejectReason.real_name_required, "a number sale needs the buyer's ID")


def price_book(session: Session, dealer_id: str, settings: Settings) -> PriceBook:
    return PriceBook(session, dealer_id, timedelta(hours=settings.price_list_grace_hours))
