"""What a new clerk meets at the counter, driven through the app (Textual Pilot): a blind count
that stays blind, lock and unlock that keep the clerk on shift, a question before closing or
refunding, a manager's form that survives a wrong PIN, and quiet notices and statuses."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.config import load_config
from devices.simulators.counter import SimulatedCounter
from pos_terminal.app import CounterApp
from pos_terminal.hardware import CounterHardware
from pos_terminal.screens.dialogs import ApprovalDialog, ConfirmDialog
from pos_terminal.screens.login import LoginScreen
from pos_terminal.services.counter import CounterServices
from pos_terminal.services.errors import PosError
from pos_terminal.services.sale import Tender
from tests.pos_terminal.helpers import CLERK, CLERK_PIN, MANAGER, MANAGER_PIN, voucher
from tests.pos_terminal.test_app import checked, log_in, type_in


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[SimulatedCounter]:
    with SimulatedCounter(tmp_path / "counter", status_timeout=0.5) as counter:
        yield counter


def sell_a_card(services: CounterServices, n: int = 1) -> str:
    draft = services.sales.start(CLERK)
    services.sales.scan(draft, voucher(n))
    return services.sales.complete(draft, [Tender("cash", 5_000)]).receipt_no


def text(widget) -> str:  # type: ignore[no-untyped-def]
    return str(widget.render())


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Waits for the PIN check of the screen in front."""
    await checked(pilot, pilot.app.screen)


async def test_the_closing_count_is_blind_until_it_is_confirmed(
    services: CounterServices,
) -> None:
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(110, 36)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "200")  # the float
        sell_a_card(services)  # ¥50 cash: ¥250 expected
        shift = app.screen
        await pilot.press("f8")  # X report on the screen
        await pilot.pause()
        x_report = text(shift.query_one("#report"))
        assert "X 报表" in x_report and "¥250.00" not in x_report and "expected" not in x_report
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert "expected" not in text(app.screen.query_one("#summary"))
        assert "¥250.00" not in text(app.screen.query_one("#summary"))

        await pilot.press("f4")
        await pilot.pause()
        shift.query_one("#d10000").value = "2"  # type: ignore[attr-defined]  # ¥200
        await pilot.press("f9")
        await pilot.pause()
        asked = app.screen
        assert isinstance(asked, ConfirmDialog)
        count = text(asked.query_one("#figures"))
        assert "counted ¥200.00" in count and "¥250.00" not in count
        await pilot.press("escape")  # not confirmed: the count may still change
        await pilot.pause()
        assert services.shifts.confirmed_count() is None
        assert not shift.query_one("#d10000").disabled

        await pilot.press("f9", "enter")  # the count confirmed: now the figures
        await pilot.pause()
        closing = text(app.screen.query_one("#figures"))
        assert "expected ¥250.00" in closing and "difference -¥50.00" in closing
        await pilot.press("escape")  # not closed, and the count is kept as confirmed
        await pilot.pause()
        assert services.shifts.current() is not None
        assert shift.query_one("#d10000").disabled
        with pytest.raises(PosError) as recount:
            services.shifts.close_shift(CLERK, {10_000: 2, 5_000: 1})
        assert recount.value.code == "count_confirmed"

        await pilot.press("f9")  # straight to the close, with the confirmed count
        await pilot.pause()
        assert "expected ¥250.00" in text(app.screen.query_one("#figures"))
        await pilot.press("y")
        await pilot.pause()
        z_report = text(shift.query_one("#report"))
    assert services.shifts.current() is None
    assert "Z 报表 No. 1" in z_report and "difference -¥50.00" in z_report


async def test_a_refund_is_asked_for_with_its_amount_and_method(
    services: CounterServices,
) -> None:
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(110, 36)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "200")
        receipt = sell_a_card(services)
        await pilot.press("f2")
        await pilot.pause()
        returns = app.screen
        await type_in(pilot, receipt)
        lines = returns.query_one("#lines")
        assert str(lines.get_option_at_index(0).prompt).startswith("[ ]")  # type: ignore[attr-defined]
        await pilot.press("space")
        await pilot.pause()
        assert str(lines.get_option_at_index(0).prompt).startswith("[✓]")  # type: ignore[attr-defined]
        await pilot.press("f9")
        await pilot.pause()
        asked = text(app.screen.query_one("#figures"))
        assert "退款 Refund ¥50.00" in asked and "现金 Cash" in asked
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is returns
    assert services.figures().returns_count == 0  # cancelled: nothing refunded


