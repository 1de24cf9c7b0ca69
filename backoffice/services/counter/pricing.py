"""What a sale is checked against, loaded once per push: the dealer's price book (list price,
dealer prices, the previous list within its grace period), its caps on price overrides, its
staff (the clerk an event names, the managers who approve offline), and the approvals the
back office signs for overrides approved online."""

import hashlib
import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from weakref import WeakKeyDictionary

import jwt
from sqlalchemy import Engine, select
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.core.config import Settings
from backoffice.core.security import token_key
from backoffice.domain.channel import Price
from backoffice.domain.users import Role
from backoffice.models import Dealer, PriceList
from backoffice.services.channel.dealers import TerminalContext, dealer_staff
from backoffice.services.channel.prices import (
    caps_of,
    central_prices_of,
    dealer_caps,
    dealer_overrides,
)
from backoffice.services.counter.outcomes import Rejection
from shared.codes import parse_receipt_number
from shared.overrides import OverrideCaps, override_refusal
from shared.sync import RejectReason, SaleLine, SalePayload

# An online approval covers the sale it was asked for, if made within this time.
APPROVAL_MINUTES = 15
# Terminal clocks (which date sales) and the office's (which dates approvals) differ a little.
CLOCK_LEEWAY = timedelta(minutes=5)
_ALGORITHM = "HS256"
_TYPE = "override_approval"


