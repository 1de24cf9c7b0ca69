"""Receipt printers and cash drawers: configuration, receipt model, encoding and drivers."""

from devices.printer.config import PrinterConfig
from devices.printer.drawer import SerialDrawer
from devices.printer.driver import EscposPrinter, open_printer
from devices.printer.encode import encode_receipt, layout, render_image
from devices.printer.links import PrinterUnavailable
from devices.printer.profiles import PROFILES, PrinterProfile, get_profile
from devices.printer.receipt import AmountLine, ItemLine, Receipt, test_receipt

__all__ = [
    "PROFILES",
    "AmountLine",
    "EscposPrinter",
    "ItemLine",
    "PrinterConfig",
    "PrinterProfile",
    "PrinterUnavailable",
    "Receipt",
    "SerialDrawer",
    "encode_receipt",
    "get_profile",
    "layout",
    "open_printer",
    "render_image",
    "test_receipt",
]
