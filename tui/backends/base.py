"""What the poller needs from a backend, and nothing more.

A backend turns HTTP answers into `DatasetState`s (without timestamps; the
poller stamps and merges them). It never raises for network or server
trouble: every ID it was asked about comes back with a state, `unreachable`
with a `Failure` when the request failed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..models import DatasetState, Failure


@dataclass(frozen=True, slots=True)
class RemoteDataset:
    """One entry of a backend's own dataset list (for names and the add picker)."""

    id: str
    name: str | None = None
    status: str | None = None


@dataclass(slots=True)
class FetchResult:
    """The answer to one `Backend.fetch` call."""

    states: list[DatasetState]
    # The server asked us to wait (429/503 Retry-After), in seconds: the whole
    # backend pauses that long.
    retry_after: float | None = None
    # Credentials were refused even after one refresh: the backend pauses
    # until the user asks (R) or the credentials change.
    unauthorized: bool = False
    # Requests this call made (for benchmarks and the batching guarantee).
    requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """One configured backend: its HTTP client, credentials and translation rules."""

    # How many IDs one fetch call takes: 1 for per-dataset APIs, more for batch APIs.
    batch_size: ClassVar[int] = 1

    name: str

    @abstractmethod
    async def fetch(self, ids: Sequence[str], previous: Mapping[str, DatasetState]) -> FetchResult:
        """Poll these datasets once. `previous` holds their last known states."""

    @abstractmethod
    async def list_datasets(self) -> list[RemoteDataset]:
        """The backend's own dataset list. Raises BackendError on failure."""

    @abstractmethod
    async def details(self, dataset_id: str) -> dict[str, Any]:
        """Extras for the details screen (tasks, pipeline runs). Raises BackendError."""

    # Has a cheap health endpoint (`probe`); without one, a quiet backend is
    # probed by reading one of its datasets.
    has_probe: ClassVar[bool] = False

    async def probe(self) -> Failure | None:
        """Is the backend answering? One cheap request; None when it answered.

        Sent only while the backend is quiet (every dataset settled), so an
        outage is seen within poll_interval + timeout.
        """
        return None

    def web_url(self, dataset_id: str) -> str | None:
        """The dataset's page in the backend's web app, when there is one."""
        return None

    @abstractmethod
    async def aclose(self) -> None:
        """Close the HTTP client."""


class BackendError(Exception):
    """A request the user asked for (list, details) failed; the message says why."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
