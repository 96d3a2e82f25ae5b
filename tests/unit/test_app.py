"""The dashboard, driven with Pilot the way a user drives it.

The app runs the real engine (backends + poller) against the simulator
in-process; assertions read what the grid, banners and screens show.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Input

from tests.support.waiting import until
from tests.support.world import app_for
from tui.app import DswatchApp
from tui.config import load_config
from tui.engine import build_engine
from tui.models import State
from tui.screens.add import AddDatasetsScreen, PasteBox
from tui.screens.confirm import ConfirmScreen
from tui.screens.details import DetailsScreen
from tui.screens.help import HelpScreen
from tui.sim import Simulator
from tui.widgets.grid import DatasetGrid

ERROR_MESSAGE = "Archive 'batch_03.zip' is corrupted and could not be extracted"
HOSTILE_MARKUP = "[bold red]x[/]"
HOSTILE_ESCAPES = "evil\x1b[2J\x1b]52;c;SGVsbG8=\x07\x1b]8;;http://x\x1b\\link"


@dataclass
class World:
    sim: Simulator
    path: Path
    ready: str
    failed: str
    indexing: str
    notes: str
    unwatched: str
    hostile: str
    escapes: str


def write_config(
    path: Path, vl: list[str], cognee: list[str], extra_vl: str = "", vl_url: str = "http://sim/vl"
) -> None:
    def ids(values: list[str]) -> str:
        return ", ".join(f'"{v}"' for v in values)

    path.write_text(
        "# my dswatch config\n"
        "[settings]\npoll_interval = 0.2\nsettled_interval = 1.0\ntimeout = 2.0\n\n"
        "[[backends]]\n"
        f'name = "vl"\ntype = "visual_layer"\nurl = "{vl_url}"\n'
        f"{extra_vl}"
        f"datasets = [{ids(vl)}]  # keep this comment\n\n"
        "[[backends]]\n"
        'name = "cognee"\ntype = "cognee"\nurl = "http://sim/cognee"\n'
        f"datasets = [{ids(cognee)}]\n",
        encoding="utf-8",
    )


@pytest.fixture
def world(tmp_path: Path) -> World:
    sim = Simulator(seed=3, vl_datasets=0, cognee_datasets=0)
    ready = sim.add_vl_dataset(name="cats-ready", status="READY", progress=100, n_images=1200)
    failed = sim.add_vl_dataset(
        name="dogs-failed", status="ERROR", progress=40, fatal_error_msg=ERROR_MESSAGE
    )
    indexing = sim.add_vl_dataset(name="birds-indexing", status="INDEXING", progress=55)
    hostile = sim.add_vl_dataset(name=HOSTILE_MARKUP, status="READY", progress=100)
    escapes = sim.add_vl_dataset(name=HOSTILE_ESCAPES, status="READY", progress=100)
    unwatched = sim.add_vl_dataset(name="fish-new", status="READY", progress=100)
    notes = sim.add_cognee_dataset(
        name="meeting-notes",
        pipelines={
            "add_pipeline": "DATASET_PROCESSING_COMPLETED",
            "cognify_pipeline": "DATASET_PROCESSING_STARTED",
        },
    )
    path = tmp_path / "config.toml"
    write_config(path, [ready, failed, indexing, hostile, escapes], [notes])
    return World(sim, path, ready, failed, indexing, notes, unwatched, hostile, escapes)


def make_app(world: World, environ: dict[str, str] | None = None) -> DswatchApp:
    """The dashboard over the world's config, its simulator in-process."""
    return app_for(world.path, transport=httpx.ASGITransport(app=world.sim.app), environ=environ)


@pytest.fixture
async def running(world: World) -> AsyncIterator[tuple[DswatchApp, object]]:
    app = make_app(world)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: polled(app) >= 6)
        yield app, pilot


def polled(app: DswatchApp) -> int:
    return sum(1 for s in app.model.states.values() if s.polled_at is not None)


def grid_lines(app: DswatchApp) -> list[str]:
    grid = app.query_one(DatasetGrid)
    return [grid.render_line(y).text for y in range(grid.size.height)]


def shown(widget: Widget) -> str:
    """What a widget shows on screen, as plain text."""
    region = Region(0, 0, widget.size.width, widget.size.height)
    return "\n".join(strip.text for strip in widget.render_lines(region))


def grid_text(app: DswatchApp) -> str:
    return "\n".join(grid_lines(app))


def select(app: DswatchApp, backend: str, dataset_id: str) -> None:
    assert app.query_one(DatasetGrid).select((backend, dataset_id))


