"""The poller: every watched dataset of every backend, polled forever; no Textual here.

One `BackendScheduler` per backend (tui/scheduler.py: the due-time heap,
chunks, concurrency, backoff, pauses) with its `HealthWatch`
(tui/health_watch.py: probes, outages seen fast, recovery re-reads all at
once). Nothing here ever gives up.

What comes back is handed, unmerged, to the watch model (`tui.watch`) in
batches (at most one per `flush_interval`; the first sweep as soon as its last
answer is in); the model is the one copy of the states. The public surface:
`run`, `poll_once`, `watched`, `watch_only`, `add`, `remove`, `refresh`,
`pause`/`resume`, `health`, `add_companion`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Protocol

from .backends.base import Backend
from .config import Config, Settings
from .health import BackendHealth, Health
from .health_watch import MAX_PROBES_IN_FLIGHT
from .models import DatasetState, utcnow
from .scheduler import BackendScheduler, backoff_delay, interval_after
from .watch import PollBatch, PollUpdate, WatchModel

__all__ = [
    "MAX_PROBES_IN_FLIGHT",
    "BackendHealth",
    "Health",
    "PollUpdate",
    "Poller",
    "backoff_delay",
    "interval_after",
]

log = logging.getLogger(__name__)

Key = tuple[str, str]
Sink = Callable[[PollUpdate], Awaitable[None] | None]


class Companion(Protocol):
    """Runs beside the schedulers and may add/remove datasets (tui.follow.Follower)."""

    async def prepare(self) -> None: ...

    async def run(self) -> None: ...


class Poller:
    """Polls every watched dataset of every backend, forever, and feeds the watch model."""

    def __init__(
        self,
        settings: Settings,
        backends: Mapping[str, Backend],
        datasets: Mapping[str, Iterable[str]],
        *,
        model: WatchModel | None = None,
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
        self.model = model if model is not None else WatchModel(now=now)
        self.running = asyncio.Event()
        self.running.set()
        self._outbox = PollBatch()
        self._flushing = False  # run() is on: batches go out every flush_interval
        self._flush_handle: asyncio.Handle | None = None
        # Datasets of the first sweep not answered yet: its last answer is handed on at
        # once, not up to a flush_interval later (the first full screen, `wait`'s read).
        self._first_sweep: set[Key] = set()
        self.schedulers: dict[str, BackendScheduler] = {}
        self._companions: list[Companion] = []
        for name, backend in self.backends.items():
            ids = list(datasets.get(name, ()))
            self.schedulers[name] = BackendScheduler(self, backend, ids)
            self.model.track((name, dataset_id) for dataset_id in ids)

    @classmethod
    def from_config(
        cls, config: Config, backends: Mapping[str, Backend], **kwargs: object
    ) -> Poller:
        datasets = {b.name: b.datasets for b in config.backends}
        return cls(config.settings, backends, datasets, **kwargs)  # type: ignore[arg-type]

    @property
    def states(self) -> Mapping[Key, DatasetState]:
        """The model's states (read-only here: only the model changes them)."""
        return self.model.states

    # -- running -------------------------------------------------------------

    async def run(self, sink: Sink | None = None) -> None:
        """Poll until cancelled; `sink`, when given, hears each applied batch."""
        unsubscribe = self.model.subscribe(_listener(sink)) if sink is not None else None
        self._flushing = True
        self._first_sweep = {(s.name, i) for s in self.schedulers.values() for i in s.due_at}
        # Everyone sees the rows and health at once: on the loop's next turn, not a
        # flush_interval later (a warm start shows the stored rows before any answer).
        self._outbox.everything = True
        for scheduler in self.schedulers.values():
            self._outbox.health[scheduler.name] = scheduler.health
        self._flush_soon()
        loops = [asyncio.create_task(s.run()) for s in self.schedulers.values()]
        loops += [asyncio.create_task(s.watchdog()) for s in self.schedulers.values()]
        loops += [asyncio.create_task(c.run()) for c in self._companions]
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
                self._flush_handle = None
            self._flushing = False
            if unsubscribe is not None:
                unsubscribe()

    async def poll_once(self) -> dict[Key, DatasetState]:
        """Poll every watched dataset exactly once, chunked and concurrent (`status`)."""

        async def sweep(scheduler: BackendScheduler) -> None:
            ids = list(scheduler.due_at)
            scheduler.in_flight.update(ids)
            size = max(1, scheduler.backend.batch_size)
            chunks = [ids[i : i + size] for i in range(0, len(ids), size)]

            async def one(chunk: list[str]) -> None:
                async with scheduler.limit:
                    await scheduler._poll_chunk(chunk, release=False)

            await asyncio.gather(*(one(c) for c in chunks))

        await asyncio.gather(*(c.prepare() for c in self._companions))
        await asyncio.gather(*(sweep(s) for s in self.schedulers.values()))
        self.flush()
        return dict(self.model.states)

    poll_all_once = poll_once  # the name the benchmarks and older tests use

    def watched(self, backend: str | None = None) -> set[Key]:
        """Every dataset polled now (of one backend, when named): the config's, and
        what `follow` added."""
        return {
            (name, dataset_id)
            for name, scheduler in self.schedulers.items()
            if backend is None or name == backend
            for dataset_id in scheduler.due_at
        }

    def watch_only(self, keys: Iterable[Key]) -> None:
        """Poll these datasets and no others (`wait` on a few of many)."""
        wanted = set(keys)
        self._companions.clear()  # nothing else may add datasets now (tui.follow)
        for backend, dataset_id in wanted:
            if backend in self.schedulers:
                self.add(backend, [dataset_id])
        for name, scheduler in self.schedulers.items():
            self.remove(name, [i for i in list(scheduler.due_at) if (name, i) not in wanted])

    def add_companion(self, companion: Companion) -> None:
        """Run `companion` beside the schedulers: it may add and remove datasets (tui.follow).

        `run()` starts `companion.run()` (which must never return or raise);
        `poll_once()` awaits `companion.prepare()` before its sweep.
        """
        self._companions.append(companion)

    async def aclose(self) -> None:
        await asyncio.gather(*(b.aclose() for b in self.backends.values()), return_exceptions=True)

    # -- controls (called by the UI or the CLI) ------------------------------

    def refresh(self, keys: Iterable[Key] | None = None) -> None:
        """Poll these datasets (all when None) now; a refresh-all also lifts pauses.

        A down backend is probed now instead: its answer re-reads everything.
        """
        now = self.clock()
        if keys is None:
            for scheduler in self.schedulers.values():
                if scheduler.down:
                    scheduler.next_probe_at = now
                    scheduler.watchdog_wake.set()
                    continue
                scheduler.unpause()
                scheduler.poll_all_now()
            return
        for backend, dataset_id in keys:
            scheduler = self.schedulers.get(backend)
            if scheduler is None or dataset_id not in scheduler.due_at:
                continue
            if scheduler.down:
                scheduler.next_probe_at = now
                scheduler.watchdog_wake.set()
            elif dataset_id not in scheduler.in_flight:
                if scheduler.pause_reason is Health.UNAUTHORIZED:
                    scheduler.unpause()
                scheduler.schedule(dataset_id, now)

    def add(self, backend: str, ids: Iterable[str]) -> list[Key]:
        """Start watching datasets now; returns the keys that are new."""
        scheduler = self.schedulers[backend]
        now = self.clock()
        added = []
        for dataset_id in ids:
            if dataset_id in scheduler.due_at:
                continue
            scheduler.schedule(dataset_id, now)
            added.append((backend, dataset_id))
        self._outbox.added += added
        if self._first_sweep:  # still in the first sweep (tui.follow's first list): part of it
            self._first_sweep.update(added)
        self._schedule_flush()
        return added

    def remove(self, backend: str, ids: Iterable[str]) -> None:
        scheduler = self.schedulers[backend]
        for dataset_id in ids:
            scheduler.forget(dataset_id)
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

    # -- batching results for the model -------------------------------------

    def observe(self, observed: DatasetState, stamp: datetime) -> None:
        self._outbox.observations.append((observed, stamp))
        if self._first_sweep:
            self._first_sweep.discard((observed.backend, observed.id))
            if not self._first_sweep and self._flush_soon():
                return
        if self._flush_handle is None:
            self._schedule_flush()

    def publish_health(self, health: BackendHealth) -> None:
        self._outbox.health[health.backend] = health
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flushing or self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        self._flush_handle = loop.call_later(self.flush_interval, self.flush)

    def _flush_soon(self) -> bool:
        """Flush on the loop's next turn: the answers of the same chunk still join in.
        False when batches are not going out (no `run`): nothing was scheduled."""
        if not self._flushing:
            return False
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush_handle = asyncio.get_running_loop().call_soon(self.flush)
        return True

    def flush(self) -> PollUpdate | None:
        """Hand what came back to the model now (it tells its listeners)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        batch, self._outbox = self._outbox, PollBatch()
        if not batch:
            return None
        return self.model.apply(batch)


def _listener(sink: Sink) -> Callable[[PollUpdate], None]:
    def listen(update: PollUpdate) -> None:
        outcome = sink(update)
        if asyncio.iscoroutine(outcome):
            task = asyncio.ensure_future(outcome)
            task.add_done_callback(_log_sink_error)

    return listen


def _log_sink_error(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("poll sink failed", exc_info=task.exception())
