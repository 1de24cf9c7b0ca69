"""`haoka-pos`: the counter terminal's command line."""

import contextlib
import dataclasses
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from devices.config import (
    ConfigError,
    DevicesConfig,
    EvdevScannerConfig,
    SerialScannerConfig,
    load_config,
)
from devices.discovery import configured_drivers, is_pinned, standard_interfaces
from devices.factory import open_display, open_drawer, open_scanner
from devices.manager import DeviceManager, ManagedDevice
from devices.ports import DeviceKind, DeviceStatus, PrinterState, PrinterStatus
from devices.printer import (
    EscposPrinter,
    PrinterUnavailable,
    SerialDrawer,
    encode_receipt,
    open_printer,
    test_receipt,
)
from devices.simulators.counter import SimulatedCounter
from pos_terminal.app import CounterApp
from pos_terminal.config import TerminalConfig, remember_backoffice_url
from pos_terminal.config import load_config as load_terminal_config
from pos_terminal.hardware import CounterHardware
from pos_terminal.services.counter import open_counter, register
from pos_terminal.services.errors import BackOfficeRefused, Offline, PosError
from shared.ids import new_id

app = typer.Typer(help="HaoKa counter terminal.", no_args_is_help=True)
devices_app = typer.Typer(
    help="Counter hardware: what is attached, and a check of each device.", no_args_is_help=True
)
app.add_typer(devices_app, name="devices")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="devices TOML file pinning the scanner, printer, drawer and display",
        envvar="HAOKA_DEVICES_CONFIG",
    ),
]


def _console() -> Console:
    console = Console()
    # Piped or captured output gets room for device paths instead of the 80-column default.
    return console if console.is_terminal else Console(width=160)


def _load(path: Path | None) -> DevicesConfig:
    if path is None:
        return DevicesConfig()
    try:
        return load_config(path)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


# --- devices list ---------------------------------------------------------------------------

_CONFIGURED_KINDS = ("scanner", "printer", "drawer", "display")


def _configured_target(config: DevicesConfig, kind: str) -> str | None:
    if kind == "scanner":
        if isinstance(config.scanner, SerialScannerConfig):
            return config.scanner.port
        if isinstance(config.scanner, EvdevScannerConfig):
            return str(config.scanner.match)
        return None
    if kind == "printer":
        return config.printer.target if config.printer is not None else None
    if kind == "drawer":
        if config.drawer is None:
            return None
        return config.drawer.port or "via the printer"
    return config.display.port if config.display is not None else None


def _printer_status(config: DevicesConfig) -> PrinterStatus:
    assert config.printer is not None
    try:
        printer = open_printer(config.printer)
    except (PrinterUnavailable, ValueError) as error:
        return PrinterStatus(PrinterState.offline, detail=f"unavailable: {error}")
    try:
        return printer.status()
    finally:
        printer.close()


def _row_status(managed: ManagedDevice, printer: PrinterStatus | None) -> str:
    driver = managed.driver
    if driver is None:
        return "not claimed"
    if not is_pinned(driver):
        return "found, not configured"
    if driver.kind == DeviceKind.printer and printer is not None:
        return f"{printer.state.value} {printer.detail}".strip()
    return "present"


def _drawer_via_printer(printer: PrinterStatus | None) -> str:
    """The drawer row when the drawer hangs on the printer: its sensor, read with DLE EOT 1."""
    if printer is None:
        return "printer not found"
    sensor = {True: ", open", False: ", closed", None: ""}[printer.drawer_open]
    return f"via printer{sensor}"


