"""The history store joined to dswatch: warm restarts, durations, ETA, stuck, faults.

Real SQLite files, the simulator served over HTTP on 127.0.0.1, the dashboard
driven with Pilot and the CLI run as a user runs it. Times in the model-level
tests come from an injectable clock; nothing here asserts a duration.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.geometry import Region
from textual.widget import Widget

from tests.support.clock import FakeClock
from tests.support.waiting import until as wait_until
from tests.support.world import (
    app_for,
    app_with_history,
    cats_and_birds,
    engine_for,
    new_sim,
    write_config,
)
from tui.app import DswatchApp
from tui.cli.main import main
from tui.eta import PastRun
from tui.history_link import HistoryLink
from tui.models import DatasetState, State
from tui.screens.details import DetailsScreen, history_table, merged_history, timing_text
from tui.sim import SimServer, Simulator
from tui.store import HistoryStore, default_path
from tui.watch import PollBatch, WatchModel
from tui.widgets.cells import age_cells, eta_cell
from tui.widgets.grid import DatasetGrid
from tui.widgets.rows import Row, RowFilter

T0 = datetime(2026, 3, 1, 14, 2, tzinfo=UTC)
KEY = ("cg", "5f0c8a52-1d7e-4d55-9c1e-0a3f2b7c9d10")
REACH = 8.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def observed(state: State, key: tuple[str, str] = KEY, **fields: object) -> DatasetState:
    return DatasetState(backend=key[0], id=key[1], name="notes", state=state, **fields)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def poll(model: WatchModel, clock: Clock, seconds: float, state: DatasetState) -> None:
    """One poll answer at T0 + `seconds`, through the model as the poller applies it."""
    clock.now = at(seconds)
    model.apply(PollBatch(observations=[(state, clock.now)]))


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "history.sqlite3"


def link(store_path: Path, clock: Clock, **options: object) -> HistoryLink:
    model = WatchModel(now=clock)
    opened = HistoryLink.open(model, [KEY], path=store_path, clock=clock, **options)  # type: ignore[arg-type]
    assert opened.warning is None
    model.track([KEY])  # as the poller does for each watched dataset
    return opened


# ------------------------------------------------------------------ durations, ETA, stuck


def test_a_restart_makes_news_only_of_real_change(store_path: Path) -> None:
    """News is a state that differs from the last readable one, across runs too
    (issue 11): a restart during an outage and the recovery tell nothing; a change
    that happened while dswatch was closed is told once."""
    clock = Clock()
    first = link(store_path, clock)
    poll(first.model, clock, 0, observed(State.READY, status="DONE"))
    first.close()

    second = link(store_path, clock)
    news: list[tuple[str, State]] = []
    second.model.subscribe(lambda u: news.extend((n.event, n.old) for n in u.news))
    poll(second.model, clock, 60, observed(State.UNREACHABLE, error="connection refused"))
    poll(second.model, clock, 120, observed(State.READY, status="DONE"))
    assert news == []
    second.close()

    third = link(store_path, clock)
    third.model.subscribe(lambda u: news.extend((n.event, n.old) for n in u.news))
    poll(third.model, clock, 180, observed(State.ERROR, status="FAILED"))
    assert news == [("error", State.READY)]
    third.close()


def test_details_say_since_when_a_row_cannot_be_read(store_path: Path) -> None:
    """The store keeps readable states only; a row down for a minute must not read
    `unreachable since` the moment it became ready an hour ago (issue 11: the
    details agree with the banner's `for 1m`)."""
    clock = Clock()
    history = link(store_path, clock)
    poll(history.model, clock, 0, observed(State.READY, status="DONE"))
    history.store.flush()
    poll(history.model, clock, 3600, observed(State.UNREACHABLE, error="connection refused"))
    down = history.model.states[KEY]
    assert down.stale and down.stale_since == at(3600)
    said = timing_text(history, down, at(3660)).plain
    assert said.startswith("unreachable since ") and "(1m00s ago)" in said, said
    ready = timing_text(
        history, history.model.states[KEY].model_copy(update={"state": State.READY}), at(3660)
    ).plain
    assert "(1h01m ago)" in ready, ready  # a readable row: the store's
    history.close()


def test_durations_across_a_restart(store_path: Path) -> None:
    clock = Clock()
    first = link(store_path, clock)
    poll(first.model, clock, 0, observed(State.PENDING, status="QUEUED"))
    poll(first.model, clock, 60, observed(State.RUNNING, status="INDEXING"))
    first.close()  # dswatch quits while the dataset indexes

    second = link(store_path, clock)
    seeded = second.model.states[KEY]
    assert (seeded.name, seeded.state, seeded.polled_at) == ("notes", State.RUNNING, None)
    poll(second.model, clock, 60 + 17 * 60, observed(State.READY, status="READY"))
    second.store.flush()
    entries = merged_history(second.store.history(KEY), second.model.history.of(KEY))
    assert [(e.state, e.at) for e in entries] == [
        (State.PENDING, at(0)),
        (State.RUNNING, at(60)),
        (State.READY, at(60 + 17 * 60)),
    ]
    table = history_table(entries, at(60 + 20 * 60))
    texts = [" ".join(str(cell) for cell in column._cells) for column in table.columns]
    assert "17 m" in texts[3]  # INDEXING 14:03 -> 14:20, 17 m
    assert second.store.run_durations("cg") == [17 * 60.0]
    second.close()


def test_eta_from_the_progress_rate(store_path: Path) -> None:
    clock = Clock()
    history = link(store_path, clock)
    model = history.model
    poll(model, clock, 0, observed(State.RUNNING, progress=10.0))
    poll(model, clock, 20, observed(State.RUNNING, progress=15.0))
    # Two samples, but 20 s apart: not enough to guess from.
    assert eta_text(history, 20) == "20s"
    poll(model, clock, 60, observed(State.RUNNING, progress=30.0))
    # 20 points a minute, 70 left: 3.5 minutes.
    assert eta_text(history, 60) == "~4m · 1m"
    assert history.timing(model.states[KEY], at(60)).summary()["eta_seconds"] == 210
    history.close()


def test_eta_from_past_runs_and_the_servers_run_history(store_path: Path) -> None:
    clock = Clock()
    history = link(store_path, clock)
    # Cognee's activity feed: two past cognify runs of 10 and 20 minutes.
    history.store.add_runs(
        KEY[0],
        KEY[1],
        [
            PastRun("cognify_pipeline", at(-9000), at(-8400), "ready"),
            PastRun("cognify_pipeline", at(-6000), at(-4800), "ready"),
        ],
    )
    history.store.flush()
    pipelines = {"cognify_pipeline": "DATASET_PROCESSING_STARTED"}
    poll(history.model, clock, 0, observed(State.RUNNING, pipelines=pipelines))
    # Median 15 minutes, 2 spent: about 13 left.
    assert eta_text(history, 120) == "~13m · 2m"
    history.close()


def eta_text(history: HistoryLink, seconds: float) -> str:
    timing = history.timing(history.model.states[KEY], at(seconds))
    return eta_cell(timing.elapsed, timing.eta.seconds, timing.stuck)


def test_a_run_that_stops_moving_is_flagged_stuck_and_told_once(store_path: Path) -> None:
    clock = Clock()
    history = link(store_path, clock, stuck_after=600.0)
    model = history.model
    news: list[str] = []
    model.subscribe(lambda update: news.extend(n.event for n in update.news))
    poll(model, clock, 0, observed(State.RUNNING, progress=5.0))
    assert history.check_stuck(at(599)) == set()
    assert history.check_stuck(at(601)) == {KEY}
    assert history.check_stuck(at(900)) == {KEY}
    assert news.count("stuck") == 1
    assert eta_text(history, 900) == "stuck? 15m"
    row = Row(KEY, model.states[KEY])
    row.stuck = KEY in model.stuck
    assert RowFilter(problems_only=True).matches(row)  # the `e` toggle shows it
    # It moves again: no longer stuck; a new stop is new news.
    poll(model, clock, 1000, observed(State.RUNNING, progress=6.0))
    assert KEY not in model.stuck
    assert history.check_stuck(at(1100)) == set()
    assert history.check_stuck(at(1601)) == {KEY}
    assert news.count("stuck") == 2
    history.close()


def test_rows_from_the_store_say_how_old_they_are_until_confirmed(store_path: Path) -> None:
    clock = Clock()
    first = link(store_path, clock)
    poll(first.model, clock, 0, observed(State.READY, n_images=12))
    first.close()
    clock.now = at(3 * 3600)
    second = link(store_path, clock)
    state = second.model.states[KEY]
    shown = age_cells(state.fetched_at.timestamp(), False, None, clock.now.timestamp(), True)  # type: ignore[union-attr]
    assert shown == ("3h", "seen 3h")
    never = age_cells(None, True, None, clock.now.timestamp(), False)
    assert never == ("never", "STALE")  # never read: never, not "STALE 0s"
    second.close()


# ------------------------------------------------------------------ the dashboard and the CLI


@pytest.fixture
def served(
    tmp_path: Path, serve_sim: Callable[[Simulator], SimServer]
) -> tuple[Simulator, SimServer, Path, list[str]]:
    sim = new_sim(5)
    ids = cats_and_birds(sim)
    server = serve_sim(sim)
    settings = {"poll_interval": 0.2, "settled_interval": 1.0, "timeout": 0.5}
    path = write_config(tmp_path, server.url, ids, None, settings=settings)
    return sim, server, path, ids


async def until(pilot: object, condition: Callable[[], bool], what: str) -> None:
    await wait_until(pilot, condition, what, timeout=REACH)


def grid_rows(app: DswatchApp) -> list[str]:
    grid = app.query_one(DatasetGrid)
    return [grid.render_line(y).text.strip() for y in range(1, grid.visible_count + 1)]


def open_dashboard(path: Path) -> DswatchApp:
    """As `dswatch` opens it; the store at its default path (DSWATCH_STATE_DIR)."""
    return app_with_history(path)


async def read_once(path: Path) -> None:
    """A first dashboard run that reads both rows, then quits (storing them)."""
    app = open_dashboard(path)
    async with app.run_test(size=(200, 30)) as pilot:
        await until(
            pilot,
            lambda: (
                all(s.fetched_at for s in app.model.states.values()) and len(grid_rows(app)) == 2
            ),
            "both rows read",
        )


async def test_restart_with_the_server_down_shows_last_known_names(
    served: tuple[Simulator, SimServer, Path, list[str]],
) -> None:
    _sim, server, path, ids = served
    await read_once(path)
    # on_unmount closed the store. The server goes away; dswatch starts again.
    server.stop()
    app = open_dashboard(path)
    seeded = {key[1]: state for key, state in app.model.states.items()}
    assert {s.name for s in seeded.values()} == {"cats-ready", "birds-indexing"}
    assert seeded[ids[1]].state is State.RUNNING and seeded[ids[1]].polled_at is None
    async with app.run_test(size=(200, 30)) as pilot:
        await until(pilot, lambda: len(grid_rows(app)) == 2, "rows at once")
        await until(
            pilot,
            lambda: (
                all(s.stale for s in app.model.states.values())
                and sum("STALE" in r for r in grid_rows(app)) == 2
            ),
            "the outage on screen",
        )
        rows = grid_rows(app)
        assert any("cats-ready" in r and "READY" in r and "STALE" in r for r in rows), rows
        assert any("birds-indexing" in r and "INDEXING" in r for r in rows), rows
        assert not any("never" in r for r in rows), rows  # read before: its real age
        # Details open on the last known history, across the restart.
        app.query_one(DatasetGrid).select(("vl", ids[1]))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailsScreen), "details open")
        history = shown(app.screen.query_one("#history"))
        assert "INDEXING" in history or "running" in history, history
    server.start()


