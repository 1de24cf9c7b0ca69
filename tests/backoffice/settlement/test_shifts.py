"""Shift cash reconciliation: each Z report with expected cash, the count and the difference,
filtered by outlet and clerk, and exported as CSV and XLSX."""

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import Session, select

from backoffice.contracts.counter import ReconciliationResolve
from backoffice.core.config import Settings
from backoffice.domain.users import Role
from backoffice.models import Shift
from backoffice.services.counter import reconciliation
from backoffice.services.settlement import shifts as shift_reconciliation
from shared.ids import new_id
from shared.sync import (
    CashInEvent,
    CashMovePayload,
    CashOutEvent,
    Event,
    EventStatus,
    Payment,
    RejectReason,
    ResolutionKind,
    ReturnEvent,
    ReturnPayload,
    SaleEvent,
    ShiftCloseEvent,
    ShiftClosePayload,
    ShiftOpenEvent,
    ShiftOpenPayload,
)
from tests.backoffice.channel.helpers import (
    KEYS,
    Channel,
    add_staff,
    channel,
    pool,
    push,
    sale_event,
    stocked_numbers,
)

Login = Callable[[Role], dict[str, str]]


def _shift(
    session: Session, shop: Channel, clerk: str, counted: int, seq: int, hours_ago: int
) -> list[Event]:
    """A shift with a float of ¥200, a ¥50 number sale split cash ¥30 / card ¥20, a second
    cash sale of ¥50 returned in the shift, ¥10 cash in, ¥25 cash out, and a blind count."""
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    shift_id = new_id()
    now = datetime.now(UTC) - timedelta(hours=hours_ago)
    cash_and_card = [
        Payment(method="cash", amount_fen=3_000),
        Payment(method="card", amount_fen=2_000),
    ]
    split, returned = (
        sale.model_copy(
            update={
                "payload": sale.payload.model_copy(
                    update={"shift_id": shift_id, "clerk": clerk, **payments}
                )
            }
        )
        for sale, payments in (
            (
                sale_event(shop.terminal_no, seq + 1, [("number", first, 5_000)], occurred_at=now),
                {"payments": cash_and_card},
            ),
            (
                sale_event(shop.terminal_no, seq + 2, [("number", second, 5_000)], occurred_at=now),
                {},
            ),
        )
    )
    moves = CashMovePayload(shift_id=shift_id, amount_fen=1_000, reason="找零")
    return [
        ShiftOpenEvent(
            id=new_id(),
            seq=seq,
            occurred_at=now,
            payload=ShiftOpenPayload(shift_id=shift_id, clerk=clerk, opening_float_fen=20_000),
        ),
        split,
        returned,
        ReturnEvent(
            id=new_id(),
            seq=seq + 3,
            occurred_at=now + timedelta(minutes=1),
            payload=ReturnPayload(
                return_id=new_id(),
                original_receipt_no=returned.payload.receipt_no,
                clerk=clerk,
                items=[second],
                refund_fen=5_000,
            ),
        ),
        CashInEvent(id=new_id(), seq=seq + 4, occurred_at=now, payload=moves),
        CashOutEvent(
            id=new_id(),
            seq=seq + 5,
            occurred_at=now,
            payload=moves.model_copy(update={"amount_fen": 2_500, "reason": "交银行"}),
        ),
        ShiftCloseEvent(
            id=new_id(),
            seq=seq + 6,
            occurred_at=now + timedelta(minutes=5),
            payload=ShiftClosePayload(shift_id=shift_id, counted_cash_fen=counted, z_number=seq),
        ),
    ]


def test_z_reports_show_the_difference_per_outlet_and_clerk(
    session: Session, client: TestClient, login: Login
) -> None:
    pool(session)
    shop = channel(session)
    other = channel(session, "D2", staff=False)
    add_staff(session, shop.dealer_id, "clerk1", "clerk2")
    add_staff(session, other.dealer_id, "clerk9")
    for events in (
        _shift(session, shop, "clerk1", 25_300, 1, hours_ago=3),
        _shift(session, shop, "clerk2", 25_500, 8, hours_ago=1),
        _shift(session, other, "clerk9", 25_500, 1, hours_ago=1),
    ):
        target = shop if events[0].payload.clerk != "clerk9" else other
        assert {r.status for r in push(session, target, *events)} == {EventStatus.accepted}
    manager = login(Role.manager)

    reply = client.get(
        "/api/v1/shifts/z-reports", params={"outlet": shop.outlet_code}, headers=manager
    )
    assert reply.status_code == 200, reply.text
    rows = {r["clerk"]: r for r in reply.json()}
    assert set(rows) == {"clerk1", "clerk2"}
    # 200 float + 30 + 50 cash sales - 50 refund + 10 in - 25 out = 215 yuan expected.
    assert rows["clerk1"]["cash_sales_fen"] == 8_000
    assert rows["clerk1"]["cash_refunds_fen"] == 5_000
    assert rows["clerk1"]["expected_cash_fen"] == 21_500
    assert (rows["clerk1"]["difference_fen"], rows["clerk2"]["difference_fen"]) == (3_800, 4_000)
    by_clerk = client.get(
        "/api/v1/shifts/z-reports", params={"clerk": "clerk9"}, headers=manager
    ).json()
    assert [(r["outlet_code"], r["z_number"]) for r in by_clerk] == [("D2-O1", 1)]

    csv_text = client.get(
        "/api/v1/shifts/z-reports/csv", params={"clerk": "clerk2"}, headers=manager
    ).text
    header, row = csv_text.lstrip("\ufeff").splitlines()
    assert header.split(",")[-4:] == ["应有现金", "实点现金", "差额", "无销售开钱箱"]
    assert row.split(",")[-4:] == ["21500", "25500", "4000", "0"]
    xlsx = client.get("/api/v1/shifts/z-reports/xlsx", headers=manager)
    sheet = load_workbook(io.BytesIO(xlsx.content))["交班对账"]
    assert sheet.max_row == 4


