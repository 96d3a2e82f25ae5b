"""Fault injection: the ASGI gate in front of each simulated backend.

Everything the network and a misbehaving server can do to a client, on
demand and per backend: latency, random or forced error statuses with
Retry-After, malformed bodies, a connection cut mid-body, a body trickled a
few bytes at a time, a redirect elsewhere. Random choices come from a
per-backend generator seeded from the simulator's seed, so a run is
reproducible for a given request order. The gate also counts requests.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import httpx
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .stats import BackendStats

FAULT_STATUSES = frozenset({401, 403, 404, 409, 422, 429, 500, 502, 503, 504})
BODY_FAULTS = frozenset(
    {
        "not_json",
        "truncated_json",
        "array",
        "string",
        "null",
        "wrong_types",
        "extra_fields",
        "non_utf8",
        "huge",
    }
)
RETRY_AFTER_STATUSES = frozenset({429, 503})
HUGE_CHUNK = 64 * 1024
# A key no client asked for, added to ID-keyed maps by "extra_fields".
UNREQUESTED_ID = "00000000-0000-4000-8000-000000000000"
_UUID_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_COUNT_KEYS = frozenset(
    {"count", "total", "completed", "pending", "total_items", "completed_items", "page_size"}
)
_NAME_KEYS = frozenset({"status_new", "status", "display_name", "name", "task_type", "id"})


@dataclass(frozen=True)
class Faults:
    """The knobs of one backend. All off by default."""

    latency: float = 0.0  # seconds added to every request (async sleep)
    error_rate: float = 0.0  # 0..1: share of requests answered with one of error_statuses
    error_statuses: tuple[int, ...] = (500, 502, 503)
    status: int | None = None  # force every response to this status
    retry_after: int | str | None = None  # seconds, or an HTTP-date, sent with 429/503
    body: str | None = None  # one of BODY_FAULTS
    huge_bytes: int = 50_000_000  # size of the "huge" body, streamed in chunks
    close_mid_body: bool = False  # send half the body, then drop the connection
    trickle: float = 0.0  # seconds between body chunks; 0: off
    trickle_bytes: int = 8  # chunk size when trickling
    redirect_to: str | None = None  # answer 307 to this base URL instead

    def updated(self, **knobs: Any) -> Faults:
        """A copy with these knobs changed; unknown knobs or bad values raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(knobs) - known
        if unknown:
            raise ValueError(f"unknown fault knobs {sorted(unknown)}; known: {sorted(known)}")
        if "error_statuses" in knobs and knobs["error_statuses"] is not None:
            knobs["error_statuses"] = tuple(int(code) for code in knobs["error_statuses"])
        new = replace(self, **knobs)
        new.validate()
        return new

    def validate(self) -> None:
        if self.latency < 0 or self.trickle < 0:
            raise ValueError("latency and trickle must be >= 0")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be within 0..1")
        if self.status is not None and self.status not in FAULT_STATUSES:
            raise ValueError(f"status must be one of {sorted(FAULT_STATUSES)}")
        if not self.error_statuses or not set(self.error_statuses) <= FAULT_STATUSES:
            raise ValueError(f"error_statuses must be among {sorted(FAULT_STATUSES)}")
        if self.body is not None and self.body not in BODY_FAULTS:
            raise ValueError(f"body must be one of {sorted(BODY_FAULTS)}")
        if self.trickle_bytes < 1 or self.huge_bytes < 0:
            raise ValueError("trickle_bytes must be >= 1 and huge_bytes >= 0")
        if self.redirect_to is not None and not self.redirect_to.startswith(
            ("http://", "https://")
        ):
            raise ValueError("redirect_to must be an http(s) base URL")

    def as_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def rewrites_body(self) -> bool:
        return self.body is not None or self.close_mid_body or self.trickle > 0


ErrorBody = Callable[[int], tuple[bytes, str]]  # status -> (body, content type)


class DeliberateDisconnect(httpx.RemoteProtocolError):
    """Raised by close_mid_body: what the client sees, and uvicorn's cue to drop the socket."""


