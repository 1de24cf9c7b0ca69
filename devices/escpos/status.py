"""DLE EOT status bytes: what a printer reports about itself, read and answered."""

from dataclasses import dataclass

from devices.escpos.commands import StatusRequest
from devices.ports import PrinterState, PrinterStatus

# Every DLE EOT answer has bit 1 and bit 4 set and bits 0 and 7 clear, so a stray byte
# (an echo, a late answer to another request) is recognisable.
_FIXED_MASK, _FIXED_BITS = 0x93, 0x12

# n=1, printer status
DRAWER_PIN3_HIGH = 0x04
OFFLINE = 0x08
# n=2, offline cause
COVER_OPEN = 0x04
PAPER_STOPPED = 0x20
ERROR = 0x40
# n=4, paper roll sensor
PAPER_NEAR_END = 0x0C
PAPER_OUT = 0x60


@dataclass(frozen=True)
class PrinterCondition:
    """The facts a printer reports through DLE EOT; a simulator answers from these."""

    offline: bool = False
    cover_open: bool = False
    paper_out: bool = False
    paper_near_end: bool = False
    error: bool = False
    drawer_pin3_high: bool = False

    def answer(self, request: StatusRequest | int) -> int:
        """The byte a printer in this condition sends back to DLE EOT `request`."""
        bits = 0
        stopped = self.offline or self.cover_open or self.paper_out or self.error
        if request == StatusRequest.printer:
            bits |= OFFLINE if stopped else 0
            bits |= DRAWER_PIN3_HIGH if self.drawer_pin3_high else 0
        elif request == StatusRequest.offline_cause:
            bits |= COVER_OPEN if self.cover_open else 0
            bits |= PAPER_STOPPED if self.paper_out else 0
            bits |= ERROR if self.error else 0
        elif request == StatusRequest.paper:
            bits |= PAPER_NEAR_END if self.paper_near_end or self.paper_out else 0
            bits |= PAPER_OUT if self.paper_out else 0
        elif request != StatusRequest.error_cause:
            raise ValueError(f"DLE EOT {request} is not a status request")
        return _FIXED_BITS | bits


def is_status_byte(value: int) -> bool:
    return value & _FIXED_MASK == _FIXED_BITS


def interpret(
    printer: int | None,
    offline_cause: int | None = None,
    paper: int | None = None,
    *,
    drawer_open_when_high: bool = True,
) -> PrinterStatus:
    """Turns the answers to DLE EOT 1, 2 and 4 (None = no answer) into one PrinterStatus.

    Which level of the drawer sensor means "open" depends on the drawer's switch; most
    drawers pull pin 3 high when open, hence the default."""
    if printer is None:
        return PrinterStatus(PrinterState.offline, detail="no answer to a status query")
    for name, value in (("printer", printer), ("offline cause", offline_cause), ("paper", paper)):
        if value is not None and not is_status_byte(value):
            return PrinterStatus(
                PrinterState.offline, detail=f"unexpected {name} status byte 0x{value:02x}"
            )
    drawer_high = bool(printer & DRAWER_PIN3_HIGH)
    drawer_open = drawer_high == drawer_open_when_high
    cause = offline_cause or 0
    roll = paper or 0
    if cause & COVER_OPEN:
        state, detail = PrinterState.cover_open, "cover open"
    elif cause & PAPER_STOPPED or roll & PAPER_OUT == PAPER_OUT:
        state, detail = PrinterState.paper_out, "paper out"
    elif printer & OFFLINE:
        state = PrinterState.offline
        detail = "printer reports an error" if cause & ERROR else "printer reports offline"
    elif roll & PAPER_NEAR_END == PAPER_NEAR_END:
        state, detail = PrinterState.paper_near_end, "paper near end"
    else:
        state, detail = PrinterState.online, "ready"
    return PrinterStatus(state, drawer_open=drawer_open, detail=detail)
