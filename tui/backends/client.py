"""The guarded httpx client of one backend: transport rule, TLS, counters, deadlines.

Credentials go only over https or to this machine (tui.credentials' one
rule), TLS verification stays on (a private CA through `ca_bundle`),
redirects are not followed, and two context variables let a caller count
the requests a fetch makes or cap their deadline (a probe of a down backend).
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from contextvars import ContextVar

import httpx

from .. import __version__
from ..config import BackendConfig, Settings
from ..credentials import INSECURE_TRANSPORT_FIX, clear_text_host
from .bodies import ACCEPT_ENCODING

USER_AGENT = f"dswatch/{__version__}"


class BackendConfigError(ValueError):
    """A backend's config cannot be used safely (checked before any request)."""


class InsecureTransportError(BackendConfigError):
    """Credentials would travel in clear text to a host that is not this machine."""


# ---------------------------------------------------------------- the client


def check_transport_security(cfg: BackendConfig, has_credentials: bool) -> None:
    """Refuse a client that would send credentials in clear text (tui.credentials' rule)."""
    host = clear_text_host(cfg.url, allow_insecure=cfg.allow_insecure)
    if has_credentials and host is not None:
        raise InsecureTransportError(
            f"backend {cfg.name!r}: refusing to send credentials over plain http to {host}; "
            + INSECURE_TRANSPORT_FIX
        )


# Building the default TLS context (loading certifi's CA file) costs ~35 ms: once per
# process, not once per backend, and never for a plain-http backend, which speaks no
# TLS (redirects are not followed). Its context trusts no CA, so any TLS it did do fails.
_shared_tls: dict[str, ssl.SSLContext] = {}


def _tls_verify(cfg: BackendConfig) -> ssl.SSLContext | bool:
    if not cfg.ca_bundle:
        kind = "http" if cfg.url.lower().startswith("http://") else "https"
        if kind not in _shared_tls:
            _shared_tls[kind] = (
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                if kind == "http"
                else httpx.create_ssl_context()  # httpx's verify=True: certifi, SSL_CERT_FILE
            )
        return _shared_tls[kind]
    try:
        return ssl.create_default_context(cafile=cfg.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BackendConfigError(
            f"backend {cfg.name!r}: cannot load ca_bundle {cfg.ca_bundle}: {reason}"
        ) from None


class RequestCounter:
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


# Set by `counting_requests`; copied into the tasks a fetch spawns, so
# concurrent fetches count their own requests (logins and auth retries too).
_request_counter: ContextVar[RequestCounter | None] = ContextVar(
    "dswatch_request_counter", default=None
)


@contextlib.contextmanager
def counting_requests() -> Iterator[RequestCounter]:
    counter = RequestCounter()
    token = _request_counter.set(counter)
    try:
        yield counter
    finally:
        _request_counter.reset(token)


# Set by `shorter_timeout`: a probe of a down backend need not wait the whole
# timeout (the next probe tells), so a hung server never holds one for long.
_timeout_cap: ContextVar[float | None] = ContextVar("dswatch_timeout_cap", default=None)


def timeout_cap() -> float | None:
    """The deadline cap `shorter_timeout` set for requests made now, if any."""
    return _timeout_cap.get()


@contextlib.contextmanager
def shorter_timeout(seconds: float) -> Iterator[None]:
    """Requests made in this context (and tasks it starts) give up after `seconds`."""
    token = _timeout_cap.set(seconds)
    try:
        yield
    finally:
        _timeout_cap.reset(token)


async def _count_request(request: httpx.Request) -> None:
    counter = _request_counter.get()
    if counter is not None:
        counter.count += 1


def make_client(
    cfg: BackendConfig,
    settings: Settings,
    *,
    auth: httpx.Auth | None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """Keep-alive pool sized to the concurrency, redirects never followed, TLS verified.

    Not following redirects means credentials never travel to a host the
    user did not configure; a 3xx becomes a "redirect" failure.
    """
    slots = settings.max_concurrency
    return httpx.AsyncClient(
        auth=auth,
        transport=transport,
        timeout=httpx.Timeout(settings.timeout),
        limits=httpx.Limits(max_connections=slots, max_keepalive_connections=slots),
        follow_redirects=False,
        verify=_tls_verify(cfg),
        # Only encodings bodies.read_decoded inflates with a size bound are asked for.
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ACCEPT_ENCODING,
        },
        event_hooks={"request": [_count_request]},
    )
