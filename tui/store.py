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

The schema, migration, connections and value encodings live in
`tui.store_schema`; the read side (history, progress, runs, timing) in
`tui.store_reads`, which `HistoryStore` inherits.

Why this module is still ~620 lines: the change detector (caller's thread) and
the writer (its thread) share the cache's invariants (which dataset rows are
written, pending or only in memory after a fault); keeping them side by side
is what makes those invariants checkable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .eta import PastRun
from .models import FAILED_STATES, DatasetState, State, utcnow
from .store_paths import FILE_NAME, STATE_DIR_ENV, default_path
from .store_reads import RUN_STATES, HistoryReads, Key, Timing
from .store_schema import (
    CORRUPT_CODES,
    SLOT_MS,
    connect,
    copy_readable,
    describe_error,
    init_schema,
    move_aside,
    parse_pipelines,
    parse_state,
    to_centi,
    to_ms,
)

# Timing and Key are imported from here by the app, engine and CLI.
__all__ = ["FILE_NAME", "STATE_DIR_ENV", "HistoryStore", "Key", "Timing", "default_path"]

log = logging.getLogger("tui.store")
OPEN_BUSY_MS = 100  # open runs on the UI thread at start: give up quickly, work in memory
WRITE_BUSY_MS = 5_000  # the writer thread may wait for the other process's short commit
READ_BUSY_MS = 50
SEEN_REFRESH_S = 300.0  # "seen 3h ago" is rewritten at most this often per dataset
# A dataset's row after a state change: written at most this often (the `changes`
# log has every change at once; the row is what a restart shows first). A Cognee
# dataset whose pipelines move changes state on every read: rewriting its row
# each time was most of what the store cost in the e2e benchmark.
STATE_ROW_EVERY_S = 30.0
PRUNE_EVERY_S = 3_600.0
# The size cap is checked this often by the writer (two PRAGMAs), so a busy hour
# cannot carry the file far past it before the hourly prune. Over the cap, the
# oldest slots of changes go until the file is back under CAP_LOW of the cap: a
# prune then buys a while of growth instead of running on every check.
SIZE_CHECK_S = 60.0
CAP_LOW = 0.9
CLOSE_WAIT_S = 10.0
# The writer gathers the batches queued within this long into one transaction: the
# poller applies a batch every few tens of ms, and each commit rewrites the dataset
# pages it touched (15 commits a second cost +1.7 points of CPU in the e2e benchmark).
WRITE_GATHER_S = 1.0
SAMPLES_KEPT = 64  # progress samples of the current run kept in memory for the rate ETA
END_STATES = frozenset({State.READY, State.ERROR, State.PARTIAL})


_NO_PIPELINES: dict[str, str] = {}  # shared by every _Seen without a run: never mutated


@dataclass(slots=True)
class _Seen:
    """What the store last recorded for one dataset (the change detector)."""

    snapshot: tuple[Any, ...]
    state: State
    status: str | None
    progress: float | None
    since: int | None  # ms: when the current state began
    run_started: int | None  # ms: when the current run began (RUNNING)
    run_pipelines: dict[str, str] = field(default_factory=lambda: _NO_PIPELINES)
    seen_written: int = 0  # ms: fetched_at as last written
    last_read: int = 0  # ms: fetched_at as last recorded (written on close)
    last_change: int | None = None  # ms: last state or progress change (the stuck rule)
    # This run's progress; a list once it has one (50,000 datasets without progress
    # kept an empty list and dict each: issue 17, memory).
    samples: list[tuple[int, float]] | tuple[()] = ()
    changed: int = 0  # ms: when the snapshot last changed (the row's changed_at)
    row_behind: bool = False  # the snapshot changed since the row was written
    state_behind: bool = False  # ... and so did the state (written sooner)


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


