"""The history store on real SQLite files: change-only writes, warm starts, durations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.store import KEY, at, read
from tui import store as store_module
from tui.eta import PastRun
from tui.models import DatasetState, State
from tui.secrets import Redactor
from tui.store import HistoryStore
from tui.store_schema import to_ms


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "history.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[HistoryStore]:
    opened = HistoryStore.open(path, clock=lambda: at(0))
    assert opened.warning is None
    yield opened
    opened.close()


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """What another program reading the file sees."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_only_changes_are_written(store: HistoryStore, path: Path) -> None:
    store.record([read(State.PENDING, 0, status="DRAFT")])
    for second in range(5, 60, 5):  # polled again and again, nothing new
        store.record([read(State.PENDING, second, status="DRAFT")])
    store.record([read(State.RUNNING, 60, status="INDEXING", progress=10.0)])
    store.record([read(State.RUNNING, 65, status="INDEXING", progress=10.0)])
    store.record([read(State.RUNNING, 70, status="INDEXING", progress=25.0)])
    store.flush()
    changes = rows(path, "SELECT at, state, status, progress / 100.0 FROM changes ORDER BY at")
    assert [(c[1], c[2], c[3]) for c in changes] == [
        ("pending", "DRAFT", None),
        ("running", "INDEXING", 10.0),
        (None, None, 25.0),  # a progress-only change: state and status not repeated
    ]
    # Three batches with changes; the writer may gather batches queued together.
    assert 1 <= store.transactions <= 3


def test_a_batch_is_one_transaction_or_part_of_one(store: HistoryStore, path: Path) -> None:
    keys = [("vl", f"00000000-0000-0000-0000-{n:012d}") for n in range(50)]
    store.flush()
    before = store.transactions
    store.record([read(State.RUNNING, 0, key=k, progress=1.0) for k in keys])
    store.record([read(State.RUNNING, 5, key=k, progress=2.0) for k in keys])
    store.flush()
    # Never split; batches queued within WRITE_GATHER_S of each other share one.
    assert before + 1 <= store.transactions <= before + 2
    assert rows(path, "SELECT count(*) FROM changes") == [(100,)]
    assert rows(path, "SELECT count(*) FROM datasets") == [(50,)]


def test_failed_polls_and_placeholders_are_not_history(store: HistoryStore, path: Path) -> None:
    store.record([read(State.READY, 0)])
    stale = read(State.UNREACHABLE, 5).model_copy(update={"stale": True, "fetched_at": at(0)})
    never = DatasetState(backend="vl", id="never-read")
    store.record([stale, never])
    store.flush()
    assert rows(path, "SELECT state FROM changes") == [("ready",)]
    assert rows(path, "SELECT id, state FROM datasets") == [(KEY[1], "ready")]


def test_reopen_shows_last_known_names_and_states(path: Path) -> None:
    first = HistoryStore.open(path, clock=lambda: at(0))
    first.record(
        [
            read(State.RUNNING, 0, n_images=40, pipelines={"index": "RUNNING"}),
            read(State.READY, 0, key=("cg", "c1"), name="docs", n_objects=3),
        ]
    )
    first.record([read(State.RUNNING, 100, n_images=40, pipelines={"index": "RUNNING"})])
    first.close()

    second = HistoryStore.open(path, clock=lambda: at(0))
    known = second.last_known([KEY, ("cg", "c1"), ("cg", "never-seen")])
    second.close()
    assert set(known) == {KEY, ("cg", "c1")}  # never read: absent, not a placeholder
    running = known[KEY]
    assert (running.name, running.state, running.n_images) == ("cats", State.RUNNING, 40)
    assert running.pipelines == {"index": "RUNNING"}
    assert running.fetched_at == at(100)  # "seen ... ago" from the last read, even unchanged
    assert running.polled_at is None  # not confirmed by this run yet
    assert known[("cg", "c1")].name == "docs"


def test_durations_and_history_survive_a_restart(path: Path) -> None:
    first = HistoryStore.open(path, clock=lambda: at(0))
    first.record([read(State.PENDING, 0, status="DRAFT")])
    first.record([read(State.RUNNING, 120, status="INDEXING")])
    first.close()  # the run is still going when dswatch restarts

    second = HistoryStore.open(path, clock=lambda: at(0))
    assert second.since(KEY) == at(120)
    second.record([read(State.RUNNING, 130, status="INDEXING")])
    second.record([read(State.READY, 120 + 17 * 60, status="READY")])
    second.flush()
    assert [(t.state, t.status) for t in second.history(KEY)] == [
        (State.PENDING, "DRAFT"),
        (State.RUNNING, "INDEXING"),
        (State.READY, "READY"),
    ]
    assert second.run_durations("vl") == [17 * 60.0]
    assert second.run_durations("vl", dataset_id=KEY[1]) == [17 * 60.0]
    assert second.run_durations("cg") == []
    second.close()


