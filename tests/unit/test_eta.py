"""ETA, elapsed and the stuck rule, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tui.eta import (
    estimate,
    eta_from_history,
    eta_from_rate,
    format_eta,
    format_minutes,
    is_stuck,
    stuck_threshold,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_eta_from_the_progress_rate() -> None:
    samples = [(at(0), 10.0), (at(60), 20.0)]  # 10 points a minute
    assert eta_from_rate(samples, at(60)) == pytest.approx(480.0)
    assert eta_from_rate(samples, at(90)) == pytest.approx(450.0)  # time since the last sample
    assert eta_from_rate(samples, at(10_000)) == 0.0


@pytest.mark.parametrize(
    "samples",
    [
        [(T0, 10.0)],  # one sample
        [(T0, 10.0), (T0 + timedelta(seconds=29), 40.0)],  # spanning less than 30 s
        [(T0, 50.0), (T0 + timedelta(seconds=60), 50.0)],  # no progress
        [(T0, 50.0), (T0 + timedelta(seconds=60), 40.0)],  # going backwards
    ],
)
def test_no_rate_eta_without_enough_positive_samples(
    samples: list[tuple[datetime, float]],
) -> None:
    assert eta_from_rate(samples, at(60)) is None


def test_eta_from_the_median_of_past_runs() -> None:
    assert eta_from_history([600.0, 900.0, 6000.0], elapsed=300.0) == 600.0
    assert eta_from_history([600.0], elapsed=700.0) is None  # past the usual: no guess
    assert eta_from_history([], elapsed=0.0) is None


def test_estimate_prefers_the_rate_then_the_dataset_then_the_backend() -> None:
    rate = [(at(0), 0.0), (at(100), 50.0)]
    assert estimate(rate, [1000.0], [50.0], at(0), at(100)).source == "rate"
    own = estimate([], [1000.0], [50.0], at(0), at(100))
    assert (own.source, own.seconds) == ("history", 900.0)
    backend = estimate([], [], [400.0], at(0), at(100))
    assert (backend.source, backend.seconds) == ("history", 300.0)
    nothing = estimate([], [], [], at(0), at(100))
    assert (nothing.source, nothing.seconds) == (None, None)


def test_stuck_threshold_and_rule() -> None:
    assert stuck_threshold(120.0, [600.0]) == 120.0  # the setting wins
    assert stuck_threshold(None, [600.0, 1200.0, 900.0]) == 2700.0  # 3x the median run
    assert stuck_threshold(None, []) == 3600.0  # 1 h without history
    assert is_stuck(True, at(0), 3600.0, at(3601))
    assert not is_stuck(True, at(0), 3600.0, at(3600))
    assert not is_stuck(False, at(0), 3600.0, at(10_000))  # only running datasets
    assert not is_stuck(True, None, 3600.0, at(10_000))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (5, "~1m"),
        (12 * 60 + 10, "~12m"),
        (2 * 3600 + 5 * 60, "~2h05m"),
        (3 * 86400, "~3d"),
    ],
)
def test_format_eta(seconds: float | None, text: str) -> None:
    assert format_eta(seconds) == text


def test_format_minutes() -> None:
    assert [format_minutes(s) for s in (45, 17 * 60, 2 * 3600 + 300)] == [
        "45 s",
        "17 m",
        "2 h 05 m",
    ]
