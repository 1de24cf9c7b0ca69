"""The serial pole display against the pty-backed display simulator: set-up bytes, screens
for both command sets, and a display that is unplugged and plugged back."""

from pathlib import Path

import pytest

from devices.display import SerialDisplay, change_screen, item_screen, total_screen
from devices.ports import DeviceKind, DeviceStatus
from devices.simulators.display import DisplaySimulator


@pytest.mark.parametrize("command_set", ["epson", "cd5220"])
def test_a_sale_as_the_customer_sees_it(command_set: str) -> None:
    with DisplaySimulator(command_set) as sim:  # type: ignore[arg-type]
        display = SerialDisplay(sim.port, command_set=command_set, brightness=3)  # type: ignore[arg-type]
        try:
            steps = [
                item_screen("号卡 13800138000", 5000, 5000),
                item_screen("充值卡 100", 9800, 14800),
                total_screen(14800, items=2),
                change_screen(20000, 5200),
            ]
            for lines in steps:
                result = display.show(lines)
                assert result.ok, result.message
                assert sim.wait_for(lambda shown, want=lines: shown == want)
        finally:
            display.close()
        assert sim.render().splitlines()[1:3] == [
            "|PAID         Y200.00|",
            "|CHANGE        Y52.00|",
        ]
        assert sim.screen.brightness == 3
        assert sim.screen.unknown == []


def test_first_show_initializes_and_clears_the_display() -> None:
    with DisplaySimulator("epson") as sim:
        display = SerialDisplay(sim.port)
        try:
            display.show(["A", "B"])
            assert sim.wait_for(lambda shown: shown[1].startswith("B"))
            display.show(["C", "D"])
            assert sim.wait_for(lambda shown: shown[1].startswith("D"))
        finally:
            display.close()
        assert bytes(sim.received).startswith(b"\x1b@\x1f\x01\x0c\x1f$\x01\x01A")
        assert bytes(sim.received).count(b"\x1b@") == 1


def test_unplugged_display_fails_the_show_and_recovers_after_replug(tmp_path: Path) -> None:
    statuses: list[DeviceStatus] = []
    link = tmp_path / "ttyDisplay"
    first = DisplaySimulator("cd5220", link=link).start()
    display = SerialDisplay(
        str(link), command_set="cd5220", on_status=statuses.append, identifier="pole"
    )
    try:
        assert display.show(["ONE", ""]).ok
        assert first.wait_for(lambda shown: shown[0].startswith("ONE"))
        first.stop()
        failed = display.show(["TWO", ""])
        assert not failed.ok and failed.message.startswith(f"{link}: ")  # which display failed
        with DisplaySimulator("cd5220", link=link) as second:
            assert display.show(["THREE", ""]).ok
            assert second.wait_for(lambda shown: shown[0].startswith("THREE"))
    finally:
        display.close()
    assert [(s.identifier, s.kind, s.connected) for s in statuses] == [
        ("pole", DeviceKind.display, True),
        ("pole", DeviceKind.display, False),
        ("pole", DeviceKind.display, True),
    ]


def test_a_missing_port_fails_the_show_with_the_reason(tmp_path: Path) -> None:
    display = SerialDisplay(str(tmp_path / "nothing"))
    result = display.show(["HELLO"])
    assert not result.ok and "nothing" in result.message


def test_too_many_lines_fail_without_touching_the_port() -> None:
    with DisplaySimulator() as sim:
        display = SerialDisplay(sim.port)
        try:
            result = display.show(["1", "2", "3"])
        finally:
            display.close()
        assert not result.ok and "2 rows" in result.message
        assert sim.received == b""
