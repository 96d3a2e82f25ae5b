"""The dashboard (DswatchApp under Pilot) watching a real Cognee 1.6.5 server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.live.cognee import BackgroundCognify, LiveWorld, auth_environ, write_config
from tui.app import DswatchApp
from tui.config import load_config
from tui.engine import build_engine
from tui.models import State
from tui.widgets.grid import DatasetGrid

pytestmark = pytest.mark.cognee_live


def make_app(
    world: LiveWorld, tmp_path: Path, *, auth: str, more: tuple[str, ...] = ()
) -> DswatchApp:
    path = write_config(
        tmp_path / "config.toml",
        world.server.url,
        [world.added_id, world.empty_id, world.unknown_id, *more],
        auth=auth,
    )
    engine = build_engine(
        load_config(path), path, environ=auth_environ(world, auth), flush_interval=0.02
    )
    return DswatchApp(engine, config_path=path)


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.1)


def grid_text(app: DswatchApp) -> str:
    grid = app.query_one(DatasetGrid)
    return "\n".join(grid.render_line(y).text for y in range(grid.size.height))


def line_of(app: DswatchApp, needle: str) -> str:
    return next(line for line in grid_text(app).splitlines() if needle in line)


async def test_the_grid_shows_names_and_states(
    live_world: LiveWorld, background_cognify: BackgroundCognify, tmp_path: Path
) -> None:
    world, job = live_world, background_cognify
    app = make_app(world, tmp_path, auth="password", more=(job.dataset_id,))
    async with app.run_test(size=(200, 50)) as pilot:
        states = app.model.states
        await until(pilot, lambda: sum(s.polled_at is not None for s in states.values()) == 4)
        await until(pilot, lambda: job.name in grid_text(app))
        assert app.model.states[("cognee", world.added_id)].state is State.PENDING
        assert "◌ pending" in line_of(app, world.added_name)
        assert "add ✓" in line_of(app, world.added_name)  # the add_pipeline run, done
        assert "◌ pending" in line_of(app, world.empty_name)
        assert "? not_found" in line_of(app, world.unknown_id[:8])
        # The cognify started in the background moments ago.
        assert "⟳ running" in line_of(app, job.name)
        assert "add ✓ cognify ⟳" in line_of(app, job.name)
        banner = app.query_one("#alerts")
        assert not banner.display  # a missing dataset is no backend alert
        assert "cognee ok" in str(app.query_one("#summary").render())
        assert world.server.password not in grid_text(app)


async def test_no_credentials_raise_the_loud_banner(live_world: LiveWorld, tmp_path: Path) -> None:
    world = live_world
    app = make_app(world, tmp_path, auth="none")
    async with app.run_test(size=(200, 50)) as pilot:
        banner = app.query_one("#alerts")
        await until(pilot, lambda: banner.display and "refused" in str(banner.render()))
        text = str(banner.render())
        assert "cognee: refused credentials (HTTP 401)" in text  # the cause, named
        assert "Authentication required" in text  # the server's own words
        # What to set, by name.
        assert "has no credentials: set api_key_env (or token_env) in the config" in text
        assert "⚠ unauthorized" in grid_text(app)
        assert "cognee refused credentials (HTTP 401)" in str(app.query_one("#summary").render())
