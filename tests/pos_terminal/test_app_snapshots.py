"""Snapshots of the counter's main screens (pytest-textual-snapshot). Each test says what must
be visible; `pytest --snapshot-update` rewrites them after an intended change."""

from pos_terminal.app import CounterApp
from pos_terminal.services.counter import CounterServices
from tests.pos_terminal.helpers import CLERK, CLERK_PIN, msisdn, voucher

SIZE = (100, 30)


def _app(services: CounterServices) -> CounterApp:
    return CounterApp(services, status_interval=3600)


async def _log_in_with_a_shift(pilot) -> None:  # type: ignore[no-untyped-def]
    services = pilot.app.services
    clerk = services.login.login(CLERK, CLERK_PIN).clerk
    services.shifts.open_shift(CLERK, 20_000)
    pilot.app.screen.dismiss(clerk)  # the log-in screen, as a log-in ends it
    await pilot.pause()


def test_login_screen(snap_compare, services: CounterServices) -> None:  # type: ignore[no-untyped-def]
    """The log-in form over the counter: title, outlet and terminal number, clerk and PIN."""
    assert snap_compare(_app(services), terminal_size=SIZE)


def test_sale_screen_with_a_number_and_a_card(snap_compare, services: CounterServices) -> None:  # type: ignore[no-untyped-def]
    """Two lines (a number with its grade, a ¥50 card), the total ¥100.00, the last item in
    the message line, the status bar and the function keys."""

    async def ring_up(pilot) -> None:  # type: ignore[no-untyped-def]
        await _log_in_with_a_shift(pilot)
        for code in (msisdn(1), voucher(1)):
            await pilot.press(*code, "enter")
        await pilot.app.screen.steps.join()
        await pilot.pause()

    assert snap_compare(_app(services), run_before=ring_up, terminal_size=SIZE)


def test_payment_dialog(snap_compare, services: CounterServices) -> None:  # type: ignore[no-untyped-def]
    """The payment form for a ¥50 card: amount due, cash pre-filled with it, card, wallet."""

    async def pay(pilot) -> None:  # type: ignore[no-untyped-def]
        await _log_in_with_a_shift(pilot)
        await pilot.press(*voucher(1), "enter")
        await pilot.app.screen.steps.join()
        await pilot.press("f9")
        await pilot.pause()

    assert snap_compare(_app(services), run_before=pay, terminal_size=SIZE)


def test_shift_screen_before_opening(snap_compare, services: CounterServices) -> None:  # type: ignore[no-untyped-def]
    """No shift open: the prompt to count the float, the float field and the blind-count grid
    of eight denominations from ¥100 to ¥0.1."""

    async def shift(pilot) -> None:  # type: ignore[no-untyped-def]
        pilot.app.screen.dismiss(pilot.app.services.login.login(CLERK, CLERK_PIN).clerk)
        await pilot.press("f4")
        await pilot.pause()

    assert snap_compare(_app(services), run_before=shift, terminal_size=SIZE)
