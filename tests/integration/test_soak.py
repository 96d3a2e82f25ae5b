"""A bounded soak: 2,000 datasets, 0.1 s intervals, 20% mixed faults, over real HTTP.

The simulator runs in its own process (so the client's memory and CPU are its
own) and answers one request in five with an error (5xx, 429, 409, with and
without Retry-After) after a little latency. The real engine polls it with
`Poller.run` for `--soak-seconds` (20 s by default; 60 s or more for a real
soak). Then the faults stop and every dataset must show the simulator's truth.

What must hold: nothing crashes, nothing is logged as an error, nothing
reaches asyncio's exception handler; memory grows by at most 10 MB after the
warm-up (resident memory, after the first poll of everything) and so does the
number of live Python objects; the number of asyncio tasks, pooled connections and open file
descriptors stays bounded (nothing accumulates per poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.faultservers import dswatch_troubles, free_port
from tui.backends.base import Backend, FetchResult, RemoteDataset
from tui.config import BackendConfig, Config, Settings
from tui.engine import build_engine
from tui.models import DatasetState, State
from tui.poller import Poller, PollUpdate
from tui.sim import SimControl

VL_KEY, VL_SECRET = "soak-vl-key-0123456789", "soak-vl-secret-abcdefghijklmnopqrstuvwxyz"
PER_GROUP = 250  # datasets per (backend, state) group: 4 groups x 2 backends = 2,000
MAX_CONCURRENCY = 12
SETTINGS = Settings(
    poll_interval=0.1, settled_interval=0.1, timeout=2.0, max_concurrency=MAX_CONCURRENCY
)
MEMORY_GROWTH_LIMIT = 10 * 1024 * 1024
OBJECTS_SLACK = 2_000  # live objects, or 5% of them if more (see the check)
# The baseline is taken once every dataset was polled and this share of the soak passed.
WARM_UP_SHARE = 0.25
RECOVERY_LIMIT = 120.0  # generous: the wait ends as soon as every row is right

ADD, COGNIFY = "add_pipeline", "cognify_pipeline"
COMPLETED, STARTED = "DATASET_PROCESSING_COMPLETED", "DATASET_PROCESSING_STARTED"
ERRORED = "DATASET_PROCESSING_ERRORED"

# (pinned status, what the row must end up showing)
VL_GROUPS: list[tuple[str, State]] = [
    ("READY", State.READY),
    ("INDEXING", State.RUNNING),
    ("ERROR", State.ERROR),
    ("PARTIAL INDEX", State.PARTIAL),
]
COGNEE_GROUPS: list[tuple[dict[str, str | None], State]] = [
    ({ADD: COMPLETED, COGNIFY: COMPLETED}, State.READY),
    ({ADD: COMPLETED, COGNIFY: STARTED}, State.RUNNING),
    ({ADD: COMPLETED, COGNIFY: ERRORED}, State.ERROR),
    ({}, State.PENDING),  # nothing ran yet
]
# How far the truth moves during the soak: these many running datasets finish.
FINISHING = 50

SIM_PROCESS = """
import sys
from tui.sim import Simulator, serve
sim = Simulator(
    seed=5, vl_datasets=0, cognee_datasets=0,
    vl_credentials=(sys.argv[2], sys.argv[3]), cognee_auth=True,
)
serve(sim, host="127.0.0.1", port=int(sys.argv[1]), log_level="critical")
"""


@dataclass
class Truth:
    vl: dict[str, State] = field(default_factory=dict)
    cognee: dict[str, State] = field(default_factory=dict)

    def of(self, backend: str) -> dict[str, State]:
        return self.vl if backend == "vl" else self.cognee


@pytest.fixture
def sim_process() -> Iterator[str]:
    """The simulator served by another process on 127.0.0.1; yields its base URL."""
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", SIM_PROCESS, str(port), VL_KEY, VL_SECRET],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/_sim/ping", timeout=1).status_code == 200:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the simulator process did not start")
            time.sleep(0.05)
        yield url
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def populate(control: SimControl) -> Truth:
    truth = Truth()
    for status, state in VL_GROUPS:
        for dataset_id in control.add_vl_datasets(PER_GROUP, status=status):
            truth.vl[dataset_id] = state
    for pipelines, state in COGNEE_GROUPS:
        for dataset_id in control.add_cognee_datasets(PER_GROUP, pipelines=pipelines):
            truth.cognee[dataset_id] = state
    return truth


def start_faults(control: SimControl) -> None:
    control.set_faults(
        "vl", error_rate=0.2, error_statuses=[500, 502, 503, 504, 429, 409], latency=0.005
    )
    # Cognee answers for 100 datasets at once: its 429/503 ask to wait (Retry-After: 1).
    control.set_faults(
        "cognee",
        error_rate=0.2,
        error_statuses=[500, 502, 503, 504, 429, 409],
        retry_after=1,
        latency=0.02,
    )


def finish_some(control: SimControl, truth: Truth) -> None:
    """Some running datasets finish while the dashboard sees one answer in five fail."""
    running_vl = [i for i, s in truth.vl.items() if s is State.RUNNING][:FINISHING]
    for dataset_id in running_vl:
        control.set_vl_status(dataset_id, "READY")
        truth.vl[dataset_id] = State.READY
    running_cg = [i for i, s in truth.cognee.items() if s is State.RUNNING][:FINISHING]
    for dataset_id in running_cg:
        control.set_cognee_status(dataset_id, COGNIFY, COMPLETED)
        truth.cognee[dataset_id] = State.READY


def rss() -> int:
    """Resident memory of this process, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def pooled_connections(client: httpx.AsyncClient) -> int:
    pool = client._transport._pool  # type: ignore[attr-defined]
    return len(pool.connections)


