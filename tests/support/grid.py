"""Datasets for the grid's tests, fetched 30 s before a fixed moment T0."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tui.models import DatasetState, State

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def ds(i: int, **fields: Any) -> DatasetState:
    base: dict[str, Any] = {
        "backend": "vl",
        "id": f"id-{i:03d}",
        "name": f"set {i}",
        "state": State.READY,
        "fetched_at": T0 - timedelta(seconds=30),
        "polled_at": T0 - timedelta(seconds=30),  # confirmed this run (not from the store)
    }
    base.update(fields)
    return DatasetState(**base)
