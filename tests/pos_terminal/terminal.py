"""A terminal's services and sync client in the test's own process, against a real back office
over HTTP."""

from datetime import timedelta
from pathlib import Path

from pos_terminal.services.login import LoginService
from pos_terminal.services.returns import ReturnService
from pos_terminal.services.sale import SaleService, Tender
from pos_terminal.services.shift import ShiftService
from pos_terminal.services.stock import StockService
from pos_terminal.services.terminal import save_registration
from pos_terminal.store import Store
from pos_terminal.sync import SyncClient
from shared import pins
from tests.backoffice.channel.helpers import resident_id
from tests.pos_terminal.helpers import CLERK
from tests.pos_terminal.office import OfficeServer


class Terminal:
    def __init__(
        self, path: Path, office: OfficeServer, terminal_id: str, terminal_no: int, credential: str
    ) -> None:
        self.store = Store(path)
        save_registration(self.store, terminal_id, terminal_no)
        # Generous: a loaded 2-core CI machine can stall a database for seconds; no test here
        # waits for a timeout (a stopped office refuses the connection at once).
        self.client = SyncClient(self.store, office.url, credential, timeout=30.0)
        self.pin_key = pins.pin_key_for_credential(credential)
        self.login = LoginService(self.store, pin_key=self.pin_key, refresh=self.client.pull)
        self.shifts = ShiftService(self.store)
        self.sales = SaleService(self.store, self.login, reserver=self.client, approver=self.client)
        self.stock = StockService(self.store)
        self.returns = ReturnService(self.store, timedelta(days=7))

    def sell(self, *codes: str) -> str:
        draft = self.sales.start(CLERK)
        for code in codes:
            self.sales.scan(draft, code)
        if draft.needs_real_name:
            self.sales.set_customer(draft, "张三", resident_id())
        return self.sales.complete(draft, [Tender("cash", draft.total_fen)]).receipt_no

    def status(self, item: str) -> str:
        return self.store.conn.execute(
            "SELECT status FROM stock WHERE item = ?", (item,)
        ).fetchone()[0]

    def close(self) -> None:
        self.client.close()
        self.store.close()
