"""Lifecycles of numbers, SIM cards and top-up cards as explicit transition tables."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Final, Generic, TypeVar


class NumberStatus(StrEnum):
    imported = "imported"
    available = "available"
    allocated = "allocated"
    in_stock = "in_stock"
    reserved = "reserved"
    sold = "sold"
    active = "active"
    cooling = "cooling"
    frozen = "frozen"


class SimStatus(StrEnum):
    in_warehouse = "in_warehouse"
    allocated = "allocated"
    in_stock = "in_stock"
    sold = "sold"
    active = "active"
    damaged = "damaged"
    lost = "lost"


class VoucherStatus(StrEnum):
    generated = "generated"
    in_warehouse = "in_warehouse"
    allocated = "allocated"
    in_stock = "in_stock"
    active = "active"
    redeemed = "redeemed"
    expired = "expired"
    frozen = "frozen"
    voided = "voided"


class NumberAction(StrEnum):
    release = "release"
    allocate = "allocate"
    receive = "receive"
    reserve = "reserve"
    release_reservation = "release_reservation"
    return_to_centre = "return_to_centre"
    sell = "sell"
    return_sale = "return_sale"
    activate = "activate"
    deactivate = "deactivate"
    end_cooling = "end_cooling"
    freeze = "freeze"
    unfreeze = "unfreeze"


class SimAction(StrEnum):
    allocate = "allocate"
    receive = "receive"
    return_to_centre = "return_to_centre"
    sell = "sell"
    return_sale = "return_sale"
    activate = "activate"
    mark_damaged = "mark_damaged"
    mark_lost = "mark_lost"


class VoucherAction(StrEnum):
    release = "release"
    allocate = "allocate"
    receive = "receive"
    return_to_centre = "return_to_centre"
    sell = "sell"
    return_sale = "return_sale"
    redeem = "redeem"
    expire = "expire"
    freeze = "freeze"
    unfreeze = "unfreeze"
    void = "void"


class Prior(Enum):
    """Type of the PRIOR sentinel (an enum so that type checkers can narrow on it)."""

    PRIOR = "PRIOR"

    def __repr__(self) -> str:
        return "PRIOR"


PRIOR: Final = Prior.PRIOR
"""A transition target meaning "back to the status remembered in held_from"."""

S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)

# How each action reads in "<entity> in status <status> cannot be <...>".
_PARTICIPLES: Final = {
    "release": "released",
    "allocate": "allocated",
    "receive": "received",
    "reserve": "reserved",
    "release_reservation": "released from its reservation",
    "return_to_centre": "returned to the centre",
    "sell": "sold",
    "return_sale": "returned by the customer",
    "activate": "activated",
    "deactivate": "deactivated",
    "end_cooling": "taken out of cooling",
    "freeze": "frozen",
    "unfreeze": "unfrozen",
    "mark_damaged": "marked damaged",
    "mark_lost": "marked lost",
    "redeem": "redeemed",
    "expire": "expired",
    "void": "voided",
}


class IllegalTransition(Exception):
    """An action the lifecycle does not allow from the item's current status."""

    def __init__(self, entity: str, status: StrEnum, action: StrEnum) -> None:
        done = _PARTICIPLES.get(action.value)
        if done is None:
            message = f"{entity} in status {status.value} does not allow {action.value}"
        else:
            message = f"{entity} in status {status.value} cannot be {done}"
        super().__init__(message)
        self.entity = entity
        self.status = status
        self.action = action


@dataclass(frozen=True)
class ItemState(Generic[S]):
    """An item's status plus, while reserved or frozen, the status it will return to."""

    status: S
    held_from: S | None = None


class Lifecycle(Generic[S, A]):
    """A transition table with the operations the terminal and the back office need."""

    def __init__(self, name: str, table: Mapping[tuple[S, A], S | Prior]) -> None:
        if not table:
            raise ValueError(f"{name} lifecycle has an empty table")
        first_status, first_action = next(iter(table))
        self.name = name
        self.status_type: type[S] = type(first_status)
        self.action_type: type[A] = type(first_action)
        for (status, action), target in table.items():
            if type(status) is not self.status_type or type(action) is not self.action_type:
                raise TypeError(f"{name} lifecycle mixes enums at ({status!r}, {action!r})")
            if target is not PRIOR and type(target) is not self.status_type:
                raise TypeError(f"{name} lifecycle target {target!r} is not a status")
        self.table: Mapping[tuple[S, A], S | Prior] = MappingProxyType(dict(table))
        # A status with a way "back" must remember where it came from.
        self.holding: frozenset[S] = frozenset(s for (s, _), t in table.items() if t is PRIOR)
        self.targets: frozenset[S] = frozenset(t for t in table.values() if t is not PRIOR)
        sources: dict[A, set[S]] = {}
        actions: dict[S, set[A]] = {}
        for status, action in table:
            sources.setdefault(action, set()).add(status)
            actions.setdefault(status, set()).add(action)
        self._sources = {a: frozenset(s) for a, s in sources.items()}
        self._actions = {s: frozenset(a) for s, a in actions.items()}

    def __repr__(self) -> str:
        return f"Lifecycle({self.name!r}, {len(self.table)} transitions)"

    def _status(self, status: S | str) -> S:
        try:
            return self.status_type(status)
        except ValueError:
            raise ValueError(f"{status!r} is not a {self.name} status") from None

    def _action(self, action: A | str) -> A:
        try:
            return self.action_type(action)
        except ValueError:
            raise ValueError(f"{action!r} is not a {self.name} action") from None

    def apply(self, state: ItemState[S], action: A | str) -> ItemState[S]:
        """The state after action, or IllegalTransition; state itself is never changed."""
        status = self._status(state.status)
        held_from = None if state.held_from is None else self._status(state.held_from)
        if (held_from is None) == (status in self.holding) or held_from in self.holding:
            # Only reserved/frozen remember a status, and never another holding status.
            raise ValueError(
                f"inconsistent {self.name} state: status {status.value} "
                f"with held_from {held_from and held_from.value}"
            )
        act = self._action(action)
        target = self.table.get((status, act))
        if target is None:
            raise IllegalTransition(self.name, status, act)
        if target is PRIOR:
            assert held_from is not None  # guaranteed by the consistency check above
            return ItemState(held_from)
        if target in self.holding:
            # Moving between holding statuses (freezing a reservation) keeps the original
            # status: the reservation is cancelled, and unfreezing goes back past it.
            return ItemState(target, held_from if status in self.holding else status)
        return ItemState(target)

    def can(self, status: S | str, action: A | str) -> bool:
        return (self._status(status), self._action(action)) in self.table

    def sources(self, action: A | str) -> frozenset[S]:
        """Statuses from which action is legal (for UPDATE ... WHERE status IN (...))."""
        return self._sources.get(self._action(action), frozenset())

    def target(self, status: S | str, action: A | str) -> S:
        """Where action leads from status; for a return to the remembered status use apply()."""
        key = (self._status(status), self._action(action))
        target = self.table.get(key)
        if target is None:
            raise IllegalTransition(self.name, *key)
        if target is PRIOR:
            raise ValueError(
                f"{self.name} action {key[1].value} from {key[0].value} returns to the "
                "remembered status; use apply()"
            )
        return target

    def actions_from(self, status: S | str) -> frozenset[A]:
        return self._actions.get(self._status(status), frozenset())


