"""The sales centre's decision on a rejected event reaches the terminal through the real sync
path (the back office over HTTP): kept with the event, shown where rejections are."""

from pathlib import Path

from sqlmodel import Session

from backoffice.contracts.channel import TerminalCreate
from backoffice.contracts.counter import ReconciliationResolve
from backoffice.core.config import Settings
from backoffice.core.crypto import Keys
from backoffice.services.channel import dealers
from backoffice.services.counter import reconciliation
from pos_terminal import outbox
from pos_terminal.screens.figures import _decision
from shared.sync import RejectReason, ResolutionKind
from tests.backoffice.channel.helpers import Channel, stocked_numbers
from tests.pos_terminal.helpers import CLERK
from tests.pos_terminal.office import OfficeServer, free_port
from tests.pos_terminal.terminal import Terminal


def test_a_refund_decided_at_the_office_reaches_the_terminal_at_its_next_pull(
    office: OfficeServer, session: Session, settings: Settings, shop: Channel, tmp_path: Path
) -> None:
    numbers = stocked_numbers(session, shop.outlet_code, 2)
    second = dealers.register_terminal(
        session, TerminalCreate(outlet=shop.outlet_code, name="counter 2"), "admin1"
    )
    a = Terminal(tmp_path / "a.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    b = Terminal(
        tmp_path / "b.db",
        office,
        second.terminal.id,
        second.terminal.terminal_no,
        second.credential,
    )
    for pos in (a, b):
        pos.client.pull()
        pos.shifts.open_shift(CLERK, 0)
    # A sells a number offline that B, online, sells too: A's sale is rejected.
    a.client.http.base_url = f"http://127.0.0.1:{free_port()}"  # type: ignore[assignment]
    a.sell(numbers[0])
    b.sell(numbers[0])
    b.client.push()
    a.client.http.base_url = office.url  # type: ignore[assignment]
    a.client.push()
    (rejected,) = outbox.rejected_events(a.store)
    assert (rejected.reason, rejected.resolution) == (RejectReason.item_already_sold, None)
    assert _decision(rejected) == "待处理 open"
    assert a.client.pull().resolutions == 0

    reconciliation.resolve(
        session,
        rejected.id,
        ReconciliationResolve(kind=ResolutionKind.refund, note="call the buyer back"),
        "sales1",
        settings=settings,
        keys=Keys.from_settings(settings),
    )
    assert a.client.pull().resolutions == 1
    (decided,) = outbox.rejected_events(a.store)
    assert (decided.resolution, decided.resolution_note) == ("refund", "call the buyer back")
    assert _decision(decided) == "请退款给顾客 refund the customer: call the buyer back"
    # Later pulls (with a cursor past the decision) leave it as it is; B has nothing to learn.
    assert a.client.pull().resolutions == 0
    assert b.client.pull().resolutions == 0
    assert outbox.rejected_events(a.store)[0].resolution == "refund"
    a.close()
    b.close()
