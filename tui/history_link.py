"""The watch model and the history store, joined: warm start, recording, timing, stuck.

One object per process (the dashboard, `status`, `wait`, `watch`) so that all
four start warm, record and judge "stuck?" the same way:
- `open()` opens the store (never raises: a bad store gives `warning` and an
  in-memory one) and seeds the model with the last known state of each
  watched dataset, before the first poll. Those states have `fetched_at` (the
  real age) and no `polled_at`: not yet confirmed this run.
- Every applied batch is handed to `store.record` (a tuple comparison per
  dataset on the caller's thread; writes run on the store's writer thread).
- `check_stuck()` asks the store's timing which running datasets stopped
  moving and hands the full set to the model, which tells each new one once
  (a "stuck" News). Callers run it periodically; it reads memory only.
- A store that fails mid-run (a full disk, another program's lock) switches
  itself to memory and sets a new `warning` on its writer thread; the next
  batch, `check_stuck()` or `close()` hands it to `on_warning`, once. The
  warning from opening is the caller's to show (it has it before any batch).

No Textual here (tests/integration/test_import_hygiene.py keeps it so).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from .config import Settings
from .models import DatasetState, State, utcnow
from .store import HistoryStore, Timing
from .watch import Key, PollUpdate, WatchModel

log = logging.getLogger(__name__)

HISTORY_ENV = "DSWATCH_HISTORY"  # "off": no store this run (benchmarks' baseline, a CI box)
STUCK_CHECK_SECONDS = 15.0  # how often callers run check_stuck (thresholds are >= 30 s)
# Transitions per dataset the model keeps in memory once the store holds the
# history: enough to cover what the writer has not written when details open
# (it writes within about a second; a dataset rarely changes state twice in one).
LIVE_TRANSITIONS = 2


def history_off() -> bool:
    return os.environ.get(HISTORY_ENV, "").strip().lower() == "off"


class HistoryLink:
    def __init__(
        self,
        model: WatchModel,
        store: HistoryStore,
        *,
        stuck_after: float | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.model = model
        self.store = store
        self.stuck_after = stuck_after
        self.on_warning = on_warning  # a warning that comes up mid-run, told once
        self._told = store.warning
        model.history.max_entries = LIVE_TRANSITIONS
        self._unsubscribe: Callable[[], None] | None = model.subscribe(self._record)

    @classmethod
    def open(
        cls,
        model: WatchModel,
        keys: Iterable[Key],
        *,
        history_days: float = 30.0,
        history_max_mb: float = 50.0,
        stuck_after: float | None = None,
        path: Path | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> HistoryLink:
        store = HistoryStore.open(
            path, history_days=history_days, history_max_mb=history_max_mb, clock=clock
        )
        link = cls(model, store, stuck_after=stuck_after)
        link.seed(keys)
        return link

    @classmethod
    def for_settings(
        cls, model: WatchModel, keys: Iterable[Key], settings: Settings
    ) -> HistoryLink:
        """`open` with a config's `history_days`, `history_max_mb` and `stuck_after`."""
        return cls.open(
            model,
            keys,
            history_days=settings.history_days,
            history_max_mb=settings.history_max_mb,
            stuck_after=settings.stuck_after,
        )

    @property
    def warning(self) -> str | None:
        return self.store.warning

    def seed(self, keys: Iterable[Key]) -> int:
        """Show the last known state of `keys` the model has no data for yet."""
        states = self.model.states
        known = self.store.last_known(keys)
        fresh = [
            state
            for key, state in known.items()
            if (current := states.get(key)) is None or current.fetched_at is None
        ]
        self.model.seed(fresh)
        return len(fresh)

    def _record(self, update: PollUpdate) -> None:
        if update.states:
            self.store.record(update.states)
        self.tell_new_warning()

    def tell_new_warning(self) -> str | None:
        """The store's warning when it is new since opening or the last call (a write
        failed mid-run), handed to `on_warning`; None when there is nothing new."""
        warning = self.store.warning
        if warning is None or warning == self._told:
            return None
        self._told = warning
        if self.on_warning is not None:
            self.on_warning(warning)
        return warning

    # -- reading ----------------------------------------------------------------

    def timing(self, state: DatasetState, now: datetime) -> Timing:
        return self.store.timing(state, now, self.stuck_after)

    def is_stuck(self, state: DatasetState, now: datetime) -> bool:
        return state.state is State.RUNNING and not state.stale and self.timing(state, now).stuck

    def check_stuck(self, now: datetime | None = None) -> set[Key]:
        """Flag the running datasets that stopped moving; the model tells new ones once."""
        now = now or self.model.now()
        stuck = {key for key, state in self.model.states.items() if self.is_stuck(state, now)}
        self.model.flag_stuck(stuck, now)
        self.tell_new_warning()
        return stuck

    def close(self) -> None:
        """Stop recording and write what is queued (waits for the writer thread); a
        write that fails here is told to `on_warning` too (from the calling thread)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.store.close()
        self.tell_new_warning()
