"""Real faults for the history store's tests: another user, another process's lock,
a disk with no room; and the child processes (scripts) that run dswatch under them.

The scripts run with `python -c` and print one JSON report as their last line.
Those that become nobody import everything first: once it is nobody, a child
cannot read root's Python install any more.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "200"}


def run_child(script: str, *args: str) -> dict[str, Any]:
    """Run `script` in a new Python; its last stdout line is a JSON report."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def dswatch(*args: str) -> subprocess.Popen[str]:
    """dswatch as a user runs it: its own process, its own connections to the store."""
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )


def contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row, read without writing (a fault must leave them as they were)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
            for table in ("datasets", "changes", "runs")
        }


def listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def fill(disk: Path) -> Path:
    """Another program takes every free byte of `disk`."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        for chunk in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * chunk)
    return filler


HOLDER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    if sys.argv[2] == "everyone":
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # WAL: readers are kept out too
    conn.execute("BEGIN EXCLUSIVE")  # WAL: every other writer waits
    conn.execute("DELETE FROM changes")  # a write of its own, rolled back below
    print("locked", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    """
)


@contextlib.contextmanager
def held(path: Path, out: str) -> Iterator[None]:
    """Another process holds the store's lock until the block ends. `out`: "writers"
    (what a `BEGIN EXCLUSIVE` in a sqlite3 shell does to a WAL file) or "everyone"."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), out],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        _, err = holder.communicate("release\n", timeout=30)
    assert holder.returncode == 0, err


# Run in child processes (imports first: once it is nobody, a child cannot read
# root's Python install any more).
NOBODY = textwrap.dedent(
    """
    import os
    from pathlib import Path

    def become_nobody() -> int:
        # Root writes anywhere: a read-only store is a real fault only for another user.
        if os.geteuid() == 0:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        return os.geteuid()

    def prove_unwritable(store: Path) -> None:
        # The fault must be real, or the test proves nothing: fail, never pass.
        for attempt in (lambda: open(store, "r+b"), lambda: open(store.parent / "x", "xb")):
            try:
                attempt().close()
            except PermissionError:
                continue
            raise SystemExit(f"the fault is not real: uid {os.geteuid()} can write near {store}")
    """
)


RO_STORE = NOBODY + textwrap.dedent(
    """
    import json, sys
    from tests.support.store import KEY, at, read
    from tui.models import State
    from tui.store import HistoryStore

    path = Path(sys.argv[1])
    uid = become_nobody()
    prove_unwritable(path)
    store = HistoryStore.open(path, clock=lambda: at(0))
    store.record([read(State.RUNNING, 100)])
    store.record([read(State.READY, 160)])
    store.flush()
    print(json.dumps({
        "uid": uid,
        "path": None if store.path is None else str(store.path),
        "warning": store.warning,
        "states": [t.state.value for t in store.history(KEY)],
        "durations": store.run_durations("vl"),
    }))
    store.close()
    """
)


RO_STATUS = NOBODY + textwrap.dedent(
    """
    import contextlib, io, json, sys
    from tui.cli.main import main

    config, warm_dir, store_dir = sys.argv[1:4]
    # A first run as the starting user, on a store of its own, loads every module
    # `status` imports lazily.
    os.environ["DSWATCH_STATE_DIR"] = warm_dir
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(["status", "--config", config])
    uid = become_nobody()
    prove_unwritable(Path(store_dir) / "history.sqlite3")
    os.environ["DSWATCH_STATE_DIR"] = store_dir
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["status", "--config", config])
    print(json.dumps({"uid": uid, "code": code, "out": out.getvalue(), "err": err.getvalue()}))
    """
)


RO_APP = NOBODY + textwrap.dedent(
    """
    import asyncio, json, sys
    from tests.support.waiting import until
    from tests.support.world import app_with_history
    from tui.widgets.grid import DatasetGrid

    config, warm_dir, store_dir = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    async def dashboard() -> dict:
        app = app_with_history(config)
        async with app.run_test(size=(200, 30)) as pilot:
            grid = app.query_one(DatasetGrid)
            await until(pilot, lambda: all(s.fetched_at for s in app.model.states.values()))
            await until(pilot, lambda: grid.visible_count == 2)
            await pilot.pause(0.5)  # more polls, more batches recorded
            rows = [grid.render_line(y).text for y in range(1, grid.visible_count + 1)]
            toasts = [n.message for n in app._notifications if n.title == "history"]
        return {"rows": rows, "toasts": toasts}

    # A first run as the starting user, on a store of its own, loads every module
    # the dashboard imports lazily.
    os.environ["DSWATCH_STATE_DIR"] = warm_dir
    asyncio.run(dashboard())
    uid = become_nobody()
    prove_unwritable(Path(store_dir) / "history.sqlite3")
    os.environ["DSWATCH_STATE_DIR"] = store_dir
    print(json.dumps({"uid": uid, **asyncio.run(dashboard())}))
    """
)


# A process whose file size limit is reached gets EFBIG on write, as a full disk
# gives ENOSPC: the same failed write to SQLite, and it needs no mount.
FULL_LINK = textwrap.dedent(
    """
    import contextlib, json, resource, signal, sqlite3, sys
    from pathlib import Path
    from tests.support.store import at
    from tui.history_link import HistoryLink
    from tui.models import DatasetState, State
    from tui.watch import PollBatch, WatchModel

    path = Path(sys.argv[1])
    now = [at(0)]
    model = WatchModel(now=lambda: now[0])
    keys = [("vl", f"00000000-0000-0000-0000-{n:012d}") for n in range(2000)]
    link = HistoryLink.open(model, keys, path=path, clock=lambda: now[0])
    told = []
    link.on_warning = told.append
    model.track(keys)

    def poll(seconds, state, some):
        now[0] = at(seconds)
        read = [DatasetState(backend=b, id=i, name="x" * 200, state=state) for b, i in some]
        model.apply(PollBatch(observations=[(r, now[0]) for r in read]))

    def contents():
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            tables = ("datasets", "changes", "runs")
            return [conn.execute(f"SELECT * FROM {t}").fetchall() for t in tables]

    poll(0, State.RUNNING, keys[:1])
    assert link.store.flush(30)
    before = contents()
    biggest = max(p.stat().st_size for p in path.parent.iterdir())
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    resource.setrlimit(resource.RLIMIT_FSIZE, (biggest, biggest))
    poll(60, State.READY, keys)  # 2000 changed rows: more than the files hold
    assert link.store.flush(30)
    failed_with = link.store.warning
    poll(70, State.RUNNING, keys[:1])
    poll(130, State.READY, keys[:1])
    assert link.store.flush(30)
    history = [t.state.value for t in link.store.history(keys[0])]
    failed_batch = [t.state.value for t in link.store.history(keys[1])]
    durations = link.store.run_durations("vl")
    link.close()
    print(json.dumps({
        "failed_with": failed_with, "told": told, "path": link.store.path,
        "history": history, "failed_batch": failed_batch, "durations": durations,
        "untouched": contents() == before,
    }))
    """
)
