"""History that survives restarts: a local SQLite store of what each dataset did.

Per dataset: its last known readable state (`datasets`), an append-only log of
its state and progress changes (`changes`, one row per real change, never one
per poll) and its finished runs (`runs`, for durations and ETAs).

Threads: `record()` runs on the caller's (UI) thread and only compares against
an in-memory cache; real changes go to a queue that one background writer
drains, one transaction per batch. Reads use their own connection (WAL lets
them run beside a writer, in this process or another one).

Faults never raise out of `HistoryStore.open()`: a corrupt file is moved aside
and a new one started, a locked / read-only / unopenable store falls back to an
in-memory database; either way `warning` carries one sentence for the user.

Server text is stored as received (shown through `tui.text.sanitize` on the way
out). Only data fields are stored: never `raw` bodies nor failures, and `error`
is the backend's already redacted text.

Why one module over 400 lines: the change detector (caller's thread) and the
writer (its thread) share the cache's invariants (which dataset rows are
written, pending or only in memory after a fault); keeping them side by side
is what makes those invariants checkable. Half of the length is SQL text.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import platformdirs

from . import eta
from .eta import PastRun
from .history import Transition, format_duration
from .models import FAILED_STATES, DatasetState, State, utcnow

log = logging.getLogger("tui.store")

Key = tuple[str, str]
FILE_NAME = "history.sqlite3"
STATE_DIR_ENV = "DSWATCH_STATE_DIR"
OPEN_BUSY_MS = 100  # open runs on the UI thread at start: give up quickly, work in memory
WRITE_BUSY_MS = 5_000  # the writer thread may wait for the other process's short commit
READ_BUSY_MS = 50
SEEN_REFRESH_S = 300.0  # "seen 3h ago" is rewritten at most this often per dataset
PRUNE_EVERY_S = 3_600.0
HOUR_MS = 3_600_000
CLOSE_WAIT_S = 10.0
# The writer gathers the batches queued within this long into one transaction: the
# poller applies a batch every few tens of ms, and each commit rewrites the dataset
# pages it touched (15 commits a second cost +1.7 points of CPU in the e2e benchmark).
WRITE_GATHER_S = 1.0
SAMPLES_KEPT = 64  # progress samples of the current run kept in memory for the rate ETA
RUN_STATES = frozenset({State.RUNNING})
END_STATES = frozenset({State.READY, State.ERROR, State.PARTIAL})
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets(
    ds INTEGER PRIMARY KEY AUTOINCREMENT, backend TEXT NOT NULL, id TEXT NOT NULL,
    name TEXT, state TEXT NOT NULL, status TEXT, progress REAL,
    n_images INTEGER, n_videos INTEGER, n_objects INTEGER, pipelines TEXT, error TEXT,
    fetched_at INTEGER, changed_at INTEGER, since INTEGER, run_started INTEGER,
    UNIQUE(backend, id));
-- state/status are NULL when unchanged from the row before (progress-only rows stay
-- small). Keyed by hour first: a poll batch touches only the current hour's pages
-- (keyed by dataset first, every batch would rewrite every leaf page of the table),
-- and pruning drops whole hours.
CREATE TABLE IF NOT EXISTS changes(
    hour INTEGER NOT NULL, ds INTEGER NOT NULL, at INTEGER NOT NULL,
    state TEXT, status TEXT, progress INTEGER, -- hundredths of a percent: 2 bytes, not 8
    PRIMARY KEY(hour, ds, at)) WITHOUT ROWID;
-- Keyed by the dataset's integer id, not backend + UUID text: 45 bytes a run, not 80.
CREATE TABLE IF NOT EXISTS runs(
    ds INTEGER NOT NULL, pipeline TEXT NOT NULL,
    started INTEGER NOT NULL, ended INTEGER NOT NULL, outcome TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY(ds, pipeline, started)) WITHOUT ROWID;
"""
SCHEMA_VERSION = 2
# Version 1 keyed runs by (backend, id) text: moved over once, in one transaction.
_MIGRATE_RUNS_FROM_1 = """
CREATE TABLE runs_v2(
    ds INTEGER NOT NULL, pipeline TEXT NOT NULL,
    started INTEGER NOT NULL, ended INTEGER NOT NULL, outcome TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY(ds, pipeline, started)) WITHOUT ROWID;
INSERT OR IGNORE INTO datasets(backend, id, state)
    SELECT DISTINCT backend, id, 'unknown' FROM runs;
INSERT OR IGNORE INTO runs_v2
    SELECT d.ds, r.pipeline, r.started, r.ended, r.outcome, r.source
    FROM runs r JOIN datasets d ON d.backend = r.backend AND d.id = r.id;
DROP TABLE runs;
ALTER TABLE runs_v2 RENAME TO runs;
"""


