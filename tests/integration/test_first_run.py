"""First run in the dashboard, over a real socket: the user types the simulator's URL
into the define-a-backend form, then adds a dataset from the backend's own list.

Its other Pilot tests (in-process, no socket) are tests/unit/test_app.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.waiting import until
from tests.support.world import app_for, engine_for, new_sim
from tests.unit.test_app import grid_text, shown
from tui.models import State


async def test_first_run_defines_a_backend_then_adds_a_dataset(tmp_path: Path) -> None:
    from tui.screens.backend import AddBackendScreen
    from tui.sim import SimServer

    sim = new_sim(4)
    dataset = sim.add_vl_dataset(name="first-one", status="READY", progress=100)
    path = tmp_path / "dswatch" / "config.toml"  # neither the file nor its folder exists
    with SimServer(sim) as server:
        app = app_for(path, engine_for(path, environ=os.environ))
        async with app.run_test(size=(160, 45)) as pilot:
            assert "define a backend" in shown(app.query_one("#empty"))
            await pilot.press("a")
            form = app.screen
            assert isinstance(form, AddBackendScreen)
            await pilot.press("ctrl+s")  # no name yet: refused inline
            assert app.screen is form
            assert "name" in shown(form.query_one("#problem"))
            form.query_one("#name").value = "local"  # type: ignore[attr-defined]
            form.query_one("#url").value = f"{server.url}/vl"  # type: ignore[attr-defined]
            form.query_one("#key-env").value = "sk-0123456789abcdef0123456789"  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")  # a pasted secret instead of a variable name
            assert app.screen is form
            form.query_one("#key-env").value = ""  # type: ignore[attr-defined]
            await pilot.press("enter")  # in a field, enter saves
            assert not isinstance(app.screen, AddBackendScreen)
            assert 'name = "local"' in path.read_text()
            await pilot.press("a")
            picker = app.screen.query_one("#picker")
            await until(pilot, lambda: picker.option_count > 0)  # type: ignore[attr-defined]
            picker.select(picker.get_option_at_index(0))  # type: ignore[attr-defined]
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "first-one" in grid_text(app))
            await until(pilot, lambda: app.model.states[("local", dataset)].state is State.READY)
            assert dataset in path.read_text()
