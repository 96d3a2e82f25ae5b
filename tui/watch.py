"""The watch model: the one copy of what dswatch knows, and the news worth telling.

The poller hands it batches of observations (what each backend answered, not
yet merged) and backend health; `apply` merges them in one synchronous pass and
tells every listener what changed. The dashboard, its screens, the CLI
commands and the benchmarks all read this one object, so nothing can show a
different truth.

Two rules live here:
- Health is one truth. While a backend is down, every one of its rows is
  stale; the rows, counts, banner and details derive from the same batch.
- News only for real change. A dataset's news is a readable state that
  differs from its last *readable* state: an outage and its recovery, `R`, a
  config reload or a restart never make dataset news. A backend going down
  or coming back is one backend event instead.

No Textual here (tests/integration/test_import_hygiene.py keeps it so).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .health import BackendHealth, Health, describe_failure
from .history import History
from .models import (
    FAILED_STATES,
    DatasetState,
    Failure,
    State,
    merge,
    observation_like,
    placeholder,
    same_reading,
    touch_read,
    utcnow,
)
from .text import sanitize

log = logging.getLogger(__name__)

Key = tuple[str, str]
_NOTHING: frozenset[str] = frozenset()  # a row shown, no field of it changed


@dataclass(frozen=True, slots=True)
class News:
    """A real change of one dataset: it differs from its last readable state."""

    state: DatasetState
    old: State
    event: str  # the new state's value, or "stuck"
    at: datetime


@dataclass(frozen=True, slots=True)
class BackendEvent:
    """A backend went down or came back: told once, instead of news per dataset."""

    backend: str
    kind: Literal["down", "back"]
    reason: str  # sanitized: "server error (HTTP 500)"
    at: datetime


@dataclass(slots=True)
class PollBatch:
    """What the poller hands over: observations in the order they arrived."""

    observations: list[tuple[DatasetState, datetime]] = field(default_factory=list)
    health: dict[str, BackendHealth] = field(default_factory=dict)
    added: list[Key] = field(default_factory=list)
    removed: list[Key] = field(default_factory=list)
    everything: bool = False  # show every row (the first batch of a run)

    def __bool__(self) -> bool:
        return bool(
            self.observations or self.health or self.added or self.removed or self.everything
        )


@dataclass(slots=True)
class PollUpdate:
    """One applied batch, for listeners: new states, what changed, health, news.

    `counts` and `health` are the model's as of this batch, so a screen drawn
    from one update shows rows, counts and banner that agree.
    """

    states: list[DatasetState] = field(default_factory=list)
    changed: dict[Key, frozenset[str]] = field(default_factory=dict)
    health: dict[str, BackendHealth] = field(default_factory=dict)
    removed: list[Key] = field(default_factory=list)
    news: list[News] = field(default_factory=list)
    backend_events: list[BackendEvent] = field(default_factory=list)
    counts: Counter[State] = field(default_factory=Counter)
    all_health: dict[str, BackendHealth] = field(default_factory=dict)


Listener = Callable[[PollUpdate], object]


def _readable(state: DatasetState) -> bool:
    """Read with data (not a placeholder, not a poll that read nothing)."""
    return state.fetched_at is not None and state.state not in FAILED_STATES


class WatchModel:
    """States, counts, backend health, history, last failures and news of one watch."""

    def __init__(self, *, now: Callable[[], datetime] = utcnow) -> None:
        self.now = now
        self.states: dict[Key, DatasetState] = {}
        self.counts: Counter[State] = Counter()
        self.health: dict[str, BackendHealth] = {}
        self.history = History()
        self.last_failures: dict[Key, Failure] = {}
        # The last failure stamped with its time: a backend marked down gives all its
        # rows one failure at one moment, so they share one stamped copy.
        self._last_stamped: tuple[Failure, datetime | None, Failure] | None = None
        # Each dataset's last readable state is its current one when that is readable
        # (`_readable`); while it is not (an outage, a seed not read), it is kept here:
        # a dict of the few datasets in that case, not of every dataset (issue 17).
        self._held: dict[Key, State] = {}
        # Running datasets that stopped moving (found by tui.history_link's check):
        # a problem, like a failure; told once per stop as a "stuck" News.
        self.stuck: set[Key] = set()
        self._listeners: list[Listener] = []

    # -- listening --------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with each applied batch; returns the way to stop."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # -- reading ----------------------------------------------------------------

    def keys_of(self, backend: str) -> list[Key]:
        return [key for key in self.states if key[0] == backend]

    def last_ok(self) -> datetime | None:
        """The newest successful read of any backend (the summary's "polled")."""
        moments = [h.last_ok for h in self.health.values() if h.last_ok is not None]
        return max(moments) if moments else None

    # -- changing ---------------------------------------------------------------

    def track(self, keys: Iterable[Key]) -> list[Key]:
        """Rows for datasets not known yet (placeholders until their first answer)."""
        new = [key for key in keys if key not in self.states]
        for backend, dataset_id in new:
            state = placeholder(backend, dataset_id)
            self.states[(backend, dataset_id)] = state
            self.counts[state.state] += 1
        return new

    def seed(self, states: Iterable[DatasetState]) -> None:
        """Start from states known before this run (a store, an earlier engine)."""
        for state in states:
            key = state.key
            old = self.states.get(key)
            if old is not None:
                self.counts[old.state] -= 1
            self.states[key] = state
            self.counts[state.state] += 1
            self._hold(key, old, state)

    def flag_stuck(self, keys: Iterable[Key], at: datetime | None = None) -> PollUpdate:
        """The datasets stuck now (all of them): one "stuck" News for each newly stuck."""
        update = PollUpdate()
        now_stuck = {key for key in keys if key in self.states}
        if now_stuck == self.stuck:
            return update  # the common case: nothing to tell anyone
        at = at or self.now()
        for key in now_stuck - self.stuck:
            state = self.states[key]
            update.news.append(News(state, state.state, "stuck", at))
        for key in now_stuck ^ self.stuck:
            update.changed[key] = frozenset({"stuck"})
        self.stuck = now_stuck
        update.counts = +self.counts
        update.all_health = dict(self.health)
        for listener in list(self._listeners):
            try:
                listener(update)
            except Exception:
                log.exception("watch listener failed")
        return update

    def keep_only_backends(self, names: Iterable[str]) -> PollUpdate:
        """After a config reload: forget backends that are gone."""
        names = set(names)
        gone = [key for key in self.states if key[0] not in names]
        for name in [n for n in self.health if n not in names]:
            del self.health[name]
        return self.apply(PollBatch(removed=gone))

    def apply(self, batch: PollBatch) -> PollUpdate:
        """Merge one batch in one pass and tell every listener."""
        update = PollUpdate()
        for key in batch.removed:
            self._forget(key, update)
        for key in self.track(batch.added):
            update.changed[key] = _NOTHING
        if batch.everything:
            for key in self.states:
                update.changed.setdefault(key, _NOTHING)
        for observed, at in batch.observations:
            self._merge((observed.backend, observed.id), observed, at, update)
        for health in batch.health.values():
            self._set_health(health, update)
        # Every row this batch changed, as it is now (several polls of one dataset in
        # a batch: the newest), in the order they first changed.
        states = self.states
        update.states = [states[key] for key in update.changed]
        update.counts = +self.counts  # `+` drops zero counts
        update.all_health = dict(self.health)
        for listener in list(self._listeners):
            try:
                listener(update)
            except Exception:  # one broken listener must not stop the others
                log.exception("watch listener failed")
        return update

    def _forget(self, key: Key, update: PollUpdate) -> None:
        old = self.states.pop(key, None)
        if old is None:
            return
        self.counts[old.state] -= 1
        self.history.forget(key)
        self.last_failures.pop(key, None)
        self._held.pop(key, None)
        self.stuck.discard(key)
        update.removed.append(key)

    def _merge(self, key: Key, observed: DatasetState, at: datetime, update: PollUpdate) -> None:
        old = self.states.get(key)
        if old is None:
            return  # removed while in flight
        if same_reading(old, observed):
            # The same answer again (most reads): no new state, nothing to publish,
            # only the read time moves (benchmarks/README.md: churn).
            touch_read(old, at)
            return
        new, changed = merge(old, observed, at)
        self._store(key, old, new, changed, update)

    def _hold(self, key: Key, old: DatasetState | None, new: DatasetState) -> None:
        """Keep the last readable state aside while `new`, replacing `old`, is not one."""
        if _readable(new):
            if self._held:
                self._held.pop(key, None)
        elif old is not None and _readable(old):
            self._held[key] = old.state

    def _stamped(self, failure: Failure, at: datetime | None) -> Failure:
        last = self._last_stamped
        if last is None or last[0] is not failure or last[1] != at:
            last = self._last_stamped = (failure, at, failure.model_copy(update={"at": at}))
        return last[2]

    def _store(
        self,
        key: Key,
        old: DatasetState | None,
        new: DatasetState,
        changed: frozenset[str],
        update: PollUpdate,
    ) -> None:
        if old is None or old.state is not new.state:  # else the counts stay as they are
            if old is not None:
                self.counts[old.state] -= 1
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s/%s: %s -> %s", key[0], key[1], old.state.value, new.state.value)
            self.counts[new.state] += 1
        self.states[key] = new
        if key in self.stuck and (
            old is None or old.state is not new.state or old.progress != new.progress
        ):
            self.stuck.discard(key)  # it moved: a new stop is new news
        self.history.record(new)
        if new.failure is not None:
            self.last_failures[key] = self._stamped(new.failure, new.polled_at)
        # _hold, inline (this runs for every changed read): a merged state that is not
        # a failure has its fetched_at, so it is readable.
        was_readable = (
            old is not None and old.fetched_at is not None and old.state not in FAILED_STATES
        )
        if new.state not in FAILED_STATES:
            last = old.state if was_readable else self._held.get(key)  # type: ignore[union-attr]
            if last is not None and last is not new.state:
                # `_value_`: the member's value, as `.value` gives it without the
                # property call (a dataset whose status moves changes state each read).
                at = new.polled_at or self.now()
                update.news.append(News(new, last, new.state.value, at))
            if self._held:
                self._held.pop(key, None)
        elif was_readable:
            self._held[key] = old.state  # type: ignore[union-attr]
        before = update.changed.get(key)
        update.changed[key] = changed if before is None else before | changed

    def _set_health(self, health: BackendHealth, update: PollUpdate) -> None:
        name = health.backend
        before = self.health.get(name)
        self.health[name] = health
        update.health[name] = health
        was_down = before is not None and before.is_down
        at = health.since or health.last_poll or self.now()
        if health.is_down and not was_down:
            reason = sanitize(health.reason or describe_failure(health.failure), max_len=120)
            update.backend_events.append(BackendEvent(name, "down", reason, at))
        elif was_down and not health.is_down and health.last_ok is not None:
            update.backend_events.append(BackendEvent(name, "back", "answering again", at))
        if health.is_down:
            self._mark_down(health, at, update)

    def _mark_down(self, health: BackendHealth, at: datetime, update: PollUpdate) -> None:
        """Every row of a down backend is stale now, not when its next poll fails."""

        state = State.UNAUTHORIZED if health.health is Health.UNAUTHORIZED else State.UNREACHABLE
        failure = health.failure or Failure(
            kind="connect", message=health.message or "not answering"
        )
        # One validated observation for all of them (10,000 rows: 10,000 validations).
        template = DatasetState(
            backend=health.backend, id="", state=state, error=failure.message, failure=failure
        )
        for key in self.keys_of(health.backend):
            old = self.states[key]
            if old.stale and old.state is state and old.failure == failure:
                continue  # already tells this outage
            observed = observation_like(template, key[0], key[1])
            new, changed = merge(old, observed, at)
            self._store(key, old, new, changed, update)
