"""Servers and transports that misbehave on purpose, for end-to-end tests.

Everything here stays on this machine: servers bind 127.0.0.0/8 only, and
the fake DNS transport refuses to forward anything that is not loopback.

- `free_port`: a port nobody listens on (yet).
- `self_signed_cert`: a certificate for 127.0.0.1 made with the openssl CLI.
- `AppServer`: any ASGI app under uvicorn in a thread, plain or TLS, that can
  be stopped and started again on the same port.
- `RecordingServer`: a raw socket server that records every request head and
  answers with fixed bytes (or closes the connection mid-body).
- `HeaderLog`: ASGI middleware that records the credential headers a server
  received (so a test learns the JWTs a client minted and the tokens it got).
- `FakeDns`: an httpx transport that resolves made-up host names to loopback
  addresses, or fails resolution like a broken resolver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from tui.sim.server import ThreadedServer

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on `host` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def can_bind(host: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
    except OSError:
        return False
    return True


# ---------------------------------------------------------------- TLS


def openssl_available() -> bool:
    return shutil.which("openssl") is not None


def self_signed_cert(directory: Path, name: str, host: str = LOOPBACK) -> tuple[Path, Path]:
    """(certificate, key) PEM files: a self-signed EC certificate valid for `host`.

    Made with the openssl CLI (the `cryptography` package is not installed).
    The certificate is its own CA, so pointing a ca_bundle at it trusts it.
    """
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    subprocess.run(
        [
            *command.split(),
            *("-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


# ---------------------------------------------------------------- uvicorn


class AppServer(ThreadedServer):
    """An ASGI app served by uvicorn in a background thread, optionally over TLS.

    Stop and start again (even with another certificate) on the same port:
    that is how a test makes a server go away and come back.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = LOOPBACK,
        port: int = 0,
        *,
        certfile: Path | None = None,
        keyfile: Path | None = None,
    ) -> None:
        super().__init__(host, port)
        self.app = app
        self.certfile = certfile
        self.keyfile = keyfile

    @property
    def scheme(self) -> str:  # type: ignore[override]
        return "https" if self.certfile else "http"

    def _config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="critical",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            ssl_certfile=str(self.certfile) if self.certfile else None,
            ssl_keyfile=str(self.keyfile) if self.keyfile else None,
        )

    def with_cert(self, certfile: Path | None, keyfile: Path | None) -> AppServer:
        """Serve the same app on the same port with another certificate."""
        self.stop()
        self.certfile, self.keyfile = certfile, keyfile
        return self.start()


# ---------------------------------------------------------------- raw sockets


@dataclass
class RecordedRequest:
    request_line: str
    headers: dict[str, str]  # lower-case names


class RecordingServer:
    """A raw TCP server: records each request head, answers `reply` bytes, closes.

    `reply` is sent as is, so it can promise a Content-Length and stop short
    (a connection closed mid-body), or be any malformed thing a test needs.
    """

    DEFAULT_REPLY = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    )

    def __init__(self, host: str = LOOPBACK, reply: bytes = DEFAULT_REPLY) -> None:
        self.host = host
        self.reply = reply
        self.requests: list[RecordedRequest] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="recording", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(2)
                head = b""
                with contextlib.suppress(OSError):
                    while b"\r\n\r\n" not in head and len(head) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                self.requests.append(_parse_head(head))
                with contextlib.suppress(OSError):
                    conn.sendall(self.reply)

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


def _parse_head(head: bytes) -> RecordedRequest:
    lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RecordedRequest(lines[0] if lines else "", headers)


# ---------------------------------------------------------------- ASGI


@dataclass
class HeaderLog:
    """ASGI middleware: remembers every Authorization / X-Api-Key value it saw.

    `intercept(scope)` may return (status, body) to answer a request itself
    (e.g. echo the credentials back, as a careless server might).
    """

    app: ASGIApp
    intercept: Callable[[Scope, dict[str, str]], tuple[int, bytes] | None] | None = None
    authorization: set[str] = field(default_factory=set)
    api_keys: set[str] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)

    @property
    def bearer_tokens(self) -> set[str]:
        return {v.partition(" ")[2] for v in self.authorization if v.lower().startswith("bearer ")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.paths.append(scope["path"] + "?" + scope.get("query_string", b"").decode("latin-1"))
        if "authorization" in headers:
            self.authorization.add(headers["authorization"])
        if "x-api-key" in headers:
            self.api_keys.add(headers["x-api-key"])
        answer = self.intercept(scope, headers) if self.intercept else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, body = answer
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------- DNS


class FakeDns(httpx.AsyncBaseTransport):
    """Resolves made-up names to loopback addresses; `broken` fails like a dead resolver.

    Wraps the real transport, so everything after resolution is real HTTP over
    a real socket. A name it does not know, or an address that is not
    loopback, is refused: no test can send traffic off this machine.
    """

    def __init__(self, hosts: dict[str, str], inner: httpx.AsyncBaseTransport | None = None):
        for address in hosts.values():
            if not ip_address(address).is_loopback:
                raise ValueError(f"{address} is not a loopback address")
        self.hosts = hosts
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.broken = False
        self.lookups = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.lookups += 1
        host = request.url.host
        address = self.hosts.get(host)
        if address is None and _is_loopback_literal(host):
            address = host
        if self.broken or address is None:
            await asyncio.sleep(0)  # a resolver answers asynchronously
            error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            raise httpx.ConnectError(f"[Errno {error.errno}] {error.strerror}") from error
        request.url = request.url.copy_with(host=address)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _is_loopback_literal(host: str) -> bool:
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(cafile: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cafile))


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Block until `predicate()` is truthy (for threads), or raise after `timeout`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.01)


# ---------------------------------------------------------------- metering


class MeteredStream(httpx.AsyncByteStream):
    """A response body stream that counts the bytes that really came off the socket."""

    def __init__(self, inner: httpx.AsyncByteStream, on_bytes: Callable[[int], None]) -> None:
        self.inner = inner
        self.on_bytes = on_bytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.on_bytes(len(chunk))
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


def dswatch_troubles(records: list[logging.LogRecord]) -> list[str]:
    """What dswatch logged about its own troubles (warnings and errors), as text.

    A backend going down and coming back ("tui.health") is the point of a fault
    test, not a trouble; anything else at warning level means a path went wrong.
    """
    return [
        r.getMessage()
        for r in records
        if r.name != "tui.health"
        and (
            r.levelno >= logging.ERROR
            or (r.levelno >= logging.WARNING and r.name.startswith("tui"))
        )
    ]