def _table(
    *rows: tuple[tuple[S, ...], A, S | Prior],
) -> dict[tuple[S, A], S | Prior]:
    """Expands (sources, action, target) rows into the (status, action) -> target table."""
    table: dict[tuple[S, A], S | Prior] = {}
    for sources, action, target in rows:
        for source in sources:
            if (source, action) in table:
                raise ValueError(f"duplicate transition ({source}, {action})")
            table[source, action] = target
    return table


_N = NumberStatus
_NA = NumberAction
NUMBER_LIFECYCLE: Final[Lifecycle[NumberStatus, NumberAction]] = Lifecycle(
    "number",
    _table(
        ((_N.imported,), _NA.release, _N.available),
        ((_N.available,), _NA.allocate, _N.allocated),
        ((_N.allocated,), _NA.receive, _N.in_stock),
        ((_N.available, _N.in_stock), _NA.reserve, _N.reserved),
        ((_N.reserved,), _NA.release_reservation, PRIOR),
        ((_N.reserved, _N.in_stock), _NA.sell, _N.sold),
        ((_N.allocated, _N.in_stock, _N.reserved), _NA.return_to_centre, _N.available),
        ((_N.sold,), _NA.return_sale, _N.in_stock),
        ((_N.sold,), _NA.activate, _N.active),
        ((_N.active,), _NA.deactivate, _N.cooling),
        ((_N.cooling,), _NA.end_cooling, _N.available),
        (
            (_N.imported, _N.available, _N.allocated, _N.in_stock, _N.reserved),
            _NA.freeze,
            _N.frozen,
        ),
        ((_N.frozen,), _NA.unfreeze, PRIOR),
    ),
)

_S = SimStatus
_SA = SimAction
_SIM_BEFORE_ACTIVE = (_S.in_warehouse, _S.allocated, _S.in_stock, _S.sold)
SIM_LIFECYCLE: Final[Lifecycle[SimStatus, SimAction]] = Lifecycle(
    "sim",
    _table(
        ((_S.in_warehouse,), _SA.allocate, _S.allocated),
        ((_S.allocated,), _SA.receive, _S.in_stock),
        ((_S.allocated, _S.in_stock), _SA.return_to_centre, _S.in_warehouse),
        ((_S.in_stock,), _SA.sell, _S.sold),
        ((_S.sold,), _SA.return_sale, _S.in_stock),
        ((_S.sold,), _SA.activate, _S.active),
        (_SIM_BEFORE_ACTIVE, _SA.mark_damaged, _S.damaged),
        (_SIM_BEFORE_ACTIVE, _SA.mark_lost, _S.lost),
    ),
)

_V = VoucherStatus
_VA = VoucherAction
VOUCHER_LIFECYCLE: Final[Lifecycle[VoucherStatus, VoucherAction]] = Lifecycle(
    "voucher",
    _table(
        ((_V.generated,), _VA.release, _V.in_warehouse),
        ((_V.in_warehouse,), _VA.allocate, _V.allocated),
        ((_V.allocated,), _VA.receive, _V.in_stock),
        ((_V.allocated, _V.in_stock), _VA.return_to_centre, _V.in_warehouse),
        ((_V.in_stock,), _VA.sell, _V.active),
        ((_V.active,), _VA.redeem, _V.redeemed),
        ((_V.active,), _VA.return_sale, _V.in_stock),
        ((_V.active,), _VA.expire, _V.expired),
        (
            (_V.generated, _V.in_warehouse, _V.allocated, _V.in_stock, _V.active),
            _VA.freeze,
            _V.frozen,
        ),
        ((_V.frozen,), _VA.unfreeze, PRIOR),
        ((_V.frozen,), _VA.void, _V.voided),
    ),
)
