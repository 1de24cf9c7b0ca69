"""The evdev scanner reader: device matching, exclusive grab, unplug (OSError ENODEV) and
replug without a restart.

This machine has no /dev/uinput, so no kernel input device can be created for a test; the
FakeInputDevice below stands in for it. It has a real file descriptor (a pipe) so the reader's
select() really waits, and it hands back real evdev.InputEvent objects.
"""

import errno
import os
import re
import time
from collections.abc import Iterator

import pytest
from evdev import InputEvent, ecodes

from devices.ports import DeviceKind, DeviceStatus
from devices.scanner import EvdevMatch, EvdevScanner
from shared.codes import CodeKind
from tests.devices.test_scan_decode import EVTEST_KEYPAD, EVTEST_RECEIPT

_EVTEST = re.compile(r"time (\d+)\.(\d+), type (\d+) \(\w+\), code (\d+) \(\w+\), value (\w+)")


def recorded_events(text: str) -> list[InputEvent]:
    """Every event of an evtest recording as evdev would hand it over (SYN lines included)."""
    events = []
    for line in text.strip().splitlines():
        if match := _EVTEST.search(line):
            sec, usec, typ, code, value = match.groups()
            base = 16 if typ == str(ecodes.EV_MSC) else 10
            events.append(InputEvent(int(sec), int(usec), int(typ), int(code), int(value, base)))
        else:
            sec, usec = re.search(r"time (\d+)\.(\d+)", line).groups()  # type: ignore[union-attr]
            events.append(InputEvent(int(sec), int(usec), ecodes.EV_SYN, ecodes.SYN_REPORT, 0))
    return events


def key_events(text: str) -> list[InputEvent]:
    """Events for a code typed on a US keyboard (digits and upper-case letters), then Enter."""
    events = []
    for ch in text:
        code = getattr(ecodes, f"KEY_{ch.upper()}")
        events.append(InputEvent(0, 0, ecodes.EV_KEY, code, 1))
        events.append(InputEvent(0, 0, ecodes.EV_KEY, code, 0))
    events.append(InputEvent(0, 0, ecodes.EV_KEY, ecodes.KEY_KPENTER, 1))
    return events


class FakeInputDevice:
    """Stands in for evdev.InputDevice (no /dev/uinput here to make a real one)."""

    def __init__(self, path: str, name: str, vendor: int, product: int) -> None:
        self.path, self.name = path, name
        self.info = type("Info", (), {"vendor": vendor, "product": product, "bustype": 3})()
        self._r, self._w = os.pipe()
        self.fd = self._r
        self.queue: list[InputEvent] = []
        self.grabbed = False
        self.closed = False
        self.unplugged = False
        self.grab_error: OSError | None = None

    def type(self, events: list[InputEvent]) -> None:
        self.queue.extend(events)
        os.write(self._w, b"!")

    def unplug(self) -> None:
        self.unplugged = True
        os.write(self._w, b"!")

    def read(self) -> Iterator[InputEvent]:
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        if not self.queue:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        os.read(self._r, 4096)
        events, self.queue = self.queue, []
        return iter(events)

    def grab(self) -> None:
        if self.grab_error is not None:
            raise self.grab_error
        self.grabbed = True

    def close(self) -> None:
        if not self.closed:
            os.close(self._r)
            os.close(self._w)
        self.closed = True


class FakeBus:
    """The /dev/input directory: which devices exist, and opening them by path."""

    def __init__(self) -> None:
        self.devices: dict[str, tuple[str, int, int]] = {}
        self.opened: list[FakeInputDevice] = []

    def list(self) -> list[str]:
        return sorted(self.devices)

    def open(self, path: str) -> FakeInputDevice:
        if path not in self.devices:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        device = FakeInputDevice(path, *self.devices[path])
        self.opened.append(device)
        return device

    @property
    def current(self) -> FakeInputDevice:
        return self.opened[-1]


SCANNER = ("Honeywell Imaging & Mobility 1900", 0x0C2E, 0x0B61)
KEYBOARD = ("AT Translated Set 2 keyboard", 0x0001, 0x0001)


@pytest.fixture
def bus() -> Iterator[FakeBus]:
    bus = FakeBus()
    bus.devices["/dev/input/event0"] = KEYBOARD
    bus.devices["/dev/input/event5"] = SCANNER
    yield bus
    for device in bus.opened:
        device.close()