async def outage_then_real_change(pilot: Any, app: DswatchApp, world: World) -> None:
    """vl goes down (503) and comes back; then birds-indexing really becomes ready."""
    key = ("vl", world.indexing)
    await until(pilot, lambda: app.model.states[key].state is State.RUNNING)
    world.sim.set_faults("vl", status=503)
    await until(pilot, lambda: app.model.health["vl"].is_down)
    world.sim.clear_faults("vl")
    await until(pilot, lambda: not app.model.health["vl"].is_down)
    world.sim.set_vl_status(world.indexing, "READY", progress=100)


# -- the grid ------------------------------------------------------------------


async def test_every_dataset_is_shown_with_its_state(running: tuple[DswatchApp, object]) -> None:
    app, pilot = running
    await until(pilot, lambda: "meeting-notes" in grid_text(app))
    text = grid_text(app)
    assert "cats-ready" in text and "✓ ready" in text
    assert "dogs-failed" in text and "✗ error" in text
    assert "birds-indexing" in text and "⟳ running" in text and "55%" in text
    assert "add ✓ cognify ⟳" in text
    assert "1,200" in text  # counts with separators
    summary = str(app.query_one("#summary").render())
    assert "✗ error" in summary and "vl ok" in summary


async def test_server_text_is_shown_literally(running: tuple[DswatchApp, object]) -> None:
    app, pilot = running
    await until(pilot, lambda: HOSTILE_MARKUP in grid_text(app))
    lines = grid_lines(app)
    assert any(HOSTILE_MARKUP in line for line in lines)
    assert not any("\x1b" in line or "\x07" in line for line in lines)
    grid = app.query_one(DatasetGrid)
    for y in range(grid.size.height):
        for segment in grid.render_line(y):
            assert "\x1b" not in segment.text
            assert segment.style is None or segment.style.link is None


# -- keys ----------------------------------------------------------------------


async def test_filter_and_problems_only(running: tuple[DswatchApp, object]) -> None:
    app, pilot = running
    await pilot.press("slash")  # type: ignore[attr-defined]
    await pilot.press(*"dogs")  # type: ignore[attr-defined]
    await until(pilot, lambda: "cats-ready" not in grid_text(app))
    assert "dogs-failed" in grid_text(app)
    assert "showing 1 of 6" in str(app.query_one("#summary").render())
    await pilot.press("escape")  # type: ignore[attr-defined]
    assert "cats-ready" in grid_text(app)

    await pilot.press("slash", *"state:running", "enter")  # type: ignore[attr-defined]
    assert "birds-indexing" in grid_text(app) and "dogs-failed" not in grid_text(app)
    await pilot.press("escape")  # type: ignore[attr-defined]

    await pilot.press("e")  # type: ignore[attr-defined]
    text = grid_text(app)
    assert "dogs-failed" in text and "cats-ready" not in text
    await pilot.press("e")  # type: ignore[attr-defined]
    assert "cats-ready" in grid_text(app)


async def test_the_filter_names_an_unknown_state_and_takes_backend_name(
    running: tuple[DswatchApp, object],
) -> None:
    app, pilot = running
    field = app.query_one("#filter", Input)
    await pilot.press("slash", *"state:eror")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert field.border_subtitle == "unknown state: eror" and field.has_class("-invalid")
    await pilot.press("escape", "slash", *"vl:dogs-failed")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert not field.border_subtitle and not field.has_class("-invalid")
    text = grid_text(app)  # as `dswatch wait vl:dogs-failed` takes it
    assert "dogs-failed" in text and "cats-ready" not in text
    await pilot.press("escape", "slash", *"cognee:dogs-failed")  # type: ignore[attr-defined]
    await until(pilot, lambda: "dogs-failed" not in grid_text(app))


async def test_sort_keys_and_header_click(running: tuple[DswatchApp, object]) -> None:
    app, pilot = running
    grid = app.query_one(DatasetGrid)
    first = grid.sort_column
    await pilot.press("s")  # type: ignore[attr-defined]
    assert grid.sort_column != first and not grid.sort_reverse
    await pilot.press("S")  # type: ignore[attr-defined]
    assert grid.sort_reverse
    # Click the "state" header: sort by state, worst first.
    header = grid.render_line(0).text
    x = header.index("state")
    await pilot.click(DatasetGrid, offset=(x + 1, 0))  # type: ignore[attr-defined]
    assert grid.sort_column == "state"
    await until(pilot, lambda: "dogs-failed" in grid_lines(app)[1])


async def test_details_of_an_errored_dataset(
    running: tuple[DswatchApp, object], world: World
) -> None:
    app, pilot = running
    select(app, "vl", world.failed)
    await pilot.press("enter")  # type: ignore[attr-defined]
    screen = app.screen
    assert isinstance(screen, DetailsScreen)
    error = screen.query_one("#error")
    assert ERROR_MESSAGE in error.text  # type: ignore[attr-defined]
    raw = screen.query_one("#raw").text  # type: ignore[attr-defined]
    assert '"status_new": "ERROR"' in raw
    extras = screen.query_one("#extras")
    await until(pilot, lambda: "Fetching" not in str(extras.render()))
    assert "FAILED" in str(extras.render())
    assert "✗ error" in shown(screen.query_one("#history"))
    await pilot.press("escape")  # type: ignore[attr-defined]
    assert not isinstance(app.screen, DetailsScreen)


