"""The counter app driven like a clerk would (Textual Pilot), with a simulated counter: a TCP
ESC/POS printer, a pty pole display and a pty serial scanner."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.config import load_config
from devices.simulators.counter import SimulatedCounter
from pos_terminal import outbox
from pos_terminal.app import CounterApp
from pos_terminal.hardware import CounterHardware
from pos_terminal.screens.login import LoginScreen
from pos_terminal.services.counter import CounterServices
from pos_terminal.services.sale import Tender
from shared.sync import EventResult, EventStatus, RejectReason
from tests.pos_terminal.helpers import (
    CLERK,
    CLERK_PIN,
    MANAGER,
    MANAGER_PIN,
    msisdn,
    resident_id,
    voucher,
)


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[SimulatedCounter]:
    with SimulatedCounter(tmp_path / "counter", status_timeout=0.5) as counter:
        yield counter


async def type_in(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*text)
    await pilot.press("enter")
    await pilot.pause()


async def log_in(pilot) -> None:  # type: ignore[no-untyped-def]
    await type_in(pilot, CLERK)
    await type_in(pilot, CLERK_PIN)
    for _ in range(100):  # the PIN check runs in a worker thread (argon2, a pull attempt)
        if not isinstance(pilot.app.screen, LoginScreen):
            return
        await pilot.pause(0.05)
    raise AssertionError("still on the log-in screen")


async def checked(pilot, screen) -> None:  # type: ignore[no-untyped-def]
    """Waits for what `screen` runs in its own workers (a manager's PIN check)."""
    for _ in range(200):
        await pilot.pause(0.02)
        if not any(w.node is screen and w.is_running for w in pilot.app.workers):
            break
    await pilot.pause()


async def scanned(pilot, *codes: str) -> None:  # type: ignore[no-untyped-def]
    for code in codes:
        await type_in(pilot, code)
    await pilot.app.screen.steps.join()
    await pilot.pause()


async def test_a_number_and_a_card_sold_from_scan_to_receipt(
    services: CounterServices, devices: SimulatedCounter
) -> None:
    hardware = CounterHardware(load_config(devices.config))
    app = CounterApp(services, hardware, status_interval=60)
    async with app.run_test(size=(100, 32)) as pilot:
        await log_in(pilot)
        assert app.current_mode == "shift"  # no shift open yet
        await type_in(pilot, "200")  # the counted float
        assert services.shifts.current() is not None

        await pilot.press("f1")
        await pilot.pause()
        await scanned(pilot, msisdn(1), voucher(1))
        assert devices.display.wait_for(lambda lines: lines[1].startswith("TOTAL"))
        assert "Y100.00" in devices.display.lines[1]

        await pilot.press("f9")  # pay: the number sale asks for the real name first
        await pilot.pause()
        await type_in(pilot, "张三")
        await type_in(pilot, resident_id())
        await pilot.pause()
        payment = app.screen
        payment.query_one("#cash").value = "150"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await pilot.pause()

    [receipt] = devices.printer.printer.wait_for_receipts(1)
    text = "\n".join(receipt.lines)
    assert msisdn(1) in text and "￥100.00" in text and "￥50.00" in text  # total, change
    assert "330602********123" in text  # the ID number is printed masked
    assert devices.printer.printer.wait_for_kicks(1)
    assert devices.display.wait_for(lambda lines: lines[1].startswith("CHANGE"))
    figures = services.figures()
    assert (figures.sales_count, figures.sales_total_fen, figures.sync_backlog) == (1, 10_000, 2)


async def test_a_refused_scan_is_shown_and_nothing_is_sold(services: CounterServices) -> None:
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(100, 32)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "0")
        await pilot.press("f1")
        await scanned(pilot, "13905719999")  # a number this outlet does not hold
        message = app.screen.query_one("Message")
        assert "-error" in message.classes
        assert "13905719999" in str(message.render())
    assert services.figures().sales_count == 0