@devices_app.command("list")
def devices_list(
    config: ConfigOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="also list devices no driver claims")
    ] = False,
) -> None:
    """Shows the devices found and their status, configured ones first."""
    settings = _load(config)
    manager = DeviceManager(
        standard_interfaces(settings), configured_drivers(settings), lambda status: None
    )
    manager.scan()
    devices = sorted(
        manager.devices.values(),
        key=lambda m: (m.driver is None, -(m.driver.priority if m.driver else 0), m.identifier),
    )
    table = Table(title="Counter devices")
    for column in ("kind", "device", "found by", "name", "status"):
        table.add_column(column)
    claimed_kinds = set()
    # Asked once, for the printer's row and for the drawer on its kick connector.
    printer: PrinterStatus | None = None
    for managed in devices:
        if managed.driver is None and not show_all:
            continue
        kind = managed.driver.kind.value if managed.driver is not None else "-"
        if managed.driver is not None and is_pinned(managed.driver):
            claimed_kinds.add(kind)
            if kind == DeviceKind.printer:
                printer = _printer_status(settings)
        device = managed.device
        table.add_row(
            kind,
            Text(device.path or device.identifier),
            device.interface,
            Text(device.name),
            Text(_row_status(managed, printer)),
        )
    for kind in _CONFIGURED_KINDS:
        target = _configured_target(settings, kind)
        if target is None or kind in claimed_kinds:
            continue
        if kind == "drawer" and settings.drawer is not None and settings.drawer.via == "printer":
            table.add_row(kind, Text(target), "config", "", _drawer_via_printer(printer))
        else:
            table.add_row(kind, Text(target), "config", "", "not found")
    console = _console()
    if table.row_count:
        console.print(table)
    else:
        console.print("No counter devices found. Pin them in a devices file with --config.")


# --- devices test ---------------------------------------------------------------------------

Outcome = Literal["ok", "failed", "skipped"]
_MARKS = {"ok": "[green]ok[/]", "failed": "[red]FAILED[/]", "skipped": "[yellow]skipped[/]"}


@dataclass
class _Report:
    console: Console
    failed: bool = False

    def step(self, name: str, outcome: Outcome, message: str) -> None:
        self.failed = self.failed or outcome == "failed"
        line = Text.from_markup(f"{_MARKS[outcome]} ")
        line.append(f"{name}: {message}")
        self.console.print(line)


@contextlib.contextmanager
def _opened_printer(config: DevicesConfig, report: _Report) -> Iterator[EscposPrinter | None]:
    if config.printer is None:
        report.step("printer", "skipped", "no [printer] in the devices file")
        yield None
        return
    try:
        printer = open_printer(config.printer)
    except (PrinterUnavailable, ValueError) as error:
        report.step("printer", "failed", str(error))
        yield None
        return
    try:
        yield printer
    finally:
        printer.close()


def _test_printer(config: DevicesConfig, printer: EscposPrinter, report: _Report) -> None:
    assert config.printer is not None
    status = printer.status()
    payload = encode_receipt(test_receipt(), config.printer.profile, config.printer.chinese)
    result = printer.print_bytes(f"test-{new_id()}", payload)
    state = f"{status.state.value} {status.detail}".strip()
    if result.ok:
        report.step("printer", "ok", f"test receipt printed ({state})")
    else:
        report.step("printer", "failed", f"{result.message} ({state})")


def _test_drawer(config: DevicesConfig, printer: EscposPrinter | None, report: _Report) -> None:
    drawer_config = config.drawer
    if drawer_config is None:
        report.step("drawer", "skipped", "no [drawer] in the devices file")
        return
    try:
        drawer = open_drawer(config, printer)
    except PrinterUnavailable as error:
        report.step("drawer", "failed", str(error))
        return
    if drawer is None:
        report.step("drawer", "failed", "it opens through the printer, which is not available")
        return
    try:
        result = drawer.kick(f"test-{new_id()}")
        # Read after the kick: a drawer that sprang open shows its sensor works too.
        sensor = drawer.is_open() if result.ok else None
    finally:
        if isinstance(drawer, SerialDrawer):
            drawer.close()
    seen = {True: "sensor: open", False: "sensor: closed", None: "no sensor reading"}[sensor]
    report.step("drawer", "ok" if result.ok else "failed", f"{result.message or 'kicked'}; {seen}")