async def live_objects() -> int:
    """Live Python objects at the quietest of a few moments: requests in flight (their
    coroutines, URLs, responses) come and go by ~2,000 objects under load."""
    counts = []
    for _ in range(5):
        gc.collect()
        counts.append(len(gc.get_objects()))
        await asyncio.sleep(0.02)
    return min(counts)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def wrong_rows(states: dict[tuple[str, str], DatasetState], truth: Truth) -> list[str]:
    wrong = []
    for backend in ("vl", "cognee"):
        for dataset_id, expected in truth.of(backend).items():
            state = states[(backend, dataset_id)]
            if state.state is not expected or state.stale or state.failure is not None:
                wrong.append(f"{backend} {dataset_id}: {state.state.value} {state.error}")
    return wrong


async def test_soak(
    sim_process: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    loop_errors: list[dict[str, Any]],
) -> None:
    caplog.set_level(logging.WARNING)
    seconds = float(request.config.getoption("--soak-seconds"))
    with SimControl(sim_process) as control:
        truth = await asyncio.to_thread(populate, control)
        api_key = await asyncio.to_thread(control.create_cognee_api_key)
        environ = {"VL_KEY": VL_KEY, "VL_SECRET": VL_SECRET, "CG_KEY": api_key}
        config = Config(
            settings=SETTINGS,
            backends=[
                BackendConfig(
                    name="vl",
                    type="visual_layer",
                    url=f"{sim_process}/vl",
                    api_key_env="VL_KEY",
                    api_secret_env="VL_SECRET",
                    datasets=list(truth.vl),
                ),
                BackendConfig(
                    name="cognee",
                    type="cognee",
                    url=f"{sim_process}/cognee",
                    api_key_env="CG_KEY",
                    datasets=list(truth.cognee),
                ),
            ],
        )
        await asyncio.to_thread(start_faults, control)

        engine = build_engine(config, None, environ=environ)
        poller = engine.poller
        clients = [b.api.client for b in engine.backends.values()]  # type: ignore[attr-defined]
        updates = {"batches": 0, "states": 0}

        def sink(update: PollUpdate) -> None:
            updates["batches"] += 1
            updates["states"] += len(update.states)

        tasks_before = len(asyncio.all_tasks())
        task = asyncio.create_task(poller.run(sink))
        tasks_seen: list[int] = []
        connections_seen: list[int] = []
        try:
            started = time.monotonic()
            warm_up_ends = started + seconds * WARM_UP_SHARE
            soak_ends = started + seconds
            baseline: dict[str, int] | None = None
            baseline_at = 0.0
            truth_moved = False
            # On a slow machine the first poll of everything may take longer than the
            # warm-up: the soak then runs on, so that half of it follows the baseline.
            while True:
                now = time.monotonic()
                if baseline is not None and now >= max(soak_ends, baseline_at + seconds / 2):
                    break
                assert now < started + 4 * seconds, "not every dataset was ever polled"
                assert not task.done(), task  # it never stops by itself
                tasks_seen.append(len(asyncio.all_tasks()))
                connections_seen.append(max(pooled_connections(c) for c in clients))
                everything_polled = all(s.polled_at for s in poller.states.values())
                if baseline is None and now >= warm_up_ends and everything_polled:
                    gc.collect()
                    baseline = {
                        "memory": rss(),
                        "objects": await live_objects(),
                        "fds": open_fds(),
                    }
                    baseline_at = now
                if not truth_moved and now >= started + seconds / 2:
                    await asyncio.to_thread(finish_some, control, truth)
                    truth_moved = True
                await asyncio.sleep(0.25)
            gc.collect()
            memory_after, objects_after, fds_after = rss(), await live_objects(), open_fds()

            # Every dataset was polled, many times, through the faults.
            polled = [s for s in poller.states.values() if s.polled_at is not None]
            assert len(polled) == len(truth.vl) + len(truth.cognee)
            stats = await asyncio.to_thread(control.stats)
            errors = sum(
                count
                for backend in stats.values()
                for status, count in backend["by_status"].items()
                if int(status) >= 400
            )
            total = sum(backend["total"] for backend in stats.values())
            assert total > 2 * len(truth.vl) and errors > total / 10, stats

            growth = memory_after - baseline["memory"]
            assert growth <= MEMORY_GROWTH_LIMIT, f"memory grew by {growth / 1e6:.1f} MB"
            # Nothing piles up per poll: about as many live Python objects as after the
            # warm-up. The slack covers what comes and goes (a dataset's second transition,
            # caplog's records); one object leaked per read or request would be tens of
            # thousands by now.
            slack = max(baseline["objects"] // 20, OBJECTS_SLACK)
            objects = (baseline["objects"], objects_after)
            assert objects_after <= baseline["objects"] + slack, objects
            assert fds_after <= baseline["fds"] + 4, (baseline["fds"], fds_after)
            # Bounded by the concurrency, not by datasets or polls: per backend at most
            # max_concurrency polls in flight, each with a few helper tasks.
            assert max(tasks_seen) <= 2 * 4 * MAX_CONCURRENCY + 16, max(tasks_seen)
            assert max(connections_seen) <= MAX_CONCURRENCY, connections_seen

            # The faults stop: every row comes back to the simulator's truth.
            await asyncio.to_thread(control.clear_faults)
            deadline = time.monotonic() + RECOVERY_LIMIT
            while wrong := wrong_rows(poller.states, truth):
                assert not task.done(), task
                assert time.monotonic() < deadline, wrong[:10]
                await asyncio.sleep(0.25)
        finally:
            task.cancel()
            async with asyncio.timeout(30):  # stopping must not hang either
                await asyncio.gather(task, return_exceptions=True)
                await engine.aclose()
    # Stopping leaves no task behind.
    assert len(asyncio.all_tasks()) <= tasks_before
    assert updates["batches"] > 0
    assert not loop_errors, loop_errors
    troubles = dswatch_troubles(caplog.records)
    assert not troubles, troubles[:10]


# ---------------------------------------------------------------- stopping


class _Settled(Backend):
    """Every dataset READY at once: after one poll the scheduler sleeps."""

    name = "b"

    async def fetch(self, ids: Sequence[str], previous: Mapping[str, DatasetState]) -> FetchResult:
        return FetchResult(states=[DatasetState(backend="b", id=i, state=State.READY) for i in ids])

    async def list_datasets(self) -> list[RemoteDataset]:
        return []

    async def details(self, dataset_id: str) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        pass


async def test_cancel_stops_the_poller_even_as_a_wake_up_arrives() -> None:
    """Found by this soak: stopping hung when cancel() met a wake-up (a poll finishing,
    a refresh) in the same loop turn; asyncio.wait_for on 3.11 swallowed the cancel."""
    settings = Settings(poll_interval=100, settled_interval=100)
    poller = Poller(
        settings, {"b": _Settled()}, {"b": [f"{n:08d}-0000-4000-8000-{n:012d}" for n in range(3)]}
    )
    task = asyncio.create_task(poller.run(lambda update: None))
    while not all(s.polled_at for s in poller.states.values()):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the scheduler now sleeps for 100 s
    poller.schedulers["b"].wake.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done, "Poller.run survived cancel()"
    assert task.cancelled()
