"""The history store when its file is corrupt, locked, read-only, full or shared.

Every fault is real: another process holds SQLite's lock, another user (nobody,
when the suite runs as root) opens a file it cannot write, a process with a file
size limit or a store on a small tmpfs runs out of room. What is checked is what
a user gets: one warning, dswatch running on with history in memory, and the
file left as it was. The child scripts and fault helpers are in
tests/support/store_faults.py.

Why ~680 lines: each fault is checked three ways (the store itself, a command,
the dashboard), and apart they would share nothing but the fixtures here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.store import KEY, at, read
from tests.support.store_faults import (
    FULL_LINK,
    RO_APP,
    RO_STATUS,
    RO_STORE,
    contents,
    dswatch,
    fill,
    held,
    listing,
    run_child,
)
from tests.support.waiting import until
from tests.support.world import app_with_history, cats_and_birds, new_sim, write_config
from tui.app import DswatchApp
from tui.cli.main import main
from tui.models import State
from tui.sim import SimServer, Simulator
from tui.store import STATE_DIR_ENV, WRITE_BUSY_MS, HistoryStore, default_path
from tui.widgets.grid import DatasetGrid

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
    # The batch that met the full disk is kept too, in memory.
    assert [t.state for t in store.history(keys[0])] == [State.READY, State.RUNNING, State.READY]
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
        if who == "status" and step % 10 == 0:  # as `status` runs: open (and prune), close
            store.close()
            assert store.warning is None, store.warning
            store = HistoryStore.open(path, clock=lambda: t0)
            assert store.warning is None, store.warning
        moment = t0 + timedelta(seconds=step)
        store.record(
            DatasetState(backend=who, id=f"ds-{n}", name=f"{who}-{n}", state=State.RUNNING,
                         progress=float(step % 100), fetched_at=moment, polled_at=moment)
            for n in range(20)
        )
        if step % 5 == 4:
            store.flush()  # a commit now, not one gathered batch: writers interleave
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
        for who in ("dash", "wait", "status")
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
    assert per_backend == {"dash": 200 * 20, "wait": 200 * 20, "status": 200 * 20}  # none lost
    assert names == 60


# ------------------------------------------------------------------ fixtures for real faults


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can reach (pytest's own tmp is private to root): for
    a child that drops to nobody."""
    path = Path(tempfile.mkdtemp(prefix="dswatch-faults-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for folder in [path, *[p for p in path.rglob("*") if p.is_dir()]]:
            folder.chmod(0o755)
        shutil.rmtree(path)


def read_only_store(directory: Path) -> Path:
    """A store with one finished run, its file 0444 and (for a non-root user) its
    directory 0555; a root-owned 0755 directory is already read-only for nobody."""
    store_dir = directory / "state"
    store_dir.mkdir()
    store_dir.chmod(0o755)
    path = store_dir / "history.sqlite3"
    store = HistoryStore.open(path, clock=clock)
    record_a_run(store)
    store.close()
    path.chmod(0o444)
    if os.geteuid() != 0:
        store_dir.chmod(0o555)
    return path


# ------------------------------------------------------------------ read-only, for real


def test_a_read_only_store_for_a_user_who_cannot_write_it(open_dir: Path) -> None:
    path = read_only_store(open_dir)
    before = listing(path.parent)
    report = run_child(RO_STORE, str(path))
    assert report["uid"] != 0  # run as a user that permissions stop
    assert report["path"] is None
    assert "read-only" in report["warning"] and "kept in memory" in report["warning"]
    assert "started from a copy of it" in report["warning"]
    # What the file held (a warm start) and this run's history, in memory.
    assert report["states"] == ["running", "ready", "running", "ready"]
    assert report["durations"] == [60.0, 60.0]
    assert listing(path.parent) == before  # no byte changed, no -wal or -shm left


@pytest.fixture
def sim_config(
    open_dir: Path, serve_sim: Callable[[Simulator], SimServer]
) -> tuple[Simulator, Path, list[str]]:
    """Two Visual Layer datasets served on 127.0.0.1 and a config (readable by nobody)."""
    sim = new_sim(5)
    ids = cats_and_birds(sim)
    server = serve_sim(sim)
    settings = {"poll_interval": 0.2, "settled_interval": 1.0, "timeout": 2}
    return sim, write_config(open_dir, server.url, ids, None, settings=settings, mode=0o644), ids


def test_status_on_a_read_only_store_warns_once_and_shows_the_rows(
    sim_config: tuple[Simulator, Path, list[str]], open_dir: Path, tmp_path: Path
) -> None:
    _sim, config, _ids = sim_config
    path = read_only_store(open_dir)
    before = listing(path.parent)
    report = run_child(RO_STATUS, str(config), str(tmp_path / "warm"), str(path.parent))
    assert report["uid"] != 0
    assert report["code"] == 0, report
    lines = report["err"].splitlines()
    assert len(lines) == 1, lines  # one warning, nothing else (no "database is locked")
    assert lines[0].startswith("dswatch: warning: history store ")
    assert "read-only" in lines[0] and "kept in memory" in lines[0]
    assert "cats-ready" in report["out"] and "birds-indexing" in report["out"]
    assert "READY" in report["out"] and "INDEXING" in report["out"]
    assert listing(path.parent) == before


def test_the_dashboard_on_a_read_only_store_is_one_toast_and_runs(
    sim_config: tuple[Simulator, Path, list[str]], open_dir: Path, tmp_path: Path
) -> None:
    _sim, config, _ids = sim_config
    path = read_only_store(open_dir)
    before = listing(path.parent)
    report = run_child(RO_APP, str(config), str(tmp_path / "warm"), str(path.parent))
    assert report["uid"] != 0
    assert len(report["toasts"]) == 1, report["toasts"]
    assert "read-only" in report["toasts"][0] and "kept in memory" in report["toasts"][0]
    rows = report["rows"]
    assert any("cats-ready" in r and "READY" in r for r in rows), rows
    assert any("birds-indexing" in r and "INDEXING" in r for r in rows), rows
    assert listing(path.parent) == before


# ------------------------------------------------------------------ locked by another process


def test_a_store_locked_at_start_gives_up_at_once_with_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    store = HistoryStore.open(path, clock=clock)
    record_a_run(store)
    store.close()
    before = contents(path)
    with held(path, "everyone"):
        started = time.monotonic()
        store = HistoryStore.open(path, clock=clock)
        waited = time.monotonic() - started
        record_a_run(store)
        states = [t.state for t in store.history(KEY)]
        store.close()
    # It waited the open's short budget, not the writer's: the dashboard starts at once.
    assert waited < WRITE_BUSY_MS / 1000
    assert store.path is None
    assert store.warning is not None and store.warning.count("history store") == 1
    assert "locked by another program" in store.warning and "kept in memory" in store.warning
    assert states == [State.RUNNING, State.READY]  # this run's history, in memory
    assert contents(path) == before


def test_status_on_a_locked_store_warns_once_and_shows_the_rows(
    sim_config: tuple[Simulator, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _sim, config, _ids = sim_config
    assert main(["status", "--config", str(config)]) == 0  # writes the store
    capsys.readouterr()
    path = default_path()
    before = contents(path)
    with held(path, "everyone"):
        code = main(["status", "--config", str(config)])
        out, err = capsys.readouterr()
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("dswatch: warning: history store ")
    assert "locked by another program" in lines[0] and "kept in memory" in lines[0]
    assert "cats-ready" in out and "birds-indexing" in out and "INDEXING" in out
    assert contents(path) == before


def test_history_json_on_a_locked_store_keeps_the_warning_off_stdout(
    sim_config: tuple[Simulator, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _sim, config, ids = sim_config
    assert main(["status", "--config", str(config)]) == 0  # writes the store
    capsys.readouterr()
    path = default_path()
    with held(path, "everyone"):
        main(["history", f"vl:{ids[1]}", "--json"])
        out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1 and "locked by another program" in lines[0], lines
    assert "warning" not in out and "locked" not in out, out  # stdout is for the answer


# ------------------------------------------------------ failing mid-run: the dashboard, `watch`


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs: a disk that really fills up (ENOSPC). Needs the right to mount."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def grid_rows(app: DswatchApp) -> list[str]:
    grid = app.query_one(DatasetGrid)
    return [grid.render_line(y).text.strip() for y in range(1, grid.visible_count + 1)]


def history_toasts(app: DswatchApp) -> list[str]:
    return [n.message for n in app._notifications if n.title == "history"]


@pytest.mark.parametrize("fault", ["locked", "full"])
async def test_a_store_failing_mid_run_is_one_toast_and_the_dashboard_runs_on(
    sim_config: tuple[Simulator, Path, list[str]],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    fault: str,
) -> None:
    sim, config, ids = sim_config
    if fault == "full":
        monkeypatch.setenv(STATE_DIR_ENV, str(request.getfixturevalue("small_disk")))
    path = default_path()
    app = app_with_history(config)
    history = app.history
    assert history is not None
    birds, cats = ("vl", ids[1]), ("vl", ids[0])
    async with app.run_test(size=(200, 30)) as pilot:
        await until(pilot, lambda: len(grid_rows(app)) == 2, "both rows")
        await until(pilot, lambda: history.store.history(birds) != [], "birds stored")
        assert history.store.flush(timeout=10)
        before = contents(path)
        with contextlib.ExitStack() as fault_lasts:
            if fault == "locked":
                fault_lasts.enter_context(held(path, "writers"))
            else:
                filler = fill(path.parent)
                filled = filler.stat().st_size
            sim.set_vl_status(ids[1], "READY", progress=100)  # a change to write
            await until(pilot, lambda: history_toasts(app) != [], "the toast", timeout=30)
            toasts = history_toasts(app)
            reason = "locked by another program" if fault == "locked" else "disk full"
            assert len(toasts) == 1 and reason in toasts[0], toasts
            assert "kept in memory from now on" in toasts[0]
            assert history.store.path is None
            # The dashboard runs on: new changes shown and kept, in memory.
            sim.set_vl_status(ids[0], "INDEXING", progress=10)
            await until(
                pilot,
                lambda: any("cats-ready" in r and "INDEXING" in r for r in grid_rows(app)),
                "cats shown indexing",
            )
            await until(
                pilot,
                lambda: [t.state for t in history.store.history(cats)][-1:] == [State.RUNNING],
                "cats' change kept in memory",
            )
            assert any("birds-indexing" in r and "READY" in r for r in grid_rows(app))
            await pilot.pause(1.5)  # more batches, more writes: still the one toast
            assert history_toasts(app) == toasts
            if fault == "full":
                assert filler.stat().st_size == filled  # the other program's file untouched
    assert contents(path) == before


def test_watch_told_once_when_the_store_is_locked_mid_run(
    sim_config: tuple[Simulator, Path, list[str]],
) -> None:
    sim, config, ids = sim_config
    path = default_path()
    watcher = dswatch("watch", "--json", "--config", str(config))
    out: list[str] = []
    err: list[str] = []
    for stream, lines in ((watcher.stdout, out), (watcher.stderr, err)):
        threading.Thread(target=lambda s=stream, k=lines: k.extend(s or []), daemon=True).start()

    def soon(condition: Callable[[], bool], what: str) -> None:
        for _ in range(300):
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(f"not within 30 s: {what} (stderr: {err})")

    def stored() -> int:
        with contextlib.suppress(sqlite3.Error):
            return len(contents(path)["datasets"])
        return 0

    try:
        soon(lambda: stored() == 2, "both datasets stored")
        before = contents(path)
        with held(path, "writers"):
            sim.set_vl_status(ids[1], "READY", progress=100)
            soon(lambda: err != [], "the warning")
            sim.set_vl_status(ids[0], "INDEXING", progress=10)  # it runs on: news still told
            soon(lambda: any(ids[0] in line and '"running"' in line for line in out), "news")
            time.sleep(1.5)  # more polls and writes, no more warnings
    finally:
        watcher.terminate()
        watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert len(err) == 1, err
    assert err[0].startswith("dswatch: warning: history store ")
    assert "locked by another program" in err[0] and "from now on" in err[0]
    assert any(ids[1] in line and '"ready"' in line for line in out)
    assert contents(path) == before


# ------------------------------------------------------------------ a full disk, anywhere


def test_a_store_that_cannot_grow_goes_on_in_memory_with_one_warning(tmp_path: Path) -> None:
    report = run_child(FULL_LINK, str(tmp_path / "history.sqlite3"))
    warning = report["failed_with"]
    assert warning is not None and "kept in memory from now on" in warning
    assert "(disk I/O error)" in warning  # SQLite's own reason, not a failed ROLLBACK's
    assert report["told"] == [warning]  # told once, though every later batch is written
    assert report["path"] is None
    assert report["history"][-2:] == ["running", "ready"]  # this run's changes, in memory
    assert 60.0 in report["durations"]
    assert report["untouched"]


def test_the_switch_to_memory_keeps_all_of_this_runs_history(tmp_path: Path) -> None:
    report = run_child(FULL_LINK, str(tmp_path / "history.sqlite3"))
    assert report["history"] == ["running", "ready", "running", "ready"]  # before it, too
    assert report["failed_batch"] == ["ready"]  # the batch that met the full disk
    assert report["durations"] == [60.0, 60.0]


# ------------------------------------------------------------------ two dswatch processes at once


def test_watch_wait_and_status_processes_share_the_store(tmp_path: Path) -> None:
    sim = new_sim(9)
    ids = [sim.add_vl_dataset(name=f"set-{n}", status="INDEXING", progress=0) for n in range(30)]
    with SimServer(sim) as server:
        settings = {"poll_interval": 0.1, "settled_interval": 1.0, "timeout": 5}
        config = write_config(tmp_path, server.url, ids, None, settings=settings)
        # The long-running one (writes every poll, as the dashboard does) and a script's wait.
        watcher = dswatch("watch", "--json", "--config", str(config))
        news: list[str] = []
        reader = threading.Thread(target=lambda: news.extend(watcher.stdout or []), daemon=True)
        reader.start()
        waiter = dswatch("wait", "--timeout", "90", "--config", str(config))
        errors: list[str] = []
        # Each `status` opens the store (pruning it: a checkpoint), writes a batch, closes.
        for step in range(1, 6):
            for dataset_id in ids:
                sim.set_vl_status(dataset_id, "INDEXING", progress=step * 15)
            status = dswatch("status", "--json", "--config", str(config))
            out, err = status.communicate(timeout=60)
            assert status.returncode == 0, err
            assert [row["progress"] for row in json.loads(out)] == [step * 15] * 30
            errors.append(err)
        for dataset_id in ids:
            sim.set_vl_status(dataset_id, "READY", progress=100)
        _, err = waiter.communicate(timeout=90)
        assert waiter.returncode == 0, err
        errors.append(err)
        for _ in range(600):  # the watcher tells each dataset's change to READY
            if sum('"event": "ready"' in line for line in news) >= 30:
                break
            time.sleep(0.1)
        watcher.terminate()
        _, err = watcher.communicate(timeout=30)
        assert watcher.returncode == 0, err
        errors.append(err)
    # No process warned, was locked out, or failed: every one kept writing the file.
    said = "\n".join(errors).lower()
    assert "warning" not in said and "locked" not in said and "traceback" not in said, said
    store = HistoryStore.open(prune=False)
    try:
        assert store.warning is None
        for dataset_id in ids:
            states = [t.state for t in store.history(("vl", dataset_id))]
            assert states[0] is State.RUNNING and states[-1] is State.READY, states
            progress = {round(p) for _, p in store.progress(("vl", dataset_id))}
            assert {15, 30, 45, 60, 75} <= progress, progress  # every step, from someone
        known = store.last_known([("vl", i) for i in ids])
        assert {s.state for s in known.values()} == {State.READY} and len(known) == 30
    finally:
        store.close()


# ------------------------------------------------------------------ corrupt, through `status`


def test_status_on_a_corrupt_store_moves_it_aside_and_starts_anew(
    sim_config: tuple[Simulator, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _sim, config, _ids = sim_config
    path = default_path()
    garbage = b"not history at all\x00" * 500
    path.write_bytes(garbage)
    code = main(["status", "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert "was unreadable; moved it to history.sqlite3.corrupt-" in lines[0]
    assert "cats-ready" in out and "birds-indexing" in out
    aside = list(path.parent.glob("history.sqlite3.corrupt-*"))
    assert [p.read_bytes() for p in aside] == [garbage]  # kept, byte for byte
    # The new store works: the next run starts warm from it, without a warning.
    assert main(["status", "--config", str(config)]) == 0
    assert capsys.readouterr().err == ""
    store = HistoryStore.open(path, prune=False)
    try:
        assert {s.name for s in store.last_known().values()} == {"cats-ready", "birds-indexing"}
    finally:
        store.close()


def test_moving_a_corrupt_store_aside_never_replaces_an_earlier_one(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    # Earlier corrupt stores moved aside this second and the next few (the open
    # below names its file by the second it runs in).
    now = time.time()
    earlier = {
        path.with_name(
            f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now + s))}"
        )
        for s in range(4)
    }
    for n, older in enumerate(sorted(earlier)):
        older.write_bytes(f"an earlier corrupt store {n}".encode() * 100)
    kept = listing(tmp_path)
    path.write_bytes(b"the newest corrupt store" * 100)
    store = HistoryStore.open(path, clock=clock)
    store.close()
    assert store.warning is not None and "moved it to" in store.warning
    after = listing(tmp_path)
    assert {name: after.get(name) for name in kept} == kept  # not one replaced
    assert b"the newest corrupt store" * 100 in after.values()
