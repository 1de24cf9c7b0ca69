"""Fixtures of the terminal tests: a store holding one pulled outlet and the services on it;
the real back office on a free port with a dealer, outlet, terminal and staff."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from backoffice.contracts.channel import StaffCreate
from backoffice.core.config import Settings
from backoffice.domain.users import Role
from backoffice.services.channel import dealers
from pos_terminal.config import TerminalConfig
from pos_terminal.services import counter as counter_services
from pos_terminal.services.counter import CounterServices
from pos_terminal.services.login import LoginService
from pos_terminal.services.printing import PrintQueue
from pos_terminal.services.returns import ReturnService
from pos_terminal.services.sale import SaleService
from pos_terminal.services.shift import ShiftService
from pos_terminal.services.stock import StockService
from pos_terminal.store import Store
from tests.backoffice.channel.helpers import Channel, channel, pool
from tests.pos_terminal.helpers import CLERK, CLERK_PIN, PIN_KEY, Clock, seeded_store
from tests.pos_terminal.office import OfficeServer


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
    login = LoginService(store, pin_key=PIN_KEY)
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


@pytest.fixture
def office(settings: Settings) -> Iterator[OfficeServer]:
    server = OfficeServer(settings)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def shop(session: Session) -> Channel:
    """Dealer D1 with one outlet and terminal, a clerk and a manager; the central pool holds
    numbers and two ¥50 cards, and the shelf is empty until a test stocks it."""
    pool(session, cards=2)
    shop = channel(session, staff=False)
    for username, role, pin in (
        (CLERK, Role.clerk, CLERK_PIN),
        ("boss1", Role.dealer_manager, "1357"),
    ):
        dealers.create_staff(
            session,
            "D1",
            StaffCreate(username=username, password="long-password", role=role, pin=pin),
            "s1",
        )
    return shop


@pytest.fixture
def services(tmp_path: Path) -> Iterator[CounterServices]:
    """The counter's services as the app gets them, on a store holding one pulled outlet."""
    config = TerminalConfig(data_dir=tmp_path / "terminal")
    config.data_dir.mkdir()
    seeded_store(config.store_path).close()
    services = counter_services.open_counter(config)
    # Registered without a back office to speak to: only the credential's PIN key is needed.
    services.login.pin_key = PIN_KEY
    yield services
    services.close()
