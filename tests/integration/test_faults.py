"""Every failure a network and a server can produce, end to end over real HTTP.

Each case runs the real poller (`Poller.run`) with both real backends against
the simulator served by uvicorn on 127.0.0.1, and:

1. waits until every row shows the truth (running datasets, polled often);
2. injects one fault;
3. checks, while it lasts, that polling goes on, each affected row has the
   right state and keeps its last good data marked stale with the time it
   went stale (its age), and that polling backed off (polls are counted);
   meanwhile the truth moves on the server;
4. clears the fault and checks that every row comes back, by itself, to the
   *new* truth, no longer stale, and that nothing was logged as an error.

Nothing leaves this machine: servers bind 127.0.0.0/8, DNS failures come from
a fake resolver transport, TLS uses certificates made here with openssl.
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import logging
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.faultservers import (
    AppServer,
    FakeDns,
    HeaderLog,
    MeteredStream,
    RecordingServer,
    can_bind,
    dswatch_troubles,
    free_port,
    openssl_available,
    self_signed_cert,
)
from tests.support.waiting import until as wait_until
from tui.backends.base import Backend, FetchResult
from tui.backends.http import MAX_BODY_BYTES
from tui.config import BackendConfig, Config, Settings
from tui.engine import Engine, build_engine
from tui.models import DatasetState, State
from tui.poller import MAX_PROBES_IN_FLIGHT, Health, Poller, PollUpdate
from tui.sim import Simulator

VL_KEY, VL_SECRET = "faults-vl-key-0123456789", "faults-vl-secret-abcdefghijklmnopqrstuvwxyz"
CG_USER, CG_PASSWORD = "faults@example.com", "faults-password-123456"
ENVIRON = {"VL_KEY": VL_KEY, "VL_SECRET": VL_SECRET, "CG_USER": CG_USER, "CG_PASS": CG_PASSWORD}

ADD, COGNIFY = "add_pipeline", "cognify_pipeline"
STARTED, COMPLETED = "DATASET_PROCESSING_STARTED", "DATASET_PROCESSING_COMPLETED"

POLL = 0.05
SETTINGS = Settings(poll_interval=POLL, settled_interval=0.3, timeout=0.5, max_concurrency=4)
WINDOW = 0.5  # seconds of fault during which polls are counted
REACH = 10.0  # generous bound for "eventually"; every wait ends as soon as it is true

# What the rows show before the fault, and after it: the truth moves meanwhile.
VL_BEFORE: dict[str, Any] = {
    "state": State.RUNNING,
    "status": "INDEXING",
    "progress": 42.0,
    "n_images": 26,
    "pipelines": {"creation": "INDEXING"},
}
VL_AFTER = {**VL_BEFORE, "progress": 77.0}
CG_BEFORE: dict[str, Any] = {
    "state": State.RUNNING,
    "status": STARTED,
    "pipelines": {ADD: COMPLETED, COGNIFY: STARTED},
}
CG_AFTER: dict[str, Any] = {
    "state": State.READY,
    "status": COMPLETED,
    "pipelines": {ADD: COMPLETED, COGNIFY: COMPLETED},
}
BACKENDS = ("vl", "cognee")


def truth(backend: str, *, after: bool) -> dict[str, Any]:
    if backend == "vl":
        return VL_AFTER if after else VL_BEFORE
    return CG_AFTER if after else CG_BEFORE


def shows(state: DatasetState, expected: dict[str, Any]) -> bool:
    return all(getattr(state, key) == value for key, value in expected.items())


# ---------------------------------------------------------------- the harness


@dataclass(frozen=True)
class Poll:
    """One `Backend.fetch` call the poller made, and what it returned."""

    backend: str
    ids: tuple[str, ...]
    started: float
    ended: float
    states: tuple[DatasetState, ...]


@dataclass(frozen=True)
class Sent:
    backend: str
    at: float
    path: str
    headers: httpx.Headers


@dataclass
class Watch:
    """The real engine polling the simulator, with every poll, request and body byte counted."""

    sim: Simulator
    engine: Engine
    vl_ids: list[str]
    cg_ids: list[str]
    polls: list[Poll] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    body_bytes: list[int] = field(default_factory=list)  # per response, as read
    updates: list[PollUpdate] = field(default_factory=list)
    went_down: dict[str, list[float]] = field(default_factory=dict)  # backend: when, monotonic
    task: asyncio.Task[None] | None = None

    @property
    def poller(self) -> Poller:
        return self.engine.poller

    def ids(self, backend: str) -> list[str]:
        return self.vl_ids if backend == "vl" else self.cg_ids

    def rows(self, backend: str) -> list[DatasetState]:
        return [self.poller.states[(backend, i)] for i in self.ids(backend)]

    def all_rows(self, backends: Sequence[str]) -> list[tuple[str, DatasetState]]:
        return [(b, s) for b in backends for s in self.rows(b)]

    async def start(self) -> None:
        for name, backend in self.engine.backends.items():
            self._wrap_fetch(name, backend)
            client: httpx.AsyncClient = backend.api.client  # type: ignore[attr-defined]
            client.event_hooks["request"].append(self._on_request(name))
            client.event_hooks["response"].append(self._on_response)
        self.task = asyncio.create_task(self.poller.run(self._on_update))

    def _on_update(self, update: PollUpdate) -> None:
        self.updates.append(update)
        for name, health in update.health.items():
            if health.health is Health.UNREACHABLE:
                self.went_down.setdefault(name, []).append(time.monotonic())

    def _wrap_fetch(self, name: str, backend: Backend) -> None:
        real = backend.fetch

        async def fetch(ids: Sequence[str], previous: Any) -> FetchResult:
            started = time.monotonic()
            result = await real(ids, previous)
            ended = time.monotonic()
            self.polls.append(Poll(name, tuple(ids), started, ended, tuple(result.states)))
            return result

        backend.fetch = fetch  # type: ignore[method-assign]

    def _on_request(self, name: str) -> Callable[[httpx.Request], Awaitable[None]]:
        async def hook(request: httpx.Request) -> None:
            self.sent.append(Sent(name, time.monotonic(), request.url.path, request.headers))

        return hook

    async def _on_response(self, response: httpx.Response) -> None:
        index = len(self.body_bytes)
        self.body_bytes.append(0)

        def count(size: int) -> None:
            self.body_bytes[index] += size

        response.stream = MeteredStream(response.stream, count)  # type: ignore[arg-type]

    async def stop(self) -> None:
        assert self.task is not None
        assert not self.task.done(), "the poller stopped by itself"
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.engine.aclose()

    async def until(self, what: str, predicate: Callable[[], bool], timeout: float = REACH) -> None:
        def met() -> bool:
            assert self.task is not None and not self.task.done(), "the poller stopped"
            return predicate()

        await wait_until(None, met, lambda: f"{what}\n{self.describe()}", timeout, step=0.02)

    def describe(self) -> str:
        return "\n".join(
            f"  {b} {s.id[:8]} {s.state.value} stale={s.stale} status={s.status} "
            f"progress={s.progress} error={s.error}"
            for b, s in self.all_rows(BACKENDS)
        )

    def polls_of(self, backend: str, dataset_id: str, since: float, until: float) -> list[Poll]:
        return [
            p
            for p in self.polls
            if p.backend == backend and dataset_id in p.ids and since <= p.started <= until
        ]

    def requests_to(self, backend: str, route: str, since: float) -> int:
        return sum(
            1 for s in self.sent if s.backend == backend and s.at >= since and route in s.path
        )


# Its own world: both credential kinds against the simulator and the Watch handle the
# fault table reads (transport and backend options vary per row).
def new_sim() -> Simulator:
    return Simulator(
        seed=11,
        vl_datasets=0,
        cognee_datasets=0,
        vl_credentials=(VL_KEY, VL_SECRET),
        cognee_auth=True,
        cognee_user=(CG_USER, CG_PASSWORD),
    )


def new_watch(
    sim: Simulator,
    url: str,
    *,
    settings: Settings = SETTINGS,
    transport: httpx.AsyncBaseTransport | None = None,
    **backend_options: Any,
) -> Watch:
    """Two running datasets on each backend, watched with real credentials."""
    vl_ids = [
        sim.add_vl_dataset(name=f"vl-{n}", status="INDEXING", progress=42, n_images=26)
        for n in range(2)
    ]
    cg_ids = [
        sim.add_cognee_dataset(name=f"cg-{n}", pipelines={ADD: COMPLETED, COGNIFY: STARTED})
        for n in range(2)
    ]
    vl = BackendConfig(
        name="vl",
        type="visual_layer",
        url=f"{url}/vl",
        api_key_env="VL_KEY",
        api_secret_env="VL_SECRET",
        datasets=vl_ids,
        **backend_options,
    )
    cognee = BackendConfig(
        name="cognee",
        type="cognee",
        url=f"{url}/cognee",
        username_env="CG_USER",
        password_env="CG_PASS",
        datasets=cg_ids,
        **backend_options,
    )
    config = Config(settings=settings, backends=[vl, cognee])
    engine = build_engine(config, None, transport=transport, environ=ENVIRON)
    return Watch(sim, engine, vl_ids, cg_ids)


def move_the_truth(watch: Watch) -> None:
    """What happens on the servers while the dashboard may not see it."""
    for dataset_id in watch.vl_ids:
        watch.sim.set_vl_status(dataset_id, "INDEXING", progress=77)
    for dataset_id in watch.cg_ids:
        watch.sim.set_cognee_status(dataset_id, COGNIFY, COMPLETED)


# ---------------------------------------------------------------- the rows


@dataclass(frozen=True)
class Expect:
    """How an affected row looks while the fault lasts."""

    state: State
    stale: bool
    kind: str | None = None  # Failure.kind
    http_status: int | None = None


def down(kind: str, http_status: int | None = None) -> Expect:
    return Expect(State.UNREACHABLE, stale=True, kind=kind, http_status=http_status)


@dataclass(frozen=True)
class Row:
    name: str
    vl: Expect
    cognee: Expect
    knobs: dict[str, Any] = field(default_factory=dict)  # the simulator's fault knobs
    special: str | None = None  # refused, dns, tls, redirect, retry_after_date
    settings: dict[str, Any] = field(default_factory=dict)  # changes to SETTINGS
    window: float = WINDOW
    slow: bool = False  # each failing request lasts the whole timeout
    parked: Health | None = None  # the whole backend waits (Retry-After, credentials)
    failing: bool = True  # False: odd but readable answers (no backoff, nothing stale)
    reads_through: bool = False  # answers stay readable: news shows during the fault


SLOW = {"timeout": 0.15}  # a failed request lasts the timeout: keep it short
SLOW_WINDOW = 0.9  # long enough for three such failures and the waits between them

ROWS = [
    Row("connection-refused", down("connect"), down("connect"), special="refused"),
    Row("dns-failure", down("dns"), down("dns"), special="dns"),
    Row("tls-untrusted-certificate", down("tls"), down("tls"), special="tls"),
    Row(
        "timeout",
        down("timeout"),
        down("timeout"),
        {"latency": 1.0},
        settings=SLOW,
        window=SLOW_WINDOW,
        slow=True,
    ),
    Row("closed-mid-body", down("protocol"), down("protocol"), {"close_mid_body": True}),
    Row(
        "trickling-body",
        down("timeout"),
        down("timeout"),
        {"trickle": 0.05},
        settings=SLOW,
        window=SLOW_WINDOW,
        slow=True,
    ),
    Row(
        "401-token-expired",
        Expect(State.UNAUTHORIZED, stale=True, kind="http", http_status=401),
        # The new login is refused too (Cognee's login answers 401 under this fault).
        Expect(State.UNAUTHORIZED, stale=True, kind="auth", http_status=401),
        {"status": 401},
        # A long settled interval: the unauthorized backend waits that long, or for refresh().
        settings={"settled_interval": 10.0},
        parked=Health.UNAUTHORIZED,
    ),
    Row(
        "403",
        # Visual Layer: no access to this dataset; the credentials themselves are fine.
        Expect(State.UNAUTHORIZED, stale=True, kind="http", http_status=403),
        # Cognee: every batch refused, split down to single IDs: no such dataset, or no access.
        Expect(State.NOT_FOUND, stale=False, kind="http", http_status=403),
        {"status": 403},
    ),
    Row(
        "404",
        Expect(State.NOT_FOUND, stale=False, kind="http", http_status=404),  # an answer
        down("http", 404),  # Cognee's status route itself is missing: the server is wrong
        {"status": 404},
    ),
    Row("409", down("http", 409), down("http", 409), {"status": 409}),
    Row("422", down("http", 422), down("http", 422), {"status": 422}),
    Row(
        "429-retry-after-seconds",
        down("http", 429),
        down("http", 429),
        {"status": 429, "retry_after": 1},
        parked=Health.RATE_LIMITED,
    ),
    Row(
        "429-retry-after-http-date",
        down("http", 429),
        down("http", 429),
        {"status": 429},
        special="retry_after_date",
        parked=Health.RATE_LIMITED,
    ),
    Row("500", down("http", 500), down("http", 500), {"status": 500}),
    Row("502", down("http", 502), down("http", 502), {"status": 502}),
    Row("503", down("http", 503), down("http", 503), {"status": 503}),
    Row("504", down("http", 504), down("http", 504), {"status": 504}),
    Row("body-not-json", down("body"), down("body"), {"body": "not_json"}),
    Row("body-truncated-json", down("body"), down("body"), {"body": "truncated_json"}),
    Row("body-array", down("body"), down("body"), {"body": "array"}),
    Row("body-string", down("body"), down("body"), {"body": "string"}),
    Row("body-null", down("body"), down("body"), {"body": "null"}),
    Row("body-non-utf8", down("body"), down("body"), {"body": "non_utf8"}),
    Row(
        "body-50mb",
        down("too_large"),
        down("too_large"),
        {"body": "huge"},
        # One body at a time per backend, to measure one; reading 8 MiB of it before
        # refusing may take a while on a loaded machine: it must not end as a timeout.
        settings={"max_concurrency": 1, "timeout": 5.0},
    ),
    Row(
        "body-wrong-types",
        # Read, not failed: progress "42" is still 42, n_images -1 is no count, and a
        # status that is not a string is shown as it came, never guessed.
        Expect(State.UNKNOWN, stale=False),
        Expect(State.UNKNOWN, stale=False),
        {"body": "wrong_types"},
        failing=False,
    ),
    Row(
        "body-extra-fields",
        Expect(State.RUNNING, stale=False),  # unknown fields and unasked-for IDs: ignored
        Expect(State.RUNNING, stale=False),
        {"body": "extra_fields"},
        failing=False,
        reads_through=True,
    ),
    Row(
        "redirect-to-another-host",
        down("redirect", 307),
        down("redirect", 307),
        special="redirect",
    ),
]


# ---------------------------------------------------------------- staging a row


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[tuple[Path, Path], tuple[Path, Path]]:
    """(trusted, untrusted) certificate and key pairs for 127.0.0.1."""
    if not openssl_available():
        pytest.skip("the openssl CLI is needed to make certificates")
    directory = tmp_path_factory.mktemp("tls")
    return self_signed_cert(directory, "trusted"), self_signed_cert(directory, "untrusted")


class Stage:
    """The servers one row needs, and the switch that turns its fault on and off."""

    def __init__(self, row: Row, certs: Any) -> None:
        self.row = row
        self.certs = certs
        self.sim = new_sim()
        self.server: AppServer
        self.recorder: RecordingServer | None = None
        self.dns: FakeDns | None = None
        self.watch: Watch

    async def __aenter__(self) -> Stage:
        row = self.row
        if row.special == "redirect":
            if not can_bind("127.0.0.2"):
                pytest.skip("127.0.0.2 does not bind on this machine")
            self.recorder = RecordingServer("127.0.0.2").__enter__()
        if row.special == "refused":
            self.server = AppServer(self.sim.app, port=free_port())  # restarted on this port
        elif row.special == "tls":
            (cert, key), _ = self.certs
            self.server = AppServer(self.sim.app, certfile=cert, keyfile=key)
        else:
            self.server = AppServer(self.sim.app)
        await asyncio.to_thread(self.server.start)
        url, transport, options = self.server.url, None, {}
        if row.special == "dns":
            # A name only the fake resolver knows. Plain http to a name that is not
            # loopback needs allow_insecure (it stands for a host on a trusted LAN).
            self.dns = FakeDns({"datasets.lab.test": "127.0.0.1"})
            url, transport = f"http://datasets.lab.test:{self.server.port}", self.dns
            options["allow_insecure"] = True
        if row.special == "tls":
            options["ca_bundle"] = str(self.certs[0][0])  # trusts the first certificate only
        settings = SETTINGS.model_copy(update=row.settings)
        self.watch = new_watch(self.sim, url, settings=settings, transport=transport, **options)
        return self

    async def __aexit__(self, *exc: object) -> None:
        # uvicorn takes a few ticks to wind down: let it, while the next case starts.
        threading.Thread(target=self.server.stop, daemon=True).start()
        if self.recorder is not None:
            self.recorder.__exit__()

    async def fault(self) -> None:
        row = self.row
        if row.special == "refused":
            await asyncio.to_thread(self.server.stop)
        elif row.special == "dns":
            assert self.dns is not None
            self.dns.broken = True
        elif row.special == "tls":
            _, (cert, key) = self.certs
            await asyncio.to_thread(self.server.with_cert, cert, key)
        elif row.special == "redirect":
            assert self.recorder is not None
            self.sim.set_faults("vl", redirect_to=f"{self.recorder.url}/vl")
            self.sim.set_faults("cognee", redirect_to=f"{self.recorder.url}/cognee")
        elif row.special == "retry_after_date":
            when = datetime.now(UTC) + timedelta(seconds=2)
            self.sim.set_faults("*", retry_after=email.utils.format_datetime(when, usegmt=True))
        if row.knobs:
            self.sim.set_faults("*", **row.knobs)

    async def clear(self) -> None:
        row = self.row
        self.sim.clear_faults()
        if row.special == "refused":
            await asyncio.to_thread(self.server.start)
        elif row.special == "dns":
            assert self.dns is not None
            self.dns.broken = False
        elif row.special == "tls":
            (cert, key), _ = self.certs
            await asyncio.to_thread(self.server.with_cert, cert, key)


@pytest.fixture
def row_certs(request: pytest.FixtureRequest) -> Any:
    row: Row = request.getfixturevalue("row")
    return request.getfixturevalue("certs") if row.special == "tls" else None


# ---------------------------------------------------------------- checks


def in_fault_state(watch: Watch, row: Row) -> bool:
    for backend, state in watch.all_rows(BACKENDS):
        expect: Expect = getattr(row, backend)
        if state.state is not expect.state or state.stale is not expect.stale:
            return False
        if expect.kind and (state.failure is None or state.failure.kind != expect.kind):
            return False
    return True


def assert_stale_with_the_last_good_data(state: DatasetState, before: dict[str, Any]) -> None:
    assert state.stale, state
    assert state.stale_since is not None and state.fetched_at is not None
    assert state.fetched_at <= state.stale_since <= datetime.now(UTC)  # its age shows
    # The data from before the fault: neither wiped nor the truth it could not see.
    assert shows(state, {k: v for k, v in before.items() if k != "state"}), state
    assert state.name is not None and state.raw is not None


def assert_backed_off(watch: Watch, backend: str, since: float, until: float, slow: bool) -> None:
    """A dataset the backend refuses backs off on its own."""
    window = until - since
    for dataset_id in watch.ids(backend):
        polls = watch.polls_of(backend, dataset_id, since, until)
        if not slow:
            # Without backoff a running dataset is polled every POLL seconds.
            assert len(polls) <= max(3, 0.6 * window / POLL), (backend, len(polls), window)
        else:
            # Each poll lasts the whole timeout, so count the waits between them:
            # without backoff each would be POLL; the third is already 2 * POLL or more.
            ends = [p.ended for p in polls]
            starts = [p.started for p in polls[1:]] + [until]
            longest = max(s - e for s, e in zip(starts, ends, strict=True))
            assert longest >= 1.5 * POLL, (backend, longest)


def assert_probed(watch: Watch, backend: str, since: float, until: float, slow: bool) -> None:
    """A down backend is not polled dataset by dataset: once it is called down, one
    read at a time probes it, at most one per poll interval."""
    # From the moment the backend was called down, not from the moment the fault
    # was switched on: some faults (a server restarted with another certificate)
    # take longer than a poll interval to bite, and the polls before are normal.
    down_at = min((t for t in watch.went_down.get(backend, []) if t >= since), default=None)
    assert down_at is not None, (backend, "never called down")
    probes = sorted(
        (p for p in watch.polls if p.backend == backend and down_at < p.started <= until),
        key=lambda p: p.started,
    )
    for before, after in itertools.pairwise(probes):
        assert after.started - before.started >= 0.8 * POLL, (backend, "probed too often")
    for probe in probes:  # a hung server holds probes; never more than a few at once
        at_once = [p for p in probes if p.started <= probe.started < p.ended]
        assert len(at_once) <= MAX_PROBES_IN_FLIGHT, (backend, len(at_once))
    window = until - since
    assert len(probes) <= window / POLL + 2, (backend, len(probes), window)


def backend_goes_down(expect: Expect) -> bool:
    """Network, timeout, 5xx, garbage: the backend is down, not one dataset odd."""
    if expect.state is not State.UNREACHABLE:
        return False
    return not (expect.kind == "http" and (expect.http_status or 0) < 500)


# ---------------------------------------------------------------- the test


CASE_LIMIT = 90.0  # a hung case fails with the await it hung in, never hangs the suite


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
async def test_fault(
    row: Row,
    row_certs: Any,
    caplog: pytest.LogCaptureFixture,
    loop_errors: list[dict[str, Any]],
) -> None:
    caplog.set_level(logging.WARNING)
    async with asyncio.timeout(CASE_LIMIT):
        await exercise(row, row_certs)
    assert not loop_errors, loop_errors
    assert not dswatch_troubles(caplog.records)


async def exercise(row: Row, row_certs: Any) -> None:
    async with Stage(row, row_certs) as stage:
        watch = stage.watch
        await watch.start()
        try:
            await watch.until(
                "the truth before the fault",
                lambda: all(
                    shows(s, truth(b, after=False)) and not s.stale
                    for b, s in watch.all_rows(BACKENDS)
                ),
            )
            huge = row.knobs.get("body") == "huge"
            if huge:
                tracemalloc.start()
                memory_before = tracemalloc.get_traced_memory()[0]
                bodies_before = len(watch.body_bytes)

            started = time.monotonic()
            await stage.fault()
            await watch.until(f"the rows show {row.name}", lambda: in_fault_state(watch, row))
            if row.failing:
                # Every row has seen the fault (a dataset is never polled twice at once),
                # so no answer from before it can carry the new truth.
                move_the_truth(watch)
            await asyncio.sleep(max(0.0, started + row.window - time.monotonic()))
            ended = time.monotonic()
            assert in_fault_state(watch, row), watch.describe()
            if huge:
                memory_peak = tracemalloc.get_traced_memory()[1] - memory_before
                tracemalloc.stop()
                refused_bodies = watch.body_bytes[bodies_before:]

            for backend, state in watch.all_rows(BACKENDS):
                expect: Expect = getattr(row, backend)
                if expect.stale:
                    assert_stale_with_the_last_good_data(state, truth(backend, after=False))
                if expect.kind:
                    assert state.failure is not None and state.failure.kind == expect.kind
                    if expect.http_status is not None:
                        assert state.failure.http_status == expect.http_status, state.failure
                    assert state.error, "the row says what went wrong"
                if not row.failing:
                    assert state.failure is None and not state.stale, state
            for backend in BACKENDS:
                if row.failing and backend_goes_down(getattr(row, backend)):
                    assert_probed(watch, backend, started, ended, row.slow)
                elif row.failing:
                    assert_backed_off(watch, backend, started, ended, row.slow)
                else:
                    for dataset_id in watch.ids(backend):  # polling simply goes on
                        assert len(watch.polls_of(backend, dataset_id, started, ended)) >= 2
                if row.parked is not None:
                    health = watch.poller.health()[backend]
                    assert health.health is row.parked, health
                    assert health.message
            if huge:
                # Every refused body was cut at the cap: 50 MB never came in, let alone
                # into memory.
                assert refused_bodies and max(refused_bodies) <= MAX_BODY_BYTES + 1024 * 1024
                # One body in flight per backend; before it was cut, each was held three times.
                assert memory_peak < len(BACKENDS) * 1.5 * MAX_BODY_BYTES, memory_peak
                for _, state in watch.all_rows(BACKENDS):
                    assert state.failure is not None and "MiB" in state.failure.message
            if row.name.startswith("401"):
                await check_unauthorized(watch, started)
            if row.special == "redirect":
                check_redirect_not_followed(stage)
            if row.knobs.get("body") == "wrong_types":
                for state in watch.rows("vl"):
                    # progress "42" read as 42; n_images -1 is no count; status_new 42 shown
                    # as "42"; display_name null: the name known before is kept.
                    assert (state.progress, state.n_images, state.status) == (42.0, None, "42")
                    assert state.name and state.name.startswith("vl-")
                for state in watch.rows("cognee"):
                    assert state.status and state.pipelines == {}  # shown as it came

            if not row.failing:
                move_the_truth(watch)
                if row.reads_through:
                    await watch.until(
                        "the new truth, through odd but readable answers",
                        lambda: all(
                            shows(s, truth(b, after=True)) for b, s in watch.all_rows(BACKENDS)
                        ),
                    )

            cleared = time.monotonic()
            await stage.clear()
            if row.parked is Health.UNAUTHORIZED:
                watch.poller.refresh()  # "credentials fixed": the user presses R
            await watch.until(
                "the new truth after the fault",
                lambda: all(
                    shows(s, truth(b, after=True)) and not s.stale and s.failure is None
                    for b, s in watch.all_rows(BACKENDS)
                ),
            )
            if row.vl.stale:
                assert_no_flicker(watch, cleared)
            for backend in BACKENDS:
                health = watch.poller.health()[backend]
                assert (health.health, health.paused_for) == (Health.OK, None), health
        finally:
            if tracemalloc.is_tracing():
                tracemalloc.stop()  # a failed case must not slow down every later one
            await watch.stop()


async def check_unauthorized(watch: Watch, since: float) -> None:
    """Renewed once per poll (a fresh JWT, a new login), then the backend waits."""
    # A poll is recorded when it ends: count once none is in flight, so a request
    # already sent is never counted without its poll.
    await watch.until(
        "no poll in flight",
        lambda: not any(s.in_flight for s in watch.poller.schedulers.values()),
    )
    now = time.monotonic()
    for backend in BACKENDS:
        for dataset_id in watch.ids(backend):
            # The poll that met the 401, maybe one already in flight; then nothing.
            assert len(watch.polls_of(backend, dataset_id, since, now)) <= 2
        health = watch.poller.health()[backend]
        assert health.credential_hint and "$" in health.credential_hint  # names, not values
    # Polls that were running at any time since the fault: one that started just
    # before it may send its request after it.
    vl_polls = sum(1 for p in watch.polls if p.backend == "vl" and p.ended >= since)
    assert watch.requests_to("vl", "/api/v1/dataset/", since) <= 2 * vl_polls
    cg_polls = sum(1 for p in watch.polls if p.backend == "cognee" and p.ended >= since)
    assert watch.requests_to("cognee", "/auth/login", since) <= cg_polls
    # refresh() lifts the wait at once: one more try each, still refused.
    before = len(watch.polls)
    watch.poller.refresh()
    await watch.until(
        "a poll of every dataset after refresh()",
        lambda: all(
            any(i in p.ids for p in watch.polls[before:]) for b in BACKENDS for i in watch.ids(b)
        ),
        timeout=5.0,  # without refresh() the next probe is 9.5 s or more away
    )
    await watch.until(
        "unauthorized again", lambda: in_fault_state(watch, ROWS_BY_NAME["401-token-expired"])
    )


def assert_no_flicker(watch: Watch, since: float) -> None:
    """The first answer after the fault shows the whole truth at once: a stale row
    that was being created asks for its creation status again right away."""
    for dataset_id in watch.vl_ids:
        fresh = [
            s
            for p in watch.polls
            if p.backend == "vl" and p.ended >= since
            for s in p.states
            if s.id == dataset_id and s.state not in (State.UNREACHABLE, State.UNAUTHORIZED)
        ]
        assert fresh and shows(fresh[0], VL_AFTER), fresh[:1]


def check_redirect_not_followed(stage: Stage) -> None:
    assert stage.recorder is not None
    # Never followed, so the other host saw no request at all, let alone credentials.
    assert stage.recorder.requests == []
    assert stage.sim.stats["vl"].by_status[307] > 0
    assert stage.sim.stats["cognee"].by_status[307] > 0


ROWS_BY_NAME = {r.name: r for r in ROWS}


# ---------------------------------------------------------------- a side request failing


async def test_a_failed_creation_status_keeps_the_last_one_known() -> None:
    """Visual Layer asks creation-status beside the dataset while it is being created:
    that side request failing must not drop the creation status from the row."""
    sim = new_sim()
    broken = {"on": False}

    def creation_fails(scope: Any, headers: dict[str, str]) -> tuple[int, bytes] | None:
        if broken["on"] and scope["path"].endswith("/creation-status"):
            return 500, b'{"detail": "Internal Server Error"}'
        return None

    app = HeaderLog(sim.app, intercept=creation_fails)
    server = AppServer(app)
    await asyncio.to_thread(server.start)
    watch = new_watch(sim, server.url)
    await watch.start()
    try:
        await watch.until("the truth", lambda: all(shows(s, VL_BEFORE) for s in watch.rows("vl")))
        broken["on"] = True
        sim.set_vl_status(watch.vl_ids[0], "INDEXING", progress=77)
        since = time.monotonic()
        await watch.until(
            "new progress read while creation-status fails",
            lambda: (
                watch.rows("vl")[0].progress == 77.0
                and watch.requests_to("vl", "/creation-status", since) >= 4
            ),
        )
        for state in watch.rows("vl"):
            assert not state.stale and state.failure is None
            assert state.pipelines == {"creation": "INDEXING"}
    finally:
        await watch.stop()
        await asyncio.to_thread(server.stop)
