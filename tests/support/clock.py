"""The fake clock every injectable clock in dswatch takes: a callable returning seconds."""

from __future__ import annotations


class FakeClock:
    """Time stands still until a test moves it (`clock.now = ...` or `advance`)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
