"""The history store's SQLite file: schema, migration, connections, and value encodings.

What `tui.store` writes and reads, and how: the three tables and why they are
keyed as they are, the move from schema 1, opening a connection, moving a
corrupt file aside, naming an SQLite error for the user, and the conversions
between Python values and stored columns (ms timestamps, hundredths of a percent).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from .models import State

log = logging.getLogger("tui.store")

CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
COPY_BUSY_MS = 100  # a copy of a store we cannot write: on the UI thread at start

SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets(
    ds INTEGER PRIMARY KEY AUTOINCREMENT, backend TEXT NOT NULL, id TEXT NOT NULL,
    name TEXT, state TEXT NOT NULL, status TEXT, progress REAL,
    n_images INTEGER, n_videos INTEGER, n_objects INTEGER, pipelines TEXT, error TEXT,
    fetched_at INTEGER, changed_at INTEGER, since INTEGER, run_started INTEGER,
    UNIQUE(backend, id));
-- state/status are NULL when unchanged from the row before (progress-only rows stay
-- small). Keyed by ten-minute slot first (slot = at // SLOT_MS): a write touches
-- only the current slot's pages (keyed by dataset first, every write would touch
-- every leaf page of the table; keyed by the hour, an insert cost 5.4 µs against
-- 3.7 µs by ten minutes, measured at 1,000 changes a second), one dataset's
-- history is one index seek per slot, and pruning drops whole slots.
CREATE TABLE IF NOT EXISTS changes(
    slot INTEGER NOT NULL, ds INTEGER NOT NULL, at INTEGER NOT NULL,
    state TEXT, status TEXT, progress INTEGER, -- hundredths of a percent: 2 bytes, not 8
    PRIMARY KEY(slot, ds, at)) WITHOUT ROWID;
-- Keyed by the dataset's integer id, not backend + UUID text: 45 bytes a run, not 80.
CREATE TABLE IF NOT EXISTS runs(
    ds INTEGER NOT NULL, pipeline TEXT NOT NULL,
    started INTEGER NOT NULL, ended INTEGER NOT NULL, outcome TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY(ds, pipeline, started)) WITHOUT ROWID;
"""
SCHEMA_VERSION = 3
SLOT_MS = 600_000  # the changes table's first key: ten minutes
# Version 1 keyed runs by (backend, id) text: moved over once, in one transaction.
MIGRATE_RUNS_FROM_1 = """
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
# Versions 1 and 2 keyed changes by the hour.
MIGRATE_CHANGES_FROM_2 = f"""
CREATE TABLE changes_v3(
    slot INTEGER NOT NULL, ds INTEGER NOT NULL, at INTEGER NOT NULL,
    state TEXT, status TEXT, progress INTEGER,
    PRIMARY KEY(slot, ds, at)) WITHOUT ROWID;
INSERT OR IGNORE INTO changes_v3
    SELECT at / {SLOT_MS}, ds, at, state, status, progress FROM changes ORDER BY 1, 2, 3;
DROP TABLE changes;
ALTER TABLE changes_v3 RENAME TO changes;
"""


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def connect(path: Path, busy_ms: int) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=0)
    conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    return conn


def init_schema(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file only
    if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] not in ("wal", "memory"):
        raise sqlite3.OperationalError("cannot switch to WAL mode")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable enough for history
    conn.execute("PRAGMA journal_size_limit=8000000")  # the WAL shrinks back after a burst
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= SCHEMA_VERSION:
        return  # tables made by an earlier open: every one-shot command opens the store
    conn.executescript(SCHEMA)
    if version < SCHEMA_VERSION:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        script = MIGRATE_RUNS_FROM_1 if "backend" in columns else ""
        columns = {row[1] for row in conn.execute("PRAGMA table_info(changes)")}
        script += MIGRATE_CHANGES_FROM_2 if "hour" in columns else ""
        conn.executescript(
            f"BEGIN IMMEDIATE; {script} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        )


def copy_readable(path: Path, memory: sqlite3.Connection) -> bool:
    """Copy a store we cannot write (read-only, locked by a writer) into `memory`,
    so a run that keeps history in memory still starts warm. False when it cannot
    even be read (locked against readers, unreadable, corrupt, absent)."""
    if not path.is_file():
        return False
    uri = f"{path.resolve().as_uri()}?mode=ro"
    # A WAL file needs its -shm to be read; a user who may not create it (a store
    # of another user) reads the file as it is: immutable, which is only true when
    # no one can write it, so only then.
    options = [uri] + ([f"{uri}&immutable=1"] if not os.access(path, os.W_OK) else [])
    for option in options:
        with contextlib.suppress(sqlite3.Error):
            if _copy(option, memory):
                return True
        with contextlib.suppress(sqlite3.Error):
            for table in ("changes", "runs", "datasets"):  # a part copied is not a copy
                memory.execute(f"DROP TABLE IF EXISTS {table}")
            memory.execute("PRAGMA user_version=0")  # init_schema makes them again
    return False


def _copy(uri: str, memory: sqlite3.Connection) -> bool:
    source = sqlite3.connect(uri, uri=True, timeout=0)
    try:
        source.execute(f"PRAGMA busy_timeout={COPY_BUSY_MS}")
        if source.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok":
            return False
        source.backup(memory)
        return True
    finally:
        source.close()


def move_aside(path: Path) -> Path | None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    for n in range(2, 1000):  # never over an earlier one moved aside in the same second
        if not target.exists():
            break
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
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


def describe_error(exc: sqlite3.Error, code: int) -> str:
    return {
        5: "locked by another program",
        6: "locked by another program",
        8: "read-only",
        13: "disk full",
        14: "cannot open the file",
        11: "corrupt",
        26: "not a database",
    }.get(code, str(exc))


def to_centi(progress: float | None) -> int | None:
    return None if progress is None else round(progress * 100)


def parse_state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        return State.UNKNOWN


def parse_pipelines(value: str | None) -> dict[str, str]:
    if not value:
        return {}
    try:
        loaded = json.loads(value)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
