"""Messages: the model's batches to the widgets, and screens' requests to the app."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from .watch import PollUpdate

Key = tuple[str, str]


class PollerUpdated(Message):
    """One batch the watch model applied: shown by the widgets in one pass."""

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


class DetailsRequested(Message):
    """A screen wants the backend's extras (tasks, runs) for one dataset."""

    def __init__(self, key: Key) -> None:
        super().__init__()
        self.key = key


class RefreshRequested(Message):
    """Poll these datasets now."""

    def __init__(self, keys: list[Key]) -> None:
        super().__init__()
        self.keys = keys


class CopyRequested(Message):
    """Copy this dataset's ID to the clipboard."""

    def __init__(self, key: Key) -> None:
        super().__init__()
        self.key = key


class OpenRequested(Message):
    """Open this dataset's web page."""

    def __init__(self, key: Key) -> None:
        super().__init__()
        self.key = key


class RemoteListRequested(Message):
    """The add dialog wants a backend's own dataset list."""

    def __init__(self, backend: str) -> None:
        super().__init__()
        self.backend = backend
