"""Reading a response body with its DECODED size capped while it is decoded.

httpx inflates each received chunk whole, so a 1 MiB gzip bomb becomes ~1 GB
before any cap can look at it, and `Content-Encoding: gzip, gzip` multiplies
that again. Here the raw bytes are inflated by our own zlib objects, at most
`_PIECE` bytes per call, and reading stops as soon as any stage has produced
more than the cap: memory stays near the cap whatever the server sends.

Only what the client asks for (`ACCEPT_ENCODING`) is decoded; any other
encoding (br, zstd, compress...) is refused with a clear message, never
passed on as garbage.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

ACCEPT_ENCODING = "gzip, deflate"  # what `read_decoded` can inflate with a bound
_PIECE = 64 * 1024  # most output one decompress call may produce
_STAGES_MAX = 4  # `gzip, gzip, gzip, gzip` is already absurd


class BodyTooLarge(Exception):
    """The decoded body (or an intermediate decoding of it) passed the cap."""


class BodyUndecodable(Exception):
    """The body's encoding is one we did not ask for, or its bytes are corrupt."""


class _Stage:
    """One bounded inflater (gzip, possibly multi-member, or zlib/raw deflate)."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding
        self.limit = limit
        self.produced = 0
        self._raw_deflate_tried = False
        self._inflater = self._new()

    def _new(self, raw_deflate: bool = False) -> zlib._Decompress:
        if self.encoding == "gzip":
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Inflate `data`, yielding pieces of at most _PIECE bytes."""
        while True:
            try:
                piece = self._inflater.decompress(data, _PIECE)
            except zlib.error as exc:
                # `deflate` is meant to be zlib-wrapped; some servers send raw deflate.
                first_try = self.produced == 0 and not self._raw_deflate_tried
                if self.encoding == "deflate" and first_try:
                    self._raw_deflate_tried = True
                    self._inflater = self._new(raw_deflate=True)
                    continue
                raise BodyUndecodable(f"{self.encoding} body is corrupt ({exc})") from None
            self.produced += len(piece)
            if self.produced > self.limit:
                raise BodyTooLarge
            if piece:
                yield piece
            data = self._inflater.unconsumed_tail
            if self._inflater.eof:
                data = self._inflater.unused_data + data
                if not (self.encoding == "gzip" and data.lstrip(b"\0")):
                    return  # trailing zeros or junk after the stream: ignored, like gzip(1)
                self._inflater = self._new()  # the next gzip member
            elif not data and len(piece) < _PIECE:
                return  # all input taken and no output held back: wait for more


def content_encodings(response: httpx.Response) -> list[str]:
    """The encodings applied to the body, in the order they were applied."""
    value = response.headers.get("Content-Encoding", "")
    codings = [c.strip().lower() for c in value.split(",")]
    return [c for c in codings if c and c != "identity"]


def _stages(response: httpx.Response, limit: int) -> list[_Stage]:
    codings = content_encodings(response)
    if len(codings) > _STAGES_MAX:
        raise BodyUndecodable(f"body encoded {len(codings)} times over")
    stages = []
    for coding in reversed(codings):  # the last applied is undone first
        name = {"x-gzip": "gzip"}.get(coding, coding)
        if name not in ("gzip", "deflate"):
            raise BodyUndecodable(f"body uses an encoding dswatch did not ask for ({coding[:20]})")
        stages.append(_Stage(name, limit))
    return stages


def _through(stages: list[_Stage], data: bytes) -> Iterator[bytes]:
    if not stages:
        yield data
        return
    for piece in stages[0].feed(data):
        yield from _through(stages[1:], piece)


async def read_decoded(
    response: httpx.Response, limit: int, *, stage_limit: int | None = None
) -> tuple[bytearray, bool]:
    """Up to `limit` bytes of the decoded body, and whether there was more.

    One buffer, filled in place. Intermediate stages of a stacked encoding are
    never kept, only counted: one past `stage_limit` (default `limit`) is taken as
    "more" too. Raises BodyUndecodable for an encoding not asked for or corrupt.
    """
    stages = _stages(response, max(limit, stage_limit or 0))
    buffer = bytearray()
    # A response built in memory (tests' MockTransport) has its raw bytes already
    # taken into its stream object, which can be read again; a network one streams.
    raw_chunks = response.stream if response.is_stream_consumed else response.aiter_raw()
    try:
        async for chunk in raw_chunks:  # type: ignore[union-attr]
            for piece in _through(stages, chunk):
                room = limit - len(buffer)
                if len(piece) > room:
                    buffer += piece[:room]
                    return buffer, True
                buffer += piece
    except BodyTooLarge:
        return buffer, True
    return buffer, False