async def test_a_manager_unlocking_gives_the_counter_back_to_the_clerk(
    services: CounterServices,
) -> None:
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(110, 36)) as pilot:
        await log_in(pilot)
        assert "营业员 张三 clerk1" in app.counter_status.line()
        await type_in(pilot, "200")

        await pilot.press("f12")
        await pilot.pause()
        lock = app.screen
        assert isinstance(lock, LoginScreen)
        assert "张三 clerk1" in text(lock.query(".title").first())
        assert lock.query_one("#clerk").value == CLERK  # type: ignore[attr-defined]
        lock.query_one("#clerk").value = MANAGER  # type: ignore[attr-defined]
        lock.query_one("#pin").focus()
        await type_in(pilot, MANAGER_PIN)
        await settle(pilot)
        assert not isinstance(app.screen, LoginScreen)
        assert services.login.current is not None and services.login.current.username == CLERK
        assert "clerk1" in app.counter_status.line() and MANAGER not in app.counter_status.line()

        await pilot.press("f12")  # and the clerk gets back in with the own PIN
        await pilot.pause()
        await type_in(pilot, CLERK_PIN)  # the clerk code is filled in, the PIN has the focus
        await settle(pilot)
        assert not isinstance(app.screen, LoginScreen)

        await pilot.press("f1", "f11")  # a manager's approval does not change who is on
        await pilot.pause()
        dialog = app.screen
        for field, value in (("#reason", "换零钱"), ("#manager", MANAGER), ("#pin", MANAGER_PIN)):
            dialog.query_one(field).value = value  # type: ignore[attr-defined]
        dialog.query_one("#pin").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert services.login.require_clerk().username == CLERK
        assert "clerk1" in app.counter_status.line()

        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("f9", "enter")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        app.screen.query_one("#float").value = "100"  # type: ignore[attr-defined]
        await pilot.press("f5")  # the next shift
        await pilot.pause()
    closed_by, next_clerk = services.store.conn.execute(
        "SELECT (SELECT closed_by FROM shifts WHERE z_number = 1), "
        "(SELECT clerk FROM shifts WHERE closed_at IS NULL)"
    ).fetchone()
    assert (closed_by, next_clerk) == (CLERK, CLERK)


async def test_a_wrong_manager_pin_keeps_the_form(services: CounterServices) -> None:
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(110, 36)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "200")
        await pilot.press("f1", "f11")
        await pilot.pause()
        sale, dialog = app.screen_stack[-2], app.screen
        assert isinstance(dialog, ApprovalDialog)
        for field, value in (("#reason", "换零钱 change"), ("#manager", MANAGER), ("#pin", "0000")):
            dialog.query_one(field).value = value  # type: ignore[attr-defined]
        dialog.query_one("#pin").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is dialog
        assert dialog.query_one("#reason").value == "换零钱 change"  # type: ignore[attr-defined]
        assert dialog.query_one("#manager").value == MANAGER  # type: ignore[attr-defined]
        assert dialog.query_one("#pin").value == ""  # type: ignore[attr-defined]
        assert dialog.query_one("#pin").has_focus
        refused = text(dialog.query_one("Message"))
        assert "密码错误" in refused and "Esc" in refused
        await type_in(pilot, MANAGER_PIN)
        await settle(pilot)
        assert app.screen is sale
        assert "钱箱已打开 drawer opened" in text(sale.query_one("Message"))
    assert services.shifts.current().no_sale_openings == 1  # type: ignore[union-attr]


async def test_the_start_notice_goes_at_the_first_key(services: CounterServices) -> None:
    services.login.login(CLERK, CLERK_PIN)
    app = CounterApp(services, status_interval=60, notice="演示 Demo — F4 开班")
    async with app.run_test(size=(110, 36), notifications=True) as pilot:
        await pilot.pause(0.1)
        assert len(app.screen.query("Toast")) == 2  # the welcome and the notice
        await type_in(pilot, "200")  # the float, Enter
        await pilot.pause(0.1)
        assert len(app.screen.query("Toast")) == 0
        await pilot.press("f1")
        await pilot.pause(0.1)
        assert len(app.screen.query("Toast")) == 0  # nothing over the sale total


async def test_the_customer_display_shows_a_refund_then_the_welcome(
    services: CounterServices, devices: SimulatedCounter
) -> None:
    hardware = CounterHardware(load_config(devices.config))
    app = CounterApp(services, hardware, status_interval=60, display_idle_after=0.5)
    async with app.run_test(size=(110, 36)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "200")
        receipt = sell_a_card(services)
        app.show_customer(["PAID", "CHANGE"])
        await pilot.press("f2")
        await pilot.pause()
        await type_in(pilot, receipt)
        await pilot.press("space", "f9")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert devices.display.wait_for(lambda lines: lines[0].startswith("REFUND"))
        assert "Y50.00" in devices.display.lines[0]
        await pilot.pause(0.8)
        assert devices.display.wait_for(lambda lines: "WELCOME" in lines[0])


async def test_the_drawer_status_changes_only_with_the_drawer(
    services: CounterServices, devices: SimulatedCounter
) -> None:
    hardware = CounterHardware(load_config(devices.config))
    app = CounterApp(services, hardware, status_interval=0.2)
    shown: list[str] = []
    set_status = app.set_status

    def watch(**changes: object) -> None:
        if "drawer" in changes and (not shown or shown[-1] != changes["drawer"]):
            shown.append(str(changes["drawer"]))
        set_status(**changes)

    app.set_status = watch  # type: ignore[method-assign]
    async with app.run_test(size=(110, 36)) as pilot:
        await log_in(pilot)
        await pilot.pause(0.6)
        await type_in(pilot, "200")  # opening the shift kicks the drawer open
        assert devices.printer.printer.wait_for_kicks(1)
        await pilot.pause(1.0)
        devices.printer.printer.control("drawer-closed")
        await pilot.pause(1.0)
    assert shown == ["关 closed", "开 open", "关 closed"]
