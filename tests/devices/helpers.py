"""Test doubles for device discovery."""

from dataclasses import dataclass, field

from devices.discovery import FoundDevice


@dataclass
class FakeInterface:
    """A bus a test plugs and unplugs devices on: replays scripted scans, one per call, then
    repeats the last."""

    scans: list[list[FoundDevice]]
    name: str = "fake"
    _calls: int = field(default=0, init=False)

    def list_devices(self) -> dict[str, FoundDevice]:
        if not self.scans:
            return {}
        scan = self.scans[min(self._calls, len(self.scans) - 1)]
        self._calls += 1
        return {device.identifier: device for device in scan}
