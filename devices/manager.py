"""The device manager: diffs successive discovery scans into plug/unplug and publishes every
device status change through one callback."""

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from devices.discovery import Driver, FoundDevice, Interface, claim
from devices.ports import DeviceStatus, StatusCallback

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ManagedDevice:
    """A discovered device and the driver that claimed it (None: nobody did)."""

    device: FoundDevice
    driver: Driver | None

    @property
    def identifier(self) -> str:
        return self.device.identifier


@dataclass(frozen=True)
class ScanDiff:
    """What changed between two scans."""

    plugged: tuple[ManagedDevice, ...] = ()
    unplugged: tuple[ManagedDevice, ...] = ()


class DeviceManager:
    """Owns the list of attached devices; nothing runs until `scan` or `watch` is called.

    Claimed devices get a DeviceStatus on plug and unplug; drivers and readers report their
    own changes (paper out, scanner lost) through `report`. Only changes reach the callback,
    so the terminal's status bar is not redrawn for news it already has.
    """

    def __init__(
        self,
        interfaces: Sequence[Interface],
        drivers: Sequence[Driver],
        on_status: StatusCallback,
    ) -> None:
        self.interfaces = list(interfaces)
        self.drivers = list(drivers)
        self._on_status = on_status
        self._devices: dict[str, ManagedDevice] = {}
        self._last_lists: dict[int, dict[str, FoundDevice]] = {}
        self._statuses: dict[str, DeviceStatus] = {}
        self._lock = threading.Lock()

    @property
    def devices(self) -> dict[str, ManagedDevice]:
        with self._lock:
            return dict(self._devices)

    @property
    def statuses(self) -> dict[str, DeviceStatus]:
        with self._lock:
            return dict(self._statuses)

    def scan(self) -> ScanDiff:
        """Lists every interface once, claims new devices and publishes plug/unplug."""
        current: dict[str, FoundDevice] = {}
        for index, interface in enumerate(self.interfaces):
            try:
                listed = interface.list_devices()
            except Exception:
                # One failing bus must not look like every device on it was unplugged.
                log.exception(
                    "listing %s devices failed; keeping the previous list", interface.name
                )
                listed = self._last_lists.get(index, {})
            self._last_lists[index] = listed
            current.update(listed)
        with self._lock:
            previous = self._devices
            gone = tuple(previous[key] for key in previous if key not in current)
            new = tuple(
                ManagedDevice(current[key], claim(current[key], self.drivers))
                for key in current
                if key not in previous
            )
            claimed = {managed.identifier: managed for managed in new}
            self._devices = {key: previous.get(key) or claimed[key] for key in current}
        for managed in gone:
            self._publish_presence(managed, connected=False)
        for managed in new:
            self._publish_presence(managed, connected=True)
        return ScanDiff(plugged=new, unplugged=gone)

    def report(self, status: DeviceStatus) -> None:
        """Publishes a status a driver or reader observed, if it differs from the last one."""
        with self._lock:
            if self._statuses.get(status.identifier) == status:
                return
            self._statuses[status.identifier] = status
        try:
            self._on_status(status)
        except Exception:
            # The manager outlives a faulty subscriber; the next change is published again.
            log.exception("status callback failed for %s", status.identifier)

    def watch(self, stop: threading.Event, interval: float = 2.0) -> None:
        """Scans every `interval` seconds until `stop` is set; run it in a worker thread."""
        while not stop.is_set():
            self.scan()
            stop.wait(interval)

    def _publish_presence(self, managed: ManagedDevice, *, connected: bool) -> None:
        if managed.driver is None:
            return
        device = managed.device
        self.report(
            DeviceStatus(
                identifier=device.identifier,
                kind=managed.driver.kind,
                connected=connected,
                detail=device.name or device.path,
                extra={"interface": device.interface, "driver": managed.driver.name},
            )
        )