async def test_add_refuses_invalid_and_duplicate_ids_and_saves_valid_ones(
    running: tuple[DswatchApp, object], world: World
) -> None:
    app, pilot = running
    watched_before = set(app.model.states)
    await pilot.press("a")  # type: ignore[attr-defined]
    modal = app.screen
    assert isinstance(modal, AddDatasetsScreen)
    await pilot.press(*"not-a-uuid")  # type: ignore[attr-defined]
    await pilot.press("ctrl+s")  # type: ignore[attr-defined]
    assert app.screen is modal  # refused inline
    assert "is not a dataset ID" in str(modal.query_one("#check").render())
    modal.query_one("#ids").text = world.ready  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert "already watched" in str(modal.query_one("#check").render())
    await pilot.press("ctrl+s")  # type: ignore[attr-defined]
    assert app.screen is modal
    assert set(app.model.states) == watched_before  # refused before anything was polled
    modal.query_one("#ids").text = f"{world.unwatched},"  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert isinstance(app.focused, PasteBox)
    await pilot.press("enter")  # type: ignore[attr-defined]  # enter adds (ctrl+s does too)
    assert not isinstance(app.screen, AddDatasetsScreen)
    await until(pilot, lambda: "fish-new" in grid_text(app))
    saved = world.path.read_text()
    assert world.unwatched in saved and "# keep this comment" in saved


async def test_add_from_the_backends_list(running: tuple[DswatchApp, object], world: World) -> None:
    app, pilot = running
    await pilot.press("a")  # type: ignore[attr-defined]
    modal = app.screen
    picker = modal.query_one("#picker")
    await until(pilot, lambda: picker.option_count > 0)  # type: ignore[attr-defined]
    status = str(modal.query_one("#picker-status").render())
    assert "datasets on vl" in status
    options = [picker.get_option_at_index(i) for i in range(picker.option_count)]  # type: ignore[attr-defined]
    watched = [o for o in options if "✓ watched" in str(o.prompt)]
    assert watched and all(o.disabled for o in watched)
    target = next(o for o in options if o.value == world.unwatched)
    picker.select(target)  # type: ignore[attr-defined]
    await pilot.press("ctrl+s")  # type: ignore[attr-defined]
    await until(pilot, lambda: "fish-new" in grid_text(app))
    assert world.unwatched in world.path.read_text()


async def test_remove_asks_then_saves(running: tuple[DswatchApp, object], world: World) -> None:
    app, pilot = running
    select(app, "vl", world.indexing)
    await pilot.press("d")  # type: ignore[attr-defined]
    assert isinstance(app.screen, ConfirmScreen)
    await pilot.press("n")  # type: ignore[attr-defined]
    assert "birds-indexing" in grid_text(app)
    assert world.indexing in world.path.read_text()
    await pilot.press("d", "y")  # type: ignore[attr-defined]
    await until(pilot, lambda: "birds-indexing" not in grid_text(app))
    text = world.path.read_text()
    assert world.indexing not in text and "# keep this comment" in text


async def test_refresh_pause_and_resume(running: tuple[DswatchApp, object], world: World) -> None:
    app, pilot = running
    await pilot.press("p")  # type: ignore[attr-defined]
    assert "PAUSED" in str(app.query_one("#summary").render())
    await pilot.pause(0.3)  # type: ignore[attr-defined]
    before = world.sim.stats["vl"].total
    await pilot.press("R")  # type: ignore[attr-defined]
    await pilot.pause(0.5)  # type: ignore[attr-defined]
    assert world.sim.stats["vl"].total == before  # paused: nothing goes out
    await pilot.press("p")  # type: ignore[attr-defined]
    await until(pilot, lambda: world.sim.stats["vl"].total > before)
    select(app, "vl", world.ready)  # settled: next poll in ~1 s
    await pilot.pause(0.2)  # type: ignore[attr-defined]
    polled_at = app.model.states[("vl", world.ready)].polled_at
    await pilot.press("r")  # type: ignore[attr-defined]
    await until(pilot, lambda: app.model.states[("vl", world.ready)].polled_at != polled_at)


