"""dswatch's engine and poller (build_engine) against a real Cognee 1.6.5 server.

A cognify started in the background, the poller logging in again by itself when the JWT
expires, and (opt-in, ``--run-slow``) the ERRORED end of a cognify without an LLM.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from tests.live.cognee import (
    ADD_PIPELINE,
    COGNIFY_PIPELINE,
    COMPLETED,
    ERRORED,
    STARTED,
    BackgroundCognify,
    CogneeServer,
    LiveWorld,
    RecordingTransport,
    StartServer,
    auth_environ,
    unique_name,
    write_config,
)
from tui.config import load_config
from tui.engine import Engine, build_engine
from tui.models import DatasetState, State
from tui.poller import Health, PollUpdate

pytestmark = pytest.mark.cognee_live

LOGIN = "/api/v1/auth/login"
STATUS = "/api/v1/datasets/status"
JWT_LIFETIME = 3  # s, for the expiry test's own server
# Without an LLM a cognify goes ERRORED after ~288 s (docs/cognee-real-server.md); leave room.
COGNIFY_ERRORED_WITHIN = 480.0


@contextlib.asynccontextmanager
async def engine_for(
    tmp_path: Path,
    url: str,
    datasets: Sequence[str],
    *,
    auth: str,
    environ: dict[str, str],
    pipelines: Sequence[str] = (ADD_PIPELINE, COGNIFY_PIPELINE),
    poll_interval: float = 1.0,
    settled_interval: float = 30.0,
) -> AsyncIterator[tuple[Engine, RecordingTransport]]:
    path = write_config(
        tmp_path / f"config-{unique_name('cfg')}.toml",
        url,
        datasets,
        auth=auth,
        pipelines=pipelines,
        poll_interval=poll_interval,
        settled_interval=settled_interval,
    )
    transport = RecordingTransport()
    engine = build_engine(load_config(path), path, transport=transport, environ=environ)
    try:
        yield engine, transport
    finally:
        await engine.aclose()


async def poll_once(
    tmp_path: Path, world: LiveWorld, datasets: Sequence[str], **options: object
) -> dict[str, DatasetState]:
    auth = str(options.pop("auth", "api_key"))
    async with engine_for(
        tmp_path,
        world.server.url,
        datasets,
        auth=auth,
        environ=auth_environ(world, auth),
        **options,  # type: ignore[arg-type]
    ) as (engine, _):
        states = await engine.poller.poll_all_once()
    assert {backend for backend, _ in states} == {"cognee"}
    return {dataset_id: state for (_, dataset_id), state in states.items()}


async def test_poll_all_once_reads_every_dataset(live_world: LiveWorld, tmp_path: Path) -> None:
    world = live_world
    asked = [world.added_id, world.empty_id, world.unknown_id]
    states = await poll_once(tmp_path, world, asked, auth="password")
    assert states[world.added_id].state is State.PENDING  # cognify never ran
    assert states[world.added_id].name == world.added_name
    assert states[world.empty_id].state is State.PENDING
    assert states[world.unknown_id].state is State.NOT_FOUND
    assert all(s.polled_at is not None for s in states.values())

    flat = await poll_once(tmp_path, world, asked, pipelines=[ADD_PIPELINE])
    assert flat[world.added_id].state is State.READY
    assert flat[world.empty_id].state is State.PENDING
    assert flat[world.unknown_id].state is State.NOT_FOUND


async def test_a_background_cognify_is_running(
    live_world: LiveWorld, background_cognify: BackgroundCognify, tmp_path: Path
) -> None:
    job = background_cognify
    if time.monotonic() - job.started_at > 200:
        pytest.skip("the background cognify may already have ended (started over 200 s ago)")
    states = await poll_once(tmp_path, live_world, [job.dataset_id, job.empty_id])
    running = states[job.dataset_id]
    assert (running.state, running.status) == (State.RUNNING, STARTED)
    assert running.pipelines == {ADD_PIPELINE: COMPLETED, COGNIFY_PIPELINE: STARTED}
    assert running.name == job.name
    # The empty dataset's cognify completed at once, but add_pipeline never ran on it:
    # with both pipelines watched that is "not everything done yet".
    empty = states[job.empty_id]
    assert (empty.state, empty.pipelines) == (State.PENDING, {COGNIFY_PIPELINE: COMPLETED})

    cognify_only = await poll_once(
        tmp_path, live_world, [job.dataset_id, job.empty_id], pipelines=[COGNIFY_PIPELINE]
    )
    assert cognify_only[job.dataset_id].state is State.RUNNING
    assert cognify_only[job.empty_id].state is State.READY
    add_only = await poll_once(tmp_path, live_world, [job.dataset_id], pipelines=[ADD_PIPELINE])
    assert add_only[job.dataset_id].state is State.READY


class Recorder:
    """A poller sink: every state each dataset went through, in order."""

    def __init__(self) -> None:
        self.seen: dict[str, list[DatasetState]] = defaultdict(list)
        self.changed = asyncio.Event()

    def __call__(self, update: PollUpdate) -> None:
        for state in update.states:
            if state.polled_at is not None:
                self.seen[state.id].append(state)
        self.changed.set()

    def states(self, dataset_id: str) -> list[State]:
        return [s.state for s in self.seen[dataset_id]]


async def run_poller(engine: Engine, recorder: Recorder, seconds: float) -> None:
    task = asyncio.create_task(engine.poller.run(recorder))
    try:
        await asyncio.sleep(seconds)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def logins_in_log(server: CogneeServer) -> int:
    text = server.log.read_text(errors="replace")
    return len(re.findall(r'"POST /api/v1/auth/login HTTP/1\.1" 200', text))


async def test_the_poller_logs_in_again_when_the_jwt_expires(
    cognee_server_factory: StartServer, tmp_path: Path
) -> None:
    server = cognee_server_factory(jwt_lifetime_seconds=JWT_LIFETIME)
    try:
        added = server.add_dataset(unique_name("jwt-added"))
        empty = server.create_dataset(unique_name("jwt-empty"))
        logins_before = logins_in_log(server)  # the helpers' own logins
        environ = {"COGNEE_USER": server.username, "COGNEE_PASSWORD": server.password}
        recorder = Recorder()
        async with engine_for(
            tmp_path,
            server.url,
            [added, empty],
            auth="password",
            environ=environ,
            pipelines=[ADD_PIPELINE],
            poll_interval=0.5,  # the empty dataset (pending) is polled every 0.5 s
            settled_interval=0.5,  # and so is the ready one
        ) as (engine, transport):
            await run_poller(engine, recorder, seconds=3.5 * JWT_LIFETIME)
            health = engine.poller.health()["cognee"]

        # States stayed right all along: never unauthorized, never a gap. (A read that
        # repeats the last answer publishes nothing new: count the reads themselves.)
        reads = [e for e in transport.to(STATUS) if e.status == 200]
        assert len(reads) >= 10, len(reads)
        assert recorder.seen[added] and set(recorder.states(added)) == {State.READY}
        assert set(recorder.states(empty)) == {State.PENDING}
        assert all(not s.stale and s.error is None for s in recorder.seen[added])
        assert health.health is Health.OK

        # It logged in again by itself: a 401 for the expired JWT, a login, the retry.
        logins = [e for e in transport.to(LOGIN, "POST") if e.status == 200]
        assert len(logins) >= 3, [(e.method, e.url.path, e.status) for e in transport.exchanges]
        refused = [e for e in transport.to(STATUS) if e.status == 401]
        assert refused, "the JWT never expired during the run"
        assert len(refused) <= len(logins)  # each 401 cost one login, no storm
        assert logins_in_log(server) - logins_before == len(logins)  # the server agrees
    finally:
        server.stop()


@pytest.mark.cognee_slow
async def test_a_cognify_without_an_llm_ends_errored(
    live_world: LiveWorld, background_cognify: BackgroundCognify, tmp_path: Path
) -> None:
    """~5 minutes: the poller sees the background cognify go from running to error."""
    job = background_cognify
    recorder = Recorder()
    async with engine_for(
        tmp_path,
        live_world.server.url,
        [job.dataset_id],
        auth="api_key",
        environ=auth_environ(live_world, "api_key"),
        poll_interval=2.0,
    ) as (engine, _):
        task = asyncio.create_task(engine.poller.run(recorder))
        try:
            deadline = job.started_at + COGNIFY_ERRORED_WITHIN
            while State.ERROR not in recorder.states(job.dataset_id):
                left = deadline - time.monotonic()
                assert left > 0, f"still {recorder.states(job.dataset_id)[-1:]} after the wait"
                recorder.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(recorder.changed.wait(), timeout=min(left, 10.0))
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        details = await engine.backends["cognee"].details(job.dataset_id)

    states = recorder.states(job.dataset_id)
    assert states[-1] is State.ERROR
    if time.monotonic() - job.started_at < 250:  # only if the run was still going at the start
        assert State.RUNNING in states
    final = recorder.seen[job.dataset_id][-1]
    assert final.status == ERRORED
    assert final.pipelines == {ADD_PIPELINE: COMPLETED, COGNIFY_PIPELINE: ERRORED}
    assert final.error == "cognify_pipeline errored"
    # The one error detail Cognee exposes: the activity row's error_class.
    assert details["error_classes"] == {COGNIFY_PIPELINE: "InternalServerError"}
    failed = [r for r in details["pipeline_runs"] if r["status"] == ERRORED]
    assert failed and failed[0]["outcome"] == "failed"

    # Watching add_pipeline alone, the same dataset is ready.
    add_only = await poll_once(tmp_path, live_world, [job.dataset_id], pipelines=[ADD_PIPELINE])
    assert add_only[job.dataset_id].state is State.READY
