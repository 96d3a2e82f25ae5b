"""Command-line options for the test suite, and what every test starts from.

Layout: tests/unit (no sockets, no subprocesses), tests/integration (real HTTP on
127.0.0.1, real processes and SQLite files), tests/live (a real Cognee server).
Helpers shared by several files live in tests/support; shared fixtures here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.clock import FakeClock
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
def server(sim: Simulator) -> Iterator[SimServer]:
    """The module's own `sim` fixture served by uvicorn on 127.0.0.1: real sockets."""
    with SimServer(sim) as running:
        yield running


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """Whatever reaches asyncio's exception handler (e.g. a task's exception never retrieved)."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: errors.append(context))
    yield errors
    loop.set_exception_handler(previous)


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
