"""The one way backends talk HTTP: `get_json` over the guarded client (client.py).

`get_json` never raises for network or server trouble: it returns a
`JsonAnswer` (2xx with a JSON body) or a `RequestFailure` whose `Failure`
says in one short sentence what went wrong. Bodies are streamed with a size
cap, the whole request (auth retries and a trickling body included) is
bounded by one deadline, and secrets are masked in everything kept.

A little over 400 lines: reading an answer and classifying what went wrong
(the two halves of `get_json`'s one return type) are read together; the
client itself (TLS, limits, redirects) is already apart, in client.py.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from ..config import Settings
from ..models import DatasetState, Failure, State, unreadable
from ..secrets import Redactor
from .auth import CredentialsError
from .base import BackendError
from .bodies import BodyUndecodable, read_decoded
from .client import (  # the client's half; callers import both halves from here
    USER_AGENT,
    BackendConfigError,
    InsecureTransportError,
    check_transport_security,
    counting_requests,
    make_client,
    shorter_timeout,
    timeout_cap,
)

MAX_BODY_BYTES = 8 * 1024 * 1024  # a status answer is a few KB; 8 MiB is a broken server
# A dataset list answers for every dataset at once (no paging in either API): ~600
# bytes each on Visual Layer, so 64 MiB holds ~100,000 (`follow = "all"`, tui.follow).
LIST_MAX_BYTES = 64 * 1024 * 1024
ERROR_BODY_CHARS = 4096  # what an error body keeps for the details screen
_SECRET_MARGIN = 1024  # read past the cut so a secret straddling it is still masked
_DETAIL_CHARS = 200  # what of an error body's `detail` goes into the message
# A Retry-After beyond this is a broken or hostile server (one said 10 years):
# it is read as this, so no wait and no message is ever longer than an hour.
MAX_RETRY_AFTER = 3600.0


__all__ = [
    "LIST_MAX_BYTES",
    "MAX_BODY_BYTES",
    "MAX_RETRY_AFTER",
    "USER_AGENT",
    "BackendConfigError",
    "InsecureTransportError",
    "JsonAnswer",
    "JsonApi",
    "RequestFailure",
    "check_transport_security",
    "counting_requests",
    "get_json",
    "json_kind",
    "make_client",
    "parse_retry_after",
    "shape_failure",
    "shorter_timeout",
]

# ---------------------------------------------------------------- answers


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    """A 2xx answer with a parsed JSON body (not yet redacted: the caller picks what to keep)."""

    status: int
    data: Any


@dataclass(frozen=True, slots=True)
class RequestFailure:
    """A request that gave no usable answer; `failure` is safe to store and show."""

    failure: Failure
    retry_after: float | None = None  # seconds, from a Retry-After header
    unauthorized: bool = False  # credentials refused (401 after renewal, or unusable)

    @property
    def http_status(self) -> int | None:
        return self.failure.http_status

    @property
    def message(self) -> str:
        return self.failure.message

    def as_error(self) -> BackendError:
        return BackendError(self.failure.message, http_status=self.failure.http_status)

    def state(self, backend: str, dataset_id: str, state: State) -> DatasetState:
        """The DatasetState a dataset gets when its request failed this way."""
        return unreadable(backend, [dataset_id], state, self.failure)[0]


def json_kind(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    names = {dict: "object", list: "array", str: "string", bool: "boolean"}
    return names.get(type(value), "number")


def shape_failure(message: str, answer: JsonAnswer, redactor: Redactor) -> RequestFailure:
    """A 2xx answer whose JSON is not shaped as the API documents."""
    shown = json.dumps(redactor.json(answer.data))[:ERROR_BODY_CHARS]
    failure = Failure(kind="body", message=message, http_status=answer.status, body=shown)
    return RequestFailure(failure)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP-date), at most
    MAX_RETRY_AFTER; None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return min(max(0.0, seconds), MAX_RETRY_AFTER) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def _http_reason(status: int) -> str:
    try:
        return httpx.codes(status).phrase
    except ValueError:
        return ""


def _error_detail(text: str) -> str | None:
    """The human part of an error body: FastAPI `detail` (string or list), or `error`."""
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    detail = payload.get("detail", payload.get("error", payload.get("message")))
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        detail = detail[0].get("msg")
    if not isinstance(detail, str) or not detail.strip():
        return None
    detail = " ".join(detail.split())
    return detail if len(detail) <= _DETAIL_CHARS else detail[: _DETAIL_CHARS - 3] + "..."


def _kept_text(text: str, redactor: Redactor) -> str:
    """What of a body is kept: masked first (a secret across the cut must not half
    survive), then cut to ~4 KB."""
    return redactor.text(text[: ERROR_BODY_CHARS + _SECRET_MARGIN])[:ERROR_BODY_CHARS]


def _body_failure(message: str, text: str) -> RequestFailure:
    return RequestFailure(Failure(kind="body", message=message, body=text[:ERROR_BODY_CHARS]))


def _parse_json(raw: bytes | bytearray, redactor: Redactor) -> JsonAnswer | RequestFailure:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = _kept_text(raw.decode("utf-8", "replace"), redactor)
        return _body_failure(f"response is not UTF-8 (bad byte at {exc.start})", shown)
    if not text.strip():
        return _body_failure("response is empty, not JSON", _kept_text(text, redactor))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        cut_short = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        if cut_short:
            message = "response is truncated JSON"
        else:
            message = f"response is not JSON ({exc.msg} at char {exc.pos})"
    except RecursionError:
        message = "response JSON is nested too deeply"
    except ValueError as exc:  # e.g. an integer too long to convert
        message = f"response JSON is unusable ({exc})"[:200]
    else:
        return JsonAnswer(status=200, data=data)
    # What of the body is kept (masked, cut) is worked out only for a failure.
    return _body_failure(message, _kept_text(text, redactor))


def _too_large(max_bytes: int, status: int) -> RequestFailure:
    message = f"response larger than {max_bytes // (1024 * 1024)} MiB, not read"
    return RequestFailure(Failure(kind="too_large", message=message, http_status=status))


async def _read_prefix(response: httpx.Response, limit: int) -> tuple[bytearray, bool]:
    """Up to `limit` bytes of the decoded body, and whether there was more: the
    cap holds while inflating (see bodies.py), not only after."""
    return await read_decoded(response, limit, stage_limit=MAX_BODY_BYTES)


async def _read_answer(
    response: httpx.Response, redactor: Redactor, max_bytes: int
) -> JsonAnswer | RequestFailure:
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        try:
            host = response.url.join(location).host if location else ""
        except httpx.InvalidURL:
            host = ""
        message = f"redirect to {host or 'another location'} not followed (HTTP {status})"
        return RequestFailure(Failure(kind="redirect", message=message, http_status=status))
    if not 200 <= status < 300:
        try:
            prefix, _ = await _read_prefix(response, ERROR_BODY_CHARS + _SECRET_MARGIN)
        except BodyUndecodable:
            prefix = bytearray()  # the status says enough; the body is unreadable
        body = _kept_text(prefix.decode("utf-8", "replace"), redactor)
        # Decoded from JSON, so masked again: `\/` or `\u002f` in the body hid a secret.
        detail = _error_detail(body)
        detail = None if detail is None else redactor.text(detail)
        message = f"HTTP {status} {_http_reason(status)}".rstrip()
        if detail:
            message = f"{message}: {detail}"
        failure = Failure(kind="http", message=message, http_status=status, body=body)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RequestFailure(failure, retry_after=retry_after, unauthorized=status == 401)
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        return _too_large(max_bytes, status)
    try:
        raw, more = await _read_prefix(response, max_bytes)
    except BodyUndecodable as exc:
        message = f"response could not be decoded: {exc}"
        return RequestFailure(Failure(kind="body", message=message, http_status=status))
    if more:
        return _too_large(max_bytes, status)
    parsed = _parse_json(raw, redactor)
    if isinstance(parsed, JsonAnswer):
        return JsonAnswer(status=status, data=parsed.data)
    return parsed


# ---------------------------------------------------------------- exceptions


_DNS_WORDS = (
    "name or service not known",
    "name resolution",
    "nodename nor servname",
    "getaddrinfo",
    "no address associated",
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def classify_exception(exc: BaseException, host: str, timeout: float) -> Failure:
    """One short sentence for an exception raised while talking to `host`."""
    chain = list(_chain(exc))
    text = " ".join(str(e) for e in chain).lower()
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return Failure(kind="timeout", message=f"timed out after {timeout:g}s")
    if isinstance(exc, httpx.DecodingError):
        return Failure(kind="body", message=f"response could not be decoded: {_short(exc)}")
    tls = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    if tls is not None or "certificate verify failed" in text or "[ssl" in text:
        if isinstance(tls, ssl.SSLCertVerificationError):
            reason = getattr(tls, "verify_message", None) or "not trusted"
            return Failure(kind="tls", message=f"TLS certificate of {host} rejected: {reason}")
        reason = getattr(tls, "reason", None) or _short(tls or exc)
        return Failure(kind="tls", message=f"TLS error with {host}: {reason}")
    if any(isinstance(e, socket.gaierror) for e in chain) or any(w in text for w in _DNS_WORDS):
        return Failure(kind="dns", message=f"cannot resolve host {host}")
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return Failure(kind="connect", message="connection refused")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return Failure(kind="protocol", message=f"connection closed mid-response ({_short(exc)})")
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError | httpx.UnsupportedProtocol):
        return Failure(kind="connect", message=f"cannot connect to {host}: {_short(exc)}")
    if isinstance(exc, httpx.ProtocolError | httpx.NetworkError | httpx.StreamError):
        return Failure(kind="protocol", message=f"connection trouble: {_short(exc)}")
    if isinstance(exc, OSError):
        return Failure(kind="connect", message=f"cannot connect to {host}: {_short(exc)}")
    return Failure(kind="protocol", message=f"request failed: {_short(exc)}")


# ---------------------------------------------------------------- get_json


async def get_json(
    client: httpx.AsyncClient,
    url: str | httpx.URL,
    params: Any = None,
    *,
    timeout: float,
    redactor: Redactor | None = None,
    max_bytes: int = MAX_BODY_BYTES,
    auth: Any = httpx.USE_CLIENT_DEFAULT,
) -> JsonAnswer | RequestFailure:
    """GET a JSON document. Never raises for network, server or credential trouble.

    `timeout` bounds the whole call: httpx's own timeouts are per network
    operation, so a body trickling one byte per second would never trip them.
    """
    redactor = redactor or Redactor()
    host = httpx.URL(url).host
    try:
        async with asyncio.timeout(timeout):
            request = client.build_request("GET", url, params=params)
            try:
                response = await client.send(request, stream=True, auth=auth)
            except httpx.RemoteProtocolError as exc:
                if "without sending a response" not in str(exc):
                    raise
                # A kept-alive connection the server closed meanwhile (it restarted,
                # or dropped idle connections): the GET never reached it. Once more,
                # on a new connection, as browsers and urllib3 do.
                response = await client.send(request, stream=True, auth=auth)
            try:
                return await _read_answer(response, redactor, max_bytes)
            finally:
                await response.aclose()
    except CredentialsError as exc:
        kind = exc.kind or ("config" if exc.unusable else "auth" if exc.refused else "login")
        failure = Failure(kind=kind, message=redactor.text(str(exc)), http_status=exc.http_status)
        return RequestFailure(failure, unauthorized=exc.refused)
    except (httpx.HTTPError, OSError, ssl.SSLError) as exc:  # TimeoutError is an OSError
        failure = classify_exception(exc, host, timeout)
        masked = redactor.text(failure.message)
        return RequestFailure(failure.model_copy(update={"message": masked}))


class JsonApi:
    """One backend's requests: its client, a concurrency cap, one deadline per request.

    The semaphore (not just the connection pool) holds requests back, so a
    request's deadline starts when it is sent, not while it queues.
    """

    def __init__(self, client: httpx.AsyncClient, settings: Settings, redactor: Redactor) -> None:
        self.client = client
        self.redactor = redactor
        self.timeout = settings.timeout
        self._slots = asyncio.Semaphore(settings.max_concurrency)

    def __repr__(self) -> str:
        return f"JsonApi(timeout={self.timeout:g})"

    async def get(
        self, url: str | httpx.URL, params: Any = None, *, max_bytes: int = MAX_BODY_BYTES
    ) -> JsonAnswer | RequestFailure:
        cap = timeout_cap()
        timeout = self.timeout if cap is None else min(cap, self.timeout)
        async with self._slots:
            return await get_json(
                self.client,
                url,
                params,
                timeout=timeout,
                redactor=self.redactor,
                max_bytes=max_bytes,
            )

    async def probe(self, url: str) -> Failure | None:
        """A health check, sent without credentials: None when the server answered.

        Any HTTP answer below 500 counts as answering (an install without that
        endpoint says 404); the dataset polls judge everything else.
        """
        async with self._slots:
            answer = await get_json(
                self.client, url, timeout=self.timeout, redactor=self.redactor, auth=None
            )
        if isinstance(answer, JsonAnswer):
            return None
        failure = answer.failure
        if failure.kind == "http" and (failure.http_status or 0) < 500:
            return None
        if failure.kind == "body":
            return None  # it answered, only not with JSON
        return failure

    async def aclose(self) -> None:
        await self.client.aclose()
