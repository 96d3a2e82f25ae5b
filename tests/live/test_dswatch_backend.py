"""dswatch's Cognee backend (make_backend) against a real Cognee 1.6.5 server.

The contract: what the backend makes of the real answers (docs/cognee-real-server.md) for every
way of logging in, both answer shapes, an unknown id in a batch, and refused credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.live.cognee import (
    ADD_PIPELINE,
    AUTH_KEYS,
    COGNIFY_PIPELINE,
    COMPLETED,
    LiveWorld,
    RecordingTransport,
    auth_environ,
)
from tui.backends import make_backend
from tui.backends.base import Backend, BackendError, FetchResult
from tui.config import BackendConfig, Settings
from tui.models import DatasetState, State

pytestmark = pytest.mark.cognee_live

STATUS = "/api/v1/datasets/status"
LOGIN = "/api/v1/auth/login"

LOGINS = ["api_key", "bearer", "password"]
BOTH = [ADD_PIPELINE, COGNIFY_PIPELINE]


def make(
    world: LiveWorld,
    *,
    auth: str,
    pipelines: list[str],
    environ: dict[str, str] | None = None,
) -> tuple[Backend, RecordingTransport]:
    keys: dict[str, Any] = dict(AUTH_KEYS[auth])
    cfg = BackendConfig(
        name="cognee", type="cognee", url=world.server.url, pipelines=pipelines, **keys
    )
    transport = RecordingTransport()
    env = auth_environ(world, auth) if environ is None else environ
    backend = make_backend(cfg, Settings(timeout=30.0), transport=transport, environ=env)
    return backend, transport


@pytest.fixture
async def closing() -> AsyncIterator[list[Backend]]:
    backends: list[Backend] = []
    yield backends
    for backend in backends:
        await backend.aclose()


def by_id(result: FetchResult) -> dict[str, DatasetState]:
    return {state.id: state for state in result.states}


def assert_no_duplicate_ids_sent(transport: RecordingTransport) -> None:
    for exchange in transport.to(STATUS):
        asked = exchange.url.params.get_list("dataset")
        assert len(asked) == len({a.lower() for a in asked}), asked


@pytest.mark.parametrize("auth", LOGINS)
@pytest.mark.parametrize(
    ("pipelines", "added_state", "added_status"),
    [
        # One pipeline: the flat shape; the /add dataset has add_pipeline COMPLETED.
        ([ADD_PIPELINE], State.READY, COMPLETED),
        # Both: the nested shape without a cognify_pipeline key (never ran): pending.
        (BOTH, State.PENDING, None),
    ],
    ids=["flat", "nested"],
)
async def test_states_names_and_an_unknown_id_with_every_login(
    live_world: LiveWorld,
    closing: list[Backend],
    auth: str,
    pipelines: list[str],
    added_state: State,
    added_status: str | None,
) -> None:
    world = live_world
    backend, transport = make(world, auth=auth, pipelines=pipelines)
    closing.append(backend)
    # The unknown id sits between good ones; the added one is also asked in upper case.
    asked = [world.added_id, world.unknown_id, world.empty_id, world.added_id.upper()]
    result = await backend.fetch(asked, {})

    assert result.unauthorized is False
    assert [s.id for s in result.states] == asked
    states = by_id(result)
    added, empty, unknown = states[world.added_id], states[world.empty_id], states[world.unknown_id]
    assert (added.state, added.status) == (added_state, added_status)
    assert added.pipelines == {ADD_PIPELINE: COMPLETED}
    assert added.name == world.added_name
    assert states[world.added_id.upper()].state is added_state
    # POST /datasets: no runs of any pipeline -> pending, nothing failed.
    assert (empty.state, empty.status, empty.pipelines) == (State.PENDING, None, {})
    assert empty.name == world.empty_name and empty.error is None
    # The server refused the whole batch (403); only the unknown id is blamed.
    assert unknown.state is State.NOT_FOUND
    assert unknown.failure is not None and unknown.failure.http_status == 403
    assert unknown.name is None
    refused = [e for e in transport.to(STATUS) if e.status == 403]
    assert refused and all(world.unknown_id in e.url.params.get_list("dataset") for e in refused)
    assert_no_duplicate_ids_sent(transport)
    # Every status request named the pipelines, never relying on the server's default.
    assert all(e.url.params.get_list("pipeline") == pipelines for e in transport.to(STATUS))
    logins = transport.to(LOGIN, "POST")
    assert len(logins) == (1 if auth == "password" else 0)

    # Next poll: the culprit is asked alone, the good ones in one clean batch.
    transport.exchanges.clear()
    again = by_id(await backend.fetch(asked, {}))
    assert again[world.unknown_id].state is State.NOT_FOUND
    assert again[world.added_id].state is added_state
    assert sorted(e.status for e in transport.to(STATUS)) == [200, 403]
    assert not transport.to(LOGIN, "POST")  # the JWT is reused


async def test_credentials_travel_as_the_server_wants_them(
    live_world: LiveWorld, closing: list[Backend]
) -> None:
    world = live_world
    seen: dict[str, Any] = {}
    for auth in LOGINS:
        backend, transport = make(world, auth=auth, pipelines=[ADD_PIPELINE])
        closing.append(backend)
        await backend.fetch([world.added_id], {})
        seen[auth] = transport.to(STATUS)[-1].headers
    assert seen["api_key"]["x-api-key"] == world.api_key  # never as Bearer: that is a 401
    assert "authorization" not in seen["api_key"]
    assert seen["bearer"]["authorization"] == f"Bearer {world.token}"
    assert seen["password"]["authorization"].startswith("Bearer ey")  # the login's JWT


async def test_no_credentials_is_unauthorized(
    live_world: LiveWorld, closing: list[Backend]
) -> None:
    world = live_world
    backend, transport = make(world, auth="none", pipelines=BOTH)
    closing.append(backend)
    result = await backend.fetch([world.added_id, world.empty_id], {})
    assert result.unauthorized is True
    for state in result.states:
        assert state.state is State.UNAUTHORIZED
        assert state.failure is not None and state.failure.http_status == 401
        # The server's own explanation is kept (its text varies with its env).
        assert (state.error or "").startswith("HTTP 401 Unauthorized: Authentication required")
    assert len(transport.to(STATUS)) == 1  # nothing to renew: no second try


async def test_a_wrong_password_is_refused_credentials_not_an_outage(
    live_world: LiveWorld, closing: list[Backend]
) -> None:
    world = live_world
    env = {"COGNEE_USER": world.server.username, "COGNEE_PASSWORD": "not-the-password"}
    backend, transport = make(world, auth="password", pipelines=BOTH, environ=env)
    closing.append(backend)
    result = await backend.fetch([world.added_id], {})
    state = result.states[0]
    assert result.unauthorized is True and state.state is State.UNAUTHORIZED
    # The real answer is 400 LOGIN_BAD_CREDENTIALS (not 401): still refused credentials.
    assert state.error == "login refused (HTTP 400: LOGIN_BAD_CREDENTIALS)"
    assert {e.status for e in transport.to(LOGIN, "POST")} == {400}
    assert not transport.to(STATUS)  # nothing sent without a token
    assert "not-the-password" not in repr(result) + repr(backend)


async def test_an_expired_looking_token_from_the_environment_is_unauthorized(
    live_world: LiveWorld, closing: list[Backend]
) -> None:
    """A static token the server refuses: 401, no retry loop (it cannot be renewed)."""
    world = live_world
    backend, transport = make(
        world, auth="bearer", pipelines=BOTH, environ={"COGNEE_TOKEN": world.api_key}
    )  # an API key sent as Bearer: the real server refuses it like an expired JWT
    closing.append(backend)
    result = await backend.fetch([world.added_id], {})
    assert result.unauthorized is True
    assert result.states[0].state is State.UNAUTHORIZED
    assert world.api_key not in repr(result)
    assert len(transport.to(STATUS)) == 1


async def test_list_and_details(live_world: LiveWorld, closing: list[Backend]) -> None:
    world = live_world
    backend, _ = make(world, auth="api_key", pipelines=BOTH)
    closing.append(backend)
    listed = {d.id: d.name for d in await backend.list_datasets()}
    assert listed[world.added_id] == world.added_name
    assert listed[world.empty_id] == world.empty_name
    assert world.unknown_id not in listed

    details = await backend.details(world.added_id)
    assert details["item_count"] == 1
    runs = details["pipeline_runs"]
    # The server logs two rows for the one /add run (STARTED, then COMPLETED, same
    # pipeline_run_id); the details show the run once, with its outcome.
    assert [(r["pipeline_name"], r["status"], r["outcome"]) for r in runs] == [
        (ADD_PIPELINE, COMPLETED, "succeeded")
    ]
    assert details["error_classes"] == {}
    empty = await backend.details(world.empty_id)
    assert empty["item_count"] == 0 and empty["pipeline_runs"] == []
    with pytest.raises(BackendError, match="HTTP 403"):  # 403 (not 404) for an unknown id
        await backend.details(world.unknown_id)
