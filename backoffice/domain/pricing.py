"""Product keys of the price list, the default prices, and which price a sale must carry."""

import re
from dataclasses import dataclass

from backoffice.domain.grading import DEFAULT_GRADES

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
