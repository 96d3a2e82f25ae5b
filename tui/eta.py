"""When will it be done, how long has it run, has it stopped: pure functions.

Every function takes `now` (no clock is read here) so tests drive time.
An ETA comes from the progress rate when the dataset reports progress (at
least MIN_SAMPLES spanning MIN_SPAN_S, rate > 0), else from the median of past
runs of the same pipeline (the dataset's own, else its backend's).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

MIN_SAMPLES = 2
MIN_SPAN_S = 30.0
STUCK_WITHOUT_HISTORY_S = 3_600.0
STUCK_MEDIAN_FACTOR = 3.0

Sample = tuple[datetime, float]  # (when, progress 0..100)


@dataclass(frozen=True, slots=True)
class PastRun:
    """One finished run of a pipeline (seen by the store or reported by the server)."""

    pipeline: str
    started: datetime
    ended: datetime
    outcome: str  # a State value: ready / error / partial

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()


@dataclass(frozen=True, slots=True)
class Estimate:
    seconds: float | None  # None: no estimate worth showing
    source: Literal["rate", "history"] | None


def eta_from_rate(samples: Sequence[Sample], now: datetime) -> float | None:
    """Seconds left at the average rate over `samples` (one run's, oldest first)."""
    if len(samples) < MIN_SAMPLES:
        return None
    (first_at, first), (last_at, last) = samples[0], samples[-1]
    span = (last_at - first_at).total_seconds()
    if span < MIN_SPAN_S:
        return None
    rate = (last - first) / span  # points per second
    if rate <= 0:
        return None
    left = (100.0 - last) / rate - (now - last_at).total_seconds()
    return max(0.0, left)


def eta_from_history(durations: Sequence[float], elapsed: float | None) -> float | None:
    """Median past duration minus the time already spent; None once past the median."""
    if not durations:
        return None
    left = statistics.median(durations) - (elapsed or 0.0)
    return left if left > 0 else None


def estimate(
    samples: Sequence[Sample],
    dataset_durations: Sequence[float],
    backend_durations: Sequence[float],
    started: datetime | None,
    now: datetime,
) -> Estimate:
    by_rate = eta_from_rate(samples, now)
    if by_rate is not None:
        return Estimate(by_rate, "rate")
    spent = elapsed(started, now)
    by_history = eta_from_history(dataset_durations or backend_durations, spent)
    return Estimate(by_history, "history" if by_history is not None else None)


def elapsed(started: datetime | None, now: datetime) -> float | None:
    return None if started is None else max(0.0, (now - started).total_seconds())


def stuck_threshold(setting: float | None, durations: Sequence[float]) -> float:
    """`stuck_after` when set, else 3x the median past run, else 1 h."""
    if setting is not None:
        return setting
    if durations:
        return max(STUCK_MEDIAN_FACTOR * statistics.median(durations), MIN_SPAN_S)
    return STUCK_WITHOUT_HISTORY_S


def is_stuck(running: bool, last_change: datetime | None, threshold: float, now: datetime) -> bool:
    """A running dataset whose state and progress have not moved for `threshold` s."""
    if not running or last_change is None:
        return False
    return (now - last_change).total_seconds() > threshold


def format_eta(seconds: float | None) -> str:
    """`~12m`, `~2h05m`, `~3d`; empty when there is no estimate."""
    if seconds is None:
        return ""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"~{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"~{hours}h{minutes:02d}m"
    return f"~{round(hours / 24)}d"


def format_minutes(seconds: float) -> str:
    """Durations in history lines: `45 s`, `17 m`, `2 h 05 m`."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"
