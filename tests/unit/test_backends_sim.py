"""Both backends against the simulator (tui/sim), in-process through httpx.ASGITransport.

Over a real socket: tests/integration/test_backends_socket.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.clock import FakeClock
from tests.support.world import (
    COGNEE_PASSWORD,
    COGNEE_USER,
    ENVIRON,
    MISSING,
    VL_CONFIG,
    VL_KEY,
    VL_SECRET,
    backend_for,
    new_sim,
)
from tui.backends import make_backend
from tui.backends.base import Backend, FetchResult
from tui.config import BackendConfig, Settings
from tui.models import DatasetState, State
from tui.sim import Simulator

ADD, COGNIFY = "add_pipeline", "cognify_pipeline"
COMPLETED, STARTED = "DATASET_PROCESSING_COMPLETED", "DATASET_PROCESSING_STARTED"
ERRORED = "DATASET_PROCESSING_ERRORED"


@pytest.fixture
def sim(clock: FakeClock) -> Simulator:
    """Per test, on the test's FakeClock (conftest's module `sim` has no clock)."""
    return new_sim(
        7,
        clock=clock,
        vl_credentials=(VL_KEY, VL_SECRET),
        cognee_auth=True,
        cognee_user=(COGNEE_USER, COGNEE_PASSWORD),
        cognee_jwt_lifetime=600,
    )


@pytest.fixture
def vl(sim: Simulator, open_backend: Callable[..., Backend]) -> Backend:
    return open_backend(VL_CONFIG, sim, environ=ENVIRON, timeout=2.0)


@pytest.fixture
def cognee(sim: Simulator, open_backend: Callable[..., Backend]) -> Backend:
    cfg = BackendConfig(
        name="cg",
        type="cognee",
        url="http://sim/cognee",
        username_env="CG_USER",
        password_env="CG_PASS",
        allow_insecure=True,
    )
    return open_backend(cfg, sim, environ=ENVIRON, timeout=2.0)


def by_id(result: FetchResult) -> dict[str, DatasetState]:
    return {s.id: s for s in result.states}


# ---------------------------------------------------------------- Visual Layer


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("DRAFT", State.PENDING),
        ("INDEXING", State.RUNNING),
        ("READ ONLY", State.RUNNING),
        ("PARTIAL INDEX", State.PARTIAL),
        ("READY", State.READY),
        ("ERROR", State.ERROR),
        ("SOMETHING_NEW", State.UNKNOWN),
    ],
)
async def test_vl_statuses(sim: Simulator, vl: Backend, status: str, state: State) -> None:
    dataset_id = sim.add_vl_dataset(name="cats", status=status, progress=40)
    result = await vl.fetch([dataset_id], {})
    got = result.states[0]
    assert (got.state, got.status, got.name) == (state, status, "cats")
    assert result.requests == 1 and result.unauthorized is False


async def test_vl_error_message_and_unknown_id(sim: Simulator, vl: Backend) -> None:
    broken = sim.add_vl_dataset(status="ERROR", fatal_error_msg="bucket unreadable")
    result = await vl.fetch([broken, MISSING], {})
    states = by_id(result)
    assert states[broken].error == "bucket unreadable"
    assert states[MISSING].state is State.NOT_FOUND


async def test_vl_wrong_secret_is_unauthorized(sim: Simulator) -> None:
    dataset_id = sim.add_vl_dataset(status="READY")
    cfg = BackendConfig(
        name="vl",
        type="visual_layer",
        url="http://sim/vl",
        api_key_env="VL_KEY",
        api_secret_env="CG_PASS",  # the wrong secret
        allow_insecure=True,
    )
    backend = backend_for(cfg, sim, environ=ENVIRON)
    result = await backend.fetch([dataset_id], {})
    await backend.aclose()
    assert result.unauthorized is True
    assert result.requests == 2  # one fresh token after the 401, then give up
    assert VL_SECRET not in repr(result) and COGNEE_PASSWORD not in repr(result)


@pytest.mark.parametrize(
    ("faults", "kind"),
    [
        ({"status": 503, "retry_after": 9}, "http"),
        ({"body": "not_json"}, "body"),
        ({"body": "truncated_json"}, "body"),
        ({"body": "array"}, "body"),
        ({"body": "string"}, "body"),
        ({"body": "null"}, "body"),
        ({"body": "non_utf8"}, "body"),
        ({"body": "huge", "huge_bytes": 9 * 1024 * 1024}, "too_large"),
        ({"close_mid_body": True}, "protocol"),
        ({"redirect_to": "https://elsewhere.example"}, "redirect"),
        ({"trickle": 0.05, "trickle_bytes": 4}, "timeout"),
    ],
)
async def test_vl_faults_are_unreachable(sim: Simulator, faults: dict[str, Any], kind: str) -> None:
    dataset_id = sim.add_vl_dataset(status="READY")
    sim.set_faults("vl", **faults)
    timeout = 0.3 if "trickle" in faults else 2.0
    backend = backend_for(VL_CONFIG, sim, environ=ENVIRON, timeout=timeout)
    started = time.monotonic()
    result = await backend.fetch([dataset_id], {})
    elapsed = time.monotonic() - started
    await backend.aclose()
    got = result.states[0]
    assert got.state is State.UNREACHABLE
    assert got.failure is not None and got.failure.kind == kind
    assert elapsed < timeout + 0.5  # the deadline holds, trickle or not
    if "retry_after" in faults:
        assert result.retry_after == faults["retry_after"]


@pytest.mark.parametrize("body", ["wrong_types", "extra_fields"])
async def test_vl_odd_but_valid_bodies_still_read(sim: Simulator, vl: Backend, body: str) -> None:
    dataset_id = sim.add_vl_dataset(status="INDEXING")
    sim.set_faults("vl", body=body)
    got = (await vl.fetch([dataset_id], {})).states[0]
    assert got.state is not State.UNREACHABLE
    assert got.failure is None


async def test_vl_list_details_and_creation(sim: Simulator, vl: Backend) -> None:
    dataset_id = sim.add_vl_dataset(name="birds", status="DRAFT")
    listed = await vl.list_datasets()
    assert [(d.id, d.name) for d in listed] == [(dataset_id, "birds")]
    details = await vl.details(dataset_id)
    assert isinstance(details["tasks"], list)
    previous = {dataset_id: DatasetState(backend="vl", id=dataset_id, state=State.PENDING)}
    result = await vl.fetch([dataset_id], previous)
    assert result.requests == 2  # the creation status rides along while being created


# ---------------------------------------------------------------- Cognee


async def test_cognee_states_names_and_login(sim: Simulator, cognee: Backend) -> None:
    done = sim.add_cognee_dataset(name="done", pipelines={ADD: COMPLETED, COGNIFY: COMPLETED})
    running = sim.add_cognee_dataset(name="busy", pipelines={ADD: COMPLETED, COGNIFY: STARTED})
    failed = sim.add_cognee_dataset(name="bad", pipelines={ADD: COMPLETED, COGNIFY: ERRORED})
    empty = sim.add_cognee_dataset(name="empty", pipelines={})
    half = sim.add_cognee_dataset(name="half", pipelines={ADD: COMPLETED})
    result = await cognee.fetch([done, running, failed, empty, half], {})
    states = by_id(result)
    assert {i: s.state for i, s in states.items()} == {
        done: State.READY,
        running: State.RUNNING,
        failed: State.ERROR,
        empty: State.PENDING,
        half: State.PENDING,
    }
    assert states[failed].error == "cognify_pipeline errored: LLMAPIKeyNotSetError"
    assert [states[i].name for i in (done, running, failed, empty, half)] == [
        "done",
        "busy",
        "bad",
        "empty",
        "half",
    ]
    # one login shared by the status batch and the name lookup, and the errored
    # dataset's cause from the activity feed
    assert result.requests == 4


async def test_cognee_docs_vocabulary_and_one_pipeline(sim: Simulator) -> None:
    sim.configure(cognee_vocabulary="docs")
    dataset_id = sim.add_cognee_dataset(pipelines={ADD: COMPLETED, COGNIFY: STARTED})
    empty = sim.add_cognee_dataset(pipelines={})
    cfg = BackendConfig(
        name="cg",
        type="cognee",
        url="http://sim/cognee",
        pipelines=[COGNIFY],
        username_env="CG_USER",
        password_env="CG_PASS",
        allow_insecure=True,
    )
    backend = backend_for(cfg, sim, environ=ENVIRON)
    result = await backend.fetch([dataset_id, empty], {})
    await backend.aclose()
    states = by_id(result)
    assert (states[dataset_id].state, states[dataset_id].pipelines) == (
        State.RUNNING,
        {COGNIFY: "running"},
    )
    assert (states[empty].state, states[empty].pipelines) == (State.PENDING, {})


async def test_cognee_foreign_and_unknown_ids_are_isolated(sim: Simulator, cognee: Backend) -> None:
    good = sim.add_cognee_datasets(14)
    foreign = sim.add_cognee_dataset(pipelines={ADD: COMPLETED}, foreign=True)
    batch = [*good[:7], foreign, *good[7:], MISSING]
    result = await cognee.fetch(batch, {})
    states = by_id(result)
    assert {i for i, s in states.items() if s.state is State.NOT_FOUND} == {foreign, MISSING}
    assert all(states[i].state is State.READY for i in good)
    sim.reset_stats()
    again = await cognee.fetch(batch, {})
    assert by_id(again)[foreign].state is State.NOT_FOUND
    status_requests = sim.stats["cognee"].as_json()
    assert again.requests == 3, status_requests  # one clean batch + each suspect alone


async def test_cognee_relogin_after_the_token_expires(
    sim: Simulator, cognee: Backend, clock: FakeClock
) -> None:
    dataset_id = sim.add_cognee_dataset(pipelines={ADD: COMPLETED, COGNIFY: COMPLETED})
    await cognee.fetch([dataset_id], {})
    clock.now += 601  # the simulator's JWT lifetime is 600 s
    result = await cognee.fetch([dataset_id], {})
    assert result.states[0].state is State.READY
    assert result.unauthorized is False
    assert result.requests == 3  # refused, login again, retried


async def test_cognee_wrong_password_is_unauthorized(sim: Simulator) -> None:
    dataset_id = sim.add_cognee_dataset(pipelines={})
    cfg = BackendConfig(
        name="cg",
        type="cognee",
        url="http://sim/cognee",
        username_env="CG_USER",
        password_env="VL_SECRET",
        allow_insecure=True,
    )
    backend = backend_for(cfg, sim, environ=ENVIRON)
    result = await backend.fetch([dataset_id], {})
    await backend.aclose()
    assert result.unauthorized is True
    assert result.states[0].error == "login refused (HTTP 400: LOGIN_BAD_CREDENTIALS)"


async def test_cognee_api_key(sim: Simulator) -> None:
    key = sim.create_cognee_api_key()
    dataset_id = sim.add_cognee_dataset(pipelines={ADD: COMPLETED, COGNIFY: COMPLETED})
    cfg = BackendConfig(
        name="cg", type="cognee", url="http://sim/cognee", api_key_env="K", allow_insecure=True
    )
    backend = make_backend(
        cfg, Settings(), transport=httpx.ASGITransport(app=sim.app), environ={"K": key}
    )
    result = await backend.fetch([dataset_id], {})
    await backend.aclose()
    assert result.states[0].state is State.READY
    assert key not in repr(result)


@pytest.mark.parametrize(
    ("faults", "kind"),
    [
        ({"status": 409}, "http"),
        ({"status": 429, "retry_after": 5}, "http"),
        ({"body": "not_json"}, "body"),
        ({"body": "array"}, "body"),
        ({"body": "non_utf8"}, "body"),
    ],
)
async def test_cognee_faults_make_the_chunk_unreachable(
    sim: Simulator, cognee: Backend, faults: dict[str, Any], kind: str
) -> None:
    ids = sim.add_cognee_datasets(3)
    await cognee.fetch(ids, {})  # log in and learn the names first, without faults
    sim.set_faults("cognee", **faults)
    result = await cognee.fetch(ids, {})
    assert {s.state for s in result.states} == {State.UNREACHABLE}
    assert {s.failure.kind for s in result.states if s.failure} == {kind}
    assert result.retry_after == faults.get("retry_after")


async def test_cognee_details(sim: Simulator, cognee: Backend) -> None:
    dataset_id = sim.add_cognee_dataset(
        pipelines={ADD: COMPLETED, COGNIFY: COMPLETED}, data_count=4
    )
    details = await cognee.details(dataset_id)
    assert details.get("item_count") == 4
    assert isinstance(details.get("pipeline_runs"), list)


@pytest.mark.parametrize(
    ("name", "route"),
    [("vl", "GET /api/v1/healthcheck"), ("cognee", "GET /health")],
)
async def test_the_probe_asks_the_cheap_health_route_and_names_a_server_error(
    sim: Simulator, vl: Backend, cognee: Backend, name: str, route: str
) -> None:
    """A quiet backend is watched by one cheap request (issue 11): Visual Layer's
    healthcheck, Cognee's /health, sent without logging in; a 5xx there is the
    outage, with its status kept for the banner."""
    backend = vl if name == "vl" else cognee
    assert backend.has_probe
    sim.reset_stats()
    assert await backend.probe() is None
    assert sim.stats[name].by_route == {route: 1}  # one request, no login, no dataset read
    sim.set_faults(name, status=503)
    failure = await backend.probe()
    assert failure is not None and (failure.kind, failure.http_status) == ("http", 503)
