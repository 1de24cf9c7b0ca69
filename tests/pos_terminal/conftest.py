"""Fixtures of the terminal service tests: a store holding one pulled outlet, and the services."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from pos_terminal.services.login import LoginService
from pos_terminal.services.printing import PrintQueue
from pos_terminal.services.returns import ReturnService
from pos_terminal.services.sale import SaleService
from pos_terminal.services.shift import ShiftService
from pos_terminal.services.stock import StockService
from pos_terminal.store import Store
from tests.pos_terminal.helpers import CLERK, Clock, seeded_store


@dataclass
class Counter:
    store: Store
    clock: Clock
    login: LoginService
    shifts: ShiftService
    sales: SaleService
    returns: ReturnService
    stock: StockService
    prints: PrintQueue


def make_counter(store: Store, clock: Clock) -> Counter:
    login = LoginService(store)
    return Counter(
        store=store,
        clock=clock,
        login=login,
        shifts=ShiftService(store),
        sales=SaleService(store, login),
        returns=ReturnService(store, timedelta(days=7)),
        stock=StockService(store),
        prints=PrintQueue(store),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def term_store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    store = seeded_store(tmp_path / "terminal.db", clock)
    yield store
    store.close()


@pytest.fixture
def counter(term_store: Store, clock: Clock) -> Counter:
    return make_counter(term_store, clock)


@pytest.fixture
def open_counter(counter: Counter) -> Counter:
    """A counter with a shift open on a 200-yuan float."""
    counter.shifts.open_shift(CLERK, 20_000)
    return counter
