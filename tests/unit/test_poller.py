"""The scheduler: intervals by state, no overlap, backoff, Retry-After, pauses, batches.

The backend here is a scripted test double that records every call; the real
backends are exercised against the simulator in their own tests.

Time is the event loop's, fast-forwarded by looptime: the poller's injectable
clock reads it, so "0.4 s of polling every 0.05 s" is that schedule exactly,
in no real time and whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import pytest

from tui.backends.base import Backend, FetchResult, RemoteDataset
from tui.config import Settings
from tui.models import DatasetState, Failure, State
from tui.poller import Health, Poller, PollUpdate, backoff_delay

IDS = [f"00000000-0000-0000-0000-{i:012d}" for i in range(1, 8)]
FAST = Settings(poll_interval=0.05, settled_interval=0.5, timeout=1, max_concurrency=3)

Answer = Callable[[str, int], DatasetState]

pytestmark = pytest.mark.looptime  # the event loop's time is fake (see the docstring)


def make_poller(*args: Any, **kwargs: Any) -> Poller:
    """A poller whose clock is the running loop's (the one looptime moves).

    Like a real monotonic clock, it never reads the same twice: each reading is a
    nanosecond later. Otherwise a wake-up at 0.1 + 0.05 (0.15000000000000002) seen at
    the loop's 0.15 would find nothing due, forever, while the fake time stands still.
    """
    loop_time = asyncio.get_running_loop().time
    readings = itertools.count(1)
    return Poller(*args, clock=lambda: loop_time() + next(readings) * 1e-9, **kwargs)


class ScriptedBackend(Backend):
    """Answers each ID with `answer(id, call_number)` and records what it was asked."""

    batch_size: ClassVar[int] = 1
    has_probe: ClassVar[bool] = True

    def __init__(
        self,
        name: str,
        answer: Answer,
        *,
        batch_size: int = 1,
        delay: float = 0.0,
        result_hook: Callable[[FetchResult], None] | None = None,
    ) -> None:
        self.name = name
        self.answer = answer
        self.batch_size = batch_size  # type: ignore[misc]
        self.delay = delay
        self.result_hook = result_hook
        self.calls: list[list[str]] = []
        self.probe_failure: Failure | None = None  # what the health check answers
        self.probes = 0
        self.in_flight: set[str] = set()
        self.overlaps = 0
        self.max_parallel = 0
        self.parallel = 0

    async def fetch(self, ids: Sequence[str], previous: Mapping[str, DatasetState]) -> FetchResult:
        if self.in_flight & set(ids):
            self.overlaps += 1
        self.in_flight |= set(ids)
        self.parallel += 1
        self.max_parallel = max(self.max_parallel, self.parallel)
        self.calls.append(list(ids))
        try:
            await asyncio.sleep(self.delay)
            count = len(self.calls)
            result = FetchResult(states=[self.answer(i, count) for i in ids], requests=1)
            if self.result_hook:
                self.result_hook(result)
            return result
        finally:
            self.parallel -= 1
            self.in_flight -= set(ids)

    async def probe(self) -> Failure | None:
        self.probes += 1
        return self.probe_failure

    async def list_datasets(self) -> list[RemoteDataset]:
        return []

    async def details(self, dataset_id: str) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        pass

    def polls_of(self, dataset_id: str) -> int:
        return sum(dataset_id in call for call in self.calls)


def ok(state: State) -> Answer:
    return lambda i, n: DatasetState(backend="b", id=i, state=state, status=state.value.upper())


def down(i: str, n: int) -> DatasetState:
    failure = Failure(kind="connect", message="connection refused")
    return DatasetState(
        backend="b", id=i, state=State.UNREACHABLE, error=failure.message, failure=failure
    )


async def run_for(poller: Poller, seconds: float) -> list[PollUpdate]:
    updates: list[PollUpdate] = []
    task = asyncio.create_task(poller.run(updates.append))
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return updates


async def test_processing_datasets_are_polled_often_and_settled_ones_rarely() -> None:
    running = ScriptedBackend("b", ok(State.RUNNING))
    poller = make_poller(FAST, {"b": running}, {"b": IDS[:1]})
    await run_for(poller, 0.4)
    assert running.polls_of(IDS[0]) >= 5  # every 0.05 s

    ready = ScriptedBackend("b", ok(State.READY))
    poller = make_poller(FAST, {"b": ready}, {"b": IDS[:1]})
    await run_for(poller, 0.4)
    assert ready.polls_of(IDS[0]) == 1  # then not again before 0.5 s


# On real time: at exact times 7 datasets through 3 slots of 0.12 s make 15 polls in
# 0.6 s, and the order among datasets due at the same instant decides whether the 7th
# gets its second; the bound below was set with real time's slack.
@pytest.mark.looptime(False)
async def test_a_dataset_is_never_polled_twice_at_once_and_concurrency_is_bounded() -> None:
    slow = ScriptedBackend("b", ok(State.RUNNING), delay=0.12)  # slower than the interval
    poller = make_poller(FAST, {"b": slow}, {"b": IDS})
    await run_for(poller, 0.6)
    assert slow.overlaps == 0
    assert slow.max_parallel == FAST.max_concurrency
    assert all(slow.polls_of(i) >= 2 for i in IDS)


async def test_batch_backends_get_all_due_ids_in_one_call() -> None:
    batch = ScriptedBackend("b", ok(State.READY), batch_size=100)
    poller = make_poller(FAST, {"b": batch}, {"b": IDS})
    states = await poller.poll_all_once()
    assert batch.calls == [IDS]
    assert {s.state for s in states.values()} == {State.READY}


async def test_a_failing_dataset_backs_off_exponentially_and_keeps_the_last_good_data() -> None:
    seen: list[str] = []

    def flaky(i: str, n: int) -> DatasetState:
        if i != IDS[0]:
            return ok(State.RUNNING)(i, n)  # the backend is fine: only this dataset fails
        seen.append(i)
        if len(seen) == 1:
            return DatasetState(
                backend="b", id=i, state=State.RUNNING, status="INDEXING", progress=40
            )
        return down(i, n)

    backend = ScriptedBackend("b", flaky)
    poller = make_poller(FAST, {"b": backend}, {"b": IDS[:3]}, seed=1)
    await run_for(poller, 0.8)
    # Without backoff, 0.8 s at 0.05 s would be ~16 polls; with it, 0.05·2^n.
    assert 3 <= backend.polls_of(IDS[0]) <= 7
    assert backend.polls_of(IDS[1]) >= 10
    assert poller.health()["b"].health is Health.OK
    state = poller.states[("b", IDS[0])]
    assert state.state is State.UNREACHABLE
    assert state.stale and state.stale_since is not None
    assert (state.status, state.progress) == ("INDEXING", 40)  # last good data kept
    assert state.error == "connection refused"


@pytest.mark.parametrize("has_probe", [True, False], ids=["health-endpoint", "read-probe"])
async def test_a_down_backend_is_probed_every_poll_interval_and_re_read_at_once(
    has_probe: bool,
) -> None:
    """No per-dataset backoff while the backend is down: one read per poll_interval
    probes it, every row is stale at once, and the first answer re-reads them all."""
    outage = {"on": False}

    def answer(i: str, n: int) -> DatasetState:
        if outage["on"]:
            return down(i, n)
        return DatasetState(backend="b", id=i, state=State.READY, status="READY", n_images=7)

    backend = ScriptedBackend("b", answer)
    backend.has_probe = has_probe  # type: ignore[misc]
    settings = Settings(poll_interval=0.05, settled_interval=30, timeout=1, max_concurrency=3)
    poller = make_poller(settings, {"b": backend}, {"b": IDS[:5]}, seed=1)
    updates: list[PollUpdate] = []
    task = asyncio.create_task(poller.run(updates.append))
    await asyncio.sleep(0.2)
    if has_probe:
        assert all(backend.polls_of(i) == 1 for i in IDS[:5])  # settled: polled once
        assert backend.probes >= 1  # but the backend is watched
    outage["on"] = True
    backend.probe_failure = Failure(kind="connect", message="connection refused")
    await asyncio.sleep(0.4)
    # Quiet (every dataset settled), so probes found the outage: all rows stale now.
    assert poller.health()["b"].health is Health.UNREACHABLE
    assert all(s.stale and s.n_images == 7 for s in poller.states.values())
    calls_while_down = len(backend.calls)
    await asyncio.sleep(0.3)
    assert len(backend.calls) - calls_while_down <= 0.3 / 0.05 + 1  # one read per interval
    events = [e for u in updates for e in u.backend_events]
    assert [e.kind for e in events] == ["down"]
    outage["on"] = False
    backend.probe_failure = None
    await asyncio.sleep(0.3)
    assert poller.health()["b"].health is Health.OK
    assert not any(s.stale for s in poller.states.values())
    assert [e.kind for u in updates for e in u.backend_events] == ["down", "back"]
    assert not [n for u in updates for n in u.news]  # an outage is no dataset news
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_backoff_is_capped_and_jittered() -> None:
    import random

    rng = random.Random(0)
    delays = [backoff_delay(n, FAST, rng) for n in range(1, 30)]
    assert max(delays) <= FAST.settled_interval
    assert delays[0] <= FAST.poll_interval
    assert len(set(delays)) == len(delays)  # jitter: no two equal


async def test_retry_after_pauses_the_whole_backend() -> None:
    def rate_limit(result: FetchResult) -> None:
        result.retry_after = 0.4

    backend = ScriptedBackend("b", ok(State.RUNNING), result_hook=rate_limit)
    poller = make_poller(FAST, {"b": backend}, {"b": IDS[:2]})
    updates = await run_for(poller, 0.3)
    assert len(backend.calls) <= FAST.max_concurrency  # the first wave only
    health = [u.health["b"] for u in updates if "b" in u.health]
    assert health[-1].health is Health.RATE_LIMITED


async def test_an_answer_sent_before_a_429_does_not_lift_the_rate_limit() -> None:
    """Two requests in flight: the first meets a 429 (retry in 10 s), the second
    answers after it. The backend stays rate limited (and paused), never "ok"
    while nothing more is sent: the summary and banner must say why."""

    def rate_limit_the_first(result: FetchResult) -> None:
        if result.states[0].id == IDS[0]:
            result.retry_after = 10

    backend = ScriptedBackend("b", ok(State.RUNNING), delay=0.01, result_hook=rate_limit_the_first)
    poller = make_poller(FAST, {"b": backend}, {"b": IDS[:2]})
    updates = await run_for(poller, 0.5)
    assert [len(c) for c in backend.calls] == [1, 1]  # both sent, then nothing for 10 s
    health = [u.health["b"].health for u in updates if "b" in u.health]
    assert health[-1] is Health.RATE_LIMITED, health
    assert poller.health()["b"].health is Health.RATE_LIMITED


async def test_unauthorized_stops_polling_until_refresh_and_marks_every_dataset() -> None:
    def refused(result: FetchResult) -> None:
        result.unauthorized = True

    def answer(i: str, n: int) -> DatasetState:
        return DatasetState(
            backend="b",
            id=i,
            state=State.UNAUTHORIZED,
            error="HTTP 401",
            failure=Failure(kind="http", message="HTTP 401", http_status=401),
        )

    backend = ScriptedBackend("b", answer, batch_size=1, result_hook=refused)
    settings = Settings(poll_interval=0.05, settled_interval=30, max_concurrency=1)
    poller = make_poller(
        settings, {"b": backend}, {"b": IDS[:4]}, credential_hints={"b": "COGNEE_API_KEY"}
    )
    task = asyncio.create_task(poller.run(lambda u: None))
    await asyncio.sleep(0.4)
    assert len(backend.calls) == 1  # one refusal, then silence
    assert {s.state for s in poller.states.values()} == {State.UNAUTHORIZED}
    health = poller.health()["b"]
    assert health.health is Health.UNAUTHORIZED
    assert health.credential_hint == "COGNEE_API_KEY"
    poller.refresh()  # `R`: try again now
    await asyncio.sleep(0.2)
    assert len(backend.calls) == 2
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_results_reach_the_sink_in_batches() -> None:
    backend = ScriptedBackend("b", ok(State.READY))
    poller = make_poller(FAST, {"b": backend}, {"b": IDS}, flush_interval=0.1)
    updates = await run_for(poller, 0.35)
    delivered = [s for u in updates for s in u.states if s.state is State.READY]
    assert {s.id for s in delivered} == set(IDS)
    assert len(updates) <= 4  # ~one batch per flush interval, not one per response
    first_ready = next(u for u in updates if any(s.state is State.READY for s in u.states))
    assert all(first_ready.changed[s.key] >= {"state"} for s in first_ready.states)


async def test_add_remove_refresh_and_pause() -> None:
    backend = ScriptedBackend("b", ok(State.READY))
    poller = make_poller(FAST, {"b": backend}, {"b": IDS[:1]})
    updates: list[PollUpdate] = []
    task = asyncio.create_task(poller.run(updates.append))
    await asyncio.sleep(0.1)
    poller.add("b", [IDS[1]])
    assert poller.watched() == {("b", IDS[0]), ("b", IDS[1])}  # the public view (`wait`)
    await asyncio.sleep(0.1)
    assert backend.polls_of(IDS[1]) == 1  # polled at once
    poller.refresh([("b", IDS[1])])
    await asyncio.sleep(0.1)
    assert backend.polls_of(IDS[1]) == 2
    poller.remove("b", [IDS[1]])
    await asyncio.sleep(0.15)
    assert ("b", IDS[1]) not in poller.states
    assert poller.watched("b") == {("b", IDS[0])} and poller.watched("other") == set()
    assert any(("b", IDS[1]) in u.removed for u in updates)
    poller.pause()
    calls = len(backend.calls)
    poller.refresh()
    await asyncio.sleep(0.15)
    assert len(backend.calls) == calls  # paused: nothing goes out
    poller.resume()
    await asyncio.sleep(0.1)
    assert len(backend.calls) == calls + 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_backend_bug_marks_rows_unreachable_and_polling_goes_on() -> None:
    def explode(i: str, n: int) -> DatasetState:
        if n == 1:
            raise RuntimeError("boom")
        return DatasetState(backend="b", id=i, state=State.READY)

    backend = ScriptedBackend("b", explode)
    poller = make_poller(FAST, {"b": backend}, {"b": IDS[:1]})
    await run_for(poller, 0.3)
    assert poller.states[("b", IDS[0])].state is State.READY
    assert len(backend.calls) >= 2


async def test_the_log_tells_polls_transitions_and_a_backend_going_down_and_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What `dswatch --debug` writes: one line per poll, one per state change, and a
    warning when a backend goes down (its text sanitized), a line when it is back."""

    def script(i: str, n: int) -> DatasetState:
        if n == 2:
            failure = Failure(kind="http", message="HTTP 502 \x1b[31mBad\x1b[0m\nGateway")
            return DatasetState(
                backend="b", id=i, state=State.UNREACHABLE, error=failure.message, failure=failure
            )
        return ok(State.RUNNING if n == 1 else State.READY)(i, n)

    backend = ScriptedBackend("b", script, batch_size=10)
    poller = make_poller(FAST, {"b": backend}, {"b": IDS[:1]})
    with caplog.at_level("DEBUG", logger="tui"):
        await run_for(poller, 0.4)
    lines = [r.getMessage() for r in caplog.records]
    assert len(backend.calls) >= 3
    assert "backend b: polled 1 dataset in 1 request" in lines[0]
    assert f"b/{IDS[0]}: unknown -> running" in lines
    assert f"b/{IDS[0]}: running -> unreachable" in lines
    down = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [r.getMessage() for r in down] == ["backend b: unreachable: HTTP 502 Bad Gateway"]
    assert "backend b: answering again (was unreachable)" in lines
    assert f"b/{IDS[0]}: unreachable -> ready" in lines


