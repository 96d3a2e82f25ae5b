"""`dswatch history`, `--help` naming the store, and Cognee's past runs over HTTP."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import run_process
from tests.support.clock import FakeClock
from tests.support.store import KEY, read
from tests.support.world import backend_for, new_sim
from tui.config import BackendConfig
from tui.models import State, utcnow
from tui.sim import SimServer, Simulator
from tui.store import HistoryStore


def dswatch(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # COLUMNS: argparse wraps help at the terminal width.
    return run_process(*args, DSWATCH_STATE_DIR=str(state_dir), TZ="UTC", COLUMNS="400")


@pytest.fixture
def stored(tmp_path: Path) -> Path:
    """A store where the dataset was DRAFT, indexed for 17 minutes, then READY."""
    start = (utcnow() - read().fetched_at).total_seconds() - 3600  # an hour ago
    store = HistoryStore.open(tmp_path / "history.sqlite3")
    hostile = "cats \x1b[2J[bold]x[/]"
    store.record([read(State.PENDING, start, status="DRAFT", name=hostile)])
    store.record([read(State.RUNNING, start + 120, status="INDEXING", name=hostile)])
    store.record([read(State.READY, start + 120 + 17 * 60, status="READY", name=hostile)])
    store.close()
    return tmp_path


def test_history_prints_states_with_durations(stored: Path) -> None:
    done = dswatch(stored, "history", f"vl:{KEY[1]}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "\x1b" not in done.stdout  # server text sanitized for the terminal
    assert lines[0] == f"vl:{KEY[1]}  cats [bold]x[/]"  # the escape gone, markup literal
    # A time of another day is shown with its date (the history is an hour old:
    # between 00:00 and 01:00 it starts yesterday).
    at = r"(?:[A-Z][a-z]{2} +\d{1,2} )?\d\d:\d\d"
    assert re.match(rf"\s+DRAFT\s+{at} -> {at}, 2 m$", lines[1]), lines[1]
    assert re.match(rf"\s+INDEXING\s+{at} -> {at}, 17 m$", lines[2]), lines[2]
    assert re.match(rf"\s+READY\s+{at} -> now, \d+ m$", lines[3]), lines[3]
    assert re.match(rf"\s+-\s+{at} -> {at}, 17 m READY$", lines[5]), lines[5]


def test_history_json_keeps_text_as_stored(stored: Path) -> None:
    done = dswatch(stored, "history", KEY[1].upper(), "--json")  # no backend: the only owner
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["name"] == "cats [bold]x[/]"  # markup as typed, never an escape
    assert [(h["state"], h["status"]) for h in report["history"]] == [
        ("pending", "DRAFT"),
        ("running", "INDEXING"),
        ("ready", "READY"),
    ]
    assert report["history"][1]["seconds"] == 17 * 60
    assert report["history"][2]["end"] is None
    assert [r["seconds"] for r in report["runs"]] == [17 * 60]


def test_history_of_unknown_or_bad_ids(stored: Path, tmp_path: Path) -> None:
    unknown = dswatch(stored, "history", "cg:" + KEY[1])
    assert unknown.returncode == 1 and "no history stored for" in unknown.stdout
    bad = dswatch(stored, "history", "not-an-id")
    assert bad.returncode == 2 and "not a dataset ID" in bad.stderr
    empty = dswatch(tmp_path / "nothing-here", "history", KEY[1])
    assert empty.returncode == 1 and "no history stored yet" in empty.stdout
    assert not (tmp_path / "nothing-here").exists()  # reading never creates a store


def test_help_names_the_store(tmp_path: Path) -> None:
    done = dswatch(tmp_path, "--help")
    assert f"History is kept in {tmp_path / 'history.sqlite3'} " in done.stdout


# ---------------------------------------------------------------- Cognee's activity feed


@pytest.fixture
def served(clock: FakeClock, serve_sim: Callable[[Simulator], SimServer]) -> tuple[Simulator, str]:
    sim = new_sim(5, cognee_auth=False, clock=clock)
    return sim, serve_sim(sim).url


async def test_cognee_past_runs_give_durations(
    served: tuple[Simulator, str], clock: FakeClock, tmp_path: Path
) -> None:
    sim, url = served
    dataset_id = sim.add_cognee_dataset(name="docs", pipelines={})
    dataset = sim.cognee.datasets[dataset_id]
    for start, duration in ((0.0, 600.0), (1000.0, 900.0), (2000.0, 10_000.0)):
        clock.now = start
        sim.cognee.start_run(dataset, "cognify_pipeline", duration)
    clock.now = 2100.0  # two runs over, the third still going
    backend = backend_for(BackendConfig(name="cg", type="cognee", url=f"{url}/cognee"), timeout=5)
    try:
        runs = await backend.past_runs(dataset_id)  # type: ignore[attr-defined]
        only = await backend.past_runs(dataset_id, "add_pipeline")  # type: ignore[attr-defined]
    finally:
        await backend.aclose()
    assert sorted(round(r.seconds) for r in runs) == [600, 900]  # the running one left out
    assert {r.pipeline for r in runs} == {"cognify_pipeline"} and only == []
    store = HistoryStore.open(tmp_path / "history.sqlite3")
    store.add_runs("cg", dataset_id, runs)
    store.flush()
    assert sorted(round(s) for s in store.run_durations("cg", "cognify_pipeline")) == [600, 900]
    store.close()