def default_path() -> Path:
    """$DSWATCH_STATE_DIR/history.sqlite3, else the platform's user state directory."""
    override = os.environ.get(STATE_DIR_ENV)
    base = Path(override) if override else platformdirs.user_state_path("dswatch")
    return base / FILE_NAME


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


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


@dataclass(slots=True)
class _Seen:
    """What the store last recorded for one dataset (the change detector)."""

    snapshot: tuple[Any, ...]
    state: State
    status: str | None
    progress: float | None
    since: int | None  # ms: when the current state began
    run_started: int | None  # ms: when the current run began (RUNNING)
    run_pipelines: dict[str, str] = field(default_factory=dict)
    seen_written: int = 0  # ms: fetched_at as last written
    last_read: int = 0  # ms: fetched_at as last recorded (written on close)
    last_change: int | None = None  # ms: last state or progress change (the stuck rule)
    samples: list[tuple[int, float]] = field(default_factory=list)  # this run's progress


def _snapshot(state: DatasetState) -> tuple[Any, ...]:
    return (
        state.name,
        state.state,
        state.status,
        state.progress,
        state.n_images,
        state.n_videos,
        state.n_objects,
        state.pipelines,
        state.error,
    )


class HistoryStore:
    """Open with `HistoryStore.open()`; never raises for a bad store (see `warning`)."""

    def __init__(
        self,
        write_conn: sqlite3.Connection,
        read_conn: sqlite3.Connection,
        path: Path | None,
        warning: str | None,
        *,
        history_days: float,
        history_max_mb: float,
        clock: Callable[[], datetime],
        prune: bool = True,
    ) -> None:
        self.path = path  # None: in memory
        self.warning = warning
        self.history_days = history_days
        self.history_max_mb = history_max_mb
        self.transactions = 0  # committed write transactions (one per non-empty batch)
        self._clock = clock
        self._write = write_conn
        self._read = read_conn
        # An in-memory store shares one connection between both threads.
        self._lock = threading.Lock() if write_conn is read_conn else None
        self._seen: dict[Key, _Seen] = {}
        self._pending: dict[Key, tuple[Any, ...]] = {}  # dataset rows not yet written
        self._durations_cache: dict[tuple[str, str | None, str | None], list[float]] = {}
        self._ds: dict[Key, int] = {}
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake = threading.Event()  # flush/close: stop gathering, write now
        self._last_prune = 0.0
        self._closed = False
        self._load_cache()
        self._writer = threading.Thread(target=self._run_writer, name="dswatch-store", daemon=True)
        self._writer.start()
        if prune:
            self.prune()
        else:
            self._last_prune = float("inf")

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        path: Path | None = None,
        *,
        history_days: float = 30.0,
        history_max_mb: float = 100.0,
        clock: Callable[[], datetime] = utcnow,
        prune: bool = True,
    ) -> HistoryStore:
        """Open (creating) the store; `prune=False` for readers that must not apply
        their own retention (`dswatch history` does not know the config's)."""
        path = default_path() if path is None else Path(path)
        options = {
            "history_days": history_days,
            "history_max_mb": history_max_mb,
            "clock": clock,
            "prune": prune,
        }
        warning: str | None = None
        for attempt in range(2):
            opened: list[sqlite3.Connection] = []
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                opened.append(_connect(path, OPEN_BUSY_MS))
                _init_schema(opened[0])
                opened[0].execute(f"PRAGMA busy_timeout={WRITE_BUSY_MS}")
                opened.append(_connect(path, READ_BUSY_MS))
                return cls(opened[0], opened[1], path, warning, **options)
            except sqlite3.DatabaseError as exc:
                for conn in opened:  # the file may be moved aside: let go of it first
                    conn.close()
                code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
                if code in _CORRUPT_CODES and attempt == 0:
                    moved = _move_aside(path)
                    if moved is not None:
                        warning = (
                            f"history store {path} was unreadable; moved it to {moved.name} "
                            "and started a new one"
                        )
                        continue
                reason = _describe(exc, code)
            except OSError as exc:
                for conn in opened:
                    conn.close()
                reason = exc.strerror or str(exc)
            break
        memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        _init_schema(memory)
        warning = (
            f"{warning}; then " if warning else ""
        ) + f"history store {path} not usable ({reason}): history is kept in memory this run"
        log.warning("%s", warning)
        return cls(memory, memory, None, warning, **options)

    def _load_cache(self) -> None:
        rows = self._read_rows(
            "SELECT ds, backend, id, name, state, status, progress, n_images, n_videos, "
            "n_objects, pipelines, error, fetched_at, changed_at, since, run_started FROM datasets"
        )
        self._rows: dict[Key, tuple[Any, ...]] = {}
        for row in rows:
            key = (row[1], row[2])
            self._ds[key] = row[0]
            if row[12] is None:
                continue  # only the server's runs of it are stored: never read
            self._rows[key] = row[1:]
            state = _state(row[4])
            pipelines = _pipelines(row[10])
            snapshot = (row[3], state, row[5], row[6], row[7], row[8], row[9], pipelines, row[11])
            self._seen[key] = _Seen(
                snapshot,
                state,
                row[5],
                row[6],
                row[14],
                row[15],
                pipelines,
                row[12] or 0,
                row[12] or 0,
                row[13],
            )

    # ---------------------------------------------------------------- writing (caller's thread)

    def record(self, states: Iterable[DatasetState]) -> int:
        """Queue the real changes among `states` for the writer; returns how many.

        Cheap: a tuple comparison per dataset. Failed polls (unreachable,
        unauthorized) and never-read placeholders are not data and are skipped.
        """
        if self._closed:
            return 0
        upserts: list[tuple[Any, ...]] = []
        changes: list[tuple[Key, int, str | None, str | None, float | None]] = []
        runs: list[tuple[Any, ...]] = []
        seen_only: list[tuple[Key, int]] = []
        for state in states:
            if state.state in FAILED_STATES or state.fetched_at is None:
                continue
            key = (state.backend, state.id)
            snapshot = _snapshot(state)
            at = _ms(state.fetched_at)
            seen = self._seen.get(key)
            if seen is not None:
                seen.last_read = max(seen.last_read, at)
            if seen is not None and seen.snapshot == snapshot:
                if at - seen.seen_written >= SEEN_REFRESH_S * 1000:
                    seen.seen_written = at
                    pending = self._pending.pop(key, None)
                    if pending is not None:
                        upserts.append(pending)
                    seen_only.append((key, at))
                continue
            if seen is None:
                seen = self._seen[key] = _Seen((), State.UNKNOWN, None, None, None, None)
            state_changed = state.state is not seen.state or state.status != seen.status
            if state_changed or state.progress != seen.progress:
                changes.append(
                    (
                        key,
                        at,
                        state.state if state_changed else None,
                        state.status if state_changed else None,
                        state.progress,
                    )
                )
            if state.state is not seen.state:
                self._track_run(key, seen, state, at, runs)
                seen.since = at
            if state_changed or state.progress != seen.progress:
                seen.last_change = at
                if state.state in RUN_STATES and state.progress is not None:
                    seen.samples.append((at, state.progress))
                    del seen.samples[:-SAMPLES_KEPT]
            seen.snapshot, seen.state, seen.status = snapshot, state.state, state.status
            seen.progress = state.progress
            row = self._dataset_row(key, seen, at)
            self._rows[key] = row
            if not state_changed and at - seen.seen_written < SEEN_REFRESH_S * 1000:
                # Progress, counts, pipelines: the change row (if any) holds the
                # progress; the dataset row catches up later (refresh or close). A
                # busy Cognee dataset changes pipelines every read: writing its row
                # each time cost 1.4 points of CPU in the e2e benchmark.
                self._pending[key] = row
            else:
                seen.seen_written = at
                self._pending.pop(key, None)
                upserts.append(row)
        if upserts or seen_only or changes:
            self._queue.put(("batch", (upserts, changes, runs, seen_only)))
        if time.monotonic() - self._last_prune >= PRUNE_EVERY_S:
            self.prune()
        return len(changes)

    def _track_run(
        self, key: Key, seen: _Seen, state: DatasetState, at: int, runs: list[tuple[Any, ...]]
    ) -> None:
        if state.state in RUN_STATES:
            seen.run_started, seen.run_pipelines = at, dict(state.pipelines)
            seen.samples = []
        elif state.state in END_STATES and seen.run_started is not None:
            # The run's pipelines: those whose status moved during it (else all of them).
            moved = [p for p, s in state.pipelines.items() if seen.run_pipelines.get(p) != s]
            for pipeline in moved or list(state.pipelines) or [""]:
                runs.append((key, pipeline, seen.run_started, at, state.state.value, "local"))
            seen.run_started = None

    @staticmethod
    def _dataset_row(key: Key, seen: _Seen, at: int) -> tuple[Any, ...]:
        """The `datasets` row, from the snapshot just taken (hot: one per change)."""
        name, state, status, progress, images, videos, objects, pipelines, error = seen.snapshot
        return (
            key[0],
            key[1],
            name,
            state,  # a StrEnum: bound as its text
            status,
            progress,
            images,
            videos,
            objects,
            json.dumps(pipelines) if pipelines else None,
            error,
            at,
            at,  # changed_at: the snapshot changed now
            seen.since,
            seen.run_started,
        )

    def add_runs(self, backend: str, dataset_id: str, runs: Iterable[PastRun]) -> None:
        """Runs the server reports (Cognee's activity feed), kept for durations."""
        key = (backend, dataset_id)
        rows = [(key, r.pipeline, _ms(r.started), _ms(r.ended), r.outcome, "server") for r in runs]
        if rows:
            self._queue.put(("batch", ([], [], rows, [])))

    def prune(self) -> None:
        """Drop history older than `history_days` and the oldest beyond the size cap."""
        self._last_prune = time.monotonic()
        self._queue.put(("prune", None))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written (tests, close, `wait`)."""
        if not self._writer.is_alive():
            return True
        done = threading.Event()
        self._queue.put(("flush", done))
        self._wake.set()
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued plus every dataset's latest "seen" time, then close."""
        if self._closed:
            return
        self._closed = True
        seen_now = []
        for key, seen in self._seen.items():
            if seen.last_read > seen.seen_written:
                seen_now.append((key, seen.last_read))
        self._queue.put(("batch", (list(self._pending.values()), [], [], seen_now)))
        self._pending = {}
        self._queue.put(("close", None))
        self._wake.set()
        self._writer.join(timeout=CLOSE_WAIT_S)
        if self._writer.is_alive():
            # Still writing (a long prune): closing its connection under it would crash
            # the process; the daemon thread ends with it, WAL keeps the file consistent.
            log.warning("history store still writing after %s s; not waiting", CLOSE_WAIT_S)
            return
        with contextlib.suppress(sqlite3.Error):
            self._read.close()
            self._write.close()

    # ---------------------------------------------------------------- the writer thread

    def _run_writer(self) -> None:
        backlog: deque[tuple[str, Any]] = deque()  # taken from the queue, not yet done
        while True:
            kind, payload = backlog.popleft() if backlog else self._queue.get()
            if kind == "close":
                return
            if kind == "flush":
                payload.set()
                continue
            if kind == "batch":
                payload = self._gather(payload, backlog)
            try:
                with self._locked():
                    if kind == "batch":
                        self._write_batch(*payload)
                    else:
                        self._prune_now()
            except sqlite3.Error as exc:
                self._write_failed(exc)

    def _gather(self, first: tuple[Any, ...], backlog: deque[tuple[str, Any]]) -> tuple[Any, ...]:
        """`first` and the batches queued right after it (waiting WRITE_GATHER_S for
        more unless flush or close asks), in order, as one batch."""
        if not backlog and self._wake.wait(WRITE_GATHER_S):
            self._wake.clear()
        parts = [first]
        while True:
            if not backlog:
                try:
                    backlog.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if backlog[0][0] != "batch":
                break  # a flush, prune or close stays after the batches before it
            parts.append(backlog.popleft()[1])
        if len(parts) == 1:
            return first
        return tuple([row for part in parts for row in part[i]] for i in range(4))

    def _write_batch(
        self,
        upserts: list[tuple[Any, ...]],
        changes: list[tuple[Key, int, str | None, str | None, float | None]],
        runs: list[tuple[Any, ...]],
        seen_only: list[tuple[Key, int]],
    ) -> None:
        conn = self._write
        conn.execute("BEGIN IMMEDIATE")
        try:
            known = [row for row in upserts if (row[0], row[1]) in self._ds]
            # In order, all of them: gathered batches may hold a new dataset twice.
            new = [row for row in upserts if (row[0], row[1]) not in self._ds]
            conn.executemany(
                "UPDATE datasets SET name=?, state=?, status=?, progress=?, n_images=?,"
                " n_videos=?, n_objects=?, pipelines=?, error=?, fetched_at=?, changed_at=?,"
                " since=?, run_started=? WHERE ds=?",
                [(*row[2:], self._ds[(row[0], row[1])]) for row in known],
            )
            for row in new:
                self._insert_dataset(row)
            for key, *_ in changes:
                if key not in self._ds:  # after a switch to memory: rows not there yet
                    self._insert_dataset(self._rows[key])
            runs = [(self._ds_of(row[0]), *row[1:]) for row in runs]
            conn.executemany(
                "INSERT OR REPLACE INTO changes(hour, ds, at, state, status, progress)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (at // HOUR_MS, self._ds[key], at, st, status, _centi(p))
                    for key, at, st, status, p in changes
                ],
            )
            conn.executemany("INSERT OR IGNORE INTO runs VALUES (?,?,?,?,?,?)", runs)
            conn.executemany(
                "UPDATE datasets SET fetched_at=max(coalesce(fetched_at, 0), ?)"
                " WHERE backend=? AND id=?",
                [(at, key[0], key[1]) for key, at in seen_only],
            )
            conn.execute("COMMIT")
            if runs:
                self._durations_cache = {}  # new runs: medians change
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self.transactions += 1

    def _ds_of(self, key: Key) -> int:
        """The integer id of a dataset, stored first when it is not yet (the server's
        runs of a dataset never read: a row without data, which last_known skips)."""
        found = self._ds.get(key)
        if found is not None:
            return found
        row = self._rows.get(key)
        if row is not None:
            self._insert_dataset(row)
            return self._ds[key]
        self._write.execute(
            "INSERT OR IGNORE INTO datasets(backend, id, state) VALUES (?, ?, 'unknown')", key
        )
        found = self._ds[key] = self._write.execute(
            "SELECT ds FROM datasets WHERE backend=? AND id=?", key
        ).fetchone()[0]
        return found

    def _insert_dataset(self, row: tuple[Any, ...]) -> None:
        """A dataset new to this process (another one may have stored it already)."""
        self._ds[(row[0], row[1])] = self._write.execute(
            "INSERT INTO datasets(backend, id, name, state, status, progress, n_images,"
            " n_videos, n_objects, pipelines, error, fetched_at, changed_at, since,"
            " run_started) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(backend, id) DO UPDATE SET name=excluded.name,"
            " state=excluded.state, status=excluded.status, progress=excluded.progress,"
            " n_images=excluded.n_images, n_videos=excluded.n_videos,"
            " n_objects=excluded.n_objects, pipelines=excluded.pipelines,"
            " error=excluded.error, fetched_at=excluded.fetched_at,"
            " changed_at=excluded.changed_at, since=excluded.since,"
            " run_started=excluded.run_started RETURNING ds",
            row,
        ).fetchone()[0]

    def _prune_now(self) -> None:
        conn = self._write
        cutoff = _ms(self._clock()) - int(self.history_days * 86_400_000)
        with conn:
            conn.execute("DELETE FROM changes WHERE hour < ?", (cutoff // HOUR_MS,))
            conn.execute("DELETE FROM runs WHERE ended < ?", (cutoff,))
            gone = conn.execute(
                "DELETE FROM datasets WHERE fetched_at < ?"
                " OR (fetched_at IS NULL AND ds NOT IN (SELECT ds FROM runs))",
                (cutoff,),
            ).rowcount
        if gone:
            self._ds.clear()  # re-resolved on the next write (ids are never reused)
        cap = self.history_max_mb * 1_000_000
        while self._used_bytes() > cap:  # over the cap: drop the oldest hours, keep the last
            low, high = conn.execute("SELECT min(hour), max(hour) FROM changes").fetchone()
            if low is None or low >= high:
                break
            step = max(1, (high - low) // 20)  # about 5% of the span per round
            with conn:
                conn.execute("DELETE FROM changes WHERE hour < ?", (min(low + step, high),))
        conn.executescript("PRAGMA incremental_vacuum;")  # execute() would free one page only
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _used_bytes(self) -> int:
        pages = self._write.execute("PRAGMA page_count").fetchone()[0]
        free = self._write.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._write.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def _write_failed(self, exc: sqlite3.Error) -> None:
        """A full disk or a file gone bad mid-run: warn once, keep going in memory."""
        with contextlib.suppress(sqlite3.Error):
            self._write.execute("ROLLBACK")
        if self.path is None:
            log.error("in-memory history store failed: %s", exc)
            return
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        self.warning = (
            f"history store {self.path} failed ({_describe(exc, code)}): "
            "history is kept in memory from now on"
        )
        log.warning("%s", self.warning)
        memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        _init_schema(memory)
        old_read, old_write = self._read, self._write
        self._lock = threading.Lock()
        self._read = self._write = memory
        self._ds.clear()
        self.path = None
        with contextlib.suppress(sqlite3.Error):
            old_read.close()
            old_write.close()

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
        rows = self._rows
        wanted = rows.keys() if keys is None else [k for k in keys if k in rows]
        found: dict[Key, DatasetState] = {}
        for key in wanted:
            row = rows[key]
            seen = self._seen[key]
            found[key] = DatasetState.model_construct(
                backend=key[0],
                id=key[1],
                name=row[2],
                state=_state(row[3]),
                status=row[4],
                progress=row[5],
                n_images=row[6],
                n_videos=row[7],
                n_objects=row[8],
                pipelines=_pipelines(row[9]),
                error=row[10],
                raw=None,
                failure=None,
                fetched_at=_dt(max(row[11] or 0, seen.seen_written, seen.last_read) or None),
                changed_at=_dt(row[12]),
                polled_at=None,
                stale=False,
                stale_since=None,
            )
        return found

    def since(self, key: Key) -> datetime | None:
        """When the dataset's current state began, as far as this store saw."""
        seen = self._seen.get(key)
        return None if seen is None else _dt(seen.since)

    def run_started(self, key: Key) -> datetime | None:
        seen = self._seen.get(key)
        return None if seen is None else _dt(seen.run_started)

    def history(self, key: Key) -> list[Transition]:
        """State/status changes across runs, oldest first (written ones: see `flush`)."""
        rows = self._changes_of(key, "c.state IS NOT NULL", "c.at, c.state, c.status", "ASC", -1)
        out: list[Transition] = []
        for at, state, status in rows:
            entry = Transition(_dt(at), _state(state), status)  # type: ignore[arg-type]
            if out and out[-1].state is entry.state and out[-1].status == entry.status:
                continue  # two processes recorded the same change
            out.append(entry)
        return out

    def progress(self, key: Key, limit: int = 500) -> list[tuple[datetime, float]]:
        """The latest progress samples, oldest first (for the sparkline and the ETA)."""
        rows = self._changes_of(
            key, "c.progress IS NOT NULL", "c.at, c.progress / 100.0", "DESC", limit
        )
        return [(_dt(at), p) for at, p in reversed(rows)]  # type: ignore[misc]

    def _changes_of(
        self, key: Key, where: str, columns: str, order: str, limit: int
    ) -> list[tuple[Any, ...]]:
        """One dataset's change rows: one index seek per stored hour (the table is
        keyed by hour first)."""
        return self._read_rows(
            "WITH RECURSIVE hours(h) AS ("
            " SELECT (SELECT min(hour) FROM changes)"
            " UNION ALL SELECT h + 1 FROM hours WHERE h < (SELECT max(hour) FROM changes))"
            f" SELECT {columns} FROM hours CROSS JOIN changes c"
            " WHERE c.hour = hours.h"
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
        return [PastRun(p, _dt(s), _dt(e), o) for p, s, e, o in rows]  # type: ignore[arg-type]

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
        since = None if seen is None else _dt(seen.since)
        if state.state not in RUN_STATES or seen is None:
            return Timing(since, None, eta.Estimate(None, None), False)
        pipeline = next(iter(state.pipelines)) if len(state.pipelines) == 1 else None
        own = self._durations(state.backend, pipeline, state.id)
        backend = self._durations(state.backend, pipeline, None)
        started = _dt(seen.run_started) or since
        samples = [(_dt(at), p) for at, p in seen.samples]
        estimate = eta.estimate(samples, own, backend, started, now)  # type: ignore[arg-type]
        threshold = eta.stuck_threshold(stuck_after, own or backend)
        stuck = eta.is_stuck(True, _dt(seen.last_change) or since, threshold, now)
        return Timing(since, eta.elapsed(started, now), estimate, stuck)

    def _durations(self, backend: str, pipeline: str | None, dataset_id: str | None) -> list[float]:
        cache_key = (backend, pipeline, dataset_id)
        found = self._durations_cache.get(cache_key)
        if found is None:
            found = self._durations_cache[cache_key] = self.run_durations(*cache_key)
        return found

    def known_keys(self) -> list[Key]:
        return list(self._rows)


# -------------------------------------------------------------------- helpers


def _connect(path: Path, busy_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=0)
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    return conn


def _init_schema(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file only
    if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] not in ("wal", "memory"):
        raise sqlite3.OperationalError("cannot switch to WAL mode")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable enough for history
    conn.execute("PRAGMA journal_size_limit=8000000")  # the WAL shrinks back after a burst
    conn.executescript(_SCHEMA)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version < SCHEMA_VERSION:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        script = _MIGRATE_RUNS_FROM_1 if "backend" in columns else ""
        conn.executescript(
            f"BEGIN IMMEDIATE; {script} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        )


def _move_aside(path: Path) -> Path | None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    try:
        path.replace(target)
        for suffix in ("-wal", "-shm"):
            extra = path.with_name(path.name + suffix)
            if extra.exists():
                extra.replace(target.with_name(target.name + suffix))
    except OSError as exc:
        log.warning("could not move %s aside: %s", path, exc)
        return None
    return target


def _describe(exc: sqlite3.Error, code: int) -> str:
    return {
        5: "locked by another program",
        6: "locked by another program",
        8: "read-only",
        13: "disk full",
        14: "cannot open the file",
        11: "corrupt",
        26: "not a database",
    }.get(code, str(exc))


def _centi(progress: float | None) -> int | None:
    return None if progress is None else round(progress * 100)


def _state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        return State.UNKNOWN


def _pipelines(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    try:
        loaded = json.loads(value)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
