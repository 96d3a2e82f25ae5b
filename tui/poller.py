"""Scheduling, concurrency and backoff for every watched dataset; no Textual here.

Each backend gets a scheduler: every dataset has a next-due time (a heap),
the scheduler wakes at the earliest, takes everything due, chunks it by the
backend's batch size and runs the chunks under the backend's concurrency
limit. A dataset is never polled twice at once. After each poll it is
rescheduled by what came back: poll_interval while processing,
settled_interval once settled, exponential backoff with jitter on failures,
the whole backend paused on Retry-After or refused credentials. Nothing here
ever gives up.

Results are merged into `Poller.states` and handed to the sink in batches
(at most one per `flush_interval`), so a UI repaints once per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from .backends.base import Backend, FetchResult
from .config import Config, Settings
from .models import (
    SETTLED_STATES,
    DatasetState,
    Failure,
    State,
    merge,
    utcnow,
)
from .text import sanitize

log = logging.getLogger(__name__)
# Backends going down and up: expected events, apart from dswatch's own troubles.
health_log = logging.getLogger("tui.health")

Key = tuple[str, str]
MAX_RETRY_AFTER = 3600.0  # never trust a server to park us for longer than this


class Health(StrEnum):
    UNKNOWN = "unknown"  # not polled yet
    OK = "ok"
    UNAUTHORIZED = "unauthorized"
    UNREACHABLE = "unreachable"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True)
class BackendHealth:
    backend: str
    health: Health = Health.UNKNOWN
    message: str | None = None  # the last error, for the summary line
    last_poll: datetime | None = None
    credential_hint: str | None = None  # which env vars to fix, when unauthorized
    paused_for: float | None = None  # seconds, when the backend is parked


@dataclass(slots=True)
class PollUpdate:
    """One batch for the sink: new states, what changed in each, backend health."""

    states: list[DatasetState] = field(default_factory=list)
    changed: dict[Key, frozenset[str]] = field(default_factory=dict)
    health: dict[str, BackendHealth] = field(default_factory=dict)
    removed: list[Key] = field(default_factory=list)


Sink = Callable[[PollUpdate], Awaitable[None] | None]


def interval_after(state: DatasetState, settings: Settings) -> float:
    """How long until a dataset that just answered is polled again."""
    return settings.settled_interval if state.state in SETTLED_STATES else settings.poll_interval


def backoff_delay(failures: int, settings: Settings, rng: random.Random) -> float:
    """Exponential backoff with jitter: poll_interval·2^(n-1), capped, times 0.5–1."""
    cap = max(settings.settled_interval, settings.poll_interval)
    base = min(cap, settings.poll_interval * 2 ** max(0, failures - 1))
    return base * rng.uniform(0.5, 1.0)


class _BackendScheduler:
    """The due-time heap and the in-flight set of one backend."""

    def __init__(self, poller: Poller, backend: Backend, ids: Iterable[str]) -> None:
        self.poller = poller
        self.backend = backend
        self.name = backend.name
        self.due_at: dict[str, float] = {}
        self.heap: list[tuple[float, int, str]] = []
        self.in_flight: set[str] = set()
        self.failures: dict[str, int] = {}
        self.paused_until = 0.0
        self.pause_reason: Health | None = None
        self.wake = asyncio.Event()
        self.limit = asyncio.Semaphore(poller.settings.max_concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.health = BackendHealth(self.name)
        self.failed_chunks_in_a_row = 0
        now = poller.clock()
        for dataset_id in ids:
            self.schedule(dataset_id, now)

    # -- the schedule --------------------------------------------------------

    def schedule(self, dataset_id: str, at: float) -> None:
        self.due_at[dataset_id] = at
        heapq.heappush(self.heap, (at, next(self.poller.sequence), dataset_id))
        if self.heap[0][2] == dataset_id:
            self.wake.set()

    def forget(self, dataset_id: str) -> None:
        # Heap entries of forgotten IDs are skipped lazily when popped.
        self.due_at.pop(dataset_id, None)
        self.failures.pop(dataset_id, None)

    def take_due(self, now: float) -> list[str]:
        due: list[str] = []
        while self.heap and self.heap[0][0] <= now:
            at, _, dataset_id = heapq.heappop(self.heap)
            if self.due_at.get(dataset_id) != at or dataset_id in self.in_flight:
                continue  # superseded by a later schedule() or already running
            due.append(dataset_id)
        return due

    def next_wake(self) -> float | None:
        while self.heap:
            at, _, dataset_id = self.heap[0]
            if self.due_at.get(dataset_id) == at and dataset_id not in self.in_flight:
                return at
            heapq.heappop(self.heap)
        return None

    def unpause(self) -> None:
        self.paused_until = 0.0
        self.pause_reason = None
        self.wake.set()

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
                    # the backend (429, 401): put the rest back.
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
        at = max(self.paused_until, self.poller.clock())
        for dataset_id in ids:
            if dataset_id in self.due_at:
                self.schedule(dataset_id, at)

    async def _sleep(self, seconds: float | None) -> None:
        self.wake.clear()
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancel() that arrives
        # as the wake-up does, and the loop (and Poller.run) would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()

    async def _poll_chunk(self, chunk: list[str], *, release: bool) -> None:
        try:
            previous = {i: s for i in chunk if (s := self.poller.states.get((self.name, i)))}
            started = time.perf_counter()
            try:
                result = await self.backend.fetch(chunk, previous)
            except Exception as exc:  # a backend bug must not stop the watch
                log.exception("backend %s: fetch failed", self.name)
                result = self._crashed(chunk, exc)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "backend %s: polled %s in %s, %.0f ms%s%s",
                    self.name,
                    _counted(len(chunk), "dataset"),
                    _counted(result.requests, "request"),
                    (time.perf_counter() - started) * 1000,
                    ", unauthorized" if result.unauthorized else "",
                    "" if result.retry_after is None else f", retry after {result.retry_after:g}s",
                )
            self._absorb(chunk, result)
        finally:
            self.in_flight.difference_update(chunk)
            if release:
                self.limit.release()
            self.wake.set()

    def _crashed(self, chunk: list[str], exc: Exception) -> FetchResult:
        failure = Failure(kind="internal", message=f"dswatch error: {type(exc).__name__}")
        states = [
            DatasetState(
                backend=self.name,
                id=i,
                state=State.UNREACHABLE,
                error=failure.message,
                failure=failure,
            )
            for i in chunk
        ]
        return FetchResult(states=states)

    def _absorb(self, chunk: list[str], result: FetchResult) -> None:
        poller = self.poller
        settings = poller.settings
        now = poller.clock()
        stamp = poller.now()
        answered = {s.id for s in result.states}
        transitions = log.isEnabledFor(logging.DEBUG)
        if result.retry_after is not None:
            wait = min(max(result.retry_after, 0.0), MAX_RETRY_AFTER)
            self.paused_until = max(self.paused_until, now + wait)
            self.pause_reason = Health.RATE_LIMITED
        if result.unauthorized:
            # Refused even after a fresh token: stop hammering. One probe per
            # settled interval, or sooner when the user refreshes.
            self.paused_until = max(self.paused_until, now + settings.settled_interval)
            self.pause_reason = Health.UNAUTHORIZED
        for observed in result.states:
            if observed.id not in self.due_at:
                continue  # removed while in flight
            key = (self.name, observed.id)
            old = poller.states.get(key)
            new, changed = merge(old, observed, stamp)
            poller.states[key] = new
            poller.publish(new, changed)
            if transitions and old is not None and old.state is not new.state:
                log.debug(
                    "%s/%s: %s -> %s", self.name, observed.id, old.state.value, new.state.value
                )
            if observed.state in (State.UNREACHABLE, State.UNAUTHORIZED):
                failures = self.failures.get(observed.id, 0) + 1
                self.failures[observed.id] = failures
                delay = backoff_delay(failures, settings, poller.rng)
            else:
                self.failures.pop(observed.id, None)
                delay = interval_after(new, settings)
            self.schedule(observed.id, max(now + delay, self.paused_until))
        for dataset_id in chunk:
            if dataset_id not in answered and dataset_id in self.due_at:
                log.warning("backend %s: no answer for %s", self.name, dataset_id)
                self.schedule(dataset_id, now + settings.poll_interval)
        if result.unauthorized:
            self._mark_all_unauthorized(result, stamp)
        self._update_health(result, stamp, now)

    def _mark_all_unauthorized(self, result: FetchResult, stamp: datetime) -> None:
        """Credentials are backend-wide: every dataset of it is unreadable now."""
        failure = next((s.failure for s in result.states if s.failure), None)
        for dataset_id in self.due_at:
            key = (self.name, dataset_id)
            old = self.poller.states.get(key)
            if old is not None and old.state is State.UNAUTHORIZED:
                continue
            observed = DatasetState(
                backend=self.name,
                id=dataset_id,
                state=State.UNAUTHORIZED,
                error="unauthorized",
                failure=failure,
            )
            new, changed = merge(old, observed, stamp)
            self.poller.states[key] = new
            self.poller.publish(new, changed)

    def _update_health(self, result: FetchResult, stamp: datetime, now: float) -> None:
        failed = [s for s in result.states if s.state in (State.UNREACHABLE, State.UNAUTHORIZED)]
        all_failed = bool(failed) and len(failed) == len(result.states)
        self.failed_chunks_in_a_row = self.failed_chunks_in_a_row + 1 if all_failed else 0
        # One failed request among good ones is a flaky dataset, not a backend
        # that is down: call the backend unreachable after two failures in a row
        # (or one, when a single request covers all its datasets).
        down_after = 1 if len(self.due_at) <= self.backend.batch_size else 2
        if result.unauthorized:
            health, message = Health.UNAUTHORIZED, _first_message(failed) or "unauthorized"
        elif result.retry_after is not None:
            message = f"rate limited, retrying in {result.retry_after:.0f}s"
            health = Health.RATE_LIMITED
        elif self.failed_chunks_in_a_row >= down_after:
            health, message = Health.UNREACHABLE, _first_message(failed)
        else:
            health, message = Health.OK, None
        paused_for = self.paused_until - now if self.paused_until > now else None
        new = BackendHealth(
            backend=self.name,
            health=health,
            message=message,
            last_poll=stamp,
            credential_hint=self.poller.credential_hints.get(self.name)
            if health is Health.UNAUTHORIZED
            else None,
            paused_for=paused_for,
        )
        if new != self.health:
            if (new.health, new.message) != (self.health.health, self.health.message):
                _log_health(new, self.health.health)
            self.health = new
            self.poller.publish_health(new)
        else:
            self.health = new


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _log_health(new: BackendHealth, before: Health) -> None:
    """One line when a backend goes up or down (messages are server text: sanitized)."""
    if new.health is Health.OK:
        if before is not Health.UNKNOWN:
            health_log.info("backend %s: answering again (was %s)", new.backend, before.value)
        return
    paused = f"; paused {new.paused_for:.0f}s" if new.paused_for else ""
    message = sanitize(new.message or "", max_len=300)
    health_log.warning("backend %s: %s: %s%s", new.backend, new.health.value, message, paused)


def _first_message(states: list[DatasetState]) -> str | None:
    for state in states:
        if state.failure is not None:
            return state.failure.message
        if state.error:
            return state.error
    return None


class Poller:
    """Polls every watched dataset of every backend, forever, and reports changes."""

    def __init__(
        self,
        settings: Settings,
        backends: Mapping[str, Backend],
        datasets: Mapping[str, Iterable[str]],
        *,
        credential_hints: Mapping[str, str] | None = None,
        flush_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        seed: int | None = None,
    ) -> None:
        self.settings = settings
        self.backends = dict(backends)
        self.credential_hints = dict(credential_hints or {})
        self.flush_interval = flush_interval
        self.clock = clock
        self.now = now
        self.rng = random.Random(seed)
        self.sequence = itertools.count()
        self.states: dict[Key, DatasetState] = {}
        self.running = asyncio.Event()
        self.running.set()
        self._outbox = PollUpdate()
        self._sink: Sink | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self.schedulers: dict[str, _BackendScheduler] = {}
        for name, backend in self.backends.items():
            ids = list(datasets.get(name, ()))
            self.schedulers[name] = _BackendScheduler(self, backend, ids)
            for dataset_id in ids:
                self.states[(name, dataset_id)] = DatasetState(backend=name, id=dataset_id)

    @classmethod
    def from_config(
        cls, config: Config, backends: Mapping[str, Backend], **kwargs: object
    ) -> Poller:
        datasets = {b.name: b.datasets for b in config.backends}
        return cls(config.settings, backends, datasets, **kwargs)  # type: ignore[arg-type]

    # -- running -------------------------------------------------------------

    async def run(self, sink: Sink) -> None:
        """Poll until cancelled, handing batches of results to `sink`."""
        self._sink = sink
        # Everyone sees the initial (unknown) rows and health at once.
        for key, state in self.states.items():
            self._outbox.states.append(state)
            self._outbox.changed[key] = frozenset()
        for scheduler in self.schedulers.values():
            self._outbox.health[scheduler.name] = scheduler.health
        self._schedule_flush()
        loops = [asyncio.create_task(s.run()) for s in self.schedulers.values()]
        try:
            await asyncio.gather(*loops)
        finally:
            for task in loops:
                task.cancel()
            pending = [t for s in self.schedulers.values() for t in s.tasks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*loops, *pending, return_exceptions=True)
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            self._sink = None

    async def poll_all_once(self) -> dict[Key, DatasetState]:
        """Poll every dataset exactly once, chunked and concurrent (for `status`)."""

        async def sweep(scheduler: _BackendScheduler) -> None:
            ids = list(scheduler.due_at)
            scheduler.in_flight.update(ids)
            size = max(1, scheduler.backend.batch_size)
            chunks = [ids[i : i + size] for i in range(0, len(ids), size)]

            async def one(chunk: list[str]) -> None:
                async with scheduler.limit:
                    await scheduler._poll_chunk(chunk, release=False)

            await asyncio.gather(*(one(c) for c in chunks))

        await asyncio.gather(*(sweep(s) for s in self.schedulers.values()))
        return dict(self.states)

    async def aclose(self) -> None:
        await asyncio.gather(*(b.aclose() for b in self.backends.values()), return_exceptions=True)

    # -- controls (called by the UI or the CLI) ------------------------------

    def refresh(self, keys: Iterable[Key] | None = None) -> None:
        """Poll these datasets (all when None) now; a refresh-all also lifts pauses."""
        now = self.clock()
        if keys is None:
            for scheduler in self.schedulers.values():
                scheduler.unpause()
                for dataset_id in list(scheduler.due_at):
                    if dataset_id not in scheduler.in_flight:
                        scheduler.schedule(dataset_id, now)
            return
        for backend, dataset_id in keys:
            scheduler = self.schedulers.get(backend)
            if scheduler is None or dataset_id not in scheduler.due_at:
                continue
            if dataset_id not in scheduler.in_flight:
                if scheduler.pause_reason is Health.UNAUTHORIZED:
                    scheduler.unpause()
                scheduler.schedule(dataset_id, now)

    def add(self, backend: str, ids: Iterable[str]) -> list[DatasetState]:
        """Start watching datasets now; returns their placeholder states."""
        scheduler = self.schedulers[backend]
        now = self.clock()
        added = []
        for dataset_id in ids:
            if dataset_id in scheduler.due_at:
                continue
            state = DatasetState(backend=backend, id=dataset_id)
            self.states[(backend, dataset_id)] = state
            scheduler.schedule(dataset_id, now)
            self.publish(state, frozenset())
            added.append(state)
        return added

    def remove(self, backend: str, ids: Iterable[str]) -> None:
        scheduler = self.schedulers[backend]
        for dataset_id in ids:
            scheduler.forget(dataset_id)
            if self.states.pop((backend, dataset_id), None) is not None:
                self._outbox.removed.append((backend, dataset_id))
        self._schedule_flush()

    def pause(self) -> None:
        self.running.clear()

    def resume(self) -> None:
        self.running.set()

    @property
    def paused(self) -> bool:
        return not self.running.is_set()

    def health(self) -> dict[str, BackendHealth]:
        return {name: s.health for name, s in self.schedulers.items()}

    # -- batching results for the sink ---------------------------------------

    def publish(self, state: DatasetState, changed: frozenset[str]) -> None:
        outbox = self._outbox
        outbox.states.append(state)
        key = (state.backend, state.id)
        before = outbox.changed.get(key)
        outbox.changed[key] = changed if before is None else before | changed
        if self._flush_handle is None:
            self._schedule_flush()

    def publish_health(self, health: BackendHealth) -> None:
        self._outbox.health[health.backend] = health
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._sink is None or self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        self._flush_handle = loop.call_later(self.flush_interval, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        update, self._outbox = self._outbox, PollUpdate()
        if self._sink is None:
            return
        # Several polls of one dataset in a batch: keep the newest.
        latest = {(state.backend, state.id): state for state in update.states}
        states = self.states
        update.states = [s for k, s in latest.items() if k in states]
        outcome = self._sink(update)
        if asyncio.iscoroutine(outcome):
            task = asyncio.ensure_future(outcome)
            task.add_done_callback(_log_sink_error)


def _log_sink_error(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("poll sink failed", exc_info=task.exception())