class HistoryStore(HistoryReads):
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
        self._durations_cache: dict[tuple[str, str | None, str | None], list[float]] = {}
        self._ds: dict[Key, int] = {}
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._wake = threading.Event()  # flush/close: stop gathering, write now
        self._last_prune = 0.0
        self._last_size_check = time.monotonic()  # the writer thread's
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
        history_max_mb: float = 50.0,
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
                opened.append(connect(path, OPEN_BUSY_MS))
                init_schema(opened[0])
                opened[0].execute(f"PRAGMA busy_timeout={WRITE_BUSY_MS}")
                opened.append(connect(path, READ_BUSY_MS))
                return cls(opened[0], opened[1], path, warning, **options)
            except sqlite3.DatabaseError as exc:
                for conn in opened:  # the file may be moved aside: let go of it first
                    conn.close()
                code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
                if code in CORRUPT_CODES and attempt == 0:
                    moved = move_aside(path)
                    if moved is not None:
                        warning = (
                            f"history store {path} was unreadable; moved it to {moved.name} "
                            "and started a new one"
                        )
                        continue
                reason = describe_error(exc, code)
            except OSError as exc:
                for conn in opened:
                    conn.close()
                reason = exc.strerror or str(exc)
            break
        memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        copied = copy_readable(path, memory)  # read-only or locked: still start warm
        init_schema(memory)
        warning = (
            (f"{warning}; then " if warning else "")
            + f"history store {path} not usable ({reason}): history is kept in memory this run"
            + (" (started from a copy of it)" if copied else "")
        )
        log.warning("%s", warning)
        return cls(memory, memory, None, warning, **options)

    def _load_cache(self) -> None:
        rows = self._read_rows(
            "SELECT ds, backend, id, name, state, status, progress, n_images, n_videos, "
            "n_objects, pipelines, error, fetched_at, changed_at, since, run_started FROM datasets"
        )
        for row in rows:
            key = (row[1], row[2])
            self._ds[key] = row[0]
            if row[12] is None:
                continue  # only the server's runs of it are stored: never read
            state = parse_state(row[4])
            pipelines = parse_pipelines(row[10])
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
                changed=row[13] or 0,
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
        refresh_ms, state_row_ms = SEEN_REFRESH_S * 1000, STATE_ROW_EVERY_S * 1000
        read_at, at = None, 0  # the states of one request share one read time
        for state in states:
            if state.state in FAILED_STATES or state.fetched_at is None:
                continue
            key = (state.backend, state.id)
            snapshot = _snapshot(state)
            if state.fetched_at is not read_at:
                read_at = state.fetched_at
                at = to_ms(read_at)
            seen = self._seen.get(key)
            if seen is not None:
                seen.last_read = max(seen.last_read, at)
            if seen is not None and seen.snapshot == snapshot:
                if at - seen.seen_written >= (state_row_ms if seen.state_behind else refresh_ms):
                    if seen.row_behind:
                        upserts.append(self._written_row(key, seen, at))
                    else:
                        seen.seen_written = at
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
                    samples = seen.samples
                    if type(samples) is tuple:
                        samples = seen.samples = []
                    samples.append((at, state.progress))
                    del samples[:-SAMPLES_KEPT]
            seen.snapshot, seen.state, seen.status = snapshot, state.state, state.status
            seen.progress, seen.changed = state.progress, at
            seen.row_behind = True
            seen.state_behind = seen.state_behind or state_changed
            # The `changes` row (if any) holds state and progress now; the dataset
            # row catches up later: counts and pipelines at the refresh, a state
            # within STATE_ROW_EVERY_S, everything at flush and close.
            if at - seen.seen_written >= (state_row_ms if seen.state_behind else refresh_ms):
                upserts.append(self._written_row(key, seen, at))
        if upserts or seen_only or changes:
            self._queue.put(("batch", (upserts, changes, runs, seen_only)))
        if time.monotonic() - self._last_prune >= PRUNE_EVERY_S:
            self.prune()
        return len(changes)

    def _track_run(
        self, key: Key, seen: _Seen, state: DatasetState, at: int, runs: list[tuple[Any, ...]]
    ) -> None:
        if state.state in RUN_STATES:
            # Pipeline maps are shared between states and never changed (tui.models).
            seen.run_started, seen.run_pipelines = at, state.pipelines
            seen.samples = ()
        elif state.state in END_STATES and seen.run_started is not None:
            # The run's pipelines: those whose status moved during it (else all of them).
            moved = [p for p, s in state.pipelines.items() if seen.run_pipelines.get(p) != s]
            for pipeline in moved or list(state.pipelines) or [""]:
                runs.append((key, pipeline, seen.run_started, at, state.state.value, "local"))
            seen.run_started = None

    def _written_row(self, key: Key, seen: _Seen, at: int) -> tuple[Any, ...]:
        """The dataset's row, about to be queued for the writer: no longer behind."""
        seen.seen_written = at
        seen.row_behind = seen.state_behind = False
        return self._dataset_row(key, seen)

    def _rows_behind(self) -> list[tuple[Any, ...]]:
        return [
            self._written_row(key, seen, max(seen.last_read, seen.seen_written))
            for key, seen in self._seen.items()
            if seen.row_behind
        ]

    @staticmethod
    def _dataset_row(key: Key, seen: _Seen) -> tuple[Any, ...]:
        """The `datasets` row of the latest snapshot."""
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
            max(seen.last_read, seen.changed),
            seen.changed,
            seen.since,
            seen.run_started,
        )

    def add_runs(self, backend: str, dataset_id: str, runs: Iterable[PastRun]) -> None:
        """Runs the server reports (Cognee's activity feed), kept for durations."""
        key = (backend, dataset_id)
        rows = [
            (key, r.pipeline, to_ms(r.started), to_ms(r.ended), r.outcome, "server") for r in runs
        ]
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
        if not self._closed:
            behind = self._rows_behind()
            if behind:
                self._queue.put(("batch", (behind, [], [], [])))
        done = threading.Event()
        self._queue.put(("flush", done))
        self._wake.set()
        return done.wait(timeout)

    def close(self) -> None:
        """Write what is queued plus every dataset's latest "seen" time, then close."""
        if self._closed:
            return
        behind = self._rows_behind()
        self._closed = True
        seen_now = []
        for key, seen in self._seen.items():
            if seen.last_read > seen.seen_written:
                seen_now.append((key, seen.last_read))
        self._queue.put(("batch", (behind, [], [], seen_now)))
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
                        if time.monotonic() - self._last_size_check >= SIZE_CHECK_S:
                            self._last_size_check = time.monotonic()
                            if self._used_bytes() > self.history_max_mb * 1_000_000:
                                self._prune_now()
                    else:
                        self._prune_now()
            except sqlite3.Error as exc:
                if self._write_failed(exc) and kind == "batch":
                    # The batch that met the fault goes to memory, not nowhere.
                    with contextlib.suppress(sqlite3.Error), self._locked():
                        self._write_batch(*payload)

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
                    self._insert_dataset(self._dataset_row(key, self._seen[key]))
            runs = [(self._ds_of(row[0]), *row[1:]) for row in runs]
            conn.executemany(
                "INSERT OR REPLACE INTO changes(slot, ds, at, state, status, progress)"
                " VALUES (?,?,?,?,?,?)",
                [
                    (at // SLOT_MS, self._ds[key], at, st, status, to_centi(p))
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
            if conn.in_transaction:  # an I/O error or a full disk rolled it back already
                conn.execute("ROLLBACK")
            raise
        self.transactions += 1

    def _ds_of(self, key: Key) -> int:
        """The integer id of a dataset, stored first when it is not yet (the server's
        runs of a dataset never read: a row without data, which last_known skips)."""
        found = self._ds.get(key)
        if found is not None:
            return found
        seen = self._seen.get(key)
        if seen is not None:
            self._insert_dataset(self._dataset_row(key, seen))
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
        cutoff = to_ms(self._clock()) - int(self.history_days * 86_400_000)
        with conn:
            conn.execute("DELETE FROM changes WHERE slot < ?", (cutoff // SLOT_MS,))
            conn.execute("DELETE FROM runs WHERE ended < ?", (cutoff,))
            gone = conn.execute(
                "DELETE FROM datasets WHERE fetched_at < ?"
                " OR (fetched_at IS NULL AND ds NOT IN (SELECT ds FROM runs))",
                (cutoff,),
            ).rowcount
        if gone:
            self._ds.clear()  # re-resolved on the next write (ids are never reused)
        cap = self.history_max_mb * 1_000_000
        target = cap * CAP_LOW if self._used_bytes() > cap else cap
        while self._used_bytes() > target:  # over: drop the oldest slots, keep the last
            low, high = conn.execute("SELECT min(slot), max(slot) FROM changes").fetchone()
            if low is None or low >= high:
                break
            step = max(1, (high - low) // 20)  # about 5% of the span per round
            with conn:
                conn.execute("DELETE FROM changes WHERE slot < ?", (min(low + step, high),))
        conn.executescript("PRAGMA incremental_vacuum;")  # execute() would free one page only
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _used_bytes(self) -> int:
        pages = self._write.execute("PRAGMA page_count").fetchone()[0]
        free = self._write.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._write.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def _write_failed(self, exc: sqlite3.Error) -> bool:
        """A full disk or a file gone bad mid-run: warn once, keep going in memory
        with what the file held (durations and ETAs keep their runs). True when
        it switched to memory."""
        with contextlib.suppress(sqlite3.Error):
            if self._write.in_transaction:
                self._write.execute("ROLLBACK")
        if self.path is None:
            log.error("in-memory history store failed: %s", exc)
            return False
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        self.warning = (
            f"history store {self.path} failed ({describe_error(exc, code)}): "
            "history is kept in memory from now on"
        )
        log.warning("%s", self.warning)
        memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        # A copy of the file (at most history_max_mb) through the read connection: a
        # reader still sees a consistent file under a full disk or another's write
        # lock; a file locked against readers too gives an empty start instead.
        with contextlib.suppress(sqlite3.Error):
            self._read.backup(memory)
        init_schema(memory)
        old_read, old_write = self._read, self._write
        self._lock = threading.Lock()
        self._read = self._write = memory
        self._ds.clear()
        self.path = None
        with contextlib.suppress(sqlite3.Error):
            old_read.close()
            old_write.close()
        return True
