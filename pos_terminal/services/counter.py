"""The counter's services wired together from the terminal settings: what the app starts with."""

from dataclasses import dataclass

import httpx

from pos_terminal.config import TerminalConfig
from pos_terminal.services.errors import PosError
from pos_terminal.services.figures import TodayFigures, today_figures
from pos_terminal.services.login import LoginService
from pos_terminal.services.printing import PrintQueue
from pos_terminal.services.returns import ReturnService
from pos_terminal.services.sale import SaleService
from pos_terminal.services.shift import ShiftService
from pos_terminal.services.stock import StockService
from pos_terminal.services.terminal import TerminalIdentity, identity, save_registration
from pos_terminal.store import Store
from pos_terminal.sync import PullSummary, SyncClient, SyncWorker
from shared import pins


@dataclass
class CounterServices:
    """Everything a screen calls. `sync` is None until the terminal holds a credential."""

    config: TerminalConfig
    store: Store
    sync: SyncClient | None
    login: LoginService
    shifts: ShiftService
    sales: SaleService
    returns: ReturnService
    stock: StockService
    prints: PrintQueue

    def identity(self) -> TerminalIdentity:
        return identity(self.store)

    def figures(self) -> TodayFigures:
        return today_figures(self.store, identity(self.store).timezone)

    def sync_worker(self) -> SyncWorker:
        """A background sync for this counter (start() it; wake() it after each act)."""
        if self.sync is None:
            raise PosError("not_registered", "register the terminal with the back office first")
        return SyncWorker(self.sync, interval=self.config.sync_interval_seconds)

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()
        self.store.close()


def open_counter(
    config: TerminalConfig, *, transport: httpx.BaseTransport | None = None
) -> CounterServices:
    """Opens (creating or upgrading) the local store and builds the services on it."""
    store = Store(config.store_path)
    credential = config.read_credential()
    client = None
    if credential is not None:
        client = SyncClient(
            store,
            config.backoffice_url,
            credential,
            batch=config.push_batch,
            timeout=config.http_timeout_seconds,
            retry_first=config.push_retry_seconds,
            transport=transport,
        )
    login = LoginService(
        store,
        # PINs are checked with a key from the credential file, never kept in the database.
        pin_key=pins.pin_key_for_credential(credential) if credential is not None else None,
        refresh=client.pull if client is not None else None,
    )
    return CounterServices(
        config=config,
        store=store,
        sync=client,
        login=login,
        shifts=ShiftService(store),
        sales=SaleService(
            store,
            login,
            reserver=client,
            approver=client,
            return_days=config.return_window_days,
        ),
        returns=ReturnService(store, config.return_window),
        stock=StockService(store),
        prints=PrintQueue(store),
    )


def register(
    config: TerminalConfig,
    terminal_id: str,
    terminal_no: int,
    credential: str,
    *,
    transport: httpx.BaseTransport | None = None,
) -> PullSummary:
    """Stores what the back office issued for this terminal and makes the first (full) pull,
    which also proves the credential works. Nothing is saved if the pull fails."""
    store = Store(config.store_path)
    client = SyncClient(
        store,
        config.backoffice_url,
        credential,
        timeout=config.http_timeout_seconds,
        transport=transport,
    )
    try:
        summary = client.pull()
        save_registration(store, terminal_id, terminal_no)
        config.write_credential(credential)
    finally:
        client.close()
        store.close()
    return summary
