"""A whole simulated counter: a network receipt printer, a pole display and a serial scanner,
with the devices.toml that points the terminal at them. `make demo` runs one.

Run alone: `python -m devices.simulators.counter --dir var/demo/counter`. It then keeps
`display.txt` showing the pole display, saves receipts under `printed/`, and scans every line
written to the named pipe `scan` (`echo 13905758888 > var/demo/counter/scan`).
"""

import argparse
import contextlib
import os
import select
import signal
import threading
from pathlib import Path
from typing import Self

from devices.display.encoding import CommandSet
from devices.scanner.decode import Suffix
from devices.simulators._base import Simulator
from devices.simulators.display import DisplaySimulator
from devices.simulators.printer import PrinterSimulator
from devices.simulators.serial_scanner import SerialScannerSimulator


class SimulatedCounter(Simulator):
    """Starts the three simulators behind stable paths in `directory` and writes their config."""

    def __init__(
        self,
        directory: Path,
        *,
        printer_port: int = 0,
        control_port: int | None = 0,
        display_commands: CommandSet = "epson",
        scanner_suffix: Suffix = "CR",
        drawer_pin: int = 2,
        status_timeout: float = 1.0,
        mirror: bool = False,
    ) -> None:
        """With `mirror`, the counter also keeps display.txt and reads the scan pipe."""
        self.directory = directory
        self.mirror = mirror
        self.config = directory / "devices.toml"
        self.display_file = directory / "display.txt"
        self.scan_pipe = directory / "scan"
        self.printer = PrinterSimulator(
            port=printer_port, out_dir=directory / "printed", control_port=control_port
        )
        self.display = DisplaySimulator(display_commands, link=directory / "ttyDisplay")
        self.scanner = SerialScannerSimulator(scanner_suffix, link=directory / "ttyScanner")
        self._drawer_pin = drawer_pin
        self._status_timeout = status_timeout
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wake_r = self._wake_w = -1

    def start(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.printer.start()
        self.display.start()
        self.scanner.start()
        self.config.write_text(self.config_text(), encoding="utf-8")
        if self.mirror:
            if not self.scan_pipe.exists():
                os.mkfifo(self.scan_pipe)
            self._wake_r, self._wake_w = os.pipe()
            for target in (self._mirror_display, self._read_scan_pipe):
                thread = threading.Thread(target=target, name=target.__name__, daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def config_text(self) -> str:
        return f"""# Written by the simulated counter; points the terminal at its simulators.
[scanner]
type = "serial"
port = "{self.scanner.port}"
suffix = "{self.scanner.suffix}"

[printer]
transport = "network"
target = "{self.printer.target}"
status_timeout = {self._status_timeout}

[drawer]
via = "printer"
pin = {self._drawer_pin}

[display]
port = "{self.display.port}"
command_set = "{self.display.screen.command_set}"
"""

    def _mirror_display(self) -> None:
        shown: list[str] = []
        while not self._stop.is_set():
            self.display_file.write_text("\n".join(shown) + "\n", encoding="utf-8")
            self.display.wait_for(lambda lines, seen=shown: lines != seen, timeout=0.5)
            shown = self.display.lines

    def _read_scan_pipe(self) -> None:
        # Read-write, opening never waits for a writer and the FIFO never reads as ended
        # between two writers; `stop` wakes the select through its own pipe. (A blocking
        # read-only open could not be woken if `stop` came before it.)
        fifo = os.open(self.scan_pipe, os.O_RDWR | os.O_NONBLOCK)
        pending = b""
        try:
            while True:
                readable, _, _ = select.select([fifo, self._wake_r], [], [])
                if self._wake_r in readable:
                    return
                pending += os.read(fifo, 4096)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if code := line.decode("ascii", "replace").strip():
                        self.scanner.scan(code)
        finally:
            os.close(fifo)

    def stop(self) -> None:
        self._stop.set()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()
        if self._wake_w >= 0:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1
        self.scanner.stop()
        self.display.stop()
        self.printer.stop()


def main(argv: list[str] | None = None) -> None:
    """Runs a simulated counter until interrupted."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--dir", type=Path, default=Path("var/counter"))
    parser.add_argument("--printer-port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with SimulatedCounter(args.dir, printer_port=args.printer_port, mirror=True) as counter:
        print(
            f"simulated counter in {args.dir}: printer {counter.printer.target} (control port "
            f"{counter.printer.control_port}), display {counter.display.port}, scanner "
            f"{counter.scanner.port}\n  config: {counter.config}\n  scan:   echo CODE > "
            f"{counter.scan_pipe}\n  screen: {counter.display_file}\n  receipts: "
            f"{args.dir / 'printed'}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            done.wait()


if __name__ == "__main__":
    main()
