"""A pseudo-terminal standing in for a serial device, optionally behind a stable symlink."""

import contextlib
import os
import tty
from pathlib import Path


class PtyPort:
    """The device side (master) of a pty; applications open `path` like a serial port.

    With a `link`, the path applications see is a symlink that `unplug` removes and `plug`
    points at a fresh pty, the way /dev/serial/by-id links follow a USB-COM device.
    """

    def __init__(self, link: str | Path | None = None) -> None:
        self.link = Path(link) if link is not None else None
        self.master: int | None = None
        self._slave: int | None = None
        self.slave_path = ""

    @property
    def path(self) -> str:
        return str(self.link) if self.link is not None else self.slave_path

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        if self.master is not None:
            return
        master, slave = os.openpty()
        # Raw before anyone opens it: cooked mode would turn CR into LF and echo bytes back.
        tty.setraw(slave)
        # Holding the slave open keeps the pty alive between the application's opens.
        self.master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
            self.link.symlink_to(self.slave_path)

    def unplug(self) -> None:
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None