def scanner_for(bus: FakeBus, match: EvdevMatch, statuses: list[DeviceStatus]) -> EvdevScanner:
    return EvdevScanner(
        match,
        on_status=statuses.append,
        reconnect_interval=0.05,
        list_devices=bus.list,
        open_device=bus.open,
        identifier="scanner",
    )


@pytest.mark.parametrize(
    "match",
    [
        EvdevMatch(usb_id="0c2e:0B61"),
        EvdevMatch(name="honeywell"),
        EvdevMatch(path="/dev/input/event5"),
    ],
)
def test_finds_the_scanner_not_the_keyboard_and_grabs_it(bus: FakeBus, match: EvdevMatch) -> None:
    statuses: list[DeviceStatus] = []
    scanner = scanner_for(bus, match, statuses)
    assert scanner.read(0.01) is None
    assert scanner.connected
    assert bus.current.path == "/dev/input/event5" and bus.current.grabbed
    assert all(device.closed for device in bus.opened[:-1])
    assert statuses == [
        DeviceStatus("scanner", DeviceKind.scanner, True, f"{SCANNER[0]} at /dev/input/event5")
    ]
    scanner.close()
    assert bus.current.closed


def test_recorded_stream_through_the_reader_gives_one_classified_scan(bus: FakeBus) -> None:
    scanner = scanner_for(bus, EvdevMatch(usb_id="0c2e:0b61"), [])
    scanner.read(0.01)
    bus.current.type(recorded_events(EVTEST_RECEIPT))
    event = scanner.read(1.0)
    assert event is not None and event.code is not None
    assert event.code.kind == CodeKind.receipt and event.code.value == "S0000120000003455"
    assert event.source == "scanner"
    assert scanner.read(0.05) is None


def test_codes_in_one_read_come_out_one_per_call_and_doubles_are_dropped(bus: FakeBus) -> None:
    scanner = scanner_for(bus, EvdevMatch(name="1900"), [])
    scanner.read(0.01)
    bus.current.type(key_events("13800138000") + key_events("13800138000") + key_events("ABC"))
    first, second = scanner.read(1.0), scanner.read(1.0)
    assert first is not None and first.ok and first.raw == "13800138000"
    assert second is not None and not second.ok and second.raw == "abc"


def test_read_waits_for_a_scan_typed_later_and_times_out_on_silence(bus: FakeBus) -> None:
    scanner = scanner_for(bus, EvdevMatch(name="1900"), [])
    started = time.monotonic()
    assert scanner.read(0.2) is None
    assert 0.18 <= time.monotonic() - started < 1.5


def test_unplug_is_reported_and_a_replugged_scanner_resumes(bus: FakeBus) -> None:
    statuses: list[DeviceStatus] = []
    scanner = scanner_for(bus, EvdevMatch(usb_id="0c2e:0b61"), statuses)
    scanner.read(0.01)
    first = bus.current
    # Half a code is typed, then the cable is pulled: that half must not prefix the next code.
    first.type(key_events("139")[:-1])
    assert scanner.read(0.05) is None
    first.unplug()
    del bus.devices["/dev/input/event5"]
    assert scanner.read(0.2) is None
    assert not scanner.connected and first.closed
    assert [(s.connected, s.detail) for s in statuses[1:]] == [(False, "unplugged")]

    # The kernel may give the replugged scanner another event number.
    bus.devices["/dev/input/event7"] = SCANNER
    assert scanner.read(0.2) is None
    assert scanner.connected and bus.current is not first and bus.current.grabbed
    assert statuses[-1] == DeviceStatus(
        "scanner", DeviceKind.scanner, True, f"{SCANNER[0]} at /dev/input/event7"
    )
    bus.current.type(key_events("13800138000"))
    event = scanner.read(1.0)
    assert event is not None and event.ok and event.raw == "13800138000"


