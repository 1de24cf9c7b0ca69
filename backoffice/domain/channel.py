"""Rules of the dealer channel: statuses, item ranges, transfers, retries, return windows."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

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
