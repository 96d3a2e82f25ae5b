"""Following a whole backend (`follow = "all"` / name patterns), over real HTTP.

The simulator runs on 127.0.0.1 (SimServer); datasets appear and disappear
on it while dswatch watches, and the tests check what a user would get: the
rows `status` prints, the model's rows, the removal notice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.support.waiting import until
from tests.support.world import new_sim, write_config
from tui.backends.base import RemoteDataset
from tui.cli import main
from tui.config import load_config
from tui.engine import load_engine
from tui.follow import FollowChange, follows
from tui.sim import SimServer, Simulator
from tui.watch import PollUpdate

READY = {"add_pipeline": "DATASET_PROCESSING_COMPLETED", "cognify_pipeline": None}


@pytest.fixture
def sim() -> Simulator:
    """Per test (conftest's `sim` is per module): following lists the whole backend."""
    return new_sim(11)


@pytest.fixture
def server(sim: Simulator, serve_sim: Callable[[Simulator], SimServer]) -> SimServer:
    return serve_sim(sim)


pytestmark = pytest.mark.usefixtures("quiet_home")  # tests/conftest.py

SETTINGS = {"poll_interval": 0.2, "settled_interval": 60, "timeout": 2}
config_file = partial(write_config, settings=SETTINGS, mode=0o600)


def status_names(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, list[str]]:
    code = main(["status", "--config", str(path)])
    out, _ = capsys.readouterr()
    names = [line.split()[1] for line in out.splitlines()[1:] if line.strip()]
    return code, names


# -- which listed datasets a setting takes ---------------------------------------


@pytest.mark.parametrize(
    ("follow", "name", "taken"),
    [
        ("all", "anything", True),
        ("all", None, True),
        (["prod-*"], "prod-cats", True),
        (["prod-*"], "staging-cats", False),
        (["prod-*"], "PROD-cats", False),  # case-sensitive: what the pattern says
        (["prod-*", "nightly-?"], "nightly-3", True),
        (["prod-*"], None, False),
        (None, "prod-cats", False),
    ],
)
def test_follow_setting_takes_listed_datasets_by_name(
    follow: str | list[str] | None, name: str | None, taken: bool
) -> None:
    dataset = RemoteDataset(id="0b5d1f9e-6a43-4c56-9f7e-3a1c2b4d5e6f", name=name)
    assert follows(follow, dataset) is taken


def test_a_pattern_may_name_an_id(tmp_path: Path) -> None:
    dataset = RemoteDataset(id="0b5d1f9e-6a43-4c56-9f7e-3a1c2b4d5e6f", name="x")
    assert follows(["0b5d1f9e-*"], dataset)


def test_follow_loads_without_any_listed_dataset(tmp_path: Path) -> None:
    path = config_file(tmp_path, "http://127.0.0.1:9", vl_extra='follow = "all"')
    config = load_config(path)
    assert config.backends[0].follow == "all" and config.backends[0].datasets == []


# -- status: one list, then one sweep --------------------------------------------


def test_status_with_follow_all_shows_every_listed_dataset(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("alpha", "beta", "gamma"):
        sim.add_vl_dataset(name=name, status="READY", progress=100)
    path = config_file(tmp_path, server.url, vl_extra='follow = "all"')
    code, names = status_names(capsys, path)
    assert code == 0
    assert sorted(names) == ["alpha", "beta", "gamma"]


def test_status_with_patterns_keeps_explicit_datasets_beside_them(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("prod-notes", "prod-wiki", "staging-notes"):
        sim.add_cognee_dataset(name=name, pipelines=READY)
    explicit = sim.add_cognee_dataset(name="handpicked", pipelines=READY)
    path = config_file(tmp_path, server.url, cognee_extra='follow = ["prod-*"]', cognee=(explicit,))
    code, names = status_names(capsys, path)
    assert code == 0
    assert sorted(names) == ["handpicked", "prod-notes", "prod-wiki"]


def test_a_failed_list_still_polls_the_explicit_datasets(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    explicit = sim.add_vl_dataset(name="kept", status="READY", progress=100)
    sim.add_vl_dataset(name="listed-only", status="READY", progress=100)
    path = config_file(tmp_path, server.url, vl_extra='follow = "all"', vl=(explicit,))
    sim.set_faults("vl", status=500)
    code, out = main(["status", "--config", str(path)]), capsys.readouterr().out
    assert code == 1  # the explicit dataset could not be read either
    assert explicit in out and "listed-only" not in out


# -- the running watch: new datasets come, deleted ones go with a notice ------------


async def watch_until(engine, condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Run the poller until `condition()` holds (a deadline, not a timing assertion)."""
    runner = asyncio.create_task(engine.poller.run())
    try:
        await until(None, condition, "the watch never got there", timeout)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


def test_running_watch_picks_up_new_datasets_and_drops_deleted_ones_with_a_notice(
    sim: Simulator, server: SimServer, tmp_path: Path
) -> None:
    first = sim.add_cognee_dataset(name="prod-first", pipelines=READY)
    doomed = sim.add_cognee_dataset(name="prod-doomed", pipelines=READY)
    explicit = sim.add_cognee_dataset(name="pinned", pipelines=READY)
    sim.add_cognee_dataset(name="staging-x", pipelines=READY)
    path = config_file(
        tmp_path,
        server.url,
        cognee_extra='follow = ["prod-*"]',
        cognee=(explicit,),
        settings={**SETTINGS, "settled_interval": 0.3},
    )

    async def scenario() -> tuple[list[FollowChange], list[PollUpdate], dict]:  # type: ignore[type-arg]
        engine = load_engine(path)
        assert engine.follower is not None
        changes: list[FollowChange] = []
        updates: list[PollUpdate] = []
        engine.follower.subscribe(changes.append)
        engine.model.subscribe(updates.append)
        states = engine.model.states
        try:
            await watch_until(engine, lambda: ("cg", doomed) in states)
            assert ("cg", first) in states and ("cg", explicit) in states
            newcomer = sim.add_cognee_dataset(name="prod-new", pipelines=READY)
            sim.remove_dataset("cognee", doomed)
            sim.remove_dataset("cognee", explicit)  # explicit: stays watched, reads as gone
            await watch_until(
                engine,
                lambda: (
                    ("cg", doomed) not in states
                    and (s := states.get(("cg", newcomer))) is not None
                    and s.name == "prod-new"
                ),
            )
            return changes, updates, dict(states)
        finally:
            await engine.aclose()

    changes, updates, states = asyncio.run(scenario())
    assert ("cg", explicit) in states  # never removed by following
    assert not any(key[1].startswith("staging") for key in states)
    removals = [c for c in changes if c.removed]
    assert [c.removed for c in removals] == [[(doomed, "prod-doomed")]]
    assert "prod-doomed" in removals[0].describe() and "no longer listed" in removals[0].describe()
    assert any(("cg", doomed) in u.removed for u in updates)  # the grid hears it


def test_a_failed_list_removes_nothing(sim: Simulator, server: SimServer, tmp_path: Path) -> None:
    sim.add_vl_dataset(name="one", status="READY", progress=100)
    sim.add_vl_dataset(name="two", status="READY", progress=100)
    path = config_file(tmp_path, server.url, vl_extra='follow = "all"')

    async def scenario() -> tuple[bool, int, int]:
        engine = load_engine(path)
        assert engine.follower is not None
        try:
            assert await engine.follower.sync("vl")
            before = len(engine.poller.schedulers["vl"].due_at)
            sim.set_faults("vl", status=500)
            ok = await engine.follower.sync("vl")
            return ok, before, len(engine.poller.schedulers["vl"].due_at)
        finally:
            sim.clear_faults()
            await engine.aclose()

    ok, before, after = asyncio.run(scenario())
    assert (ok, before, after) == (False, 2, 2)


def test_wait_on_named_datasets_ignores_follow(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = sim.add_vl_dataset(name="target", status="READY", progress=100)
    sim.add_vl_dataset(name="other", status="ERROR")
    path = config_file(tmp_path, server.url, vl_extra='follow = "all"')
    code = main(["wait", "--config", str(path), "--timeout", "20", f"vl:{target}"])
    err = capsys.readouterr().err
    assert code == 0 and "other" not in err


def test_a_list_over_the_status_answers_cap_is_still_read(
    sim: Simulator, server: SimServer, tmp_path: Path
) -> None:
    # ~600 bytes per Visual Layer dataset: 15,000 make a list over the 8 MiB cap of
    # status answers; a list has a cap of its own.
    sim.add_vl_datasets(15_000)
    path = config_file(tmp_path, server.url, vl_extra='follow = "all"')

    async def scenario() -> tuple[bool, int]:
        engine = load_engine(path)
        assert engine.follower is not None
        try:
            ok = await engine.follower.sync("vl")
            return ok, len(engine.poller.schedulers["vl"].due_at)
        finally:
            await engine.aclose()

    assert asyncio.run(scenario()) == (True, 15_000)


def test_wait_with_no_ids_waits_for_what_follow_takes(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A follow-only backend: `wait` lists it first, then waits for every dataset it takes."""
    sim.add_vl_dataset(name="prod-a", status="READY", progress=100)
    sim.add_vl_dataset(name="prod-b", status="READY", progress=100)
    sim.add_vl_dataset(name="staging-broken", status="ERROR")  # not taken: never waited for
    path = config_file(tmp_path, server.url, vl_extra='follow = ["prod-*"]')
    code = main(["wait", "--config", str(path), "--timeout", "20"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "prod-a" in err and "prod-b" in err and "staging" not in err

    sim.add_vl_dataset(name="prod-broken", status="ERROR")
    code = main(["wait", "--config", str(path), "--timeout", "20"])
    err = capsys.readouterr().err
    assert code == 1 and "prod-broken" in err


def test_wait_with_no_ids_and_nothing_followed_says_so(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.add_vl_dataset(name="staging-a", status="READY", progress=100)
    path = config_file(tmp_path, server.url, vl_extra='follow = ["prod-*"]')
    code = main(["wait", "--config", str(path), "--timeout", "20"])
    err = capsys.readouterr().err
    assert code == 2
    assert "none that `follow` takes" in err


async def test_d_on_a_followed_dataset_says_how_to_stop_it(
    sim: Simulator, server: SimServer, tmp_path: Path
) -> None:
    """Removing a dataset the backend's list brings back would be a lie: `d` says why
    not and what would stop it; the config is untouched and the row stays."""
    from tests.support.waiting import until
    from tui.app import DswatchApp
    from tui.engine import build_engine

    followed = sim.add_vl_dataset(name="prod-only-listed", status="READY", progress=100)
    pinned = sim.add_vl_dataset(name="prod-pinned", status="READY", progress=100)
    path = config_file(tmp_path, server.url, vl_extra='follow = ["prod-*"]', vl=(pinned,))
    before = path.read_text(encoding="utf-8")
    engine = build_engine(load_config(path), path, environ={}, flush_interval=0.02)
    app = DswatchApp(engine, config_path=path)
    async with app.run_test(size=(160, 30)) as pilot:
        states = app.model.states
        await until(pilot, lambda: (s := states.get(("vl", followed))) and s.fetched_at, "listed")
        assert app.grid.select(("vl", followed))
        await pilot.press("d")
        await pilot.pause()
        toasts = [n for n in app._notifications if n.title == "not removed"]
        assert len(toasts) == 1
        assert 'follow = ["prod-*"]' in toasts[0].message
        assert "Narrow `follow`" in toasts[0].message
        assert not app.screen_stack[1:]  # no question asked
        assert path.read_text(encoding="utf-8") == before
        assert ("vl", followed) in states

        # Listed in `datasets` and followed: removed from the file, and the question
        # says it stays watched.
        assert app.grid.select(("vl", pinned))
        await pilot.press("d")
        await until(pilot, lambda: len(app.screen_stack) > 1, "the question")
        assert "It stays watched" in str(app.screen.query_one("#detail").render())
        await pilot.press("y")
        await until(pilot, lambda: pinned not in path.read_text(encoding="utf-8"), "saved")
        await pilot.pause(0.2)
        assert ("vl", pinned) in states
