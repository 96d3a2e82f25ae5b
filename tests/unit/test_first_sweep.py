"""At start the rows (stored or not yet read) reach the screen at once, and the first
sweep when its last answer is in: neither waits a flush interval.

The batches after it still wait for the flush interval (tests/unit/test_poller.py).
"""

from __future__ import annotations

import asyncio

from tests.unit.test_poller import FAST, IDS, ScriptedBackend, ok
from tui.backends.base import FetchResult
from tui.models import State
from tui.poller import Poller, PollUpdate

AN_HOUR = 3600.0  # a flush interval no test waits for


async def test_the_first_sweep_is_handed_on_in_one_batch_without_the_flush_interval() -> None:
    answered_twice = asyncio.Event()

    def count(result: FetchResult) -> None:
        if len(backend.calls) >= 2 * len(IDS):
            answered_twice.set()

    backend = ScriptedBackend("b", ok(State.RUNNING), result_hook=count)
    poller = Poller(FAST, {"b": backend}, {"b": IDS}, flush_interval=AN_HOUR)
    updates: list[PollUpdate] = []
    swept = asyncio.Event()

    def sink(update: PollUpdate) -> None:
        updates.append(update)
        if any(s.state is State.RUNNING for s in update.states):
            swept.set()

    task = asyncio.create_task(poller.run(sink))
    try:
        # Bounded only so that a regression fails instead of hanging for an hour.
        await asyncio.wait_for(swept.wait(), timeout=30)
        rows, answers = updates
        assert {s.id for s in rows.states} == set(IDS)  # every row, before any answer
        assert "b" in rows.health  # and the backend's health
        assert {s.id for s in answers.states if s.state is State.RUNNING} == set(IDS)
        # Every dataset answered again since: those answers wait for the interval.
        await asyncio.wait_for(answered_twice.wait(), timeout=30)
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(updates) == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_rows_go_out_at_once_though_the_sweep_never_completes() -> None:
    silent = ScriptedBackend("b", ok(State.READY), delay=AN_HOUR)  # never answers
    poller = Poller(FAST, {"b": silent}, {"b": IDS}, flush_interval=AN_HOUR)
    updates: list[PollUpdate] = []
    first = asyncio.Event()

    def sink(update: PollUpdate) -> None:
        updates.append(update)
        first.set()

    task = asyncio.create_task(poller.run(sink))
    try:
        await asyncio.wait_for(first.wait(), timeout=30)
        # The rows show (nothing read yet) at once, not a flush interval in.
        assert {s.id for s in updates[0].states} == set(IDS)
        assert {s.state for s in updates[0].states} == {State.UNKNOWN}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
