"""Rules of the dealer channel: statuses, item ranges, transfers, retries, return windows;
product keys of the price list, the default prices, and which price a sale must carry."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from backoffice.domain.billing import DEFAULT_GRADES
from shared.lifecycle import NumberStatus, VoucherStatus


class DealerKind(StrEnum):
    own_store = "own_store"
    partner = "partner"
    social = "social"


class DealerStatus(StrEnum):
    active = "active"
    suspended = "suspended"
    terminated = "terminated"


class TerminalStatus(StrEnum):
    active = "active"
    revoked = "revoked"


class ItemKind(StrEnum):
    number = "number"
    voucher = "voucher"


class AllocationOrder(StrEnum):
    random = "random"
    in_order = "in_order"


class DiscrepancyKind(StrEnum):
    missing = "missing"
    unexpected = "unexpected"


class OutboxStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"
    cancelled = "cancelled"


# A transfer sends outlet stock to another outlet; "allocated" under the receiving outlet
# is the in-transit state, left by the same receipt as an allocation.
TRANSFER_SOURCES: dict[ItemKind, tuple[str, ...]] = {
    ItemKind.number: (NumberStatus.in_stock.value,),
    ItemKind.voucher: (VoucherStatus.in_stock.value,),
}


IN_TRANSIT: dict[ItemKind, str] = {
    ItemKind.number: NumberStatus.allocated.value,
    ItemKind.voucher: VoucherStatus.allocated.value,
}


_DEALER_MOVES: dict[DealerStatus, frozenset[DealerStatus]] = {
    DealerStatus.active: frozenset({DealerStatus.suspended, DealerStatus.terminated}),
    DealerStatus.suspended: frozenset({DealerStatus.active, DealerStatus.terminated}),
    DealerStatus.terminated: frozenset(),
}


class ChannelRuleError(ValueError):
    """A request the channel's rules refuse; code is stable for the API."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def check_dealer_move(current: DealerStatus, target: DealerStatus) -> None:
    if target not in _DEALER_MOVES[current]:
        raise ChannelRuleError(
            f"a {current.value} dealer cannot become {target.value}", "illegal_dealer_status"
        )


@dataclass(frozen=True)
class ItemRange:
    """Consecutive serials (numbers or card serials) of one kind, as printed on a document."""

    first: str
    last: str
    count: int


def compress_ranges(keys: Iterable[str]) -> list[ItemRange]:
    """Sorted runs of consecutive equal-width digit strings: 1390…01,02,03 → one range."""
    ordered = sorted(set(keys), key=lambda k: (len(k), k))
    ranges: list[ItemRange] = []
    for key in ordered:
        if ranges:
            last = ranges[-1]
            if len(key) == len(last.last) and int(key) == int(last.last) + 1:
                ranges[-1] = ItemRange(last.first, key, last.count + 1)
                continue
        ranges.append(ItemRange(key, key, 1))
    return ranges


def retry_delay(attempts: int, base_seconds: float = 5.0, cap_seconds: float = 3600.0) -> timedelta:
    """Exponential back-off after the given number of failed attempts (1 → base)."""
    if attempts < 1:
        raise ValueError("retry_delay is for attempts that failed, starting at 1")
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** (attempts - 1)))


def within_return_window(sold_at: datetime, returned_at: datetime, window: timedelta) -> bool:
    return timedelta(0) <= returned_at - sold_at <= window


SIM_PACK = "sim_pack"


_PRODUCT = re.compile(r"number:[A-Z0-9]{1,16}|voucher:[1-9][0-9]{2,6}|sim_pack")


# Top-up cards settle at face value less this discount (in basis points) unless overridden.
DEFAULT_VOUCHER_DISCOUNT_BP = 300


DEFAULT_FACE_VALUES_FEN = (1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 50_000)


class PricingError(ValueError):
    """A product key or price that the price list cannot hold."""


@dataclass(frozen=True)
class Price:
    product: str
    retail_fen: int
    dealer_fen: int


def number_product(grade_code: str) -> str:
    return f"number:{grade_code}"


def voucher_product(face_value_fen: int) -> str:
    return f"voucher:{face_value_fen}"


def grade_of(product: str) -> str:
    """The number grade a product key names; '' for a top-up card."""
    return product.removeprefix("number:") if product.startswith("number:") else ""


def face_value_of(product: str) -> int:
    """The face value in fen a top-up card's product key names."""
    return int(product.removeprefix("voucher:"))


def check_product(product: str) -> str:
    """The key itself, or PricingError naming the accepted forms."""
    if not _PRODUCT.fullmatch(product):
        raise PricingError(
            f"product {product!r} is not number:<grade>, voucher:<face value in fen> or sim_pack"
        )
    return product


def check_price(price: Price) -> Price:
    check_product(price.product)
    if price.retail_fen < 0 or price.dealer_fen < 0:
        raise PricingError(f"{price.product}: prices cannot be negative")
    if price.dealer_fen > price.retail_fen:
        raise PricingError(
            f"{price.product}: dealer price {price.dealer_fen} fen is above the retail "
            f"price {price.retail_fen} fen"
        )
    return price


def default_prices() -> tuple[Price, ...]:
    """Version 1 of the price list: a number costs its selection fee plus prestored credit,
    passed through in full (the dealer earns commission instead); cards settle at a discount."""
    numbers = tuple(
        Price(
            number_product(g.code),
            g.selection_fee_fen + g.prestore_fen,
            g.selection_fee_fen + g.prestore_fen,
        )
        for g in DEFAULT_GRADES
    )
    cards = tuple(
        Price(voucher_product(face), face, face - face * DEFAULT_VOUCHER_DISCOUNT_BP // 10_000)
        for face in DEFAULT_FACE_VALUES_FEN
    )
    return (*numbers, *cards, Price(SIM_PACK, 2_000, 1_500))


def effective_prices(central: dict[str, Price], overrides: dict[str, Price]) -> dict[str, Price]:
    """A dealer's prices: its overrides where it has them, the central list elsewhere."""
    return {**central, **overrides}