def approval_key(settings: Settings) -> bytes:
    """The key approvals are signed with: derived from the token key, for this use only."""
    return hmac.new(token_key(settings), b"haoka override approval v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class ApprovalClaims:
    """What an approval binds: the terminal, the sale, the item, the list price and the price
    approved, and who approved."""

    terminal_id: str
    sale_id: str
    item: str
    list_fen: int
    price_fen: int
    approved_by: str

    def as_claims(self) -> dict[str, Any]:
        return {
            "ter": self.terminal_id,
            "sal": self.sale_id,
            "itm": self.item,
            "lst": self.list_fen,
            "prc": self.price_fen,
            "by": self.approved_by,
        }


def sign_approval(key: bytes, claims: ApprovalClaims, now: datetime) -> tuple[str, datetime]:
    """A signed approval and the time it expires."""
    expires = now + timedelta(minutes=APPROVAL_MINUTES)
    body = claims.as_claims() | {"typ": _TYPE, "iat": now, "exp": expires}
    return jwt.encode(body, key, algorithm=_ALGORITHM), expires


def _approval_window(key: bytes, token: str) -> tuple[dict[str, Any], datetime, datetime] | None:
    """The claims of an approval this office signed, with its issue and expiry times."""
    try:
        body = jwt.decode(
            token,
            key,
            algorithms=[_ALGORITHM],
            # Expiry is judged against when the sale was made, not when it is pushed.
            options={"require": ["iat", "exp"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    if body.get("typ") != _TYPE:
        return None
    return body, datetime.fromtimestamp(body["iat"], UTC), datetime.fromtimestamp(body["exp"], UTC)


@dataclass(frozen=True)
class _ListEntry:
    """A central price list as the price book needs it (price lists are never changed
    once made: a change is a new version)."""

    id: str
    version: int
    effective_from: datetime
    caps: OverrideCaps


@dataclass(frozen=True)
class _DealerPrices:
    overrides: dict[str, Price]
    caps: OverrideCaps | None


class _Kept:
    """What pushes keep of the price book for one database (engine): the central lists
    (kept while the newest list is the same), each list's prices (by its id: they never
    change), and each dealer's own prices and caps by its prices_version."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lists: tuple[str, list[_ListEntry]] | None = None
        self.central: dict[str, dict[str, Price]] = {}
        self.dealers: OrderedDict[str, tuple[int, _DealerPrices]] = OrderedDict()


# Dealers whose prices are kept per database; the least recently used go first.
KEPT_DEALERS = 10_000
_kept: "WeakKeyDictionary[Engine, _Kept]" = WeakKeyDictionary()
_kept_lock = threading.Lock()


def _kept_for(session: Session) -> _Kept:
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _kept_lock:
        kept = _kept.get(engine)
        if kept is None:
            kept = _kept[engine] = _Kept()
        return kept


def _price_lists(session: Session, kept: _Kept) -> list[_ListEntry]:
    table = PriceList.__table__  # type: ignore[attr-defined]
    newest = (
        session.connection()
        .execute(select(table.c.id).order_by(table.c.version.desc()).limit(1))
        .scalar()
    )
    lists = kept.lists
    if lists is not None and lists[0] == newest:
        return lists[1]
    entries = [
        _ListEntry(p.id, p.version, p.effective_from, caps_of(p))
        for p in session.exec(sql_select(PriceList).order_by(col(PriceList.version)))
    ]
    kept.lists = (newest or "", entries)
    return entries


def _dealer_prices(session: Session, kept: _Kept, dealer: Dealer) -> _DealerPrices:
    with kept.lock:
        found = kept.dealers.get(dealer.id)
        if found is not None and found[0] == dealer.prices_version:
            kept.dealers.move_to_end(dealer.id)
            return found[1]
    prices = _DealerPrices(dealer_overrides(session, dealer.id), dealer_caps(session, dealer.id))
    with kept.lock:
        kept.dealers[dealer.id] = (dealer.prices_version, prices)
        kept.dealers.move_to_end(dealer.id)
        while len(kept.dealers) > KEPT_DEALERS:
            kept.dealers.popitem(last=False)
    return prices


@dataclass
class PriceBook:
    """Price list versions, the dealer's prices and caps, its staff, and the approval key.
    The prices are kept between pushes (by the newest list and the dealer's
    prices_version); the staff is read each time, so that a clerk let go is refused at once."""

    session: Session
    dealer: Dealer
    grace: timedelta
    settings: Settings

    def __post_init__(self) -> None:
        self._kept = _kept_for(self.session)
        self._lists = _price_lists(self.session, self._kept)
        self._by_version = {p.version: p for p in self._lists}
        own = _dealer_prices(self.session, self._kept, self.dealer)
        self._overrides = own.overrides
        self._dealer_caps = own.caps
        self._staff = dealer_staff(self.session, self.dealer.id)

    def _central(self, price_list: _ListEntry) -> dict[str, Price]:
        prices = self._kept.central.get(price_list.id)
        if prices is None:
            prices = self._kept.central[price_list.id] = central_prices_of(
                self.session, price_list.id
            )
        return prices

    @cached_property
    def approval_key(self) -> bytes:
        # Read when a sale carries an approval, which most pushes do not.
        return approval_key(self.settings)

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
        price = self._overrides.get(product) or self._central(price_list).get(product)
        if price is None:
            raise Rejection(RejectReason.unknown_product, f"{product} has no price")
        return price

    def caps(self, version: int) -> OverrideCaps:
        """The dealer's caps on overrides of lines priced from this (known) list version."""
        return self._dealer_caps or self._by_version[version].caps

    def require_clerk(self, clerk: str, dealer_code: str) -> None:
        if clerk not in self._staff:
            raise Rejection(
                RejectReason.unknown_clerk,
                f"clerk {clerk} is not active staff of dealer {dealer_code}",
            )

    def refuse_price(self, index: int, line: SaleLine, list_fen: int) -> None:
        """A line priced off the list with no override (Rejection; a decision of the sales
        centre may accept it: services/counter/reconciliation.py)."""
        raise Rejection(
            RejectReason.price_mismatch,
            f"lines[{index}]: {line.item} costs {list_fen} fen, "
            f"not {line.price_fen} fen, and no override was approved",
        )

    def check_override(
        self,
        context: TerminalContext,
        sale: SalePayload,
        index: int,
        line: SaleLine,
        list_fen: int,
        occurred_at: datetime,
    ) -> str | None:
        """Refuses (Rejection) an override that is not approved or is over the caps. Returns
        None for one the office approved online, and for one approved offline at the
        terminal (which the office cannot verify) the note it is queued for review with."""
        override = line.override
        assert override is not None
        where = f"lines[{index}]: {line.item}"
        caps = self.caps(line.price_list_version)
        online = override.approval is not None
        if online:
            self._check_approval(context, sale, line, list_fen, occurred_at, where)
        elif self._staff.get(override.approved_by) != Role.dealer_manager.value:
            raise Rejection(
                RejectReason.override_not_approved,
                f"{where}: {override.approved_by} is not a manager of dealer {context.dealer.code}",
            )
        refusal = override_refusal(caps, list_fen, line.price_fen, online=online)
        if refusal is not None:
            raise Rejection(RejectReason.override_over_cap, f"{where}: {refusal}")
        if online:
            return None
        return (
            f"{where} sold for {line.price_fen} fen instead of {list_fen} fen, approved offline "
            f"by {override.approved_by}: {override.reason}"
        )

    def _check_approval(
        self,
        context: TerminalContext,
        sale: SalePayload,
        line: SaleLine,
        list_fen: int,
        occurred_at: datetime,
        where: str,
    ) -> None:
        assert line.override is not None and line.override.approval is not None
        signed = _approval_window(self.approval_key, line.override.approval)
        if signed is None:
            raise Rejection(
                RejectReason.override_not_approved,
                f"{where}: the approval was not signed by this back office",
            )
        body, issued, expires = signed
        expected = ApprovalClaims(
            context.terminal.id,
            sale.sale_id,
            line.item,
            list_fen,
            line.price_fen,
            line.override.approved_by,
        ).as_claims()
        wrong = [name for name, value in expected.items() if body.get(name) != value]
        if wrong:
            raise Rejection(
                RejectReason.override_not_approved,
                f"{where}: the approval was given for another "
                + ", ".join(_CLAIM_NAMES[name] for name in wrong),
            )
        if not issued - CLOCK_LEEWAY <= occurred_at <= expires + CLOCK_LEEWAY:
            raise Rejection(
                RejectReason.override_not_approved,
                f"{where}: the approval ran from {issued.isoformat()} to "
                f"{expires.isoformat()}; the sale was made at {occurred_at.isoformat()}",
            )


_CLAIM_NAMES = {
    "ter": "terminal",
    "sal": "sale",
    "itm": "item",
    "lst": "list price",
    "prc": "price",
    "by": "manager",
}


def _check_sale(context: TerminalContext, sale: SalePayload, book: PriceBook) -> None:
    """What a sale must satisfy before any of its items is looked at."""
    receipt = parse_receipt_number(sale.receipt_no)
    if receipt.terminal_no != context.terminal.terminal_no:
        raise Rejection(
            RejectReason.receipt_not_this_terminal,
            f"receipt {sale.receipt_no} is numbered for terminal {receipt.terminal_no}, "
            f"not {context.terminal.terminal_no}",
        )
    book.require_clerk(sale.clerk, context.dealer.code)
    total = sum(line.price_fen for line in sale.lines)
    paid = sum(p.amount_fen for p in sale.payments)
    if paid != total:
        raise Rejection(
            RejectReason.payment_mismatch, f"payments {paid} fen do not add up to {total} fen"
        )
    has_number = any(line.item_kind == "number" for line in sale.lines)
    if has_number and sale.customer is None:
        raise Rejection(RejectReason.real_name_required, "a number sale needs the buyer's ID")


def price_book(session: Session, dealer: Dealer, settings: Settings) -> PriceBook:
    return PriceBook(session, dealer, timedelta(hours=settings.price_list_grace_hours), settings)
