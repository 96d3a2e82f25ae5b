"""Command-line options for the test suite, and what every test starts from.

Layout: tests/unit (no sockets, no subprocesses), tests/integration (real HTTP on
127.0.0.1, real processes and SQLite files), tests/live (a real Cognee server).
Helpers shared by several files live in tests/support; shared fixtures here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.clock import FakeClock
from tests.support.world import backend_for, new_sim
from tui.backends.base import Backend
from tui.sim import SimServer, Simulator


@pytest.fixture(autouse=True)
def _tui_logger_as_found() -> Iterator[None]:
    """Undo dswatch's logging setup (`cli.setup_logging`) after a test that ran it.

    It gives the "tui" logger a file handler and stops propagation: left in
    place, later tests' caplog (on the root logger) would see no tui records.
    """
    yield
    logger = logging.getLogger("tui")
    for handler in logger.handlers:
        handler.close()
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


@pytest.fixture(autouse=True)
def _private_history_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test (and every dswatch it starts) gets its own history store, never
    the user's: `status`, `wait`, `watch` and the dashboard open one."""
    monkeypatch.setenv("DSWATCH_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at 0 s, for whatever takes `clock=` (simulator, poller, store, grid)."""
    return FakeClock()


@pytest.fixture
def quiet_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dswatch run in-process logs to the test's own folder and finds no user config."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("DSWATCH_CONFIG", raising=False)


@pytest.fixture(scope="module")
def sim(request: pytest.FixtureRequest) -> Simulator:
    """The module's simulator, shared by its tests: `pytestmark = pytest.mark.sim(seed=5)`
    gives its options (those of `tests.support.world.new_sim`); empty by default."""
    marker = request.node.get_closest_marker("sim")
    options = dict(marker.kwargs) if marker else {}
    return new_sim(options.pop("seed", 0), **options)


@pytest.fixture(scope="module")
def server(sim: Simulator) -> Iterator[SimServer]:
    """The module's `sim` served by uvicorn on 127.0.0.1: real sockets."""
    with SimServer(sim) as running:
        yield running


@pytest.fixture
def serve_sim() -> Iterator[Callable[[Simulator], SimServer]]:
    """Serve a test's own simulator on 127.0.0.1 (`serve_sim(sim)` -> the running
    server, `.url`, `.stop()`/`.start()`); stopped when the test ends."""
    running: list[SimServer] = []

    def serve(sim: Simulator) -> SimServer:
        running.append(SimServer(sim).start())
        return running[-1]

    yield serve
    for server in running:
        server.stop()


@pytest.fixture
async def open_backend() -> AsyncIterator[Callable[..., Backend]]:
    """`open_backend(cfg, sim=None, environ=..., **settings)`: `support.world.backend_for`,
    each backend closed when the test ends."""
    opened: list[Backend] = []

    def open_one(*args: Any, **kwargs: Any) -> Backend:
        opened.append(backend_for(*args, **kwargs))
        return opened[-1]

    yield open_one
    for backend in opened:
        await backend.aclose()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Whatever reaches asyncio's exception handler (e.g. a task's exception never retrieved)."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sim(seed, **options): the module's `sim` fixture")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak-seconds",
        type=float,
        default=20.0,
        metavar="N",
        help="how long tests/integration/test_soak.py polls under faults (default 20; 60 "
        "or more for a real soak)",
    )
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the cognee_slow live tests (minutes long; see tests/live)",
    )