def _test_display(config: DevicesConfig, report: _Report) -> None:
    settings = config.display
    if settings is None:
        report.step("display", "skipped", "no [display] in the devices file")
        return
    display = open_display(settings)
    try:
        result = display.show(["HaoKa display test", "0123456789 ABCDEFGHI"])
    finally:
        display.close()
    if result.ok:
        report.step("display", "ok", f"test lines written ({settings.command_set})")
    else:
        report.step("display", "failed", result.message)


def _test_scanner(config: DevicesConfig, timeout: float, report: _Report) -> None:
    # The reader retries quietly; its last failure explains a timeout.
    lost: list[DeviceStatus] = []
    scanner = open_scanner(config, lost.append)
    if scanner is None:
        report.step("scanner", "skipped", "no [scanner] in the devices file")
        return
    report.console.print(
        f"waiting up to {timeout:g} s for a scan on {scanner.name} ...", markup=False
    )
    try:
        event = scanner.read(timeout)
    finally:
        scanner.close()
    if event is None:
        why = next((s.detail for s in reversed(lost) if not s.connected), "")
        report.step(
            "scanner", "failed", f"no scan within {timeout:g} s" + (f" ({why})" if why else "")
        )
    elif event.code is not None:
        report.step("scanner", "ok", f"scanned {event.code.kind.value} {event.code.value}")
    else:
        # The scanner works; the code it read is just not one of ours.
        report.step("scanner", "ok", f"read {event.raw!r}, not a valid code: {event.error}")


@devices_app.command("test")
def devices_test(
    config: ConfigOption = None,
    scan_timeout: Annotated[
        float, typer.Option("--scan-timeout", help="seconds to wait for a scan")
    ] = 15.0,
) -> None:
    """Prints a test receipt, kicks the drawer, writes to the display and waits for a scan."""
    settings = _load(config)
    report = _Report(_console())
    with _opened_printer(settings, report) as printer:
        if printer is not None:
            _test_printer(settings, printer, report)
        _test_drawer(settings, printer, report)
    _test_display(settings, report)
    _test_scanner(settings, scan_timeout, report)
    if report.failed:
        raise typer.Exit(1)


# --- the counter ------------------------------------------------------------------------------

TerminalOption = Annotated[
    Path | None,
    typer.Option(
        "--terminal-config",
        help="terminal.toml: back-office URL, data directory (default: in the data directory)",
        envvar="HAOKA_POS_CONFIG",
    ),
]