def test_a_refund_counts_against_the_drawer_only_when_paid_in_cash(
    session: Session, client: TestClient, login: Login
) -> None:
    pool(session)
    shop = channel(session)
    add_staff(session, shop.dealer_id, "clerk1", "clerk2", "clerk3")
    named = _shift(session, shop, "clerk1", 26_500, 1, hours_ago=3)
    shift_id = named[0].payload.shift_id
    for index, event in enumerate(named):
        if isinstance(event, ReturnEvent):
            # A current terminal names the shift and the method: this refund went to a wallet.
            named[index] = event.model_copy(
                update={
                    "payload": event.payload.model_copy(
                        update={"shift_id": shift_id, "refund_method": "wallet"}
                    )
                }
            )
    unnamed = _shift(session, shop, "clerk2", 21_500, 8, hours_ago=2)
    cash = _shift(session, shop, "clerk3", 21_500, 15, hours_ago=1)
    for index, event in enumerate(cash):
        if isinstance(event, ReturnEvent):
            cash[index] = event.model_copy(
                update={
                    "payload": event.payload.model_copy(
                        update={"shift_id": cash[0].payload.shift_id, "refund_method": "cash"}
                    )
                }
            )
    for events in (named, unnamed, cash):
        assert {r.status for r in push(session, shop, *events)} == {EventStatus.accepted}
    rows = {
        r["clerk"]: r
        for r in client.get("/api/v1/shifts/z-reports", headers=login(Role.manager)).json()
    }
    # The wallet refund leaves the drawer alone: 215 + 50 yuan expected, counted exactly.
    assert (rows["clerk1"]["cash_refunds_fen"], rows["clerk1"]["difference_fen"]) == (0, 0)
    # A return that names neither (an older terminal) is cash in the shift open at the time.
    assert (rows["clerk2"]["cash_refunds_fen"], rows["clerk2"]["difference_fen"]) == (5_000, 0)
    # A cash refund that names its shift comes out of that shift's drawer.
    assert (rows["clerk3"]["cash_refunds_fen"], rows["clerk3"]["difference_fen"]) == (5_000, 0)


def _stored(session: Session, shift_id: str) -> tuple[int, int, int, int, int]:
    shift = session.exec(
        select(Shift).where(Shift.id == shift_id).execution_options(populate_existing=True)
    ).one()
    return (
        shift.cash_sales_fen,
        shift.cash_refunds_fen,
        shift.cash_in_fen,
        shift.cash_out_fen,
        shift.expected_cash_fen,
    )


def _in_shift(event: SaleEvent, shift_id: str | None) -> SaleEvent:
    return event.model_copy(
        update={"payload": event.payload.model_copy(update={"shift_id": shift_id})}
    )


def test_the_close_stores_the_shifts_cash_figures(session: Session) -> None:
    """The close works out what the shift's sales, returns and cash moves make, whether they
    came in its batch or in earlier ones; an open shift holds none yet."""
    pool(session)
    shop = channel(session)
    add_staff(session, shop.dealer_id, "clerk1", "clerk2")
    together = _shift(session, shop, "clerk1", 25_300, 1, hours_ago=3)
    apart = _shift(session, shop, "clerk2", 21_500, 8, hours_ago=1)
    assert {r.status for r in push(session, shop, *together)} == {EventStatus.accepted}
    assert {r.status for r in push(session, shop, *apart[:-1])} == {EventStatus.accepted}
    # 30 + 50 cash sold, 50 refunded, 10 in, 25 out: 200 + 80 - 50 + 10 - 25 = 215 yuan.
    assert _stored(session, apart[0].payload.shift_id) == (0, 0, 0, 0, 0)
    assert {r.status for r in push(session, shop, apart[-1])} == {EventStatus.accepted}
    for events in (together, apart):
        assert _stored(session, events[0].payload.shift_id) == (8_000, 5_000, 1_000, 2_500, 21_500)
    rows = {r.clerk: r for r in shift_reconciliation.z_reports(session)}
    assert (rows["clerk1"].difference_fen, rows["clerk2"].difference_fen) == (3_800, 0)


