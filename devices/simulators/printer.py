"""A simulated ESC/POS receipt printer on TCP (port 9100) or a pty, for demos and tests.

It records the bytes, answers DLE EOT status, obeys paper-out / cover-open / offline, and saves
each receipt as .txt and .png, with the raw ESC/POS bytes of its job as .bin.

Run it with `python -m devices.simulators.printer --port 9100 --out receipts/`."""

import argparse
import contextlib
import dataclasses
import logging
import os
import select
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self

from devices.escpos.decode import (
    DrawerKick,
    EscposInterpreter,
    PrintedReceipt,
    StatusQuery,
)
from devices.escpos.status import PrinterCondition
from devices.printer.profiles import get_profile
from devices.simulators._base import Simulator
from devices.simulators._pty import PtyPort

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.1
_CUT = b"\x1dV"  # GS V m [n]: a job ends with its cut
_CUT_WITH_FEED = frozenset({65, 66, 97, 98, 103, 104})  # the m that take an n byte

CONTROL_COMMANDS = (
    "paper-out",
    "paper-near-end",
    "paper-ok",
    "cover-open",
    "cover-closed",
    "offline",
    "online",
    "drawer-closed",
)


class SimulatedPrinter:
    """The printer without its cable: bytes in, status answers out, receipts on paper.

    Offline here means what a hung or powered-down printer does on a live connection: it
    takes nothing and answers nothing."""

    def __init__(self, profile: str = "80mm", out_dir: str | Path | None = None) -> None:
        self.profile = get_profile(profile)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.condition = PrinterCondition()
        self.silent = False
        self.received = bytearray()
        self.receipts: list[PrintedReceipt] = []
        self.drawer_kicks: list[DrawerKick] = []
        self.status_queries: list[int] = []
        self.errors: list[str] = []
        self.saved: list[Path] = []
        self.jobs: list[bytes] = []  # the bytes of each cut receipt, from the previous cut on
        self._job = bytearray()
        self._interpreter = EscposInterpreter(strict=False)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    # --- the wire ------------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        """Takes bytes from the host; returns the bytes the printer sends back."""
        with self._lock:
            if self.silent:
                return b""
            self.received += data
            answer = bytearray()
            for piece in self._pieces(data):
                self._job += piece
                answer += self._interpret(piece)
            return bytes(answer)

    def _pieces(self, data: bytes) -> list[bytes]:
        """`data` split right after every cut it may hold (one begun in an earlier chunk too),
        so that each receipt's bytes end where its cut ends."""
        before = bytes(self._job[-(len(_CUT) + 1) :])  # a cut's first bytes may be there
        stream = before + data
        ends, start = [], 0
        while (at := stream.find(_CUT, start)) >= 0:
            end = at + len(_CUT) + 1
            if end <= len(stream) and stream[end - 1] in _CUT_WITH_FEED:
                end += 1
            ends.append(min(end, len(stream)) - len(before))
            start = at + 1
        pieces, start = [], 0
        for end in ends:
            if end > start:
                pieces.append(data[start:end])
                start = end
        if start < len(data):
            pieces.append(data[start:])
        return pieces

    def _interpret(self, piece: bytes) -> bytes:
        events = self._interpreter.feed(piece)
        for error in self._interpreter.errors[len(self.errors) :]:
            log.warning("simulated printer: %s", error)
            self.errors.append(error)
        answer = bytearray()
        for event in events:
            if isinstance(event, StatusQuery):
                self.status_queries.append(event.request)
                answer.append(self.condition.answer(event.request))
            elif isinstance(event, DrawerKick):
                self.drawer_kicks.append(event)
                self._set(drawer_pin3_high=True)  # the drawer springs open
                self._changed.notify_all()
            else:
                self._finish(event)
        return bytes(answer)

    def _finish(self, receipt: PrintedReceipt) -> None:
        # A piece ends at most at a cut, so the job's bytes are all this piece left behind.
        raw, self._job = bytes(self._job), bytearray()
        self.receipts.append(receipt)
        self.jobs.append(raw)
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            stem = self.out_dir / f"receipt-{len(self.receipts):04d}"
            text_path, image_path = stem.with_suffix(".txt"), stem.with_suffix(".png")
            raw_path = stem.with_suffix(".bin")
            text_path.write_text(receipt.to_text(self.profile.columns), encoding="utf-8")
            receipt.to_image(self.profile.dots).save(image_path)
            raw_path.write_bytes(raw)
            self.saved += [text_path, image_path, raw_path]
        self._changed.notify_all()

    def wait_for_receipts(self, count: int, timeout: float = 5.0) -> list[PrintedReceipt]:
        """Blocks until `count` receipts have been cut (or timeout), then returns them all."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.receipts) >= count, timeout)
            return list(self.receipts)

    def wait_for_kicks(self, count: int, timeout: float = 5.0) -> list[DrawerKick]:
        """Blocks until `count` drawer kicks have arrived (or timeout), then returns them all."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.drawer_kicks) >= count, timeout)
            return list(self.drawer_kicks)

    # --- what an operator does to it ----------------------------------------------------

    def _set(self, **changes: bool) -> None:
        self.condition = dataclasses.replace(self.condition, **changes)

    def control(self, command: str) -> None:
        """Changes the printer's condition: one of CONTROL_COMMANDS."""
        changes = {
            "paper-out": {"paper_out": True, "paper_near_end": True},
            "paper-near-end": {"paper_out": False, "paper_near_end": True},
            "paper-ok": {"paper_out": False, "paper_near_end": False},
            "cover-open": {"cover_open": True},
            "cover-closed": {"cover_open": False},
            "drawer-closed": {"drawer_pin3_high": False},
        }
        with self._lock:
            if command in ("offline", "online"):
                self.silent = command == "offline"
            elif command in changes:
                self._set(**changes[command])
            else:
                known = ", ".join(CONTROL_COMMANDS)
                raise ValueError(f"unknown printer control {command!r}; known: {known}")