def _terminal(path: Path | None) -> TerminalConfig:
    try:
        return load_terminal_config(path)
    except (ValueError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def run(terminal_config: TerminalOption = None, config: ConfigOption = None) -> None:
    """Starts the counter app full screen, with the devices of the devices file."""
    settings = _terminal(terminal_config)
    services = open_counter(settings)
    try:
        services.identity()
    except PosError as error:
        services.close()
        typer.echo(f"error: {error.message} (haoka-pos register first)", err=True)
        raise typer.Exit(2) from None
    hardware = CounterHardware(_load(config))
    sync = services.sync_worker() if services.sync is not None else None
    try:
        CounterApp(services, hardware, sync=sync).run()
    finally:
        services.close()


# --- the demo ---------------------------------------------------------------------------------

DEMO_CLERK, DEMO_PIN = "wang", "1234"
DEMO_NOTICE = (
    "演示 Demo — 营业员 wang 已登录. F4 开班 (type a float, Enter); F1 销售: F7 选号 "
    "(pattern *88), or type card 10575000000000001; F9 收款. 店长 boss PIN 8888. "
    "Receipts: {printed}  ·  customer display: {display}"
)


def _office_command() -> str:
    beside = Path(sys.executable).with_name("haoka-office")
    found = str(beside) if beside.exists() else shutil.which("haoka-office")
    if found is None:
        raise typer.Exit(f"haoka-office is not installed next to {sys.executable}")  # type: ignore[arg-type]
    return found


def _wait_for_office(
    process: subprocess.Popen,  # type: ignore[type-arg]
    ready: Path,
    url: str,
    log: Path,
    timeout: float,
) -> None:
    """Until the back office has seeded the demo (its registration file appears) and answers
    on its port: the file is written just before the server starts listening."""
    deadline = time.monotonic() + timeout
    while True:
        if ready.exists():
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return
        if process.poll() is not None or time.monotonic() > deadline:
            tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
            typer.echo(f"the demo back office did not start; {log}:\n{tail}", err=True)
            raise typer.Exit(1)
        time.sleep(0.2)


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="where the demo keeps everything")] = Path(
        "var/demo"
    ),
    port: Annotated[int, typer.Option(help="the demo back office's port")] = 8000,
) -> None:
    """The whole system on this machine: the back office on SQLite with demo data, a simulated
    counter (printer, display, scanner), this terminal registered, the demo clerk logged in."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ready = data_dir / "demo-terminal.json"
    ready.unlink(missing_ok=True)
    log = data_dir / "office.log"
    with log.open("w", encoding="utf-8") as out:
        office = subprocess.Popen(
            [_office_command(), "demo", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    counter = SimulatedCounter(data_dir / "counter", mirror=True)
    try:
        counter.start()
        url = f"http://127.0.0.1:{port}"
        _wait_for_office(office, ready, url, log, timeout=180)
        registration = json.loads(ready.read_text(encoding="utf-8"))
        terminal_dir = data_dir / "terminal"
        shutil.rmtree(terminal_dir, ignore_errors=True)
        settings = TerminalConfig(data_dir=terminal_dir, backoffice_url=url)
        register(
            settings,
            registration["terminal_id"],
            registration["terminal_no"],
            registration["credential"],
        )
        services = open_counter(settings)
        try:
            services.login.login(DEMO_CLERK, DEMO_PIN)
            notice = DEMO_NOTICE.format(
                printed=counter.directory / "printed", display=counter.display_file
            )
            CounterApp(
                services,
                CounterHardware(load_config(counter.config)),
                sync=services.sync_worker(),
                notice=notice,
            ).run()
        finally:
            services.close()
    finally:
        counter.stop()
        office.terminate()
        office.wait(10)
    typer.echo(f"demo stopped; back office log: {log}, receipts: {counter.directory / 'printed'}")


@app.command("register")
def register_command(
    url: Annotated[str, typer.Argument(help="the back office, e.g. https://office.example:8000")],
    terminal_no: Annotated[int, typer.Option(help="the number the back office gave it")],
    credential: Annotated[
        str,
        typer.Option(
            prompt="device credential", hide_input=True, help="shown once at registration"
        ),
    ],
    terminal_config: TerminalOption = None,
) -> None:
    """Joins this terminal to the back office with the credential an admin got when registering
    it (POST /api/v1/terminals), and pulls the outlet's stock, prices and clerks."""
    terminal_id, dot, _ = credential.strip().partition(".")
    if not dot:
        typer.echo(
            "error: that is not a device credential (expected <terminal id>.<secret>)", err=True
        )
        raise typer.Exit(2)
    settings = dataclasses.replace(_terminal(terminal_config), backoffice_url=url.rstrip("/"))
    try:
        pulled = register(settings, terminal_id, terminal_no, credential.strip())
    except (BackOfficeRefused, Offline) as error:
        typer.echo(f"error: the back office at {url} refused or is unreachable: {error}", err=True)
        raise typer.Exit(1) from None
    remember_backoffice_url(settings)
    typer.echo(
        f"terminal {terminal_no} registered; {pulled.stock_changes} items of stock, data in "
        f"{settings.data_dir}"
    )
