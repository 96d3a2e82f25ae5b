"""A backend's health, watched: outages seen fast, recovery noticed at once.

While a backend is quiet (every dataset settled) a cheap probe goes out
every poll_interval, so an outage is seen within poll_interval + timeout. A
down backend's datasets are not polled one by one with growing backoff: one
real read probes it every poll_interval (never waiting long on a hung one),
and the first answer re-reads all its datasets at once. Health goes to the
watch model with each batch; the model marks the rows.

`HealthWatch` is the health half of `tui.scheduler.BackendScheduler`: it
reads and sets the scheduler's state (declared below) and calls its
`_poll_chunk`, `_sleep`, `schedule`, `unpause` and `poll_all_now`.
No Textual here.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .backends.base import Backend, FetchResult
from .backends.http import MAX_RETRY_AFTER, shorter_timeout
from .health import BackendHealth, Health, describe_failure, is_backend_failure
from .models import DatasetState, Failure, State
from .text import sanitize

if TYPE_CHECKING:
    from .poller import Poller

log = logging.getLogger("tui.poller")
# Backends going down and up: expected events, apart from dswatch's own troubles.
health_log = logging.getLogger("tui.health")

MAX_PROBES_IN_FLIGHT = 3  # a hung server holds each probe for the whole timeout
FAILED = (State.UNREACHABLE, State.UNAUTHORIZED)


class HealthWatch:
    """Probes, down, recovery and the BackendHealth of one backend's scheduler."""

    # The scheduler's state this half reads and sets.
    poller: Poller
    backend: Backend
    name: str
    due_at: dict[str, float]
    in_flight: set[str]
    failures: dict[str, int]
    paused_until: float
    pause_reason: Health | None
    watchdog_wake: asyncio.Event
    limit: asyncio.Semaphore
    tasks: set[asyncio.Task[None]]
    health: BackendHealth
    failed_chunks_in_a_row: int
    last_request_at: float
    down: bool
    next_probe_at: float
    recovering: set[str]
    probes: set[asyncio.Task[None]]
    recovered_at: float

    # The scheduler's half, called from here.
    async def _poll_chunk(self, chunk: list[str], *, release: bool, probe: bool = False) -> None:
        raise NotImplementedError

    async def _sleep(self, seconds: float | None, event: asyncio.Event | None = None) -> None:
        raise NotImplementedError

    def unpause(self) -> None:
        raise NotImplementedError

    def poll_all_now(self) -> None:
        raise NotImplementedError

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
            if self.health.health is Health.RATE_LIMITED and now < self.paused_until:
                # An answer to a request sent before the 429: the backend stays parked
                # until the time it gave, and says so (not "ok" while paused).
                return
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
