"""Opens the devices a devices file names: one place that turns config into drivers."""

from devices.config import DevicesConfig, DisplayConfig, EvdevScannerConfig, SerialScannerConfig
from devices.display.serial_display import SerialDisplay
from devices.ports import CashDrawer, ScanSource, StatusCallback
from devices.printer import EscposPrinter, SerialDrawer
from devices.scanner.evdev_scanner import EvdevScanner
from devices.scanner.serial_scanner import SerialScanner


def open_scanner(config: DevicesConfig, on_status: StatusCallback | None) -> ScanSource | None:
    """The configured scanner, or None when the file has no [scanner]."""
    settings = config.scanner
    if isinstance(settings, SerialScannerConfig):
        return SerialScanner(
            settings.port,
            baudrate=settings.baudrate,
            suffix=settings.suffix,
            double_scan_window=settings.double_scan_window,
            on_status=on_status,
        )
    if isinstance(settings, EvdevScannerConfig):
        return EvdevScanner(
            settings.match,
            grab=settings.grab,
            double_scan_window=settings.double_scan_window,
            on_status=on_status,
        )
    return None


def open_display(settings: DisplayConfig, on_status: StatusCallback | None = None) -> SerialDisplay:
    """The configured pole display; its port is opened on the first show."""
    return SerialDisplay(
        settings.port,
        baudrate=settings.baudrate,
        command_set=settings.command_set,
        fallback=settings.fallback,
        currency=settings.currency,
        brightness=settings.brightness,
        on_status=on_status,
    )


def open_drawer(config: DevicesConfig, printer: EscposPrinter | None) -> CashDrawer | None:
    """The drawer: the printer itself when it hangs on the printer's kick connector, its own
    serial port otherwise; None when not configured or its printer is missing. A serial drawer
    that cannot be opened raises PrinterUnavailable."""
    settings = config.drawer
    if settings is None:
        return None
    if settings.via == "printer":
        return printer
    assert settings.port is not None
    return SerialDrawer(
        settings.port,
        baudrate=settings.baudrate,
        open_command=settings.open_command,
        status_query=settings.status_query,
        open_mask=settings.open_mask,
    )
