"""One backend's schedule: a due-time heap, chunked polls under a concurrency limit.

Every dataset has a next-due time; the loop wakes at the earliest, takes
everything due, chunks it by the backend's batch size and runs the chunks
under the backend's concurrency limit. Datasets given the same due time
together (a chunk's answers) share one heap entry: under churn that is ~50
entries a second instead of 5,000. A dataset is never polled twice at
once. After each poll it is rescheduled by what came back: poll_interval
while processing, settled_interval once settled, exponential backoff with
jitter on failures, the whole backend paused on Retry-After or refused
credentials. Its health (probes, down, recovery) is `HealthWatch`'s.
No Textual here.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import random
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .backends.base import Backend, FetchResult
from .backends.http import MAX_RETRY_AFTER
from .config import Settings
from .health import BackendHealth, Health
from .health_watch import FAILED, HealthWatch
from .models import SETTLED_STATES, DatasetState, Failure, State, unreadable

if TYPE_CHECKING:
    from .poller import Poller

log = logging.getLogger("tui.poller")


def interval_after(state: DatasetState, settings: Settings) -> float:
    """How long until a dataset that just answered is polled again."""
    return settings.settled_interval if state.state in SETTLED_STATES else settings.poll_interval


def backoff_delay(failures: int, settings: Settings, rng: random.Random) -> float:
    """Exponential backoff with jitter: poll_interval·2^(n-1), capped, times 0.5–1."""
    cap = max(settings.settled_interval, settings.poll_interval)
    base = min(cap, settings.poll_interval * 2 ** max(0, failures - 1))
    return base * rng.uniform(0.5, 1.0)


class BackendScheduler(HealthWatch):
    """The due-time heap and the in-flight set of one backend (its health: HealthWatch)."""

    def __init__(self, poller: Poller, backend: Backend, ids: Iterable[str]) -> None:
        self.poller = poller
        self.backend = backend
        self.name = backend.name
        self.due_at: dict[str, float] = {}
        # (due time, sequence, IDs): an entry's IDs are due then unless rescheduled since.
        self.heap: list[tuple[float, int, list[str]]] = []
        self.in_flight: set[str] = set()
        self.failures: dict[str, int] = {}
        self.paused_until = 0.0
        self.pause_reason: Health | None = None
        self.wake = asyncio.Event()
        self.watchdog_wake = asyncio.Event()
        self.limit = asyncio.Semaphore(poller.settings.max_concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.health = BackendHealth(self.name)
        self.failed_chunks_in_a_row = 0
        self.last_request_at = poller.clock()  # when the last request went out
        self.down = False  # not answering: datasets wait, one probe per poll_interval
        self.next_probe_at = 0.0
        self.recovering: set[str] = set()  # re-read after an outage, not answered yet
        self.probes: set[asyncio.Task[None]] = set()  # reads probing a down backend
        self.recovered_at = -math.inf  # clock time the backend last came back
        self.schedule_many(list(ids), poller.clock())

    # -- the schedule --------------------------------------------------------

    def schedule(self, dataset_id: str, at: float) -> None:
        self.schedule_many([dataset_id], at)

    def schedule_many(self, ids: list[str], at: float) -> None:
        """Make `ids` due at `at` (one heap entry for all of them)."""
        if not ids:
            return
        due_at = self.due_at
        for dataset_id in ids:
            due_at[dataset_id] = at
        self._push(ids, at)

    def _push(self, ids: list[str], at: float) -> None:
        """The heap entry of `ids`, whose due_at says `at` (else it is skipped)."""
        entry = (at, next(self.poller.sequence), ids)
        heapq.heappush(self.heap, entry)
        if self.heap[0] is entry:
            self.wake.set()

    def forget(self, dataset_id: str) -> None:
        # Heap entries of forgotten IDs are skipped lazily when popped.
        self.due_at.pop(dataset_id, None)
        self.failures.pop(dataset_id, None)
        self.recovering.discard(dataset_id)

    def take_due(self, now: float) -> list[str]:
        due: list[str] = []
        heap, due_at, in_flight = self.heap, self.due_at, self.in_flight
        while heap and heap[0][0] <= now:
            at, _, ids = heapq.heappop(heap)
            # Skipped: superseded by a later schedule() or already running.
            due += [i for i in ids if due_at.get(i) == at and i not in in_flight]
        return due

    def next_wake(self) -> float | None:
        heap, due_at, in_flight = self.heap, self.due_at, self.in_flight
        while heap:
            at, _, ids = heap[0]
            if any(due_at.get(i) == at and i not in in_flight for i in ids):
                return at
            heapq.heappop(heap)
        return None

    def unpause(self) -> None:
        self.paused_until = 0.0
        self.pause_reason = None
        self.wake.set()

    def poll_all_now(self) -> None:
        in_flight = self.in_flight
        self.schedule_many([i for i in self.due_at if i not in in_flight], self.poller.clock())

    # -- the loop ------------------------------------------------------------

    async def run(self) -> None:
        poller = self.poller
        while True:
            await poller.running.wait()
            now = poller.clock()
            if now < self.paused_until:
                await self._sleep(self.paused_until - now)
                continue
            due = self.take_due(now)
            if not due:
                upcoming = self.next_wake()
                await self._sleep(None if upcoming is None else upcoming - now)
                continue
            self.in_flight.update(due)
            size = max(1, self.backend.batch_size)
            for start in range(0, len(due), size):
                chunk = due[start : start + size]
                await self.limit.acquire()
                if self._parked():
                    # A result that arrived while we waited for a slot paused
                    # the backend (429, 401, down): put the rest back.
                    self.limit.release()
                    self._put_back(due[start:])
                    break
                task = asyncio.create_task(self._poll_chunk(chunk, release=True))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    def _parked(self) -> bool:
        return not self.poller.running.is_set() or self.poller.clock() < self.paused_until

    def _put_back(self, ids: list[str]) -> None:
        self.in_flight.difference_update(ids)
        at = self.paused_until if math.isfinite(self.paused_until) else self.poller.clock()
        at = max(at, self.poller.clock())
        self.schedule_many([i for i in ids if i in self.due_at], at)

    async def _sleep(self, seconds: float | None, event: asyncio.Event | None = None) -> None:
        event = event or self.wake
        event.clear()
        if seconds is not None and not math.isfinite(seconds):
            seconds = None
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancel() that arrives
        # as the wake-up does, and the loop (and Poller.run) would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    # -- polling -------------------------------------------------------------

    async def _poll_chunk(self, chunk: list[str], *, release: bool, probe: bool = False) -> None:
        try:
            sent_at = self.last_request_at = self.poller.clock()
            previous = {i: s for i in chunk if (s := self.poller.states.get((self.name, i)))}
            started = time.perf_counter()
            try:
                result = await self.backend.fetch(chunk, previous)
            except Exception as exc:  # a backend bug must not stop the watch
                log.exception("backend %s: fetch failed", self.name)
                result = self._crashed(chunk, exc)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "backend %s: polled %s in %s, %.0f ms%s%s%s",
                    self.name,
                    _counted(len(chunk), "dataset"),
                    _counted(result.requests, "request"),
                    (time.perf_counter() - started) * 1000,
                    " (probe)" if probe else "",
                    ", unauthorized" if result.unauthorized else "",
                    "" if result.retry_after is None else f", retry after {result.retry_after:g}s",
                )
            self._absorb(chunk, result, probe=probe, sent_at=sent_at)
        finally:
            self.in_flight.difference_update(chunk)
            if release:
                self.limit.release()
            self.wake.set()
            self.watchdog_wake.set()

    def _crashed(self, chunk: list[str], exc: Exception) -> FetchResult:
        failure = Failure(kind="internal", message=f"dswatch error: {type(exc).__name__}")
        states = unreadable(self.name, chunk, State.UNREACHABLE, failure)
        return FetchResult(states=states)

    def _absorb(
        self, chunk: list[str], result: FetchResult, *, probe: bool = False, sent_at: float = 0.0
    ) -> None:
        poller = self.poller
        settings = poller.settings
        now = poller.clock()
        stamp = poller.now()
        answered = {s.id for s in result.states}
        if sent_at < self.recovered_at and all(s.state in FAILED for s in result.states):
            # Sent while the backend was down and failed only now (a hung request):
            # old news. The backend answers again; read these datasets at once.
            self.schedule_many([i for i in chunk if i in self.due_at], now)
            return
        if result.retry_after is not None:
            wait = min(max(result.retry_after, 0.0), MAX_RETRY_AFTER)
            self.paused_until = max(self.paused_until, now + wait)
            self.pause_reason = Health.RATE_LIMITED
        if result.unauthorized:
            # Refused even after a fresh token: stop hammering. One probe per
            # settled interval, or sooner when the user refreshes.
            self.paused_until = max(self.paused_until, now + settings.settled_interval)
            self.pause_reason = Health.UNAUTHORIZED
        readable = any(s.state not in FAILED for s in result.states if s.id in self.due_at)
        if readable and self.down and not result.unauthorized:
            # Back: lift the outage's pause before anything is rescheduled below.
            self._recover(chunk)
        due_at, failures, paused_until = self.due_at, self.failures, self.paused_until
        next_due: dict[float, list[str]] = {}  # due time -> IDs: one heap entry each
        for observed in result.states:
            dataset_id = observed.id
            if dataset_id not in due_at:
                continue  # removed while in flight
            poller.observe(observed, stamp)
            if observed.state in FAILED:
                failed = failures[dataset_id] = failures.get(dataset_id, 0) + 1
                delay = backoff_delay(failed, settings, poller.rng)
            else:
                failures.pop(dataset_id, None)
                delay = interval_after(observed, settings)
            at = due_at[dataset_id] = max(now + delay, paused_until)
            next_due.setdefault(at, []).append(dataset_id)
        for dataset_id in chunk:
            if dataset_id not in answered and dataset_id in due_at:
                log.warning("backend %s: no answer for %s", self.name, dataset_id)
                at = due_at[dataset_id] = now + settings.poll_interval
                next_due.setdefault(at, []).append(dataset_id)
        for at, ids in next_due.items():
            self._push(ids, at)
        self._update_health(result, stamp, now, readable=readable, probe=probe, chunk=chunk)


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