def test_the_probe_schedule_with_a_fake_clock() -> None:
    """When the watchdog probes: a quiet backend after poll_interval without a request,
    a down one every poll_interval, a parked one (401/429) never, a busy one not."""
    now = [100.0]
    backend = ScriptedBackend("b", ok(State.READY))
    settings = Settings(poll_interval=5, settled_interval=60, timeout=10)
    poller = Poller(settings, {"b": backend}, {"b": IDS[:2]}, clock=lambda: now[0])
    scheduler = poller.schedulers["b"]
    assert scheduler.probe_due_in(now[0]) == 5  # just started: the first polls go out
    scheduler.last_request_at = 100.0
    now[0] = 103.0
    assert scheduler.probe_due_in(now[0]) == 2  # quiet for 3 s of 5
    now[0] = 106.0
    assert scheduler.probe_due_in(now[0]) <= 0  # quiet for a whole interval: probe now
    scheduler.in_flight.add(IDS[0])
    assert scheduler.probe_due_in(now[0]) == 5  # a request is out: its answer tells
    scheduler.in_flight.clear()
    scheduler.paused_until = 130.0  # parked by a 429 or a 401
    assert scheduler.probe_due_in(now[0]) == 24
    scheduler.paused_until = 0.0
    scheduler.down, scheduler.next_probe_at = True, 108.0
    assert scheduler.probe_due_in(now[0]) == 2  # down: one probe per interval