class BackendGate:
    """ASGI middleware for one backend: count, then misbehave as the knobs say."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: list[BaseRoute],
        stats: BackendStats,
        faults: Callable[[], Faults],
        rng: random.Random,
        error_body: ErrorBody,
    ) -> None:
        self.app = app
        self.routes = routes
        self.stats = stats
        self.faults = faults
        self.rng = rng
        self.error_body = error_body

    def route_name(self, scope: Scope) -> str:
        method = scope["method"]
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return f"{method} {getattr(route, 'path', '?')}"
        return f"{method} (no route)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.faults()
        self.stats.record_request(self.route_name(scope))

        async def counted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.stats.record_status(message["status"])
            await send(message)

        if faults.latency:
            await asyncio.sleep(faults.latency)
        if faults.redirect_to:
            await self._redirect(scope, faults.redirect_to, counted_send)
            return
        forced = faults.status
        if forced is None and faults.error_rate and self.rng.random() < faults.error_rate:
            forced = self.rng.choice(faults.error_statuses)
        if forced is not None:
            body, content_type = self.error_body(forced)
            headers = [(b"content-type", content_type.encode())]
            if forced in RETRY_AFTER_STATUSES and faults.retry_after is not None:
                headers.append((b"retry-after", str(faults.retry_after).encode()))
            await deliver(forced, headers, body, faults, counted_send)
            return
        if not faults.rewrites_body:
            await self.app(scope, receive, counted_send)
            return
        status, headers, body = await capture(self.app, scope, receive)
        await deliver(status, headers, body, faults, counted_send)

    @staticmethod
    async def _redirect(scope: Scope, base: str, send: Send) -> None:
        root = scope.get("root_path", "")
        path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
        location = base.rstrip("/") + path
        if scope.get("query_string"):
            location += "?" + scope["query_string"].decode("latin-1")
        headers = [(b"location", location.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 307, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


async def capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[Any], bytes]:
    """Run the app and keep its whole response (only when a body fault needs it)."""
    status = 500
    headers: list[Any] = []
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = message["status"]
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, keep)
    return status, headers, b"".join(chunks)


async def deliver(status: int, headers: list[Any], body: bytes, faults: Faults, send: Send) -> None:
    """Send a response through the body, trickle and close-mid-body knobs."""
    headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    if faults.body == "huge":
        await _send_huge(status, headers, faults.huge_bytes, send)
        return
    if faults.body is not None:
        body = malform(body, faults.body)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if faults.close_mid_body:
        # Content-Length promises the whole body; half arrives, then the
        # connection dies. Under uvicorn the exception makes it close the
        # socket; in-process the client sees the same error a socket gives.
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        raise DeliberateDisconnect("peer closed connection without sending complete message body")
    if faults.trickle > 0:
        step = faults.trickle_bytes
        for offset in range(0, len(body), step):
            await send(
                {
                    "type": "http.response.body",
                    "body": body[offset : offset + step],
                    "more_body": True,
                }
            )
            await asyncio.sleep(faults.trickle)
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.body", "body": body})


async def _send_huge(status: int, headers: list[Any], size: int, send: Send) -> None:
    """A JSON document of `size` bytes, streamed chunk by chunk (never built whole)."""
    headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
    headers.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    head, tail = b'{"padding": "', b'"}'
    await send({"type": "http.response.body", "body": head, "more_body": True})
    remaining = max(0, size - len(head) - len(tail))
    chunk = b"x" * HUGE_CHUNK
    while remaining > 0:
        piece = chunk if remaining >= HUGE_CHUNK else chunk[:remaining]
        remaining -= len(piece)
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": tail})


def malform(body: bytes, kind: str) -> bytes:
    """The body as a broken server or proxy would send it."""
    if kind == "not_json":
        return b"<html><head><title>Welcome</title></head><body>Proxy login required</body></html>"
    if kind == "truncated_json":
        return body[: max(1, len(body) // 2)]
    if kind == "string":
        return b'"DATASET_PROCESSING_COMPLETED"'
    if kind == "null":
        return b"null"
    if kind == "non_utf8":
        # Invalid UTF-8 right inside the first string of the document.
        if b'"' in body:
            return body.replace(b'"', b'"\xff\xfe', 1)
        return b"\xff\xfe" + body
    try:
        document = json.loads(body) if body else {}
    except ValueError:
        document = {}
    if kind == "array":
        return json.dumps([document]).encode()
    if kind == "wrong_types":
        return json.dumps(_wrong_types(document)).encode()
    if kind == "extra_fields":
        return json.dumps(_extra_fields(document)).encode()
    raise ValueError(f"unknown body fault {kind!r}")


def _wrong_types(value: Any) -> Any:
    """Same keys, wrong value types: progress "42", counts -1, names 42 or null."""
    if isinstance(value, list):
        return [_wrong_types(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for index, (key, item) in enumerate(value.items()):
        if key == "progress":
            out[key] = "42" if item is None or isinstance(item, dict) else str(item)
        elif key.startswith("n_") or key in _COUNT_KEYS:
            out[key] = -1
        elif key in _NAME_KEYS or _UUID_KEY.match(key):
            if isinstance(item, dict):
                out[key] = ["not", "a", "map"]
            else:
                out[key] = 42 if index % 2 == 0 else None
        elif isinstance(item, dict | list):
            out[key] = _wrong_types(item)
        elif isinstance(item, str):
            out[key] = None
        else:
            out[key] = item
    return out


def _extra_fields(value: Any) -> Any:
    """Unknown fields everywhere, and an unrequested ID in ID-keyed maps."""
    if isinstance(value, list):
        return [_extra_fields(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: _extra_fields(item) for key, item in value.items()}
    if out and all(_UUID_KEY.match(key) for key in out):
        out[UNREQUESTED_ID] = "DATASET_PROCESSING_COMPLETED"
    else:
        out["x_future_field"] = {"added_in": "v99", "values": [1, 2, 3]}
        out["x_flag"] = True
    return out
