"""A pty-backed serial barcode scanner: the application opens its port, tests inject codes."""

import argparse
import os
import sys
from pathlib import Path
from typing import Self

from devices.scanner.decode import SUFFIX_BYTES, Suffix
from devices.simulators._base import Simulator
from devices.simulators._pty import PtyPort


class SerialScannerSimulator(Simulator):
    """Behaves like a serial scanner configured with `suffix`; `scan` sends one code.

    `unplug` and `plug` make the port vanish and come back (behind `link`, if given, at the
    same path), as when a USB-COM scanner's cable is pulled and reinserted.
    """

    def __init__(self, suffix: Suffix = "CR", *, link: str | Path | None = None) -> None:
        self.suffix = suffix
        self._pty = PtyPort(link)

    @property
    def port(self) -> str:
        """The path the application opens."""
        return self._pty.path

    def start(self) -> Self:
        self._pty.plug()
        return self

    def scan(self, code: str) -> None:
        self.send(code.encode("ascii") + SUFFIX_BYTES[self.suffix])

    def send(self, raw: bytes) -> None:
        if self._pty.master is None:
            raise RuntimeError("the simulated scanner is unplugged")
        os.write(self._pty.master, raw)

    def unplug(self) -> None:
        self._pty.unplug()

    def plug(self) -> None:
        self._pty.plug()

    def stop(self) -> None:
        self._pty.unplug()


def main(argv: list[str] | None = None) -> None:
    """Runs a simulated scanner; each line typed on stdin is sent as one scan."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--suffix", choices=list(SUFFIX_BYTES), default="CR")
    parser.add_argument("--link", help="stable symlink to create for the port")
    args = parser.parse_args(argv)
    with SerialScannerSimulator(args.suffix, link=args.link) as scanner:
        print(f"scanner port: {scanner.port}  (type a code and Enter to scan)", flush=True)
        for line in sys.stdin:
            if code := line.strip():
                scanner.scan(code)


if __name__ == "__main__":
    main()
