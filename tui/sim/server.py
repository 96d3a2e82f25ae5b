"""Serving the simulator on a real socket: blocking (`dswatch sim`) or in a thread (tests)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import httpx
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


class SimServer:
    """uvicorn in a background thread, for pytest fixtures and benchmarks.

        with SimServer(sim) as server:
            httpx.get(f"{server.url}/cognee/health")

    port=0 picks a free port. The socket is bound before the thread starts,
    so `url` is right at once; entering waits until the server answers.
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
        self.sim = sim
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimServer:
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on such sockets, and
        # without it every keep-alive response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        server = uvicorn.Server(_config(self.sim, self.host, self.port, self._log_level))
        # uvicorn installs signal handlers only in the main thread, so a
        # background server leaves Ctrl-C to the test runner.
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="dswatch-sim", daemon=True
        )
        self._thread.start()
        self._wait_until_answering()
        return self

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._thread is not None and not self._thread.is_alive():
                raise RuntimeError("the simulator's server thread died while starting")
            try:
                if httpx.get(f"{self.url}/_sim/ping", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        self.stop()
        raise TimeoutError(
            f"the simulator did not answer on {self.url} within {self._startup_timeout} s"
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