async def test_the_first_frame_shows_stored_rows_before_any_request(
    served: tuple[Simulator, SimServer, Path, list[str]],
) -> None:
    """A warm start draws what the store knows first; polling starts after that frame."""
    sim, _server, path, _ids = served
    await read_once(path)
    first_frame: list[tuple[list[str], int]] = []
    before = sim.stats["vl"].total
    app = open_dashboard(path)
    after_first_frame = app._after_first_frame

    def seen_then_start() -> None:  # what was drawn, and asked of the server, by then
        first_frame.append((grid_rows(app), sim.stats["vl"].total))
        after_first_frame()

    app._after_first_frame = seen_then_start  # type: ignore[method-assign]
    async with app.run_test(size=(200, 30)) as pilot:
        await until(pilot, lambda: sim.stats["vl"].total > before, "polling started")
    [(rows, requests)] = first_frame
    assert requests == before, "a request went out before the first frame"
    assert any("cats-ready" in r and "READY" in r for r in rows), rows
    assert any("birds-indexing" in r and "INDEXING" in r for r in rows), rows


async def test_a_secret_in_a_readable_config_is_told_once_the_dashboard_is_up(
    tmp_path: Path,
) -> None:
    from tui.config import secret_warnings

    path = tmp_path / "config.toml"
    path.write_text(
        '[[backends]]\nname = "cg"\ntype = "cognee"\nurl = "http://127.0.0.1:9"\n'
        'token_command = "echo sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"\n'
    )
    path.chmod(0o644)
    app = app_for(path, engine_for(path), warnings=lambda: secret_warnings(path))
    async with app.run_test(size=(200, 30)) as pilot:
        await until(
            pilot,
            lambda: any("readable by other users" in str(n.message) for n in app._notifications),
            "the warning toast",
        )
        told = [str(n.message) for n in app._notifications]
    assert not any("sk-live" in message for message in told), told


