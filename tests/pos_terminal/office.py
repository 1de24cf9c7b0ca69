"""The real back office for the terminal tests: its app under uvicorn on a free local port."""

import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from backoffice.api.main import create_app
from backoffice.core.config import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OfficeServer:
    """The back office app under uvicorn in a thread; stop() and start() simulate an outage."""

    def __init__(
        self, settings: Settings, wrap: Callable[[ASGIApp], ASGIApp] | None = None
    ) -> None:
        self.settings = settings
        self.wrap = wrap  # e.g. a fault put in front of the app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        app: ASGIApp = create_app(self.settings)
        if self.wrap is not None:
            app = self.wrap(app)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the back office did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(15)
            self._server = None
