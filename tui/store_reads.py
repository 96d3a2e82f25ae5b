"""The history store's read side: what the details screen, the ETA column and `status` ask.

Reads use the store's own read connection (WAL lets them run beside the
writer) and the change detector's in-memory record; they never raise: a store
that cannot be read right now answers with nothing. `HistoryStore` inherits
these; they are apart from the writer because nothing here changes the store.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import eta
from .eta import PastRun
from .history import Transition, format_duration
from .models import DatasetState, State, from_trusted_fields
from .store_schema import from_ms, parse_state

if TYPE_CHECKING:
    from .store import _Seen

log = logging.getLogger("tui.store")

Key = tuple[str, str]
RUN_STATES = frozenset({State.RUNNING})


@dataclass(frozen=True, slots=True)
class Timing:
    """What the grid's ETA / elapsed column and `status --json` show for a dataset."""

    since: datetime | None  # when the current state began (None: never seen change)
    elapsed: float | None  # s of the current run, running datasets only
    eta: eta.Estimate
    stuck: bool

    def summary(self) -> dict[str, Any]:
        """The keys `status --json` gains: since, eta_seconds, stuck."""
        seconds = self.eta.seconds
        return {
            "since": None if self.since is None else self.since.isoformat(),
            "eta_seconds": None if seconds is None else round(seconds),
            "stuck": self.stuck,
        }

    def cell(self) -> str:
        """The grid's ETA / elapsed column: `~12m · 5m03s`, `stuck? 2h05m`, or ``."""
        if self.elapsed is None:
            return ""
        spent = format_duration(self.elapsed)
        if self.stuck:
            return f"stuck? {spent}"
        guess = eta.format_eta(self.eta.seconds)
        return f"{guess} · {spent}" if guess else spent