def shown(widget: Widget) -> str:
    """What a widget shows on screen, as plain text."""
    region = Region(0, 0, widget.size.width, widget.size.height)
    return "\n".join(strip.text for strip in widget.render_lines(region))


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_after_a_restart_with_the_server_down(
    served: tuple[Simulator, SimServer, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    _sim, server, path, ids = served
    code, out, _ = run_cli(capsys, "status", "--json", "--config", str(path))
    assert code == 0
    first = {row["id"]: row for row in json.loads(out)}
    assert first[ids[1]]["since"] is not None and first[ids[1]]["stuck"] is False
    server.stop()
    try:
        code, out, err = run_cli(capsys, "status", "--json", "--config", str(path))
    finally:
        server.start()
    assert code == 1  # unreachable
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows[ids[0]]["name"] == "cats-ready" and rows[ids[0]]["status"] == "READY"
    assert rows[ids[1]]["name"] == "birds-indexing" and rows[ids[1]]["status"] == "INDEXING"
    assert rows[ids[1]]["since"] == first[ids[1]]["since"]  # when INDEXING began, kept
    assert "history" not in err  # the store was fine: no warning


def test_a_dashboard_and_a_wait_share_the_store(
    served: tuple[Simulator, SimServer, Path, list[str]],
) -> None:
    sim, _server, path, ids = served

    async def scenario() -> tuple[int, str, list[str]]:
        app = open_dashboard(path)
        async with app.run_test(size=(200, 30)) as pilot:
            await until(pilot, lambda: len(grid_rows(app)) == 2, "rows")
            waiting = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tui.cli",
                "wait",
                "--config",
                str(path),
                "--timeout",
                "30",
                ids[1],
                env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            await pilot.pause(1.0)  # the wait polls (and writes) beside the dashboard
            sim.set_vl_status(ids[1], "READY", progress=100)
            _, err = await asyncio.wait_for(waiting.communicate(), timeout=30)
            await until(
                pilot,
                lambda: app.model.states[("vl", ids[1])].state is State.READY,
                "the dashboard sees it ready",
            )
            warnings = [n.message for n in app._notifications if n.title == "history"]
            rows = grid_rows(app)
            assert any("birds-indexing" in r for r in rows)
        return waiting.returncode or 0, err.decode(), warnings

    code, err, warnings = asyncio.run(scenario())
    assert code == 0, err
    assert "history" not in err and warnings == []
    store = HistoryStore.open(prune=False)
    try:
        states = [t.state for t in store.history(("vl", ids[1]))]
        assert states[0] is State.RUNNING and states[-1] is State.READY, states
    finally:
        store.close()


@pytest.mark.parametrize("fault", ["corrupt", "read-only"])
async def test_a_bad_store_is_one_warning_and_the_app_runs(
    served: tuple[Simulator, SimServer, Path, list[str]], fault: str
) -> None:
    _sim, _server, path, _ids = served
    store_file = default_path()
    if fault == "corrupt":
        store_file.write_bytes(b"this is not a database" * 100)
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere")
        store_file.parent.chmod(0o500)
    try:
        app = open_dashboard(path)
        async with app.run_test(size=(200, 30)) as pilot:
            await until(
                pilot,
                lambda: all(s.fetched_at for s in app.model.states.values()),
                "rows read",
            )
            await pilot.pause(0.3)
            warnings = [n.message for n in app._notifications if n.title == "history"]
            assert len(warnings) == 1, warnings
            assert len(grid_rows(app)) == 2
    finally:
        store_file.parent.chmod(0o700)
    if fault == "corrupt":
        assert list(store_file.parent.glob("history.sqlite3.corrupt-*"))  # moved, not deleted


def test_a_store_of_the_first_format_keeps_its_runs(store_path: Path) -> None:
    """Version 1 keyed runs by backend + UUID text; opening it moves them over."""
    store_path.parent.mkdir(parents=True)
    with sqlite3.connect(store_path) as old:
        old.executescript(
            """
            CREATE TABLE datasets(
                ds INTEGER PRIMARY KEY AUTOINCREMENT, backend TEXT NOT NULL, id TEXT NOT NULL,
                name TEXT, state TEXT NOT NULL, status TEXT, progress REAL,
                n_images INTEGER, n_videos INTEGER, n_objects INTEGER, pipelines TEXT,
                error TEXT, fetched_at INTEGER, changed_at INTEGER, since INTEGER,
                run_started INTEGER, UNIQUE(backend, id));
            CREATE TABLE runs(
                backend TEXT NOT NULL, id TEXT NOT NULL, pipeline TEXT NOT NULL,
                started INTEGER NOT NULL, ended INTEGER NOT NULL, outcome TEXT NOT NULL,
                source TEXT NOT NULL,
                PRIMARY KEY(backend, pipeline, id, started)) WITHOUT ROWID;
            """
        )
        started = int(at(0).timestamp() * 1000)
        old.execute(
            "INSERT INTO runs VALUES (?, ?, 'cognify_pipeline', ?, ?, 'ready', 'server')",
            (*KEY, started, started + 600_000),
        )
    store = HistoryStore.open(store_path, clock=lambda: at(0))
    try:
        assert store.warning is None
        assert store.run_durations(KEY[0], "cognify_pipeline", KEY[1]) == [600.0]
        assert store.last_known() == {}  # its runs are known, its data never was
    finally:
        store.close()
    with sqlite3.connect(store_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3


async def test_the_dashboard_flags_a_stuck_run_and_e_shows_it(
    served: tuple[Simulator, SimServer, Path, list[str]],
) -> None:
    _sim, _server, path, ids = served
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("[settings]\n", "[settings]\nstuck_after = 0.5\n"), "utf-8")
    clock = FakeClock(time.time())  # the app's clock: ages and the stuck check
    app = app_with_history(path, clock=clock)
    async with app.run_test(size=(200, 30)) as pilot:
        await until(pilot, lambda: all(s.fetched_at for s in app.model.states.values()), "read")
        clock.now = time.time() + 0.6  # longer than stuck_after; the simulator's run stands still
        app.check_stuck()  # what the app's timer runs every STUCK_CHECK_SECONDS
        await pilot.pause()
        key = ("vl", ids[1])
        assert app.model.stuck == {key}
        rows = grid_rows(app)
        assert any("birds-indexing" in r and "stuck?" in r for r in rows), rows
        await pilot.press("e")  # problems only: the stuck run is one
        await until(pilot, lambda: len(grid_rows(app)) == 1, "problems only")
        assert "birds-indexing" in grid_rows(app)[0]
