"""Sales statistics as pure rules: the key a sale line is counted under, the counters kept
per key, the periods they roll up into, and the rates derived from them. Figures are kept
per business day (backoffice.domain.calendar), outlet and product; the product names the
number grade."""

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from backoffice.domain.channel import grade_of


class Grain(StrEnum):
    day = "day"
    week = "week"
    month = "month"


class Dimension(StrEnum):
    """What a sales table is broken down by, besides its period."""

    total = "total"
    dealer = "dealer"
    outlet = "outlet"
    product = "product"
    grade = "grade"


class StatKey(NamedTuple):
    """What one summary row counts: one outlet's sales of one product on one business day.
    A tuple, so that a million of them fold and sort quickly."""

    day: date
    outlet_id: str
    product: str
    dealer_id: str

    @property
    def grade(self) -> str:
        return grade_of(self.product)


@dataclass(slots=True)
class Counters:
    """What is counted per key. Sales count on the day sold, returns on the day returned,
    redemptions on the day the charging system redeemed the card (under the outlet that sold
    it); amounts are retail fen, `dealer_fen` the settlement price."""

    sold_count: int = 0
    sold_fen: int = 0
    dealer_fen: int = 0
    returned_count: int = 0
    returned_fen: int = 0
    returned_dealer_fen: int = 0
    redeemed_count: int = 0
    redeemed_fen: int = 0

    def add(self, other: "Counters") -> None:
        # Spelled out: a rebuild adds a million of them.
        self.sold_count += other.sold_count
        self.sold_fen += other.sold_fen
        self.dealer_fen += other.dealer_fen
        self.returned_count += other.returned_count
        self.returned_fen += other.returned_fen
        self.returned_dealer_fen += other.returned_dealer_fen
        self.redeemed_count += other.redeemed_count
        self.redeemed_fen += other.redeemed_fen

    def values(self) -> dict[str, int]:
        return {
            "sold_count": self.sold_count,
            "sold_fen": self.sold_fen,
            "dealer_fen": self.dealer_fen,
            "returned_count": self.returned_count,
            "returned_fen": self.returned_fen,
            "returned_dealer_fen": self.returned_dealer_fen,
            "redeemed_count": self.redeemed_count,
            "redeemed_fen": self.redeemed_fen,
        }


COUNTER_NAMES = tuple(f.name for f in fields(Counters))


def sold(price_fen: int, dealer_fen: int) -> Counters:
    return Counters(sold_count=1, sold_fen=price_fen, dealer_fen=dealer_fen)


def returned(price_fen: int, dealer_fen: int) -> Counters:
    return Counters(returned_count=1, returned_fen=price_fen, returned_dealer_fen=dealer_fen)


def redeemed(face_value_fen: int) -> Counters:
    return Counters(redeemed_count=1, redeemed_fen=face_value_fen)


def fold(entries: Iterable[tuple[StatKey, Counters]]) -> dict[StatKey, Counters]:
    """Adds up entries per key."""
    totals: dict[StatKey, Counters] = {}
    for key, counters in entries:
        total = totals.get(key)
        if total is None:
            totals[key] = total = Counters()
        total.add(counters)
    return totals


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded to four places, or None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


def age_band(days: int) -> str:
    """The stock-ageing band of an item allocated `days` ago."""
    for limit, band in AGE_BANDS:
        if days <= limit:
            return band
    return AGE_BANDS[-1][1]


AGE_BANDS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (10**9, "90+"))