def test_a_sale_or_return_after_the_close_counts_in_the_closed_shift(session: Session) -> None:
    """A sale naming a shift closed earlier in its batch or in an earlier batch, and a return
    naming none made while it was open, change its figures."""
    pool(session)
    shop = channel(session)
    add_staff(session, shop.dealer_id, "clerk1")
    events = _shift(session, shop, "clerk1", 21_500, 1, hours_ago=3)
    shift_id = events[0].payload.shift_id
    opened_at = events[0].occurred_at
    late, later = stocked_numbers(session, shop.outlet_code, 2)
    after_close = _in_shift(
        sale_event(shop.terminal_no, 20, [("number", late, 5_000)], occurred_at=opened_at),
        shift_id,
    )
    assert {r.status for r in push(session, shop, *events, after_close)} == {EventStatus.accepted}
    assert _stored(session, shift_id) == (13_000, 5_000, 1_000, 2_500, 26_500)

    next_batch = _in_shift(
        sale_event(shop.terminal_no, 21, [("number", later, 5_000)], occurred_at=opened_at),
        shift_id,
    )
    assert [r.status for r in push(session, shop, next_batch)] == [EventStatus.accepted]
    assert _stored(session, shift_id) == (18_000, 5_000, 1_000, 2_500, 31_500)

    # A return from an older terminal names no shift: made while the shift was open, it is
    # cash out of that shift's drawer.
    back = ReturnEvent(
        id=new_id(),
        seq=22,
        occurred_at=opened_at + timedelta(minutes=2),
        payload=ReturnPayload(
            return_id=new_id(),
            original_receipt_no=next_batch.payload.receipt_no,
            clerk="clerk1",
            items=[later],
            refund_fen=5_000,
        ),
    )
    assert [r.status for r in push(session, shop, back)] == [EventStatus.accepted]
    assert _stored(session, shift_id) == (18_000, 10_000, 1_000, 2_500, 26_500)
    (report,) = shift_reconciliation.z_reports(session)
    assert (report.expected_cash_fen, report.difference_fen) == (26_500, -5_000)


def test_a_manual_sale_booked_into_a_closed_shift_counts_in_its_z_report(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    add_staff(session, shop.dealer_id, "clerk1")
    events = _shift(session, shop, "clerk1", 21_500, 1, hours_ago=3)
    shift_id = events[0].payload.shift_id
    (msisdn,) = stocked_numbers(session, shop.outlet_code, 1)
    rejected = _in_shift(
        sale_event(
            shop.terminal_no,
            10,
            [("number", msisdn, 4_000)],
            occurred_at=events[0].occurred_at,
            clerk="left-last-week",
        ),
        shift_id,
    )
    results = push(session, shop, *events[:-1], rejected, events[-1])
    assert [r.reason for r in results if r.status is EventStatus.rejected] == [
        RejectReason.unknown_clerk
    ]
    assert _stored(session, shift_id) == (8_000, 5_000, 1_000, 2_500, 21_500)

    reconciliation.resolve(
        session,
        rejected.id,
        ReconciliationResolve(kind=ResolutionKind.manual_sale, note="the sale stands"),
        "sales1",
        settings=Settings(database_url="sqlite://"),
        keys=KEYS,
    )
    assert _stored(session, shift_id) == (12_000, 5_000, 1_000, 2_500, 25_500)
    (report,) = shift_reconciliation.z_reports(session)
    assert (report.cash_sales_fen, report.difference_fen) == (12_000, -4_000)


def test_the_figures_of_many_shifts_are_worked_out_in_parts(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A province's shifts are more than one statement may name: worked out a part at a
    time, they come out as in one go, each shift's returns in its own figures only."""
    pool(session)
    shop = channel(session)
    add_staff(session, shop.dealer_id, "clerk1", "clerk2")
    for events in (
        _shift(session, shop, "clerk1", 25_300, 1, hours_ago=3),
        _shift(session, shop, "clerk2", 25_500, 8, hours_ago=1),
    ):
        assert {r.status for r in push(session, shop, *events)} == {EventStatus.accepted}
    whole = shift_reconciliation.z_reports(session, limit=None)
    ids = [r.shift_id for r in whole]
    figures = ("cash_sales_fen", "cash_refunds_fen", "cash_in_fen", "cash_out_fen")
    session.connection().execute(
        update(Shift.__table__).values(  # type: ignore[arg-type]
            **dict.fromkeys((*figures, "expected_cash_fen"), 0)
        )
    )
    assert {r.expected_cash_fen for r in shift_reconciliation.z_reports(session)} == {0}
    monkeypatch.setattr(shift_reconciliation, "_IDS_PER_STATEMENT", 1)
    # An open shift among them is left alone.
    assert shift_reconciliation.record_cash(session, [*ids, new_id()]) == 2
    assert shift_reconciliation.z_reports(session, limit=None) == whole
    assert [(r.cash_sales_fen, r.cash_refunds_fen) for r in whole] == [(8_000, 5_000)] * 2