class _Server:
    """Accepts connections on a listening socket and hands each to `serve` in a thread."""

    def __init__(self, listener: socket.socket, serve: Callable[[bytes], bytes]) -> None:
        self._listener = listener
        self._serve = serve
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        self._listener.settimeout(_POLL_SECONDS)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._connection, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _connection(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(_POLL_SECONDS)
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                answer = self._serve(data)
                if answer:
                    try:
                        conn.sendall(answer)
                    except OSError:
                        return

    def stop(self) -> None:
        self._stop.set()
        self._accepting.join()
        self._listener.close()
        for thread in self._threads:
            thread.join()


class PrinterSimulator(Simulator):
    """A SimulatedPrinter listening on TCP like a network receipt printer.

    port=0 picks a free port (see `port`). With `control_port`, a second port takes one
    command per line (CONTROL_COMMANDS) and answers "ok" or "error: ...", so a demo can
    pull the paper out of a running simulator."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9100,
        *,
        profile: str = "80mm",
        out_dir: str | Path | None = None,
        control_port: int | None = None,
    ) -> None:
        self.printer = SimulatedPrinter(profile, out_dir)
        self._host, self._port, self._control_port = host, port, control_port
        self._servers: list[_Server] = []
        self.port = 0
        self.control_port: int | None = None

    @property
    def target(self) -> str:
        """host:port, as PrinterConfig("network", target) wants it."""
        return f"{self._host}:{self.port}"

    def start(self) -> Self:
        listener = socket.create_server((self._host, self._port))
        self.port = listener.getsockname()[1]
        self._servers.append(_Server(listener, self.printer.receive))
        if self._control_port is not None:
            control = socket.create_server((self._host, self._control_port))
            self.control_port = control.getsockname()[1]
            self._servers.append(_Server(control, self._control))
        return self

    def _control(self, data: bytes) -> bytes:
        replies = []
        for line in data.decode("ascii", "replace").splitlines():
            try:
                self.printer.control(line.strip())
            except ValueError as error:
                replies.append(f"error: {error}\n")
            else:
                replies.append("ok\n")
        return "".join(replies).encode("ascii")

    def control(self, command: str) -> None:
        self.printer.control(command)

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()


class SerialPrinterSimulator(Simulator):
    """A SimulatedPrinter behind a pty: open `path` as the serial port of a receipt printer."""

    def __init__(self, *, profile: str = "80mm", out_dir: str | Path | None = None) -> None:
        self.printer = SimulatedPrinter(profile, out_dir)
        self._pty = PtyPort()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        return self._pty.path

    def start(self) -> Self:
        self._pty.plug()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        master = self._pty.master
        assert master is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], _POLL_SECONDS)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            answer = self.printer.receive(data)
            if answer:
                os.write(master, answer)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._pty.unplug()


def main(argv: list[str] | None = None) -> None:
    """Runs a simulated network printer until interrupted."""
    parser = argparse.ArgumentParser(description="A simulated ESC/POS receipt printer on TCP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port")
    parser.add_argument("--profile", default="80mm", choices=["58mm", "80mm"])
    parser.add_argument("--out", type=Path, default=Path("printed"), help="receipts go here")
    parser.add_argument("--control-port", type=int, help="accepts CONTROL_COMMANDS, one a line")
    for command in ("paper-out", "paper-near-end", "cover-open", "offline"):
        parser.add_argument(f"--{command}", action="store_true", help="start in this condition")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)
    simulator = PrinterSimulator(
        args.host,
        args.port,
        profile=args.profile,
        out_dir=args.out,
        control_port=args.control_port,
    )
    with simulator:
        for command in ("paper-out", "paper-near-end", "cover-open", "offline"):
            if getattr(args, command.replace("-", "_")):
                simulator.control(command)
        control = f", control on port {simulator.control_port}" if simulator.control_port else ""
        log.info("simulated printer on %s, receipts in %s%s", simulator.target, args.out, control)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
