"""Simulated time and the deterministic helpers both backends' lifecycles share.

Nothing in the simulator runs in the background: every status is computed
from "now" when a request asks for it, so 10,000 datasets cost nothing until
they are polled, and a fake clock makes every lifecycle reproducible.
"""

from __future__ import annotations

import random
import time
import uuid
import zlib
from collections.abc import Callable
from datetime import UTC, datetime


class SimClock:
    """Seconds of simulated time since the simulator was created.

    `clock` is any monotonic source of seconds (a fake one in tests); `speed`
    stretches it, so a demo can run lifecycles faster than real time. Wall
    timestamps (created_at, token expiry) are the creation wall time plus the
    simulated seconds, so they stay consistent with the lifecycles.
    """

    def __init__(self, clock: Callable[[], float] | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._source = clock or time.monotonic
        self._origin = self._source()
        self._wall_origin = time.time()
        self.speed = speed

    def now(self) -> float:
        return (self._source() - self._origin) * self.speed

    def wall(self, sim_time: float | None = None) -> float:
        """The epoch seconds matching a simulated instant (default: now)."""
        return self._wall_origin + (self.now() if sim_time is None else sim_time)


def unit_hash(*parts: object) -> float:
    """A stable pseudo-random number in [0, 1) for these parts.

    Used where a per-dataset choice must not depend on creation order (style
    variants, churn phases), so it is the same in every process.
    """
    text = "\x1f".join(str(part) for part in parts)
    return zlib.crc32(text.encode()) / 2**32


def random_uuid(rng: random.Random, version: int = 4) -> str:
    """A UUID drawn from `rng`: reproducible from the simulator's seed."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=version))


def derived_uuid(parent: str, name: str) -> str:
    """A stable UUID for a child object (a run, an item, a task) of `parent`."""
    return str(uuid.uuid5(uuid.UUID(parent), name))


def iso_naive(epoch: float) -> str:
    """Visual Layer's timestamp style: naive UTC with microseconds."""
    return (
        datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    )


def iso_z(epoch: float) -> str:
    """UTC with a trailing Z (one of Cognee's two timestamp styles)."""
    return iso_naive(epoch) + "Z"


def iso_offset(epoch: float) -> str:
    """UTC with an explicit +00:00 offset (Python's own isoformat)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")
