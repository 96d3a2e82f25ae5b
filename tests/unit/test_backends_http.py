"""The shared HTTP layer: client settings, get_json's failures, limits and security."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Generator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import certifi
import httpx
import pytest

from tui import __version__
from tui.backends import make_backend
from tui.backends.auth import CredentialsError
from tui.backends.http import (
    MAX_BODY_BYTES,
    BackendConfigError,
    InsecureTransportError,
    JsonAnswer,
    RequestFailure,
    check_transport_security,
    counting_requests,
    get_json,
    make_client,
    parse_retry_after,
)
from tui.config import BackendConfig, Settings
from tui.secrets import Redactor, Secret, is_secret_key

URL = "https://api.example.com/api/v1/thing"
Handler = Callable[[httpx.Request], httpx.Response]


def cognee_cfg(url: str = "https://api.example.com", **extra: object) -> BackendConfig:
    return BackendConfig(name="c", type="cognee", url=url, **extra)


def client_for(
    handler: Handler, *, timeout: float = 10.0, auth: httpx.Auth | None = None
) -> httpx.AsyncClient:
    settings = Settings(timeout=timeout)
    return make_client(cognee_cfg(), settings, auth=auth, transport=httpx.MockTransport(handler))


async def get(
    handler: Handler, *, timeout: float = 10.0, **kwargs: Any
) -> JsonAnswer | RequestFailure:
    async with client_for(handler, timeout=timeout) as client:
        return await get_json(client, URL, timeout=timeout, **kwargs)


def failed(result: JsonAnswer | RequestFailure) -> RequestFailure:
    assert isinstance(result, RequestFailure), result
    return result


# ---------------------------------------------------------------- the client


async def test_client_identifies_itself_and_does_not_follow_redirects() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://evil.example.net/steal"})

    client = client_for(handler, timeout=7)
    assert client.follow_redirects is False
    assert client.timeout == httpx.Timeout(7)
    result = failed(await get_json(client, URL, timeout=7))
    await client.aclose()
    assert [r.url.host for r in seen] == ["api.example.com"]  # never went to evil.example.net
    assert seen[0].headers["User-Agent"] == f"dswatch/{__version__}"
    assert result.failure.kind == "redirect"
    assert result.failure.http_status == 302
    assert result.message == "redirect to evil.example.net not followed (HTTP 302)"


def test_client_pool_is_sized_to_the_concurrency() -> None:
    client = make_client(cognee_cfg(), Settings(max_concurrency=5), auth=None)
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert pool._max_connections == 5
    assert pool._max_keepalive_connections == 5


def test_ca_bundle_is_loaded_or_refused_clearly(tmp_path: Path) -> None:
    make_client(cognee_cfg(ca_bundle=certifi.where()), Settings(), auth=None)
    missing = tmp_path / "nope.pem"
    with pytest.raises(BackendConfigError, match="cannot load ca_bundle"):
        make_client(cognee_cfg(ca_bundle=str(missing)), Settings(), auth=None)


# ---------------------------------------------------------------- answers


async def test_json_object_answer() -> None:
    result = await get(lambda r: httpx.Response(200, json={"a": [1, 2]}))
    assert result == JsonAnswer(status=200, data={"a": [1, 2]})


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (503, b"", "HTTP 503 Service Unavailable"),
        (500, b"<html>oops</html>", "HTTP 500 Internal Server Error"),
        (404, b'{"detail": "Dataset not found"}', "HTTP 404 Not Found: Dataset not found"),
        (
            409,
            b'{"error": "Unable to retrieve dataset statuses."}',
            "HTTP 409 Conflict: Unable to retrieve dataset statuses.",
        ),
        (
            422,
            b'{"detail": [{"loc": ["query"], "msg": "bad uuid", "type": "x"}]}',
            "HTTP 422 Unprocessable Entity: bad uuid",
        ),
    ],
)
async def test_http_errors_keep_status_and_body(status: int, body: bytes, message: str) -> None:
    result = failed(await get(lambda r: httpx.Response(status, content=body)))
    assert result.failure.kind == "http"
    assert result.http_status == status
    assert result.message == message
    assert result.failure.body == body.decode()
    assert result.unauthorized is False


async def test_error_body_is_truncated_and_decoded() -> None:
    body = "é" * 10_000 + "\xff"
    result = failed(await get(lambda r: httpx.Response(500, content=body.encode())))
    kept = result.failure.body
    assert kept is not None
    assert len(kept) <= 4096 and 4000 <= len(kept.encode()) <= 5 * 1024 + 3  # ~4 KB
    assert kept.startswith("é" * 2000)


async def test_a_secret_across_the_cut_is_masked_not_halved() -> None:
    secret = "tok-" + "s" * 40
    redactor = Redactor()
    redactor.add(secret)
    body = "x" * 4080 + secret + "y" * 100
    result = failed(await get(lambda r: httpx.Response(500, text=body), redactor=redactor))
    kept = result.failure.body or ""
    assert kept.startswith("x" * 4080) and "tok-sss" not in kept and "***" in kept


async def test_401_is_unauthorized() -> None:
    result = failed(await get(lambda r: httpx.Response(401, json={"detail": "expired"})))
    assert result.unauthorized is True
    assert result.message == "HTTP 401 Unauthorized: expired"


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0), ("soon", None), ("nan", None)],
)
def test_retry_after_seconds(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_http_date() -> None:
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now=now) == 90.0
    earlier = format_datetime(now - timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0


async def test_429_carries_retry_after_in_seconds_and_as_date() -> None:
    result = failed(await get(lambda r: httpx.Response(429, headers={"Retry-After": "30"})))
    assert (result.http_status, result.retry_after) == (429, 30.0)
    date = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    result = failed(await get(lambda r: httpx.Response(503, headers={"Retry-After": date})))
    assert result.retry_after is not None and 55 <= result.retry_after <= 60


# ---------------------------------------------------------------- malformed bodies


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>Bad Gateway</html>", "response is not JSON (Expecting value at char 0)"),
        (b'{"id": "x", "status_new": "REA', "response is truncated JSON"),
        (b'{"id": "x", "progress": 5', "response is truncated JSON"),
        (b'{"name": "caf\xe9"}', "response is not UTF-8 (bad byte at 13)"),
        (b"", "response is empty, not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "response JSON is nested too deeply"),
    ],
)
async def test_malformed_bodies_are_body_failures(body: bytes, message: str) -> None:
    result = failed(await get(lambda r: httpx.Response(200, content=body)))
    assert result.failure.kind == "body"
    assert result.message == message
    assert result.failure.body is not None and len(result.failure.body) <= 4096


class CountingBody:
    """A streaming body that records how much of it the client pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            self.pulled += self.chunk
            yield b" " * self.chunk