class HistoryReads:
    """The read half of `HistoryStore` (which owns and sets up these attributes)."""

    _lock: threading.Lock | None
    _read: sqlite3.Connection
    _seen: dict[Key, _Seen]
    _durations_cache: dict[tuple[str, str | None, str | None], list[float]]
    _dataset_row: Callable[[Key, _Seen], tuple[Any, ...]]  # a row from the latest snapshot

    @contextlib.contextmanager
    def _locked(self) -> Any:
        lock = self._lock
        if lock is None:
            yield
            return
        with lock:
            yield

    # ---------------------------------------------------------------- reading

    def _read_rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows, or none when the store cannot be read right now (never raises)."""
        try:
            with self._locked():
                return self._read.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            log.warning("history store read failed: %s", exc)
            return []

    def last_known(self, keys: Iterable[Key] | None = None) -> dict[Key, DatasetState]:
        """The last readable state of each dataset (all stored ones when `keys` is None).

        `fetched_at` is when it was last read; `polled_at` stays None: not yet
        confirmed this run. Datasets never read are absent.
        """
        seen_of = self._seen
        wanted = seen_of.keys() if keys is None else [k for k in keys if k in seen_of]
        found: dict[Key, DatasetState] = {}
        for key in wanted:
            seen = seen_of[key]
            name, state, status, progress, images, videos, objects, pipelines, error = seen.snapshot
            # Our own stored values (validated when read): no validation again.
            found[key] = from_trusted_fields(
                {
                    "backend": key[0],
                    "id": key[1],
                    "name": name,
                    "state": state,
                    "status": status,
                    "progress": progress,
                    "n_images": images,
                    "n_videos": videos,
                    "n_objects": objects,
                    "pipelines": pipelines,
                    "error": error,
                    "raw": None,
                    "failure": None,
                    "fetched_at": from_ms(
                        max(seen.changed, seen.seen_written, seen.last_read) or None
                    ),
                    "changed_at": from_ms(seen.changed or None),
                    "polled_at": None,
                    "stale": False,
                    "stale_since": None,
                }
            )
        return found

    def since(self, key: Key) -> datetime | None:
        """When the dataset's current state began, as far as this store saw."""
        seen = self._seen.get(key)
        return None if seen is None else from_ms(seen.since)

    def run_started(self, key: Key) -> datetime | None:
        seen = self._seen.get(key)
        return None if seen is None else from_ms(seen.run_started)

    def history(self, key: Key) -> list[Transition]:
        """State/status changes across runs, oldest first (written ones: see `flush`)."""
        rows = self._changes_of(key, "c.state IS NOT NULL", "c.at, c.state, c.status", "ASC", -1)
        out: list[Transition] = []
        for at, state, status in rows:
            entry = Transition(from_ms(at), parse_state(state), status)  # type: ignore[arg-type]
            if out and out[-1].state is entry.state and out[-1].status == entry.status:
                continue  # two processes recorded the same change
            out.append(entry)
        return out

    def progress(self, key: Key, limit: int = 500) -> list[tuple[datetime, float]]:
        """The latest progress samples, oldest first (for the sparkline and the ETA)."""
        rows = self._changes_of(
            key, "c.progress IS NOT NULL", "c.at, c.progress / 100.0", "DESC", limit
        )
        return [(from_ms(at), p) for at, p in reversed(rows)]  # type: ignore[misc]

    def _changes_of(
        self, key: Key, where: str, columns: str, order: str, limit: int
    ) -> list[tuple[Any, ...]]:
        """One dataset's change rows: one index seek per stored slot (the table is
        keyed by ten-minute slot first)."""
        return self._read_rows(
            "WITH RECURSIVE slots(s) AS ("
            " SELECT (SELECT min(slot) FROM changes)"
            " UNION ALL SELECT s + 1 FROM slots WHERE s < (SELECT max(slot) FROM changes))"
            f" SELECT {columns} FROM slots CROSS JOIN changes c"
            " WHERE c.slot = slots.s"
            " AND c.ds = (SELECT ds FROM datasets WHERE backend = ? AND id = ?)"
            f" AND {where} ORDER BY c.at {order} LIMIT ?",
            (*key, limit),
        )

    def runs(
        self, backend: str, pipeline: str | None = None, dataset_id: str | None = None
    ) -> list[PastRun]:
        sql = (
            "SELECT r.pipeline, r.started, r.ended, r.outcome FROM runs r"
            " JOIN datasets d ON d.ds = r.ds WHERE d.backend=?"
        )
        params: list[Any] = [backend]
        if pipeline is not None:
            sql += " AND r.pipeline=?"
            params.append(pipeline)
        if dataset_id is not None:
            sql += " AND d.id=?"
            params.append(dataset_id)
        rows = self._read_rows(sql + " ORDER BY r.ended DESC LIMIT 200", tuple(params))
        return [PastRun(p, from_ms(s), from_ms(e), o) for p, s, e, o in rows]  # type: ignore[arg-type]

    def run_durations(
        self, backend: str, pipeline: str | None = None, dataset_id: str | None = None
    ) -> list[float]:
        """Seconds of past successful runs (newest first, at most 200)."""
        return [
            r.seconds
            for r in self.runs(backend, pipeline, dataset_id)
            if r.outcome == State.READY.value and r.seconds >= 0
        ]

    def timing(self, state: DatasetState, now: datetime, stuck_after: float | None) -> Timing:
        """Since when, elapsed, ETA and the stuck flag of one dataset, from memory.

        Cheap enough for every grid refresh: past durations are cached until the
        writer stores new runs.
        """
        seen = self._seen.get(state.key)
        since = None if seen is None else from_ms(seen.since)
        if state.state not in RUN_STATES or seen is None:
            return Timing(since, None, eta.Estimate(None, None), False)
        pipeline = next(iter(state.pipelines)) if len(state.pipelines) == 1 else None
        own = self._durations(state.backend, pipeline, state.id)
        backend = self._durations(state.backend, pipeline, None)
        started = from_ms(seen.run_started) or since
        samples = [(from_ms(at), p) for at, p in seen.samples]
        estimate = eta.estimate(samples, own, backend, started, now)  # type: ignore[arg-type]
        threshold = eta.stuck_threshold(stuck_after, own or backend)
        stuck = eta.is_stuck(True, from_ms(seen.last_change) or since, threshold, now)
        return Timing(since, eta.elapsed(started, now), estimate, stuck)

    def _durations(self, backend: str, pipeline: str | None, dataset_id: str | None) -> list[float]:
        cache_key = (backend, pipeline, dataset_id)
        found = self._durations_cache.get(cache_key)
        if found is None:
            found = self._durations_cache[cache_key] = self.run_durations(*cache_key)
        return found

    def known_keys(self) -> list[Key]:
        return list(self._seen)
