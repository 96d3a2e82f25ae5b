"""The dashboard itself against a hostile server on 127.0.0.1 (tests/support/hostile.py).

test_hostile_server.py walks every response shape through the functions each
view uses; this drives the running app as a user does and reads what is on
screen: the grid's drawn lines, the summary, the banner, a toast of real news,
and the details screen with its tasks. Nothing may carry an escape or a control
character, markup stays literal, a 400-digit number is no crash, and a secret
the server echoes (JSON-escaped, URL-encoded, base64) is in none of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static, TextArea
from textual.widgets._toast import Toast

from tests.support.faultservers import AppServer
from tests.support.hostile import (
    ENV,
    MARKUP,
    HostileServer,
    echo_config,
    hostile_config,
    inert,
    leaked,
)
from tests.support.waiting import until
from tests.support.world import app_for
from tui.app import DswatchApp
from tui.screens.details import DetailsScreen
from tui.widgets.grid import DatasetGrid
from tui.widgets.summary import AlertBanner, SummaryBar

pytestmark = pytest.mark.usefixtures("quiet_home")  # tests/conftest.py


class TurningServer(HostileServer):
    """Hostile, and its errored Cognee dataset completes on demand: real news."""

    done = False

    def cognee_status(self) -> Any:
        answer = super().cognee_status()
        if self.done:
            answer[self.cognee["errored"]]["cognify_pipeline"] = "DATASET_PROCESSING_COMPLETED"
            answer[self.cognee["errored"]]["add_pipeline"] = "DATASET_PROCESSING_COMPLETED"
        return answer


@pytest.fixture
def hostile() -> Iterator[tuple[TurningServer, str]]:
    app = TurningServer()
    with AppServer(app) as server:
        yield app, server.url


def on_screen(app: DswatchApp) -> dict[str, str]:
    """What a user reads on the main screen: grid lines, summary, banner, toasts."""
    grid = app.query_one(DatasetGrid)
    banner = app.query_one(AlertBanner)
    toasts = [str(toast.render()) for toast in app.screen.query(Toast)]
    return {
        "grid": "\n".join(grid.render_line(y).text for y in range(grid.size.height)),
        "summary": str(app.query_one(SummaryBar).render()),
        "banner": str(banner.render()) if banner.display else "",
        "toasts": "\n".join(toasts),
    }


def every_dataset_read(app: DswatchApp, count: int) -> bool:
    states = app.model.states.values()
    return len(app.model.states) == count and all(s.polled_at for s in states)


async def test_the_dashboard_shows_a_hostile_server_inert_and_keeps_running(
    hostile: tuple[TurningServer, str], tmp_path: Path
) -> None:
    server, url = hostile
    path = hostile_config(tmp_path, url, server, poll_interval=0.2, settled_interval=0.5)
    app = app_for(path)
    total = len(server.vl) + len(server.cognee)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:
        await until(pilot, lambda: every_dataset_read(app, total), "every row read")
        # A 429 with a Retry-After of ten years: the banner says rate limited, for at
        # most an hour, in words a terminal cannot mistake for escapes.
        await until(pilot, lambda: "vl: rate limited" in on_screen(app)["banner"], "banner")
        server.done = True  # real news: a hostile-named dataset becomes ready
        await until(pilot, lambda: "is now ready" in on_screen(app)["toasts"], "a toast")
        seen = on_screen(app)
        for where, text in seen.items():
            assert inert(text, multiline=True), (where, text)
        assert MARKUP in seen["grid"] and MARKUP in seen["toasts"]  # literal, not parsed
        assert "retry in 59m" in seen["banner"] or "retry in 1h" in seen["banner"]
        assert "dswatch error" not in seen["grid"]
        assert app.is_running and app.return_code is None  # a 400-digit count is no crash

        # The details of the dataset whose task carries escapes in its percentage.
        assert app.query_one(DatasetGrid).select(("vl", server.vl["error"]))
        await pilot.press("enter")  # type: ignore[attr-defined]
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        extras = screen.query_one("#extras", Static)
        await until(pilot, lambda: "progress" in str(extras.render()), "tasks fetched")
        shown = [str(screen.query_one(f"#{name}", Static).render()) for name in ("title", "extras")]
        shown += [str(screen.query_one("#fields", Static).render())]
        shown += [screen.query_one(f"#{name}", TextArea).text for name in ("error", "raw")]
        for text in shown:
            assert inert(text, multiline=True), text
        assert MARKUP in shown[1]  # the task's fields, shown as typed
        assert app.is_running


async def test_the_banner_and_screens_hold_no_encoded_secret_echo(
    hostile: tuple[TurningServer, str], tmp_path: Path
) -> None:
    """The echoing server of test_secret_echoes.py, seen from the dashboard: the
    banner shows its 401 detail with every spelling of the key masked."""
    server, url = hostile
    server.echo_secrets = True
    path = echo_config(tmp_path, url, server)
    app = app_for(path, environ=ENV)
    async with app.run_test(size=(200, 50), notifications=True) as pilot:

        def both_refused() -> bool:
            banner = on_screen(app)["banner"]
            return "⚠ ck:" in banner and "⚠ ct:" in banner and "refused" in banner

        await until(pilot, both_refused, "both backends refused, said in the banner")
        seen = on_screen(app)
        assert "***" in seen["banner"]  # the echo was there, and masked
        for where, text in seen.items():
            assert not leaked(text), (where, text)
        assert app.query_one(DatasetGrid).select(("ck", server.cognee["errored"]))
        await pilot.press("enter")  # type: ignore[attr-defined]
        screen = app.screen
        assert isinstance(screen, DetailsScreen)
        await pilot.pause()  # type: ignore[attr-defined]
        texts = [str(w.render()) for w in screen.query(Static)]
        texts += [area.text for area in screen.query(TextArea)]
        for text in texts:
            assert not leaked(text), text