async def test_oversize_body_with_content_length_is_refused_unread() -> None:
    body = CountingBody(100 * 1024 * 1024)
    headers = {"Content-Length": str(body.total)}
    result = failed(await get(lambda r: httpx.Response(200, headers=headers, content=body)))
    assert result.failure.kind == "too_large"
    assert result.message == "response larger than 8 MiB, not read"
    assert body.pulled == 0


async def test_oversize_streamed_body_stops_at_the_cap() -> None:
    body = CountingBody(100 * 1024 * 1024)
    result = failed(await get(lambda r: httpx.Response(200, content=body)))
    assert result.failure.kind == "too_large"
    assert MAX_BODY_BYTES < body.pulled <= MAX_BODY_BYTES + body.chunk


async def test_body_at_the_cap_is_read() -> None:
    payload = b'"' + b"x" * 1000 + b'"'
    result = await get(lambda r: httpx.Response(200, content=payload), max_bytes=len(payload))
    assert isinstance(result, JsonAnswer) and result.data == "x" * 1000


# ---------------------------------------------------------------- network trouble


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def caused(exc: Exception, cause: BaseException) -> Exception:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("exc", "kind", "message"),
    [
        (httpx.ReadTimeout("read timed out"), "timeout", "timed out after 10s"),
        (httpx.ConnectTimeout("connect timed out"), "timeout", "timed out after 10s"),
        (httpx.PoolTimeout("pool"), "timeout", "timed out after 10s"),
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            "connect",
            "connection refused",
        ),
        (
            caused(httpx.ConnectError("boom"), ConnectionRefusedError(111, "x")),
            "connect",
            "connection refused",
        ),
        (
            caused(httpx.ConnectError("oops"), socket.gaierror(-2, "Name or service not known")),
            "dns",
            "cannot resolve host api.example.com",
        ),
        (
            httpx.ConnectError("[Errno -3] Temporary failure in name resolution"),
            "dns",
            "cannot resolve host api.example.com",
        ),
        (
            caused(
                httpx.ConnectError("handshake"),
                ssl.SSLCertVerificationError(1, "certificate verify failed"),
            ),
            "tls",
            "TLS certificate of api.example.com rejected: not trusted",
        ),
        (
            httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)"),
            "tls",
            "TLS error with api.example.com: "
            "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)",
        ),
        (
            httpx.RemoteProtocolError("peer closed connection without sending complete body"),
            "protocol",
            "connection closed mid-response (peer closed connection without sending complete body)",
        ),
        (
            httpx.ReadError("[Errno 104] Connection reset by peer"),
            "protocol",
            "connection closed mid-response ([Errno 104] Connection reset by peer)",
        ),
        (
            httpx.ConnectError("[Errno 101] Network is unreachable"),
            "connect",
            "cannot connect to api.example.com: [Errno 101] Network is unreachable",
        ),
    ],
)
async def test_exceptions_are_classified(exc: Exception, kind: str, message: str) -> None:
    result = failed(await get(raising(exc)))
    assert (result.failure.kind, result.message) == (kind, message)
    assert result.http_status is None


async def test_a_trickling_body_is_bounded_by_the_timeout() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"a": "'
        while True:  # one byte every 20 ms: no per-read timeout would ever fire
            await asyncio.sleep(0.02)
            yield b"x"

    started = time.monotonic()
    result = failed(await get(lambda r: httpx.Response(200, content=trickle()), timeout=0.3))
    elapsed = time.monotonic() - started
    assert (result.failure.kind, result.message) == ("timeout", "timed out after 0.3s")
    assert 0.25 <= elapsed < 1.0


