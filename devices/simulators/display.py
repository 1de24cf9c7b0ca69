"""A pty-backed 2×20 customer pole display that interprets the Epson and CD5220 command sets
and renders its screen as text."""

import argparse
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from devices.display.encoding import COLUMNS, ROWS, CommandSet
from devices.simulators._base import Simulator
from devices.simulators._pty import PtyPort

ESC, US = 0x1B, 0x1F
_NEED_MORE = -1


@dataclass
class DisplayScreen:
    """The display's state machine: feed it bytes, read `lines`.

    With a `command_set`, commands of the other set are not obeyed but recorded in `unknown`,
    like a real display printing garbage for them, so a test notices an encoder mixing sets.
    """

    command_set: CommandSet | None = None
    columns: int = COLUMNS
    rows: int = ROWS
    brightness: int = 4
    cursor: tuple[int, int] = (0, 0)
    unknown: list[bytes] = field(default_factory=list)
    _cells: list[list[str]] = field(default_factory=list)
    _buffer: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        self._clear()

    @property
    def lines(self) -> list[str]:
        return ["".join(row) for row in self._cells]

    def render(self) -> str:
        """The screen in a frame, as the customer would see it."""
        edge = "+" + "-" * self.columns + "+"
        return "\n".join([edge, *(f"|{line}|" for line in self.lines), edge])

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer:
            used = self._step(self._buffer)
            if used == _NEED_MORE:
                return
            del self._buffer[:used]

    def _allowed(self, command_set: CommandSet) -> bool:
        return self.command_set is None or self.command_set == command_set

    def _step(self, buf: bytearray) -> int:
        b = buf[0]
        if 0x20 <= b <= 0x7E:
            self._put(chr(b))
            return 1
        if b == 0x0C:
            self._clear()
        elif b == 0x0B and self._allowed("epson"):
            self.cursor = (0, 0)
        elif b == 0x18:
            self._cells[self.cursor[1]] = [" "] * self.columns
            self.cursor = (0, self.cursor[1])
        elif b == 0x0D:
            self.cursor = (0, self.cursor[1])
        elif b == 0x0A:
            self.cursor = (self.cursor[0], (self.cursor[1] + 1) % self.rows)
        elif b == 0x08:
            self.cursor = (max(self.cursor[0] - 1, 0), self.cursor[1])
        elif b == 0x09:
            self._advance()
        elif b == ESC:
            return self._escape(buf)
        elif b == US and self._allowed("epson"):
            return self._unit_separator(buf)
        else:
            self.unknown.append(bytes(buf[:1]))
        return 1

    def _escape(self, buf: bytearray) -> int:
        if len(buf) < 2:
            return _NEED_MORE
        op = buf[1]
        if op == ord("@"):
            self._clear()
            self.brightness = 4
            return 2
        if op in (ord("R"), ord("t"), ord("=")) and self._allowed("epson"):
            return 3 if len(buf) >= 3 else _NEED_MORE
        if self._allowed("cd5220"):
            if op in (0x11, 0x12, 0x13):
                return 2
            if op in (ord("f"), ord("c")):
                return 3 if len(buf) >= 3 else _NEED_MORE
            if op == ord("*"):
                if len(buf) < 3:
                    return _NEED_MORE
                self._set_brightness(buf[:3], buf[2])
                return 3
            if op == ord("l"):
                if len(buf) < 4:
                    return _NEED_MORE
                self._move(buf[:4], buf[2], buf[3])
                return 4
            if op == ord("["):
                return self._cd5220_cursor(buf)
            if op == ord("Q"):
                return self._cd5220_string(buf)
        self.unknown.append(bytes(buf[:2]))
        return 2

    def _cd5220_cursor(self, buf: bytearray) -> int:
        if len(buf) < 3:
            return _NEED_MORE
        col, row = self.cursor
        moves = {
            ord("H"): (0, 0),
            ord("L"): (0, row),
            ord("R"): (self.columns - 1, row),
            ord("C"): (min(col + 1, self.columns - 1), row),
            ord("D"): (max(col - 1, 0), row),
            ord("A"): (col, max(row - 1, 0)),
            ord("B"): (col, min(row + 1, self.rows - 1)),
        }
        if buf[2] in moves:
            self.cursor = moves[buf[2]]
        else:
            self.unknown.append(bytes(buf[:3]))
        return 3

    def _cd5220_string(self, buf: bytearray) -> int:
        if len(buf) < 3:
            return _NEED_MORE
        end = buf.find(b"\r", 3)
        if end < 0:
            return _NEED_MORE
        text = buf[3:end].decode("ascii", errors="replace")
        target = {ord("A"): 0, ord("D"): 0, ord("B"): 1}.get(buf[2])
        if target is None or target >= self.rows:
            self.unknown.append(bytes(buf[: end + 1]))
        else:
            self._cells[target] = list(text[: self.columns].ljust(self.columns))
        return end + 1

    def _unit_separator(self, buf: bytearray) -> int:
        if len(buf) < 2:
            return _NEED_MORE
        op = buf[1]
        if op in (0x01, 0x02, 0x03):
            return 2
        if op == ord("$"):
            if len(buf) < 4:
                return _NEED_MORE
            self._move(buf[:4], buf[2], buf[3])
            return 4
        if op == ord("X"):
            if len(buf) < 3:
                return _NEED_MORE
            self._set_brightness(buf[:3], buf[2])
            return 3
        if op in (ord("C"), ord("E")):
            return 3 if len(buf) >= 3 else _NEED_MORE
        self.unknown.append(bytes(buf[:2]))
        return 2

    def _move(self, command: bytearray, column: int, row: int) -> None:
        if 1 <= column <= self.columns and 1 <= row <= self.rows:
            self.cursor = (column - 1, row - 1)
        else:
            self.unknown.append(bytes(command))

    def _set_brightness(self, command: bytearray, level: int) -> None:
        if 1 <= level <= 4:
            self.brightness = level
        else:
            self.unknown.append(bytes(command))

    def _put(self, ch: str) -> None:
        col, row = self.cursor
        self._cells[row][col] = ch
        self._advance()

    def _advance(self) -> None:
        # Overwrite mode: past the last column the cursor wraps to the next row, then the top.
        col, row = self.cursor
        col += 1
        if col == self.columns:
            col, row = 0, (row + 1) % self.rows
        self.cursor = (col, row)

    def _clear(self) -> None:
        self._cells = [[" "] * self.columns for _ in range(self.rows)]
        self.cursor = (0, 0)