def test_runs_by_pipeline_and_server_runs(store: HistoryStore) -> None:
    key = ("cg", "c1")
    store.record([read(State.RUNNING, 0, key=key, pipelines={"cognify": "STARTED"})])
    store.record([read(State.READY, 300, key=key, pipelines={"cognify": "COMPLETED"})])
    server = [
        PastRun("cognify", at(-4000), at(-3400), "ready"),
        PastRun("add", at(-5000), at(-4990), "ready"),
        PastRun("cognify", at(-9000), at(-8000), "error"),  # failed runs are no estimate
    ]
    store.add_runs("cg", "c1", server)
    store.add_runs("cg", "c1", server)  # read twice from the feed: stored once
    store.flush()
    assert sorted(store.run_durations("cg", "cognify")) == [300.0, 600.0]
    assert store.run_durations("cg", "add") == [10.0]


def test_eta_and_stuck_from_the_store(store: HistoryStore) -> None:
    other = ("vl", "other")
    store.record([read(State.RUNNING, -3000, key=other)])
    store.record([read(State.READY, -2400, key=other)])  # the backend's past run: 600 s
    store.flush()
    store.record([read(State.RUNNING, 0)])
    store.record([read(State.RUNNING, 60)])
    running = read(State.RUNNING, 60)
    timing = store.timing(running, at(100), stuck_after=None)
    assert timing.elapsed == 100.0
    assert (timing.eta.source, timing.eta.seconds) == ("history", 500.0)
    assert not timing.stuck
    assert timing.summary() == {"since": at(0).isoformat(), "eta_seconds": 500, "stuck": False}
    assert timing.cell() == "~8m · 1m40s"
    stuck = store.timing(running, at(3 * 600 + 1), stuck_after=None)
    assert stuck.stuck and stuck.cell() == "stuck? 30m01s"
    assert not store.timing(running, at(1000), stuck_after=2000).stuck

    store.record([read(State.RUNNING, 120, progress=10.0)])
    store.record([read(State.RUNNING, 180, progress=40.0)])
    by_rate = store.timing(read(State.RUNNING, 180, progress=40.0), at(180), None)
    assert (by_rate.eta.source, by_rate.eta.seconds) == ("rate", 120.0)
    ready = store.timing(read(State.READY, 200), at(200), None)
    assert ready.elapsed is None and ready.eta.seconds is None and not ready.stuck


def test_hostile_text_round_trips_literally(path: Path) -> None:
    name = "\x1b]52;c;aGk=\x07[bold red]x[/] \u202e ⚠ \n"
    status = "INDEX\x1b[2JING"
    error = "boom <script> %s {0} \\x1b"
    first = HistoryStore.open(path, clock=lambda: at(0))
    first.record([read(State.ERROR, 0, name=name, status=status, error=error)])
    first.close()
    stored = read(State.ERROR, 0, name=name, status=status, error=error)
    second = HistoryStore.open(path, clock=lambda: at(0))
    known = second.last_known([KEY])[KEY]
    # What the state held (made inert where it was built) comes back as it was.
    assert (known.name, known.status, known.error) == (stored.name, stored.status, stored.error)
    assert "[bold red]x[/]" in (known.name or "") and "%s {0}" in (known.error or "")
    assert second.history(KEY)[0].status == stored.status
    second.close()


def test_no_secret_is_stored(path: Path) -> None:
    token = "tok-5f1d8c2a9e7b4d3c"
    redactor = Redactor()
    redactor.add(token)
    store = HistoryStore.open(path, clock=lambda: at(0))
    store.record(
        [
            read(
                State.ERROR,
                0,
                error=redactor.text(f"401 with Bearer {token}"),
                raw={"access_token": token, "echo": token},
            )
        ]
    )
    store.close()
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert token.encode() not in stored
    assert b"401 with Bearer" in stored  # the masked error itself is kept


def test_prune_by_age(path: Path) -> None:
    now = [at(0)]
    store = HistoryStore.open(path, history_days=1, clock=lambda: now[0])
    store.record([read(State.RUNNING, 0, progress=1.0)])
    store.record([read(State.RUNNING, 86_400 + 3600, progress=2.0)])
    now[0] = at(86_400 + 3600)  # pruned by the slot: the first slot is a day old
    store.prune()
    store.flush()
    assert rows(path, "SELECT progress / 100.0 FROM changes") == [(2.0,)]
    store.close()


