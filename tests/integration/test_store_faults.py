"""The history store when its file is corrupt, locked, read-only, full or shared."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.store import KEY, at, read
from tui.models import State
from tui.store import HistoryStore

ROOT = Path(__file__).resolve().parents[2]


def clock() -> object:
    return at(0)


def test_a_corrupt_file_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    garbage = b"this is not a database at all\x00" * 200
    path.write_bytes(garbage)
    store = HistoryStore.open(path, clock=clock)
    try:
        assert store.path == path  # a fresh store in the same place
        assert store.warning is not None and "moved it to history.sqlite3.corrupt-" in (
            store.warning
        )
        store.record([read(State.READY, 0)])
        store.flush()
        assert store.history(KEY)[0].state is State.READY
    finally:
        store.close()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("history.sqlite3.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make `paths` unwritable: chmod for a user, the immutable flag for root (whom
    permissions do not stop)."""
    as_root = os.geteuid() == 0
    for path in paths:
        if as_root:
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
            if done.returncode != 0:
                pytest.skip(f"cannot make {path} read-only as root: {done.stderr!r}")
        else:
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        yield
    finally:
        for path in paths:
            if as_root:
                subprocess.run(["chattr", "-i", str(path)], check=False)
            else:
                path.chmod(0o755 if path.is_dir() else 0o644)


def record_a_run(store: HistoryStore) -> None:
    store.record([read(State.RUNNING, 0)])
    store.record([read(State.READY, 60)])
    store.flush()


def test_a_read_only_directory_keeps_history_in_memory(tmp_path: Path) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    with read_only(directory):
        store = HistoryStore.open(directory / "history.sqlite3", clock=clock)
        record_a_run(store)
        states = [t.state for t in store.history(KEY)]
        store.close()
    assert store.path is None
    assert store.warning is not None and "kept in memory" in store.warning
    assert states == [State.RUNNING, State.READY]  # kept in memory for this run
    assert list(directory.iterdir()) == []


def test_a_read_only_file_keeps_history_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    HistoryStore.open(path, clock=clock).close()
    before = path.read_bytes()
    with read_only(path, tmp_path):
        store = HistoryStore.open(path, clock=clock)
        record_a_run(store)
        durations = store.run_durations("vl")
        warning = store.warning
        store.close()
    assert durations == [60.0]  # kept in memory for this run
    assert warning is not None and "kept in memory" in warning
    assert path.read_bytes() == before


def test_a_locked_store_works_in_memory_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    first = HistoryStore.open(path, clock=clock)
    first.record([read(State.READY, 0)])
    first.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM runs")
    try:
        store = HistoryStore.open(path, clock=clock)
        assert store.path is None
        assert store.warning is not None and "locked by another program" in store.warning
        assert store.warning.count("history store") == 1
        store.record([read(State.RUNNING, 10)])
        store.flush()
        assert store.history(KEY)[-1].state is State.RUNNING
        store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    reopened = HistoryStore.open(path, clock=clock)
    assert reopened.warning is None
    assert [t.state for t in reopened.history(KEY)] == [State.READY]  # untouched
    reopened.close()


def test_a_full_disk_switches_to_memory_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = HistoryStore.open(path, clock=clock)
    store.flush()
    # SQLite's size limit fails a write exactly like a full disk does (SQLITE_FULL).
    store._write.execute("PRAGMA max_page_count=8")
    keys = [("vl", f"00000000-0000-0000-0000-{n:012d}") for n in range(500)]
    store.record([read(State.READY, 0, key=k, name="x" * 200) for k in keys])
    store.flush()
    assert store.path is None
    assert store.warning is not None and "disk full" in store.warning
    warning = store.warning
    store.record([read(State.RUNNING, 5, key=keys[0])])
    store.record([read(State.READY, 65, key=keys[0])])
    store.flush()
    assert store.warning == warning  # one warning, not one per batch
    assert [t.state for t in store.history(keys[0])] == [State.RUNNING, State.READY]
    store.close()


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from tui.models import DatasetState, State
    from tui.store import HistoryStore

    path, who = Path(sys.argv[1]), sys.argv[2]
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    store = HistoryStore.open(path, clock=lambda: t0)
    assert store.warning is None, store.warning
    for step in range(200):
        moment = t0 + timedelta(seconds=step)
        store.record(
            DatasetState(backend=who, id=f"ds-{n}", name=f"{who}-{n}", state=State.RUNNING,
                         progress=float(step % 100), fetched_at=moment, polled_at=moment)
            for n in range(20)
        )
    store.close()
    print(store.warning or "ok", store.transactions)
    """
)


def test_two_processes_write_the_same_store(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    HistoryStore.open(path, clock=clock).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), who],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for who in ("dash", "wait")
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.split()[0] == "ok", out
    with sqlite3.connect(path) as conn:
        per_backend = dict(
            conn.execute(
                "SELECT d.backend, count(*) FROM changes c JOIN datasets d USING (ds)"
                " GROUP BY d.backend"
            ).fetchall()
        )
        names = conn.execute("SELECT count(DISTINCT name) FROM datasets").fetchone()[0]
    assert per_backend == {"dash": 200 * 20, "wait": 200 * 20}
    assert names == 40