class DisplaySimulator(Simulator):
    """A pole display behind a pty: the application opens `port`; a background thread (started
    by `start`) feeds what it writes into a DisplayScreen."""

    def __init__(
        self, command_set: CommandSet | None = None, *, link: str | Path | None = None
    ) -> None:
        self.screen = DisplayScreen(command_set)
        self.received = bytearray()
        self._pty = PtyPort(link)
        self._changed = threading.Condition()
        self._stop_r, self._stop_w = -1, -1
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> str:
        return self._pty.path

    @property
    def lines(self) -> list[str]:
        with self._changed:
            return self.screen.lines

    def render(self) -> str:
        with self._changed:
            return self.screen.render()

    def start(self) -> Self:
        self._pty.plug()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._pump, name="display-simulator", daemon=True)
        self._thread.start()
        return self

    def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float = 2.0) -> bool:
        """Waits until the screen's lines satisfy predicate; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.screen.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def stop(self) -> None:
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=2)
            self._thread = None
            os.close(self._stop_r)
            os.close(self._stop_w)
        self._pty.unplug()

    def _pump(self) -> None:
        master = self._pty.master
        assert master is not None
        while True:
            readable, _, _ = select.select([master, self._stop_r], [], [])
            if self._stop_r in readable:
                return
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            with self._changed:
                self.received += data
                self.screen.feed(data)
                self._changed.notify_all()


def main(argv: list[str] | None = None) -> None:
    """Runs a simulated pole display and redraws its screen whenever it changes."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--command-set", choices=["epson", "cd5220"], default=None)
    parser.add_argument("--link", help="stable symlink to create for the port")
    args = parser.parse_args(argv)
    with DisplaySimulator(args.command_set, link=args.link) as display:
        print(f"display port: {display.port}", flush=True)
        shown: list[str] = []
        try:
            while True:
                display.wait_for(lambda lines, seen=shown: lines != seen, timeout=3600)
                shown = display.lines
                print(display.render(), flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