def test_prune_by_size_keeps_the_newest(path: Path) -> None:
    store = HistoryStore.open(path, history_max_mb=0.2, clock=lambda: at(10**6))
    keys = [("vl", f"00000000-0000-0000-0000-{n:012d}") for n in range(200)]
    for step in range(60):
        store.record([read(State.RUNNING, step * 600, key=k, progress=step + 0.5) for k in keys])
    store.flush()
    full = rows(path, "SELECT count(*) FROM changes")[0][0]
    store.prune()
    store.flush()
    sql = "SELECT count(*), min(progress) / 100.0, max(progress) / 100.0 FROM changes"
    kept = rows(path, sql)[0]
    store.close()
    assert full == 12_000
    assert kept[0] < full and kept[2] == 59.5 and kept[1] > 0.5
    assert path.stat().st_size <= 0.2 * 1_000_000 * 1.5  # freed pages given back


def test_the_writer_keeps_the_file_under_the_cap_between_hourly_prunes(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy hour cannot carry the file far past the cap: the writer checks the size
    itself and, once over, prunes back under 90% of it (oldest changes first)."""
    monkeypatch.setattr(store_module, "SIZE_CHECK_S", 0.0)  # check after every write
    store = HistoryStore.open(path, history_max_mb=0.2, clock=lambda: at(10**6))
    keys = [("vl", f"00000000-0000-0000-0000-{n:012d}") for n in range(200)]
    for step in range(60):
        store.record([read(State.RUNNING, step * 600, key=k, progress=step + 0.5) for k in keys])
        store.flush()  # one write per step, as the hours of a busy day would come
    sql = "SELECT count(*), max(progress) / 100.0 FROM changes"
    kept, newest = rows(path, sql)[0]
    store.close()
    assert 0 < kept < 12_000 and newest == 59.5
    assert path.stat().st_size <= 0.2 * 1_000_000


def test_a_deferred_dataset_row_is_known_at_once_and_written_at_close(path: Path) -> None:
    """The `changes` log gets every change at once; the dataset's row (what a restart
    shows first) follows within STATE_ROW_EVERY_S, and at flush and close."""
    store = HistoryStore.open(path, clock=lambda: at(0))
    store.record([read(State.RUNNING, 0, status="INDEXING", n_images=1)])
    store.record([read(State.READY, 10, status="READY", n_images=2)])  # row written 10 s ago
    store.record([read(State.READY, 20, status="READY", n_images=2)])
    known = store.last_known([KEY])[KEY]  # this process knows at once
    assert (known.state, known.n_images, known.fetched_at) == (State.READY, 2, at(20))
    store.close()
    assert rows(path, "SELECT state FROM changes ORDER BY at") == [("running",), ("ready",)]
    reopened = HistoryStore.open(path, clock=lambda: at(0))
    known = reopened.last_known([KEY])[KEY]
    reopened.close()
    assert (known.state, known.n_images) == (State.READY, 2)
    assert (known.changed_at, known.fetched_at) == (at(10), at(20))


def test_a_store_keyed_by_the_hour_keeps_its_changes(path: Path) -> None:
    """Version 2 keyed changes by the hour; opening it moves them to ten-minute slots."""
    first = HistoryStore.open(path, clock=lambda: at(0))
    first.record([read(State.RUNNING, 0, status="INDEXING", progress=5.0)])
    first.record([read(State.READY, 1200, status="READY", progress=100.0)])
    first.close()
    with sqlite3.connect(path) as old:  # back to version 2's layout, rows and all
        old.executescript(
            """
            CREATE TABLE changes_v2(
                hour INTEGER NOT NULL, ds INTEGER NOT NULL, at INTEGER NOT NULL,
                state TEXT, status TEXT, progress INTEGER,
                PRIMARY KEY(hour, ds, at)) WITHOUT ROWID;
            INSERT INTO changes_v2 SELECT at / 3600000, ds, at, state, status, progress
                FROM changes;
            DROP TABLE changes;
            ALTER TABLE changes_v2 RENAME TO changes;
            PRAGMA user_version = 2;
            """
        )
    store = HistoryStore.open(path, clock=lambda: at(0))
    try:
        assert store.warning is None
        assert [(t.at, t.state) for t in store.history(KEY)] == [
            (at(0), State.RUNNING),
            (at(1200), State.READY),
        ]
        assert store.progress(KEY) == [(at(0), 5.0), (at(1200), 100.0)]
    finally:
        store.close()
    assert rows(path, "SELECT slot, at FROM changes ORDER BY at") == [
        (to_ms(at(0)) // 600_000, to_ms(at(0))),
        (to_ms(at(1200)) // 600_000, to_ms(at(1200))),
    ]
    assert rows(path, "PRAGMA user_version") == [(3,)]
