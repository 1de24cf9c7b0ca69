"""Drawer openings without a sale: counted on the terminal's open shift with the manager's
approval, printed on the Z report, carried by the shift-close event and, over the real sync
path, stored on the back office's shift and added up per clerk in the shift-cash statistic."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from backoffice.models import Shift
from backoffice.services.settlement import shifts as shift_reconciliation
from backoffice.services.statistics import queries
from backoffice.services.statistics.queries import Scope
from pos_terminal import outbox
from pos_terminal.services.errors import PosError
from pos_terminal.services.receipts import report_receipt
from pos_terminal.store import MIGRATIONS, SCHEMA_VERSION, Store, split_sql
from shared.ids import new_id
from shared.sync import ShiftCloseEvent
from tests.backoffice.channel.helpers import Channel
from tests.backoffice.statistics.helpers import today_in_china
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import CLERK, CLERK_PIN, MANAGER, MANAGER_PIN
from tests.pos_terminal.office import OfficeServer
from tests.pos_terminal.terminal import Terminal


def test_each_approved_no_sale_opening_counts_on_the_shift_and_its_z_report(
    counter: Counter,
) -> None:
    sales = counter.sales
    with pytest.raises(PosError) as no_shift:
        sales.approve_no_sale(CLERK, manager=MANAGER, pin=MANAGER_PIN, reason="change")
    assert no_shift.value.code == "no_open_shift"
    counter.shifts.open_shift(CLERK, 10_000)
    # Refused approvals count nothing.
    for manager, pin, reason in ((CLERK, CLERK_PIN, "change"), (MANAGER, "0000", "change")):
        with pytest.raises(PosError):
            sales.approve_no_sale(CLERK, manager=manager, pin=pin, reason=reason)
    with pytest.raises(PosError) as no_reason:
        sales.approve_no_sale(CLERK, manager=MANAGER, pin=MANAGER_PIN, reason=" ")
    assert no_reason.value.code == "reason_required"
    assert counter.shifts.x_report().no_sale_openings == 0
    for reason in ("换零钱 change", "检查钱箱 check"):
        sales.approve_no_sale(CLERK, manager=MANAGER, pin=MANAGER_PIN, reason=reason)
    assert counter.shifts.x_report().no_sale_openings == 2
    z = counter.shifts.close_shift(CLERK, {10_000: 1})
    assert z.no_sale_openings == 2
    assert (
        "无销售开钱箱 No-sale drawer 2" in report_receipt(z, "越城一号店", "Asia/Shanghai").header
    )
    assert counter.shifts.z_report(z.z_number or 0).no_sale_openings == 2
    wire = outbox.all_events(counter.store)[-1].to_wire()
    assert isinstance(wire, ShiftCloseEvent)
    assert wire.payload.no_sale_openings == 2
    # The next shift starts from none.
    counter.shifts.open_shift(CLERK, 0)
    assert counter.shifts.x_report().no_sale_openings == 0
    shift_ids = {
        row[0]
        for row in counter.store.conn.execute(
            "SELECT json_extract(detail, '$.shift_id') FROM audit WHERE action = 'no_sale_drawer'"
        )
    }
    assert shift_ids == {z.shift_id}


def test_a_store_of_schema_6_keeps_its_shifts_with_no_openings(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:6]:
        for statement in split_sql(migration):
            conn.execute(statement)
    conn.execute(
        "INSERT INTO shifts (id, clerk, opened_at, opening_float_fen) "
        "VALUES ('s1', 'clerk1', '2026-01-01T00:00:00+00:00', 0)"
    )
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION == 7
    assert store.conn.execute("SELECT no_sale_openings FROM shifts").fetchone()[0] == 0
    store.close()


def test_the_push_stores_the_openings_and_the_statistic_adds_them_up_per_clerk(
    office: OfficeServer, session: Session, shop: Channel, tmp_path: Path
) -> None:
    pos = Terminal(tmp_path / "t.db", office, shop.terminal_id, shop.terminal_no, shop.credential)
    assert pos.login.login(CLERK, CLERK_PIN).online
    for openings in (3, 1):
        pos.shifts.open_shift(CLERK, 10_000)
        for _ in range(openings):
            pos.sales.approve_no_sale(CLERK, manager="boss1", pin="1357", reason="change")
        pos.shifts.close_shift(CLERK, {10_000: 1})
    assert pos.client.push().accepted == 4
    # A terminal of an older release closes a shift without the field: it counted none.
    old_shift, now = new_id(), datetime.now(UTC)
    envelope = {"seq": 5, "occurred_at": now.isoformat()}
    old_terminal = [
        {
            **envelope,
            "id": new_id(),
            "type": "shift_open",
            "payload": {"shift_id": old_shift, "clerk": CLERK, "opening_float_fen": 0},
        },
        {
            **envelope,
            "id": new_id(),
            "seq": 6,
            "type": "shift_close",
            "payload": {"shift_id": old_shift, "counted_cash_fen": 0, "z_number": 3},
        },
    ]
    reply = httpx.post(
        f"{office.url}/api/v1/sync/push",
        json={"events": old_terminal},
        headers={"Authorization": f"Bearer {shop.credential}"},
    )
    assert reply.status_code == 200, reply.text
    assert [r["status"] for r in reply.json()["results"]] == ["accepted", "accepted"]
    session.expire_all()
    stored = session.exec(
        select(Shift.z_number, Shift.no_sale_openings)
        .where(Shift.terminal_id == shop.terminal_id)
        .order_by(Shift.z_number)  # type: ignore[arg-type]
    ).all()
    assert [tuple(s) for s in stored] == [(1, 3), (2, 1), (3, 0)]
    reports = shift_reconciliation.z_reports(session, outlet=shop.outlet_code)
    assert [(r.z_number, r.no_sale_openings) for r in reports] == [(3, 0), (2, 1), (1, 3)]
    today = today_in_china()
    [row] = queries.shift_cash(session, today - timedelta(days=1), today, Scope(None, None))
    assert (row.clerk, row.shifts, row.no_sale_openings) == (CLERK, 3, 4)
    pos.close()
