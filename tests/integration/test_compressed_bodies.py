"""Compressed bodies from a real server on 127.0.0.1: the size cap holds while
inflating, for gzip, deflate (zlib and raw), stacked encodings and many at once;
encodings dswatch did not ask for are refused with a clear message.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
import uuid
import zlib
from collections.abc import Iterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from tests.support.faultservers import AppServer
from tui.backends import make_backend
from tui.backends.http import MAX_BODY_BYTES, get_json, make_client
from tui.config import BackendConfig, Settings
from tui.models import State

MiB = 1024 * 1024
BOMB_SIZE = 200 * MiB  # what one bomb inflates to: 25 times the cap
GOOD = {"status_new": "READY", "display_name": "fine", "n_images": 3}


def _deflate_zeros(size: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(MiB)
    return b"".join(packer.compress(block) for _ in range(size // MiB)) + packer.flush()


def _bodies() -> dict[str, tuple[bytes, str]]:
    gzip_bomb = _deflate_zeros(BOMB_SIZE, 16 + zlib.MAX_WBITS)
    good = json.dumps(GOOD).encode()
    return {
        "gzip": (gzip_bomb, "gzip"),
        "deflate": (_deflate_zeros(BOMB_SIZE, zlib.MAX_WBITS), "deflate"),
        "rawdeflate": (_deflate_zeros(BOMB_SIZE, -zlib.MAX_WBITS), "deflate"),
        # 2.5 KB that inflates to the bomb, which inflates to 200 MiB.
        "stacked": (gzip.compress(gzip_bomb, 9), "gzip, gzip"),
        "brotli": (b"\x8b\x02\x80hello\x03", "br"),
        "corrupt": (b"\x1f\x8b\x08\x00 definitely not gzip", "gzip"),
        "good": (gzip.compress(gzip.compress(good)), "gzip, gzip"),
        "members": (gzip.compress(good[:10]) + gzip.compress(good[10:]), "gzip"),
        "gooddeflate": (zlib.compress(good), "deflate"),
    }


class BombServer:
    def __init__(self) -> None:
        self.bodies = _bodies()
        self.accept_encoding: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        self.accept_encoding.append(headers.get(b"accept-encoding", b"").decode())
        kind = scope["path"].strip("/").split("/")[0]
        status = 500 if kind.startswith("err-") else 200
        body, encoding = self.bodies[kind.removeprefix("err-")]
        head = [(b"content-type", b"application/json"), (b"content-encoding", encoding.encode())]
        await send({"type": "http.response.start", "status": status, "headers": head})
        # Sent in 16 KiB pieces, as a network would deliver it.
        for start in range(0, len(body), 16384):
            piece = body[start : start + 16384]
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def bombs() -> Iterator[tuple[BombServer, str]]:
    app = BombServer()
    with AppServer(app) as server:
        yield app, server.url


def cfg(url: str) -> BackendConfig:  # its own: the bomb server's routes, not the simulator
    return BackendConfig(name="vl", type="visual_layer", url=url)


async def peak_of(coro: object) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = await coro  # type: ignore[misc]
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["gzip", "deflate", "rawdeflate", "stacked"])
async def test_a_bomb_is_a_too_large_failure_with_bounded_memory(
    bombs: tuple[BombServer, str], kind: str
) -> None:
    app, url = bombs
    backend = make_backend(cfg(f"{url}/{kind}"), Settings(timeout=20))
    dataset_id = str(uuid.uuid4())
    try:
        result, peak = await peak_of(backend.fetch([dataset_id], {}))
    finally:
        await backend.aclose()
    state = result.states[0]  # type: ignore[attr-defined]
    assert state.state is State.UNREACHABLE
    assert state.failure.kind == "too_large"
    assert state.error == f"response larger than {MAX_BODY_BYTES // MiB} MiB, not read"
    assert peak < MAX_BODY_BYTES + 4 * MiB, f"{peak / MiB:.1f} MiB"
    assert app.accept_encoding[-1] == "gzip, deflate"  # only what is inflated with a bound


async def test_twelve_bombs_at_once_cost_at_most_twelve_caps(
    bombs: tuple[BombServer, str],
) -> None:
    _, url = bombs
    settings = Settings(timeout=30, max_concurrency=12)
    backend = make_backend(cfg(f"{url}/stacked"), settings)
    ids = [str(uuid.uuid4()) for _ in range(12)]
    try:
        result, peak = await peak_of(backend.fetch(ids, {}))
    finally:
        await backend.aclose()
    assert {s.failure.kind for s in result.states} == {"too_large"}  # type: ignore[attr-defined]
    assert peak < 12 * (MAX_BODY_BYTES + 2 * MiB), f"{peak / MiB:.1f} MiB"


@pytest.mark.parametrize("kind", ["good", "members", "gooddeflate"])
async def test_compressed_answers_within_the_cap_are_read(
    bombs: tuple[BombServer, str], kind: str
) -> None:
    _, url = bombs
    backend = make_backend(cfg(f"{url}/{kind}"), Settings(timeout=5))
    try:
        result = await backend.fetch([str(uuid.uuid4())], {})
    finally:
        await backend.aclose()
    state = result.states[0]
    assert (state.state, state.name, state.n_images) == (State.READY, "fine", 3)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        (
            "brotli",
            "response could not be decoded: body uses an encoding dswatch did not ask for (br)",
        ),
        ("corrupt", "response could not be decoded: gzip body is corrupt"),
    ],
)
async def test_unasked_or_corrupt_encodings_are_clear_body_failures(
    bombs: tuple[BombServer, str], kind: str, message: str
) -> None:
    _, url = bombs
    backend = make_backend(cfg(f"{url}/{kind}"), Settings(timeout=5))
    try:
        result = await backend.fetch([str(uuid.uuid4())], {})
    finally:
        await backend.aclose()
    state = result.states[0]
    assert state.state is State.UNREACHABLE and state.failure.kind == "body"
    assert state.error.startswith(message)


async def test_a_bomb_in_an_error_body_is_cut_not_inflated(bombs: tuple[BombServer, str]) -> None:
    _, url = bombs
    settings = Settings(timeout=10)
    client = make_client(cfg(url), settings, auth=None)
    try:
        answer, peak = await peak_of(
            get_json(client, httpx.URL(f"{url}/err-stacked/x"), timeout=10)
        )
    finally:
        await client.aclose()
    assert answer.failure.message == "HTTP 500 Internal Server Error"  # type: ignore[attr-defined]
    assert len(answer.failure.body) <= 4096  # type: ignore[attr-defined]
    assert peak < 4 * MiB, f"{peak / MiB:.1f} MiB"


def test_the_bombs_are_real() -> None:
    """The bodies above really are bombs: small on the wire, huge inflated."""
    bodies = _bodies()
    assert len(bodies["stacked"][0]) < 4096 and len(bodies["gzip"][0]) < 400 * 1024
    inflater, data, total = zlib.decompressobj(16 + zlib.MAX_WBITS), bodies["gzip"][0], 0
    while data:
        total += len(inflater.decompress(data, MiB))
        data = inflater.unconsumed_tail
    assert total == BOMB_SIZE
