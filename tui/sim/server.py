"""Serving the simulator on a real socket: blocking (`dswatch sim`) or in a thread (tests)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn

from .faults import DeliberateDisconnect
from .simulator import Simulator


class _HideDeliberateDisconnects(logging.Filter):
    """close_mid_body aborts on purpose: no "Exception in ASGI application" traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, DeliberateDisconnect)


_HIDE_DELIBERATE = _HideDeliberateDisconnects()


def _config(sim: Simulator, host: str, port: int, log_level: str) -> uvicorn.Config:
    config = uvicorn.Config(
        sim.app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level in ("debug", "trace"),
        lifespan="off",
        # The huge-body and trickle faults may be mid-flight at shutdown.
        timeout_graceful_shutdown=1,
    )
    # uvicorn configures its loggers when the Config is built; filter after that.
    logging.getLogger("uvicorn.error").addFilter(_HIDE_DELIBERATE)
    return config


def serve(
    sim: Simulator, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info"
) -> None:
    """Serve until interrupted (Ctrl-C). Base URLs: http://HOST:PORT/vl and /cognee."""
    uvicorn.Server(_config(sim, host, port, log_level)).run()


class ThreadedServer:
    """An ASGI app under uvicorn in a background thread, for tests and benchmarks.

    port=0 picks a free port. The socket is bound before the thread starts and
    the port is kept, so a stopped server starts again where it was (that is
    how a test makes a server go away and come back). Subclasses say what to
    serve in `_config`.
    """

    scheme = "http"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0):
        self.host = host
        self.port = port
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def _config(self) -> uvicorn.Config:
        raise NotImplementedError

    def start(self) -> Self:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on such sockets, and
        # without it every keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        self._socket = sock
        server = self._server = uvicorn.Server(self._config())
        # uvicorn installs signal handlers only in the main thread, so a
        # background server leaves Ctrl-C to the test runner.
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class SimServer(ThreadedServer):
    """The simulator on a real socket, in a background thread.

        with SimServer(sim) as server:
            httpx.get(f"{server.url}/cognee/health")

    The default log level is "critical": faults such as close_mid_body make
    uvicorn log errors that are the point of the test, not news.
    """

    def __init__(
        self,
        sim: Simulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "critical",
        startup_timeout: float = 10.0,
    ) -> None:
        super().__init__(host, port, startup_timeout=startup_timeout)
        self.sim = sim
        self._log_level = log_level

    def _config(self) -> uvicorn.Config:
        return _config(self.sim, self.host, self.port, self._log_level)
