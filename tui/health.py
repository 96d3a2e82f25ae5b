"""A backend's health, one truth: ok, down (and why), rate limited, or not heard yet.

The poller decides it from what its requests meet; the watch model keeps it
and derives the rows from it, so the summary, the banner, the rows and the
details can never disagree. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .models import DatasetState, Failure, State


class Health(StrEnum):
    UNKNOWN = "unknown"  # not heard from yet
    OK = "ok"
    UNAUTHORIZED = "unauthorized"  # down: credentials refused or unusable
    UNREACHABLE = "unreachable"  # down: network, timeout, server error
    RATE_LIMITED = "rate_limited"  # told to wait (429 / 503 Retry-After)


DOWN = frozenset({Health.UNAUTHORIZED, Health.UNREACHABLE})


@dataclass(frozen=True, slots=True)
class BackendHealth:
    backend: str
    health: Health = Health.UNKNOWN
    message: str | None = None  # the last error (server text: sanitize before showing)
    last_poll: datetime | None = None  # the last request that finished, good or bad
    credential_hint: str | None = None  # what to fix, when unauthorized (never a value)
    paused_for: float | None = None  # seconds, when the backend is parked
    reason: str | None = None  # the failure's kind in words: "server error (HTTP 500)"
    since: datetime | None = None  # down (or rate limited) since
    retry_at: datetime | None = None  # when the next try goes out, while down or parked
    last_ok: datetime | None = None  # when the backend last answered with data
    failure: Failure | None = None  # what marks its rows while it is down
    recovering: int = 0  # datasets still being re-read after an outage

    @property
    def is_down(self) -> bool:
        return self.health in DOWN


def is_backend_failure(failure: Failure | None) -> bool:
    """A failed read that says the backend is in trouble, not that one dataset is odd.

    A 4xx answer (other than a request timeout) is about the request for that
    dataset (403: no access to it; 409: not ready); refused credentials are
    told apart by the backend (`FetchResult.unauthorized`). Everything else
    (network, timeout, 5xx, garbage) is about the backend.
    """
    if failure is None:
        return False
    status = failure.http_status
    if failure.kind == "http" and status is not None and 400 <= status < 500:
        return status == 408
    return True


def describe_failure(failure: Failure | None) -> str:
    """The failure's kind in words a user acts on: where to look, not a stack."""
    if failure is None:
        return "not answering"
    kind, status = failure.kind, failure.http_status
    if kind == "http" and status is not None:
        if status >= 500:
            return f"server error (HTTP {status})"
        if status in (401, 403):
            return f"refused credentials (HTTP {status})"
        return f"HTTP {status}"
    return _KINDS[kind][0] if kind in _KINDS else kind


# Each failure kind in words a user acts on, then in a word or two (12 cells at
# most: an unreadable row's state column, a narrow summary), so a server error
# never reads as a network fault. One table: a new kind gets both or neither.
_KINDS: dict[str, tuple[str, str]] = {
    "connect": ("network unreachable", "unreachable"),
    "dns": ("network unreachable (DNS)", "no DNS"),
    "timeout": ("timeout", "timed out"),
    "tls": ("TLS error", "TLS error"),
    "protocol": ("connection broken", "cut off"),
    "body": ("bad answer", "bad answer"),
    "too_large": ("bad answer (too large)", "too large"),
    "redirect": ("unexpected redirect", "redirected"),
    "auth": ("refused credentials", "refused"),
    "command": ("token_command failed", "token failed"),
    "login": ("login failed", "login failed"),
    "config": ("unusable config", "bad config"),
    "internal": ("dswatch error", "dswatch bug"),
}


def short_failure(failure: Failure) -> str:
    """`describe_failure` in a word or two (12 cells at most): `HTTP 500`, `timed out`."""
    if failure.kind == "http" and failure.http_status is not None:
        return f"HTTP {failure.http_status}"
    return _KINDS[failure.kind][1] if failure.kind in _KINDS else "unreachable"


def state_word(state: DatasetState) -> str:
    """The word for a row's state: for a read that failed, why (`HTTP 500`,
    `timed out`); the narrow summary says a down backend's cause the same way."""
    if state.state is not State.UNREACHABLE or state.failure is None:
        return state.state.value
    return short_failure(state.failure)
