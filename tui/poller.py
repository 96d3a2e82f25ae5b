"""Scheduling, concurrency, backoff and backend health; no Textual here.

Each backend gets a scheduler: every dataset has a next-due time (a heap),
the scheduler wakes at the earliest, takes everything due, chunks it by the
backend's batch size and runs the chunks under the backend's concurrency
limit. A dataset is never polled twice at once. After each poll it is
rescheduled by what came back: poll_interval while processing,
settled_interval once settled, exponential backoff with jitter on failures,
the whole backend paused on Retry-After or refused credentials. Nothing here
ever gives up.

Health is watched, not guessed from the next poll: while a backend is quiet
(every dataset settled) a cheap probe goes out every poll_interval, so an
outage is seen within poll_interval + timeout. A down backend's datasets are
not polled one by one with growing backoff: one real read probes it every
poll_interval, and the first answer re-reads all its datasets at once.

What comes back is handed, unmerged, to the watch model (`tui.watch`) in
batches (at most one per `flush_interval`); the model is the one copy of the
states. The public surface: `run`, `poll_once`, `watch_only`, `add`,
`remove`, `refresh`, `pause`/`resume`, `health`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta

from .backends.base import Backend, FetchResult
from .backends.http import shorter_timeout
from .config import Config, Settings
from .health import BackendHealth, Health, describe_failure, is_backend_failure
from .models import SETTLED_STATES, DatasetState, Failure, State, unreadable, utcnow
from .text import sanitize
from .watch import PollBatch, PollUpdate, WatchModel

__all__ = ["BackendHealth", "Health", "PollUpdate", "Poller", "backoff_delay", "interval_after"]

log = logging.getLogger(__name__)
# Backends going down and up: expected events, apart from dswatch's own troubles.
health_log = logging.getLogger("tui.health")

Key = tuple[str, str]
MAX_RETRY_AFTER = 3600.0  # never trust a server to park us for longer than this
MAX_PROBES_IN_FLIGHT = 3  # a hung server holds each probe for the whole timeout


Sink = Callable[[PollUpdate], Awaitable[None] | None]
FAILED = (State.UNREACHABLE, State.UNAUTHORIZED)


def interval_after(state: DatasetState, settings: Settings) -> float:
    """How long until a dataset that just answered is polled again."""
    return settings.settled_interval if state.state in SETTLED_STATES else settings.poll_interval


def backoff_delay(failures: int, settings: Settings, rng: random.Random) -> float:
    """Exponential backoff with jitter: poll_interval·2^(n-1), capped, times 0.5–1."""
    cap = max(settings.settled_interval, settings.poll_interval)
    base = min(cap, settings.poll_interval * 2 ** max(0, failures - 1))
    return base * rng.uniform(0.5, 1.0)


class _BackendScheduler:
    """The due-time heap, the in-flight set and the health of one backend."""

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
        self.recovering.discard(dataset_id)

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

    def poll_all_now(self) -> None:
        now = self.poller.clock()
        for dataset_id in list(self.due_at):
            if dataset_id not in self.in_flight:
                self.schedule(dataset_id, now)

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
        for dataset_id in ids:
            if dataset_id in self.due_at:
                self.schedule(dataset_id, at)

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

    # -- the watchdog: outages seen fast, recovery noticed at once -------------

    def probe_due_in(self, now: float) -> float:
        """Seconds until the next probe (<= 0: now). Pure, for tests with a fake clock.

        Down: one probe per poll_interval. Up and quiet (no request out for a
        poll_interval, e.g. every dataset settled): a cheap probe, so an outage
        is seen within poll_interval + timeout. Parked by a 401 or a 429: none.
        """
        interval = self.poller.settings.poll_interval
        if self.down:
            return self.next_probe_at - now
        if now < self.paused_until:
            return self.paused_until - now
        if not self.due_at:
            return interval
        if self.in_flight:
            return interval  # a request is out: its answer tells
        return self.last_request_at + interval - now

    async def watchdog(self) -> None:
        poller = self.poller
        while True:
            await poller.running.wait()
            wait = self.probe_due_in(poller.clock())
            if wait > 0:
                await self._sleep(wait, self.watchdog_wake)
                continue
            if self.down:
                # One probe per poll_interval, not waiting for a hung one to time out:
                # a server that answers again is seen within poll_interval.
                self.next_probe_at = poller.clock() + poller.settings.poll_interval
                if len(self.probes) < MAX_PROBES_IN_FLIGHT:
                    probe = asyncio.create_task(self._probe_with_a_read())
                    self.probes.add(probe)
                    self.tasks.add(probe)
                    probe.add_done_callback(self.probes.discard)
                    probe.add_done_callback(self.tasks.discard)
                else:
                    await self._sleep(self.next_probe_at - poller.clock(), self.watchdog_wake)
            elif self.backend.has_probe:
                await self._probe_alive()
            else:
                await self._probe_with_a_read()

    async def _probe_with_a_read(self) -> None:
        """One real read of the datasets due soonest; while down, an answer ends the outage."""
        ready = sorted(
            (i for i in self.due_at if i not in self.in_flight), key=self.due_at.__getitem__
        )
        chunk = ready[: max(1, self.backend.batch_size)]
        if not chunk:
            return
        async with self.limit:
            self.in_flight.update(chunk)
            if self.down:
                # The next probe goes out in poll_interval: a hung one need not wait
                # the whole timeout (half of it at least, for a slow but good answer).
                settings = self.poller.settings
                with shorter_timeout(max(settings.poll_interval, settings.timeout / 2)):
                    await self._poll_chunk(chunk, release=False, probe=True)
            else:
                await self._poll_chunk(chunk, release=False, probe=True)

    async def _probe_alive(self) -> None:
        """Up and quiet: a cheap request that only says whether the backend answers."""
        poller = self.poller
        self.last_request_at = poller.clock()
        try:
            failure = await self.backend.probe()
        except Exception as exc:  # a backend bug must not stop the watch
            log.exception("backend %s: probe failed", self.name)
            failure = Failure(kind="internal", message=f"dswatch error: {type(exc).__name__}")
        if self.down or not poller.running.is_set() or poller.clock() < self.paused_until:
            return  # something else decided meanwhile
        stamp = poller.now()
        if failure is None:
            if self.health.health in (Health.OK, Health.UNKNOWN):
                self._publish_health(Health.OK, None, stamp, ok=True)
        elif is_backend_failure(failure):
            self._go_down(failure, stamp)

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
            for dataset_id in chunk:
                if dataset_id in self.due_at:
                    self.schedule(dataset_id, now)
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
        for observed in result.states:
            if observed.id not in self.due_at:
                continue  # removed while in flight
            poller.observe(observed, stamp)
            if observed.state in FAILED:
                failures = self.failures.get(observed.id, 0) + 1
                self.failures[observed.id] = failures
                delay = backoff_delay(failures, settings, poller.rng)
            else:
                self.failures.pop(observed.id, None)
                delay = interval_after(observed, settings)
            self.schedule(observed.id, max(now + delay, self.paused_until))
        for dataset_id in chunk:
            if dataset_id not in answered and dataset_id in self.due_at:
                log.warning("backend %s: no answer for %s", self.name, dataset_id)
                self.schedule(dataset_id, now + settings.poll_interval)
        self._update_health(result, stamp, now, readable=readable, probe=probe, chunk=chunk)

    def _update_health(
        self,
        result: FetchResult,
        stamp: datetime,
        now: float,
        *,
        readable: bool,
        probe: bool,
        chunk: list[str],
    ) -> None:
        failed = [s for s in result.states if s.state in FAILED]
        backend_failed = (
            bool(failed)
            and len(failed) == len(result.states)
            and any(is_backend_failure(s.failure) for s in failed)
        )
        self.failed_chunks_in_a_row = self.failed_chunks_in_a_row + 1 if backend_failed else 0
        if result.unauthorized:
            self._go_down(_first_failure(failed), stamp, health=Health.UNAUTHORIZED)
            return
        self.recovering.difference_update(chunk)
        if result.retry_after is not None:
            wait = min(max(result.retry_after, 0.0), MAX_RETRY_AFTER)
            message = f"rate limited, retrying in {wait:.0f}s"
            self._publish_health(Health.RATE_LIMITED, message, stamp, ok=readable)
            return
        # One failed request among good ones is a flaky dataset, not a backend
        # that is down: call the backend down after two failures in a row (or
        # one, for a probe or when a single request covers all its datasets).
        down_after = 1 if probe or len(self.due_at) <= self.backend.batch_size else 2
        if self.down:
            if not readable:  # a probe failed: say when the next one goes out
                self._go_down(_first_failure(failed) or self.health.failure, stamp)
        elif self.failed_chunks_in_a_row >= down_after:
            self._go_down(_first_failure(failed), stamp)
        else:
            if self.health.health is Health.UNAUTHORIZED and not readable:
                return  # still parked; only an answer with data lifts it
            self._publish_health(Health.OK, None, stamp, ok=readable)

    def _go_down(
        self, failure: Failure | None, stamp: datetime, *, health: Health = Health.UNREACHABLE
    ) -> None:
        poller = self.poller
        now = poller.clock()
        failure = failure or Failure(kind="connect", message="not answering")
        if health is Health.UNREACHABLE:
            # Its datasets wait; one read per poll_interval probes the backend.
            self.down = True
            self.paused_until = math.inf
            self.pause_reason = Health.UNREACHABLE
            self.next_probe_at = now + poller.settings.poll_interval
            self.watchdog_wake.set()
        self.recovering.clear()
        since = self.health.since if self.health.is_down else stamp
        self._publish_health(health, failure.message, stamp, failure=failure, since=since)

    def _recover(self, answered: list[str]) -> None:
        """The backend answers again: re-read every dataset now, no backoff left over."""
        self.down = False
        self.recovered_at = self.poller.clock()
        self.failed_chunks_in_a_row = 0
        self.failures.clear()
        self.unpause()
        self.recovering = {i for i in self.due_at if i not in self.in_flight}
        self.recovering.difference_update(answered)
        self.poll_all_now()

    def _publish_health(
        self,
        health: Health,
        message: str | None,
        stamp: datetime,
        *,
        ok: bool = False,
        failure: Failure | None = None,
        since: datetime | None = None,
    ) -> None:
        poller = self.poller
        now = poller.clock()
        paused_for = self.paused_until - now if now < self.paused_until else None
        if self.down:
            retry_in: float | None = max(0.0, self.next_probe_at - now)
        else:
            retry_in = paused_for
        if health is Health.RATE_LIMITED and since is None:
            since = self.health.since if self.health.health is health else stamp
        new = BackendHealth(
            backend=self.name,
            health=health,
            message=message,
            last_poll=stamp,
            credential_hint=poller.credential_hints.get(self.name)
            if health is Health.UNAUTHORIZED
            else None,
            paused_for=paused_for if paused_for is None or math.isfinite(paused_for) else None,
            reason=describe_failure(failure) if failure is not None else None,
            since=since,
            retry_at=None if retry_in is None else stamp + timedelta(seconds=retry_in),
            last_ok=stamp if ok else self.health.last_ok,
            failure=failure,
            recovering=len(self.recovering),
        )
        if _differs(new, self.health):
            if (new.health, new.message) != (self.health.health, self.health.message):
                _log_health(new, self.health.health)
            self.health = new
            poller.publish_health(new)
        else:
            self.health = new


def _differs(new: BackendHealth, old: BackendHealth) -> bool:
    """Worth a batch: anything but the moments of the last poll and last answer."""
    return (
        new.health,
        new.message,
        new.reason,
        new.since,
        new.retry_at,
        new.recovering,
        new.paused_for is None,
        new.credential_hint,
    ) != (
        old.health,
        old.message,
        old.reason,
        old.since,
        old.retry_at,
        old.recovering,
        old.paused_for is None,
        old.credential_hint,
    ) or _moved(new.last_ok, old.last_ok)


def _moved(new: datetime | None, old: datetime | None) -> bool:
    """The last good answer moved by a second or more (the summary shows it)."""
    if new is None or old is None:
        return new is not old
    return (new - old).total_seconds() >= 1.0


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


def _first_failure(states: list[DatasetState]) -> Failure | None:
    for state in states:
        if state.failure is not None:
            return state.failure
        if state.error:
            return Failure(kind="protocol", message=state.error)
    return None


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
        self._flush_handle: asyncio.TimerHandle | None = None
        self.schedulers: dict[str, _BackendScheduler] = {}
        for name, backend in self.backends.items():
            ids = list(datasets.get(name, ()))
            self.schedulers[name] = _BackendScheduler(self, backend, ids)
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
        # Everyone sees the rows and health at once.
        self._outbox.everything = True
        for scheduler in self.schedulers.values():
            self._outbox.health[scheduler.name] = scheduler.health
        self._schedule_flush()
        loops = [asyncio.create_task(s.run()) for s in self.schedulers.values()]
        loops += [asyncio.create_task(s.watchdog()) for s in self.schedulers.values()]
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
        self.flush()
        return dict(self.model.states)

    poll_all_once = poll_once  # the name the benchmarks and older tests use

    def watch_only(self, keys: Iterable[Key]) -> None:
        """Poll these datasets and no others (`wait` on a few of many)."""
        wanted = set(keys)
        for backend, dataset_id in wanted:
            if backend in self.schedulers:
                self.add(backend, [dataset_id])
        for name, scheduler in self.schedulers.items():
            self.remove(name, [i for i in list(scheduler.due_at) if (name, i) not in wanted])

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