def test_a_recording_cut_by_an_unplug_leaves_no_trace_after_the_replug(bus: FakeBus) -> None:
    statuses: list[DeviceStatus] = []
    scanner = scanner_for(bus, EvdevMatch(name="1900"), statuses)
    scanner.read(0.01)
    recording = recorded_events(EVTEST_KEYPAD)
    bus.current.type(recording[: len(recording) // 2])  # half the keypad digits
    assert scanner.read(0.05) is None
    half_typed_on = bus.current
    half_typed_on.unplug()
    assert scanner.read(0.2) is None  # lost, then found again at the same node at once
    assert scanner.connected and bus.current is not half_typed_on
    bus.current.type(recording)
    event = scanner.read(1.0)
    assert event is not None and event.ok and event.raw == "13800138000"
    assert [s.connected for s in statuses] == [True, False, True]


def test_a_missing_scanner_is_reported_once_not_on_every_retry(bus: FakeBus) -> None:
    del bus.devices["/dev/input/event5"]
    statuses: list[DeviceStatus] = []
    scanner = scanner_for(bus, EvdevMatch(path="/dev/input/by-id/usb-scanner-event-kbd"), statuses)
    assert scanner.read(0.3) is None
    [status] = statuses
    assert not status.connected
    assert status.detail.startswith("cannot open: [Errno 2] No such file or directory")


def test_a_scanner_grabbed_by_another_program_is_reported_and_released(bus: FakeBus) -> None:
    statuses: list[DeviceStatus] = []

    def open_busy(path: str) -> FakeInputDevice:
        device = bus.open(path)
        device.grab_error = OSError(errno.EBUSY, "Device or resource busy")
        return device

    scanner = EvdevScanner(
        EvdevMatch(name="1900"),
        on_status=statuses.append,
        list_devices=bus.list,
        open_device=open_busy,
    )
    assert scanner.read(0.05) is None
    assert not scanner.connected and bus.current.closed
    assert "cannot grab /dev/input/event5" in statuses[0].detail


def test_grab_can_be_switched_off() -> None:
    bus = FakeBus()
    bus.devices["/dev/input/event5"] = SCANNER
    scanner = EvdevScanner(
        EvdevMatch(name="1900"), grab=False, list_devices=bus.list, open_device=bus.open
    )
    scanner.read(0.01)
    assert scanner.connected and not bus.current.grabbed
    scanner.close()


def test_a_match_needs_something_to_match_on() -> None:
    with pytest.raises(ValueError, match="needs a path, a vendor:product or a name"):
        EvdevMatch()


@pytest.mark.hardware
@pytest.mark.skipif(
    not os.access("/dev/uinput", os.R_OK | os.W_OK),
    reason="no writable /dev/uinput on this machine, so no kernel input device can be made",
)
def test_a_uinput_scanner_through_the_kernel_survives_unplug_and_replug() -> None:
    """The real evdev path end to end, where the kernel lets a test create an input device."""
    from evdev import UInput

    name = f"HaoKa test barcode scanner {os.getpid()}"
    keys = [
        ecodes.KEY_ENTER,
        ecodes.KEY_LEFTSHIFT,
        ecodes.KEY_S,
        *(getattr(ecodes, f"KEY_{d}") for d in "0123456789"),
    ]

    def plug() -> UInput:
        return UInput({ecodes.EV_KEY: keys}, name=name, vendor=0x1234, product=0x5678)

    def type_code(device: UInput, code: str) -> None:
        for ch in code:
            if ch.isupper():
                device.write(ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 1)
            key = getattr(ecodes, f"KEY_{ch.upper()}")
            device.write(ecodes.EV_KEY, key, 1)
            device.write(ecodes.EV_KEY, key, 0)
            if ch.isupper():
                device.write(ecodes.EV_KEY, ecodes.KEY_LEFTSHIFT, 0)
            device.syn()
        device.write(ecodes.EV_KEY, ecodes.KEY_ENTER, 1)
        device.write(ecodes.EV_KEY, ecodes.KEY_ENTER, 0)
        device.syn()

    def wait_connected(scanner: EvdevScanner, connected: bool) -> None:
        # udev creates the /dev/input node a moment after the device appears.
        deadline = time.monotonic() + 5
        while scanner.connected is not connected and time.monotonic() < deadline:
            scanner.read(0.1)
        assert scanner.connected is connected

    statuses: list[DeviceStatus] = []
    device = plug()
    scanner = EvdevScanner(
        EvdevMatch(name=name, usb_id="1234:5678"),
        on_status=statuses.append,
        reconnect_interval=0.1,
    )
    try:
        wait_connected(scanner, True)
        type_code(device, "S0000120000003455")
        event = scanner.read(2.0)
        assert event is not None and event.ok and event.raw == "S0000120000003455"

        device.close()
        wait_connected(scanner, False)
        device = plug()
        wait_connected(scanner, True)
        type_code(device, "13800138000")
        event = scanner.read(2.0)
        assert event is not None and event.ok and event.raw == "13800138000"
    finally:
        scanner.close()
        device.close()
    # A "not found" may come first if the scanner looked before udev made the node.
    assert [s.connected for s in statuses][-3:] == [True, False, True]
