"""Fixtures for the live tests: a real Cognee 1.6.5 server on 127.0.0.1.

The server is run by ``scripts/cognee-server.sh`` (which installs cognee into a cached venv
on first use). Every test in this folder carries the ``cognee_live`` marker, which the
default ``addopts`` deselects; run them with::

    pytest -m cognee_live tests/live

Fixtures:

- ``cognee_server`` (session): one shared server, default settings.
- ``cognee_server_factory`` (session): ``start(jwt_lifetime_seconds=5, ...)`` gives further
  servers with other settings; every server it started is stopped at the end of the session
  (or earlier with ``server.stop()``).
- ``live_world`` (session): datasets on the shared server for the dswatch contract tests
  (one made by ``/add``, one by ``POST /datasets``, an unknown id) and ready credentials.
- ``background_cognify`` (session): a dataset whose cognify runs in the background (STARTED
  for ~5 minutes, then ERRORED), and an empty one whose cognify completed at once.
- ``RecordingTransport`` (tests/live/cognee.py, with the server helpers the tests import):
  an httpx transport that logs what dswatch sent and got back.

Tests marked ``cognee_slow`` (minutes long: a cognify's ERRORED end takes ~5 min without an
LLM) are skipped unless ``--run-slow`` is given::

    pytest -m cognee_live tests/live --run-slow

What the real server does, request by request, is in docs/cognee-real-server.md.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping

import pytest

from tests.live.cognee import (
    COGNIFY_PIPELINE,
    COMPLETED,
    LIVE_DIR,
    BackgroundCognify,
    CogneeServer,
    LiveWorld,
    StartServer,
    start_cognee_server,
    unique_name,
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark everything in tests/live as cognee_live, even a test file that forgot to; skip
    cognee_slow tests without --run-slow.

    tryfirst: this has to happen before ``-m`` deselects by marker.
    """
    # default=False: when this conftest is not an initial one (`pytest` from the root),
    # the option was never registered.
    run_slow = bool(config.getoption("--run-slow", default=False))
    skip_slow = pytest.mark.skip(reason="minutes long: run with --run-slow")
    for item in items:
        if LIVE_DIR not in item.path.parents:
            continue
        if item.get_closest_marker("cognee_live") is None:
            item.add_marker(pytest.mark.cognee_live)
        if not run_slow and item.get_closest_marker("cognee_slow") is not None:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def cognee_server_factory() -> Iterator[StartServer]:
    """``start(jwt_lifetime_seconds=..., access_control=..., env={...})`` -> a new server.

    ``env`` entries reach the server's environment as they are. All servers started here
    are stopped at the end of the session.
    """
    started: list[CogneeServer] = []
    unavailable: list[str] = []  # the skip reason once cognee turned out uninstallable

    def start(
        *,
        jwt_lifetime_seconds: int | None = None,
        access_control: bool | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CogneeServer:
        if unavailable:
            pytest.skip(unavailable[0])
        try:
            server = start_cognee_server(
                jwt_lifetime_seconds=jwt_lifetime_seconds, access_control=access_control, env=env
            )
        except pytest.skip.Exception as exc:
            unavailable.append(str(exc.msg))
            raise
        started.append(server)
        return server

    try:
        yield start
    finally:
        errors = []
        for server in reversed(started):
            try:
                server.stop()
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                errors.append(str(exc))
        if errors:
            raise RuntimeError("; ".join(errors))


@pytest.fixture(scope="session")
def cognee_server(cognee_server_factory: StartServer) -> CogneeServer:
    """The shared real Cognee server (auth on, JWT lifetime 3600 s)."""
    return cognee_server_factory()


@pytest.fixture(scope="session")
def live_world(cognee_server: CogneeServer) -> LiveWorld:
    added_name, empty_name = unique_name("added"), unique_name("empty")
    added_id = cognee_server.add_dataset(added_name)
    empty_id = cognee_server.create_dataset(empty_name)
    return LiveWorld(
        server=cognee_server,
        added_id=added_id,
        added_name=added_name,
        empty_id=empty_id,
        empty_name=empty_name,
        unknown_id=str(uuid.uuid4()),
        token=cognee_server.login(),
        api_key=cognee_server.create_api_key("dswatch-live"),
    )


@pytest.fixture(scope="session")
def background_cognify(cognee_server: CogneeServer) -> BackgroundCognify:
    """Shared, so the slow test's wait for ERRORED overlaps the tests that run before it."""
    name = unique_name("cognify")
    dataset_id = cognee_server.add_dataset(name, texts=("Alice knows Bob.\n", "Bob knows Eve.\n"))
    empty_id = cognee_server.create_dataset(unique_name("cognify-empty"))
    started_at = time.monotonic()
    # One call each, as recorded (in one call, the empty one stayed STARTED > 30 s here).
    assert set(cognee_server.cognify([dataset_id])) == {dataset_id}
    assert set(cognee_server.cognify([empty_id])) == {empty_id}
    cognee_server.wait_for_status(empty_id, COGNIFY_PIPELINE, {COMPLETED}, timeout=30)
    return BackgroundCognify(dataset_id, name, empty_id, started_at)