async def test_copy_open_help_and_quit(
    running: tuple[DswatchApp, object], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, pilot = running
    select(app, "vl", world.ready)
    await pilot.press("c")  # type: ignore[attr-defined]
    assert app.clipboard == world.ready
    opened: list[str] = []
    monkeypatch.setattr(app, "open_url", lambda url, **_: opened.append(url))
    monkeypatch.setenv("DISPLAY", ":0")
    for name in ("SSH_CONNECTION", "SSH_TTY"):
        monkeypatch.delenv(name, raising=False)
    await pilot.press("o")  # type: ignore[attr-defined]
    assert opened == [f"http://sim/vl/dataset/{world.ready}/data"]
    # Over SSH there is no browser to open: the address is shown and copied instead.
    monkeypatch.setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")
    await pilot.press("o")  # type: ignore[attr-defined]
    assert len(opened) == 1
    assert app.clipboard == opened[0]
    assert any("no browser here" in str(n.message) for n in app._notifications)
    monkeypatch.delenv("SSH_CONNECTION")
    select(app, "cognee", world.notes)
    await pilot.press("o")  # type: ignore[attr-defined]
    assert len(opened) == 1  # Cognee has no dataset page: a notice instead
    await pilot.press("question_mark")  # type: ignore[attr-defined]
    assert isinstance(app.screen, HelpScreen)
    await pilot.press("escape")  # type: ignore[attr-defined]
    await pilot.press("q")  # type: ignore[attr-defined]
    assert app.return_code == 0


# -- backends in trouble -------------------------------------------------------


async def test_unauthorized_banner_names_the_variable(world: World) -> None:
    world.sim = Simulator(
        seed=3,
        vl_datasets=0,
        cognee_datasets=0,
        vl_credentials=("the-key", "the-right-secret-thirty-two-bytes"),
    )
    dataset = world.sim.add_vl_dataset(name="locked", status="READY", progress=100)
    write_config(
        world.path,
        [dataset],
        [],
        extra_vl='api_key_env = "VL_KEY"\napi_secret_env = "VL_SECRET"\n',
        vl_url="https://sim/vl",  # credentials go over https only
    )
    app = make_app(world, {"VL_KEY": "the-key", "VL_SECRET": "a-wrong-secret-value-of-32-bytes"})
    async with app.run_test(size=(200, 50)) as pilot:
        banner = app.query_one("#alerts")
        await until(pilot, lambda: banner.display and "refused credentials" in str(banner.render()))
        text = str(banner.render())
        assert "$VL_KEY" in text and "$VL_SECRET" in text
        assert "a-wrong-secret-value-of-32-bytes" not in text
        assert "⚠ unauthorized" in grid_text(app)


async def test_an_unset_credential_variable_stops_only_its_backend(world: World) -> None:
    """A partial config runs (issue 11): the backend whose variable is not exported
    says the fix (export, then restart: not `R`, which cannot export anything),
    and the other backend's rows are read and fresh."""
    write_config(world.path, [world.ready, world.indexing], [world.notes])
    unset = 'api_key_env = "DSWATCH_UNSET_KEY"\nallow_insecure = true\n'
    text = world.path.read_text().replace('type = "cognee"\n', f'type = "cognee"\n{unset}')
    world.path.write_text(text)
    app = make_app(world, {})
    async with app.run_test(size=(200, 50)) as pilot:
        banner = app.query_one("#alerts")
        await until(
            pilot,
            lambda: (
                "cognee: unusable config" in str(banner.render())
                and all(s.polled_at for k, s in app.model.states.items() if k[0] == "vl")
            ),
        )
        said = str(banner.render())
        assert "export DSWATCH_UNSET_KEY=..., then restart dswatch" in said
        assert "R retries now" not in said  # R cannot set a variable: no false promise
        assert "vl:" not in said
        rows = [line.strip() for line in grid_lines(app)]
        mine = [r for r in rows if r.startswith("cognee ")]
        others = [r for r in rows if r.startswith("vl ")]
        assert mine and all("⚠ unauthorized" in r for r in mine)
        assert len(others) == 2 and not any("STALE" in r or "⚠" in r for r in others)
        assert "vl ok" in shown(app.query_one("#summary"))


async def test_a_backend_going_down_and_coming_back(
    running: tuple[DswatchApp, object], world: World
) -> None:
    app, pilot = running
    key = ("vl", world.indexing)
    world.sim.set_faults("vl", status=503)
    await until(pilot, lambda: app.model.states[key].stale)
    assert app.model.states[key].state is State.UNREACHABLE
    assert app.model.states[key].progress == 55  # the last good data stays
    banner = app.query_one("#alerts")
    # The cause, named: a server error is not a network problem.
    await until(pilot, lambda: "vl: server error (HTTP 503)" in str(banner.render()))
    assert "R retries now" in str(banner.render())
    assert "STALE" in grid_text(app)
    # The rows say it too: a server error, not "unreachable" (the network).
    vl_rows = [line for line in grid_lines(app) if line.startswith(" vl ")]
    assert vl_rows and all("⌁ HTTP 503" in line for line in vl_rows), vl_rows
    world.sim.clear_faults("vl")
    app.action_refresh_all()
    await until(pilot, lambda: not app.model.states[key].stale, timeout=10)
    assert app.model.states[key].state is State.RUNNING
    await until(pilot, lambda: not banner.display, timeout=10)


# -- start-up states -----------------------------------------------------------


async def test_empty_state_explains_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "nothing.toml"
    engine = build_engine(load_config(path), path)
    app = DswatchApp(engine, config_path=path)
    async with app.run_test(size=(160, 45)):
        text = str(app.query_one("#empty").render())
        assert "No datasets are watched yet" in text
        assert "dswatch --demo" in text
        assert str(path) in text
        assert "dswatch init" in text  # no file yet: the command that writes one
    path.write_text("# mine\n")
    app = DswatchApp(build_engine(load_config(path), path), config_path=path)
    async with app.run_test(size=(160, 45)):
        text = str(app.query_one("#empty").render())
        assert "dswatch init" not in text and "edit the config file" in text


async def test_broken_config_is_shown_without_a_traceback(tmp_path: Path) -> None:
    from tui.config import ConfigError

    path = tmp_path / "config.toml"
    path.write_text("[settings]\npoll_interval = 5\nfrobnicate = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    app = DswatchApp(None, config_path=path, config_error=caught.value)
    async with app.run_test(size=(160, 45)):
        text = str(app.query_one("#empty").render())
        assert f"{path}:3" in text and "frobnicate" in text
        assert "Traceback" not in text


async def test_no_toast_storm_at_start_but_news_later(world: World) -> None:
    app = make_app(world)
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: polled(app) >= 6)
        await pilot.pause(0.3)
        assert not app._notifications  # first sight of each state is not news
        world.sim.set_vl_status(world.indexing, "READY", progress=100)
        await until(pilot, lambda: bool(app._notifications), timeout=10)
        messages = [n.message for n in app._notifications]
        assert any("birds-indexing is now ready" in m for m in messages)


async def test_notifications_problems_toasts_only_trouble(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`notifications = "problems"`: a dataset finishing and a backend coming back
    make no toast; a failure and a backend going down do."""
    import tui.toasts

    monkeypatch.setattr(tui.toasts, "NEWS_QUIET_SECONDS", 0.1)
    text = world.path.read_text().replace(
        "[settings]\n", '[settings]\nnotifications = "problems"\n'
    )
    world.path.write_text(text)
    app = make_app(world)

    def toasts() -> list[str]:
        return [str(n.message) for n in app._notifications]

    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: polled(app) >= 6)
        key = ("vl", world.indexing)
        world.sim.set_vl_status(world.indexing, "READY", progress=100)
        await until(pilot, lambda: app.model.states[key].state is State.READY)
        world.sim.set_vl_status(world.indexing, "ERROR", fatal_error_msg="disk full")
        await until(pilot, lambda: bool(toasts()), "a toast")
        assert toasts() == ["birds-indexing is now error"]  # the ready one was never told
        world.sim.set_faults("vl", status=503)
        await until(pilot, lambda: len(toasts()) == 2, "the down toast")
        assert toasts()[1].startswith("vl is down: ")
        world.sim.clear_faults("vl")
        await until(pilot, lambda: not app.model.health["vl"].is_down)
        world.sim.set_vl_status(world.ready, "ERROR", fatal_error_msg="gone")
        await until(pilot, lambda: len(toasts()) == 3, "the next error")
        assert toasts()[2] == "cats-ready is now error"  # and no "answering again" before it


async def test_details_show_hostile_server_text_literally(world: World) -> None:
    evil = "[bold]boom[/] [@click=app.quit]click[/] \x1b[2J\x1b]52;c;SGVsbG8=\x07 שלום 🎉"
    dataset = world.sim.add_vl_dataset(name=HOSTILE_ESCAPES, status="ERROR", fatal_error_msg=evil)
    write_config(world.path, [dataset], [])
    app = make_app(world)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: polled(app) >= 1)
        select(app, "vl", dataset)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        error = screen.query_one("#error").text  # type: ignore[attr-defined]
        assert "[bold]boom[/] [@click=app.quit]click[/]" in error
        assert "שלום 🎉" in error
        raw = screen.query_one("#raw").text  # type: ignore[attr-defined]
        title = shown(screen.query_one("#title"))
        for text in (error, raw, title, shown(screen.query_one("#fields"))):
            assert "\x1b" not in text and "\x07" not in text
        assert "evil" in title and "link" in title
        assert app.is_running  # the [@click=app.quit] was text, not an action


async def test_a_flood_of_news_makes_one_toast_per_quiet_spell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    import tui.toasts
    from tui.models import DatasetState
    from tui.watch import PollBatch

    monkeypatch.setattr(tui.toasts, "NEWS_QUIET_SECONDS", 0.5)
    stamp = datetime(2026, 1, 1, tzinfo=UTC)

    def batch(state: State, names: range) -> PollBatch:
        seen = [
            (DatasetState(backend="b", id=f"id{i}", name=f"set{i}", state=state), stamp)
            for i in names
        ]
        return PollBatch(observations=seen)

    app = DswatchApp(None, config_path=None)
    async with app.run_test(size=(160, 45)) as pilot:
        app.model.track(("b", f"id{i}") for i in range(10))
        app.model.apply(batch(State.RUNNING, range(10)))  # first reads: no news
        app.model.apply(batch(State.READY, range(1)))  # news, told at once
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["set0 is now ready"]
        for _ in range(5):  # a flood while the last toast is fresh: nothing yet
            app.model.apply(batch(State.READY, range(1, 10)))
            app.model.apply(batch(State.RUNNING, range(5, 10)))
            app.model.apply(batch(State.ERROR, range(9, 10)))
        await pilot.pause()
        assert len(app._notifications) == 1
        await pilot.pause(0.7)  # the quiet spell is over: the news still true, in one toast
        messages = [n.message for n in app._notifications]
        assert messages[1:] == ["5 datasets changed: 4 ready, 1 error"]


async def test_a_broken_or_deleted_config_is_kept_in_view_and_the_last_good_one_runs(
    running: tuple[DswatchApp, object], world: World
) -> None:
    app, pilot = running
    rows = len(app.model.states)
    good = world.path.read_text()
    world.path.write_text(good + "\n[[backends]\nname = broken\n")
    app.check_config_file()
    await pilot.pause()  # type: ignore[attr-defined]
    summary = str(app.query_one("#summary").render())
    assert "config broken:" in summary and "(last good kept)" in summary
    assert len(app.model.states) == rows  # nothing dropped
    await pilot.pause(0.3)  # type: ignore[attr-defined]
    assert "config broken:" in str(app.query_one("#summary").render())  # still in view
    world.path.unlink()
    app.check_config_file()
    await pilot.pause()  # type: ignore[attr-defined]
    assert len(app.model.states) == rows  # a deleted file drops no row
    assert any("the file is gone" in str(n.message) for n in app._notifications)
    summary = str(app.query_one("#summary").render())
    assert "config file gone (last good kept)" in summary and "broken" not in summary
    world.path.write_text(good)
    app.check_config_file()
    await pilot.pause()  # type: ignore[attr-defined]
    assert "config broken" not in str(app.query_one("#summary").render())


async def test_a_real_change_runs_the_hooks_and_an_outage_does_not(
    world: World, tmp_path: Path
) -> None:
    """The dashboard hands real news to the hooks (and desktop notifications): a
    dataset finishing runs the hook, with the change in its environment."""
    import sys

    out = tmp_path / "hook.out"
    script = (
        "import os, sys; open(sys.argv[1], 'a').write("
        "os.environ['DSWATCH_NAME'] + ':' + os.environ['DSWATCH_OLD_STATE'] + '->' + "
        "os.environ['DSWATCH_STATE'] + '\\n')"
    )
    with world.path.open("a") as config:
        command = json.dumps([sys.executable, "-c", script, str(out)])
        config.write(f'\n[[hooks]]\non = ["ready"]\ncommand = {command}\n')
    app = make_app(world)
    async with app.run_test(size=(200, 50)) as pilot:
        await outage_then_real_change(pilot, app, world)
        await until(pilot, lambda: out.exists() and out.read_text().strip() != "")
        assert out.read_text().splitlines() == ["birds-indexing:running->ready"]


async def test_a_failing_hook_shows_in_the_summary_even_when_nothing_else_changes(
    world: World,
) -> None:
    """A hook fails after the batch that fired it was shown, and no batch follows
    (polling paused here; a settled fleet is read once a minute): the summary must
    say so at once, not at the next batch."""
    command = json.dumps(["sh", "-c", "sleep 0.5; echo 'no route to chat' >&2; exit 3"])
    with world.path.open("a") as config:
        config.write(f'\n[[hooks]]\non = ["ready"]\ncommand = {command}\n')
    app = make_app(world)
    async with app.run_test(size=(200, 50)) as pilot:
        key = ("vl", world.indexing)
        await until(pilot, lambda: app.model.states[key].state is State.RUNNING)
        assert "hooks:" not in str(app.query_one("#summary").render())
        world.sim.set_vl_status(world.indexing, "READY", progress=100)
        await until(pilot, lambda: app.model.states[key].state is State.READY)
        await pilot.press("p")  # no more batches
        await until(pilot, lambda: app.outreach is not None and app.outreach.hooks.failed == 1)
        await until(
            pilot,
            lambda: "hooks: 1 failed" in str(app.query_one("#summary").render()),
            "the summary tells the failed hook",
        )


async def test_a_webhook_without_its_url_is_told_when_the_dashboard_starts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UNSET_WEBHOOK_URL", raising=False)
    with world.path.open("a") as config:
        config.write('\n[[hooks]]\non = ["error"]\nurl_env = "UNSET_WEBHOOK_URL"\n')
    app = make_app(world)
    async with app.run_test(size=(200, 50)) as pilot:
        told = "hook 1 ($UNSET_WEBHOOK_URL): $UNSET_WEBHOOK_URL is not set"
        await until(pilot, lambda: any(n.message == told for n in app._notifications), told)
        [toast] = [n for n in app._notifications if n.message == told]
        assert (toast.title, toast.severity) == ("hooks", "warning")


async def test_desktop_notification_for_a_real_change_and_none_for_an_outage(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the dashboard writes to its terminal besides the screen: one OSC 9 for
    the dataset that finished, nothing for the backend's outage before it, one when
    the backend refuses the credentials."""
    monkeypatch.delenv("TMUX", raising=False)  # the bytes asserted are unwrapped
    written: list[str] = []
    monkeypatch.setattr(DswatchApp, "_write_to_terminal", lambda _, text: written.append(text))
    text = world.path.read_text().replace("[settings]\n", '[settings]\ndesktop_notify = "osc9"\n')
    world.path.write_text(text)
    app = make_app(world)
    async with app.run_test(size=(200, 50)) as pilot:
        await outage_then_real_change(pilot, app, world)
        await until(pilot, lambda: bool(written), "a desktop notification")
        assert written == ["\x1b]9;dswatch: vl: birds-indexing is now ready\x07"]
        # Refused credentials are `unauthorized` (in the default notify_on): told once,
        # for the backend, never for each of its datasets.
        world.sim.set_faults("vl", status=401)
        await until(pilot, lambda: len(written) == 2, "the backend's notification")
        assert written[1] == "\x1b]9;dswatch: vl: vl is down: refused credentials (HTTP 401)\x07"
        world.sim.clear_faults("vl")
        await until(pilot, lambda: not app.model.health["vl"].is_down)
        assert len(written) == 2, written  # nothing more: neither its datasets nor its return


@pytest.mark.parametrize("burst", ["/quiet", "/ready"])
async def test_letters_typed_in_one_burst_after_slash_go_to_the_filter(
    running: tuple[DswatchApp, object], burst: str
) -> None:
    """A paste or fast typing queues keys behind the `/`: they must all reach the
    filter. Before, `/quiet` quit the dashboard and `/ready` refreshed, toggled
    problems-only and opened Add."""
    from textual import events

    app, pilot = running
    driver = app._driver
    assert driver is not None
    for character in burst:  # sent as the terminal would, none handled in between
        event = events.Key("slash" if character == "/" else character, character)
        event.set_sender(app)
        driver.send_message(event)
    await pilot.pause()  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert app.is_running and app.return_code is None, app.return_code
    assert app.query_one("#filter", Input).value == burst[1:]
    assert not app.screen_stack[1:]  # no dialog opened either
    assert not app.problems_only  # `e` was a letter of the filter, not the toggle


async def test_ctrl_c_quits_and_the_palette_shows_keys_as_typed(
    running: tuple[DswatchApp, object],
) -> None:
    app, pilot = running
    commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
    assert commands["Help"] == "key: ?" and commands["Filter"] == "key: /"
    assert not any("question_mark" in h or "slash" in h for h in commands.values())
    await pilot.press("ctrl+c")  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    assert app.return_code == 0


async def test_a_broken_config_at_start_is_named_in_the_summary(tmp_path: Path) -> None:
    from tui.config import ConfigError

    path = tmp_path / "config.toml"
    error = ConfigError(path, "invalid TOML: expected '='", line=3)
    app = DswatchApp(None, config_path=path, config_error=error)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()  # type: ignore[attr-defined]
        summary = str(app.query_one("#summary").render())
        assert "config broken:3" in summary and "no backend configured" not in summary


async def test_details_ages_keep_moving_and_its_keys_are_its_own(
    running: tuple[DswatchApp, object], world: World
) -> None:
    """`last poll … (9s ago)` moves with the clock while the screen is open, and the
    grid's keys (s, e, a, d) do nothing behind it."""
    import re
    import time

    from tests.support.clock import FakeClock

    app, pilot = running
    grid = app.query_one(DatasetGrid)
    await pilot.press("p")  # type: ignore[attr-defined]  # paused: the poll times stand still
    clock = FakeClock(time.time())
    app.clock = clock
    select(app, "vl", world.ready)
    await pilot.press("enter")  # type: ignore[attr-defined]
    screen = app.screen
    assert isinstance(screen, DetailsScreen)
    sort = (grid.sort_column, grid.sort_reverse)
    clock.advance(125)
    fields = screen.query_one("#fields")
    await until(pilot, lambda: re.search(r"last poll .*\(2m\d\ds ago\)", shown(fields)) is not None)
    await pilot.press("s", "S", "e", "a", "d")  # type: ignore[attr-defined]
    assert app.screen is screen  # no dialog opened
    assert (grid.sort_column, grid.sort_reverse) == sort and not app.problems_only
    shown_keys = {b.binding.key for b in app.active_bindings.values() if b.binding.show}
    assert not {"s", "e", "a", "d", "p"} & shown_keys and "r" in shown_keys


async def test_the_summary_keeps_the_last_successful_poll_while_requests_fail(
    running: tuple[DswatchApp, object], world: World
) -> None:
    app, pilot = running
    for backend in ("vl", "cognee"):
        world.sim.set_faults(backend, status=503)
    await until(pilot, lambda: all(h.is_down for h in app.model.health.values()))
    last_ok = app.model.last_ok()
    assert last_ok is not None
    shown_second = last_ok.replace(microsecond=0)
    # More failed requests, into a later second: each backend's last poll moves on,
    # its last success does not.
    await until(
        pilot,
        lambda: all(
            h.last_poll is not None and h.last_poll.replace(microsecond=0) > shown_second
            for h in app.model.health.values()
        ),
        timeout=15,
    )
    assert app.model.last_ok() == last_ok
    summary = str(app.query_one("#summary").render())
    assert f"polled {last_ok.astimezone():%H:%M:%S}" in summary
    # And each backend's own last success, in its line of the banner.
    banner = str(app.query_one("#alerts").render()).splitlines()
    for name, health in app.model.health.items():
        assert health.last_ok is not None
        [line] = [line for line in banner if f" {name}: " in line]
        assert f"last answer {health.last_ok.astimezone():%H:%M:%S}" in line


async def test_keys_that_act_on_a_row_are_dimmed_while_no_row_is_shown(
    running: tuple[DswatchApp, object],
) -> None:
    """A filter that matches nothing (or an empty dashboard): Details, Remove,
    Refresh and Sort have nothing to act on, and the footer says so."""
    from textual.widgets._footer import FooterKey

    app, pilot = running

    def disabled() -> set[str]:
        keys = app.screen.query(FooterKey)
        return {k.description for k in keys if k.has_class("-disabled")}

    assert app.check_action("details", ()) is True and not disabled()
    await pilot.press("slash", *"no-such-dataset", "enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: app.grid.visible_count == 0 and app.grid.has_focus)
    await until(
        pilot,
        lambda: {"Details", "Remove", "Refresh", "Sort"} <= disabled(),
        lambda: f"{disabled()} {[k.description for k in app.screen.query(FooterKey)]}",
    )
    assert app.check_action("details", ()) is None
    await pilot.press("slash", "ctrl+u", "enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: app.grid.visible_count > 0)
    await until(pilot, lambda: not disabled())


async def test_toasts_stay_off_the_age_columns_and_the_dialogs_buttons(world: World) -> None:
    from textual.widgets import Button
    from textual.widgets._toast import Toast

    from tui.widgets.columns import COLUMN_KEYS

    app = make_app(world)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await until(pilot, lambda: polled(app) >= 6)
        grid = app.query_one(DatasetGrid)
        for size in ((200, 50), (80, 24)):
            await pilot.resize_terminal(*size)
            for n in range(3):
                app.notify(f"news number {n} " * 4, title="vl")
            await pilot.pause()
            await pilot.pause()
            toasts = list(app.screen.query(Toast))
            assert toasts
            updated = grid._x[COLUMN_KEYS.index("updated")] + grid.region.x  # the age columns
            for toast in toasts:
                assert toast.region.right <= updated, (size, toast.region, updated)
            app.clear_notifications()
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, AddDatasetsScreen)
        for n in range(5):
            app.notify(f"news while the dialog is open {n} " * 3, title="vl")
        await pilot.pause()
        await pilot.pause()
        for button in app.screen.query(Button):  # what is drawn there is the button
            region = button.region
            for x in range(region.x, region.right):
                assert app.screen.get_widget_at(x, region.y + 1)[0] is button, (button.id, x)


async def test_a_double_click_on_a_row_opens_its_details(
    running: tuple[DswatchApp, object], world: World
) -> None:
    app, pilot = running
    grid = app.query_one(DatasetGrid)
    row = next(y for y in range(1, 10) if "dogs-failed" in grid.render_line(y).text)
    await pilot.click(DatasetGrid, offset=(20, row), times=2)  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]
    screen = app.screen
    assert isinstance(screen, DetailsScreen) and screen.key == ("vl", world.failed)