async def test_a_slow_answer_is_bounded_by_the_timeout() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    started = time.monotonic()
    result = failed(await get(handler, timeout=0.2))
    assert result.failure.kind == "timeout"
    assert time.monotonic() - started < 1.0


# ---------------------------------------------------------------- counting


async def test_counting_requests_counts_only_this_context() -> None:
    client = client_for(lambda r: httpx.Response(200, json={}))
    with counting_requests() as outer:
        await get_json(client, URL, timeout=5)
        with counting_requests() as inner:
            await asyncio.gather(*(get_json(client, URL, timeout=5) for _ in range(3)))
    await get_json(client, URL, timeout=5)  # counted nowhere
    await client.aclose()
    assert (outer.count, inner.count) == (1, 3)


# ---------------------------------------------------------------- credentials and security


class RefusingAuth(httpx.Auth):
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise CredentialsError("environment variable COGNEE_KEY is not set")
        yield request


async def test_credential_errors_are_unauthorized_failures_and_send_nothing() -> None:
    sent: list[httpx.Request] = []
    client = client_for(lambda r: sent.append(r) or httpx.Response(200), auth=RefusingAuth())
    result = failed(await get_json(client, URL, timeout=5))
    await client.aclose()
    assert sent == []
    assert result.unauthorized is True
    assert (result.failure.kind, result.message) == (
        "auth",
        "environment variable COGNEE_KEY is not set",
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://cognee.example.com",
        "http://127.0.0.1:8000",
        "http://127.10.20.30",
        "http://[::1]:8000",
        "http://localhost:8000",
        "http://api.localhost",
    ],
)
def test_credentials_may_go_over_https_or_to_loopback(url: str) -> None:
    check_transport_security(cognee_cfg(url), has_credentials=True)


@pytest.mark.parametrize(
    "url", ["http://cognee.example.com", "http://10.0.0.5:8000", "http://[fe80::1]:80"]
)
def test_credentials_over_plain_http_elsewhere_are_refused(url: str) -> None:
    with pytest.raises(InsecureTransportError, match="refusing to send credentials over plain"):
        check_transport_security(cognee_cfg(url), has_credentials=True)
    check_transport_security(cognee_cfg(url), has_credentials=False)  # on-prem, no auth
    check_transport_security(cognee_cfg(url, allow_insecure=True), has_credentials=True)


def test_make_backend_refuses_credentials_over_plain_http() -> None:
    cfg = cognee_cfg("http://cognee.example.com", api_key_env="COGNEE_KEY")
    with pytest.raises(InsecureTransportError):
        make_backend(cfg, Settings(), environ={"COGNEE_KEY": "k" * 20})
    make_backend(cfg.model_copy(update={"api_key_env": None}), Settings(), environ={})


# ---------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    "key",
    [
        "access_token",
        "token",
        "refresh_token",
        "accessToken",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "key",
        "secret",
        "client_secret",
        "password",
        "Authorization",
        "cookie",
    ],
)
def test_credential_looking_keys_are_secret(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["id", "display_name", "status", "n_images", "ownerId", "task_type", "kid"]
)
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_redactor_masks_keys_and_known_values() -> None:
    redactor = Redactor()
    redactor.add("s3cr3t-value-123")
    body = {
        "access_token": "whatever",
        "nested": [{"password": 1}, "token is s3cr3t-value-123!"],
        "n": 3,
    }
    assert redactor.json(body) == {
        "access_token": "***",
        "nested": [{"password": "***"}, "token is ***!"],
        "n": 3,
    }
    assert redactor.text("Bearer s3cr3t-value-123") == "Bearer ***"


def test_strings_found_clean_are_checked_again_once_a_secret_is_added() -> None:
    """The walk remembers strings that held no secret (statuses repeat thousands of
    times); a secret learnt later (a renewed token) is still masked in them."""
    redactor = Redactor()
    redactor.add("first-token-value", rotating=True)
    body = json.loads('{"a": {"note": "renewed-token-value"}, "b": ["renewed-token-value"]}')
    assert redactor.json(body) is body  # nothing to mask yet: as it came
    redactor.add("renewed-token-value", rotating=True)
    again = json.loads('{"a": {"note": "renewed-token-value"}, "b": ["renewed-token-value"]}')
    assert redactor.json(again) == {"a": {"note": "***"}, "b": ["***"]}


def test_a_secret_echoed_with_json_escapes_is_masked_once_parsed() -> None:
    redactor = Redactor()
    redactor.add("secret-value-123")
    text = '{"echo": "\\u0073ecret-value-123", "\\u0074oken": "x", "ok": "fine"}'
    assert "secret-value-123" not in text  # only the parsed string holds it
    assert redactor.json(json.loads(text)) == {"echo": "***", "token": "***", "ok": "fine"}


def test_secret_repr_hides_the_value() -> None:
    secret = Secret("hunter2-hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert secret.reveal() == "hunter2-hunter2"
