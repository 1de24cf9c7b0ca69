"""The ports the terminal drives: what a scanner, printer, drawer and customer display promise."""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from shared.codes import CodeError, ScannedCode


class DeviceKind(StrEnum):
    scanner = "scanner"
    printer = "printer"
    drawer = "drawer"
    display = "display"


class PrinterState(StrEnum):
    online = "online"
    paper_near_end = "paper_near_end"
    paper_out = "paper_out"
    cover_open = "cover_open"
    offline = "offline"


@dataclass(frozen=True)
class PrinterStatus:
    """What a status query (DLE EOT) found; `state` is the most serious condition."""

    state: PrinterState
    drawer_open: bool | None = None
    detail: str = ""

    @property
    def can_print(self) -> bool:
        return self.state in (PrinterState.online, PrinterState.paper_near_end)


@dataclass(frozen=True)
class ScanEvent:
    """One scan: the classified code, or the raw text and why it was refused."""

    raw: str
    source: str
    code: ScannedCode | None = None
    error: CodeError | None = None

    @property
    def ok(self) -> bool:
        return self.code is not None


@dataclass(frozen=True)
class DeviceStatus:
    """A device's state as the manager publishes it through its one status callback."""

    identifier: str
    kind: DeviceKind
    connected: bool
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


StatusCallback = Callable[[DeviceStatus], None]


@dataclass(frozen=True)
class ActionResult:
    """The uniform answer of every device action; a repeated action id is not redone."""

    action_id: str
    ok: bool
    message: str = ""
    repeated: bool = False


class ScanSource(Protocol):
    """Yields scans; `read` blocks at most `timeout` seconds and returns None on silence."""

    name: str

    def read(self, timeout: float) -> ScanEvent | None: ...

    def close(self) -> None: ...


class ReceiptPrinter(Protocol):
    def print_bytes(self, job_id: str, payload: bytes) -> ActionResult: ...

    def status(self) -> PrinterStatus: ...

    def close(self) -> None: ...


class CashDrawer(Protocol):
    def kick(self, action_id: str) -> ActionResult: ...

    def is_open(self) -> bool | None: ...


class CustomerDisplay(Protocol):
    columns: int
    rows: int

    def show(self, lines: list[str]) -> ActionResult: ...

    def close(self) -> None: ...
