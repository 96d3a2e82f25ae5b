"""Waiting for real I/O: poll a condition until it holds, never a fixed sleep.

Only for what a clock cannot drive (a server answering, a child process, the
app's own event loop working through a poll); where time itself is the subject,
tests inject a FakeClock (tests/support/clock.py) instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT = 8.0  # a generous bound: every wait ends as soon as it is true


async def until(
    pilot: Any,
    condition: Callable[[], bool],
    what: str | Callable[[], str] = "condition",
    timeout: float = DEFAULT_TIMEOUT,
    step: float = 0.05,
) -> None:
    """Return as soon as `condition()` holds; fail saying `what` after `timeout` s.

    With a Textual `pilot` each step is `pilot.pause(step)` (the app processes its
    messages meanwhile); without one (None) a plain asyncio sleep.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout}s: {said}")
        if pilot is None:
            await asyncio.sleep(step)
        else:
            await pilot.pause(step)
