"""Messages from the engine to the widgets (data flows one way)."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from .poller import PollUpdate


class PollerUpdated(Message):
    """One batch of poll results: applied to the app state in one pass."""

    def __init__(self, update: PollUpdate) -> None:
        super().__init__()
        self.update = update


class DetailsFetched(Message):
    """Extras for the details screen (tasks, pipeline runs), or why they failed."""

    def __init__(
        self, key: tuple[str, str], extras: dict[str, Any] | None, error: str | None = None
    ) -> None:
        super().__init__()
        self.key = key
        self.extras = extras
        self.error = error


class RemoteListFetched(Message):
    """A backend's own dataset list for the add picker, or why it failed."""

    def __init__(self, backend: str, datasets: list[Any] | None, error: str | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.datasets = datasets
        self.error = error
