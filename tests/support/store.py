"""One dataset's successful reads at known moments, for the history store's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tui.models import DatasetState, State

T0 = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)
KEY = ("vl", "0b7e2d7a-94a4-4a39-9a8a-2d8a8c0e4f11")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def read(
    state: State = State.RUNNING, when: float = 0.0, key: tuple[str, str] = KEY, **fields: Any
) -> DatasetState:
    """One successful poll of a dataset at T0 + `when` s."""
    moment = at(when)
    fields.setdefault("name", "cats")
    return DatasetState(
        backend=key[0],
        id=key[1],
        state=state,
        fetched_at=moment,
        polled_at=moment,
        changed_at=moment,
        **fields,
    )