async def test_pay_waits_for_a_scan_still_being_processed(
    services: CounterServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan may be waiting on the back office (a reservation); F9 then must not settle the
    total without it."""
    release = threading.Event()
    real_scan = services.sales.scan

    def slow_scan(draft, code):  # type: ignore[no-untyped-def]
        release.wait(5)
        return real_scan(draft, code)

    monkeypatch.setattr(services.sales, "scan", slow_scan)
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(100, 32)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "0")
        await pilot.press("f1")
        sale = app.screen
        await type_in(pilot, voucher(1))
        await pilot.press("f9")
        await pilot.pause()
        assert app.screen is sale
        assert "still being processed" in str(sale.query_one("Message").render())
        release.set()
        await sale.steps.join()  # type: ignore[attr-defined]
        await pilot.press("f9")
        await pilot.pause()
        assert app.screen is not sale  # the payment dialog


async def test_return_by_receipt_barcode_then_shift_close_with_z_report(
    services: CounterServices, devices: SimulatedCounter
) -> None:
    hardware = CounterHardware(load_config(devices.config))
    app = CounterApp(services, hardware, status_interval=60)
    async with app.run_test(size=(100, 32)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "200")  # opening float
        draft = services.sales.start(CLERK)
        services.sales.scan(draft, voucher(1))
        sale = services.sales.complete(draft, [Tender("cash", 5_000)])

        await pilot.press("f2")
        await pilot.pause()
        await type_in(pilot, sale.receipt_no)  # the receipt's barcode, scanned
        await pilot.press("space")  # pick the one line
        await pilot.press("f9")
        await pilot.pause()
        asked = str(app.screen.query_one("#figures").render())
        assert "退款 Refund ¥50.00" in asked and "现金 Cash" in asked
        await pilot.press("y")
        await pilot.pause()
        assert "退款 refund ¥50.00" in str(app.screen.query_one("Message").render())

        await pilot.press("f4")
        await pilot.pause()
        shift = app.screen
        shift.query_one("#d10000").value = "2"  # type: ignore[attr-defined]  # ¥200 counted
        await pilot.press("f9")  # the count first, then the figures and the close
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        report = str(shift.query_one("#report").render())
        assert "Z 报表 No. 1" in report and "差额 difference ¥0.00" in report
        await pilot.pause(0.5)
    assert services.shifts.current() is None
    receipts = devices.printer.printer.wait_for_receipts(3)  # sale, return slip, Z report
    assert any("Z" in line and "1" in line for line in receipts[-1].lines)


async def test_a_shelf_count_lists_what_is_missing_and_what_is_unexpected(
    services: CounterServices,
) -> None:
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(100, 32)) as pilot:
        await log_in(pilot)
        await pilot.press("f3")
        await pilot.pause()
        stock = app.screen
        stock.query_one("RadioSet").focus()
        await pilot.press("right", "enter")  # 盘点 Count
        stock.query_one("#code").focus()
        await type_in(pilot, msisdn(1))
        await type_in(pilot, msisdn(1))  # the same item twice counts once
        assert "已扫过 already scanned" in str(stock.query_one("Message").render())
        await type_in(pilot, voucher(1))
        await pilot.press("f9")
        await pilot.pause()
        result = str(stock.query_one("#result").render())
    assert "盘点 Count: 2 件 scanned" in result
    assert "缺少 missing 6" in result and msisdn(2) in result
    assert services.figures().sync_backlog == 1  # the count goes to the back office


async def test_rejections_are_listed_and_a_manager_acknowledges_them(
    services: CounterServices,
) -> None:
    services.login.login(CLERK, CLERK_PIN)
    services.shifts.open_shift(CLERK, 0)
    draft = services.sales.start(CLERK)
    services.sales.scan(draft, voucher(2))
    sale = services.sales.complete(draft, [Tender("cash", 5_000)])
    [event] = [e for e in outbox.all_events(services.store) if e.id == sale.event_id]
    outbox.store_results(
        services.store,
        [
            EventResult(
                id=event.id,
                seq=event.seq,
                status=EventStatus.rejected,
                reason=RejectReason.item_already_sold,
                message=f"{voucher(2)} was sold elsewhere",
            )
        ],
    )
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        figures = app.screen
        rejected = figures.query_one("#rejected")
        assert rejected.row_count == 1  # type: ignore[attr-defined]
        assert "item_already_sold" in rejected.get_row_at(0)  # type: ignore[attr-defined]
        assert "被拒 rejected 1" in app.counter_status.line()
        await pilot.press("f6")
        await pilot.pause()
        await type_in(pilot, "seen, stock to be checked")
        await type_in(pilot, MANAGER)
        await type_in(pilot, MANAGER_PIN)
        assert "rejected" not in app.counter_status.line()
        # A second F6 on the same row is refused on the screen, with no approval asked.
        await pilot.press("f6")
        await pilot.pause()
        assert app.screen is figures
        assert "already" in str(figures.query_one("Message").render())
    [seen] = outbox.rejected_events(services.store)
    assert seen.acknowledged_by == MANAGER


async def test_a_code_from_the_serial_scanner_lands_on_the_sale(
    services: CounterServices, devices: SimulatedCounter
) -> None:
    hardware = CounterHardware(load_config(devices.config))
    app = CounterApp(services, hardware, status_interval=60)
    async with app.run_test(size=(100, 32)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "0")  # open the shift
        await pilot.press("f1")
        await pilot.pause(0.6)  # the reader opens the port on its first read
        for _ in range(40):
            devices.scanner.scan(voucher(1))
            await pilot.pause(0.1)
            sale = app.screen
            if sale.draft is not None and sale.draft.lines:  # type: ignore[attr-defined]
                break
        await sale.steps.join()  # type: ignore[attr-defined]
        lines = sale.draft.lines  # type: ignore[attr-defined]
        assert [line.entry.item for line in lines] == [voucher(1)]  # repeats were refused
        assert "ok" in app.counter_status.scanner


async def test_f10_shows_the_allowed_prices_and_a_manager_approves_at_the_counter(
    services: CounterServices,
) -> None:
    """No back office to ask: the manager's PIN is checked here, within the offline cap."""
    app = CounterApp(services, status_interval=60)
    async with app.run_test(size=(120, 36)) as pilot:
        await log_in(pilot)
        await type_in(pilot, "0")
        await pilot.press("f1")
        sale = app.screen
        await scanned(pilot, voucher(3, 10000))  # a ¥100 card
        await pilot.press("f10")
        await pilot.pause()
        dialog = app.screen
        hint = str(dialog.query_one("#hint").render())
        assert "¥80.00–¥100.00" in hint  # 20 % below the list, nothing above
        for field, value in (("#amount", "70"), ("#reason", "熟客"), ("#manager", MANAGER)):
            dialog.query_one(field).value = value  # type: ignore[attr-defined]
        dialog.query_one("#pin").value = MANAGER_PIN  # type: ignore[attr-defined]
        dialog.query_one("#pin").focus()
        await pilot.press("enter")
        await checked(pilot, dialog)
        message = str(dialog.query_one("Message").render())
        assert "go down to 8000 fen" in message  # ¥70 is over the cap: refused, no PIN used
        assert app.screen is dialog  # the form stays open to correct the price
        dialog.query_one("#amount").value = "90"  # type: ignore[attr-defined]
        dialog.query_one("#pin").value = MANAGER_PIN  # type: ignore[attr-defined]
        dialog.query_one("#pin").focus()
        await pilot.press("enter")
        await checked(pilot, dialog)
        assert app.screen is sale
        assert "offline" in str(sale.query_one("Message").render())
        (line,) = sale.draft.lines  # type: ignore[attr-defined]
        assert (line.price_fen, line.override.approved_by) == (9_000, MANAGER)
