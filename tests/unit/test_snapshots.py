"""Snapshots of what the user sees: grid, details, add modal, empty and unauthorized states.

Fixed states and a pinned clock make every frame reproducible; update the
SVGs with `pytest tests/unit/test_snapshots.py --snapshot-update` after a
deliberate change, and look at them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tui.app import DswatchApp
from tui.backends.base import RemoteDataset
from tui.config import ConfigError
from tui.messages import DetailsFetched, RemoteListFetched
from tui.models import DatasetState, Failure, State
from tui.poller import BackendHealth, Health
from tui.screens.add import AddDatasetsScreen
from tui.screens.details import DetailsScreen
from tui.watch import PollBatch

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
SIZE = (160, 40)
ERROR = (
    "Archive 'batch_03.zip' is corrupted and could not be extracted: "
    "unexpected end of data at offset 1048576 (entry images/0007.jpg)"
)


def uid(n: int) -> str:
    return f"6f1c2a3b-0000-4000-8000-{n:012d}"


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def vl(
    n: int, name: str, state: State, status: str, progress: float | None, images: int, **extra: Any
) -> DatasetState:
    return DatasetState(
        backend="vl",
        id=uid(n),
        name=name,
        state=state,
        status=status,
        progress=progress,
        n_images=images,
        n_videos=0,
        n_objects=images * 3,
        raw={"id": uid(n), "display_name": name, "status_new": status, "progress": progress},
        **{"fetched_at": ago(3), "changed_at": ago(40), "polled_at": ago(3), **extra},
    )


def cognee(
    n: int, name: str, state: State, pipelines: dict[str, str], **extra: Any
) -> DatasetState:
    status = next(reversed(pipelines.values()), None)
    return DatasetState(
        backend="cognee",
        id=uid(100 + n),
        name=name,
        state=state,
        status=status,
        pipelines=pipelines,
        raw={uid(100 + n): pipelines},
        fetched_at=ago(2),
        changed_at=ago(90),
        polled_at=ago(2),
        **extra,
    )


DONE, STARTED, FAILED = (
    "DATASET_PROCESSING_COMPLETED",
    "DATASET_PROCESSING_STARTED",
    "DATASET_PROCESSING_ERRORED",
)
STATES = [
    vl(1, "street-scenes", State.READY, "READY", 100, 24_732),
    vl(
        2, "drone-footage", State.RUNNING, "INDEXING", 61, 3_344, pipelines={"creation": "INDEXING"}
    ),
    vl(3, "xray-shelf", State.ERROR, "ERROR", 72, 243, error=ERROR),
    vl(4, "retail-shelves", State.PARTIAL, "PARTIAL INDEX", 100, 6_315),
    vl(5, "kitchen-parts", State.PENDING, "DRAFT", 0, 19, pipelines={"creation": "UPLOADING"}),
    vl(6, "[bold red]x[/] \x1b[2Jliteral", State.READY, "READY", 100, 12),
    vl(
        7,
        "faces-night",
        State.UNREACHABLE,
        "INDEXING",
        35,
        880,
        stale=True,
        stale_since=ago(125),
        fetched_at=ago(130),  # its last good data: from before the outage
        changed_at=ago(400),
        error="HTTP 503 Service Unavailable",
        failure=Failure(kind="http", message="HTTP 503 Service Unavailable", http_status=503),
    ),
    cognee(1, "meeting-notes", State.READY, {"add_pipeline": DONE, "cognify_pipeline": DONE}),
    cognee(
        2, "support-tickets", State.RUNNING, {"add_pipeline": DONE, "cognify_pipeline": STARTED}
    ),
    cognee(
        3,
        "contracts",
        State.ERROR,
        {"add_pipeline": DONE, "cognify_pipeline": FAILED},
        error="cognify_pipeline errored",
    ),
    cognee(4, "empty-dataset", State.PENDING, {}),
    DatasetState(
        backend="cognee",
        id=uid(199),
        state=State.NOT_FOUND,
        error="no such dataset, or no access to it (HTTP 403)",
        fetched_at=ago(2),
        changed_at=ago(2),
        polled_at=ago(2),
    ),
]
HEALTHY = {
    "vl": BackendHealth("vl", Health.OK, last_poll=ago(2), last_ok=ago(2)),
    "cognee": BackendHealth("cognee", Health.OK, last_poll=ago(2), last_ok=ago(2)),
}


@pytest.fixture(autouse=True)
def utc_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def dashboard(path: Path | None = None, error: ConfigError | None = None) -> DswatchApp:
    return DswatchApp(None, config_path=path, config_error=error, clock=NOW.timestamp)


def fill(app: DswatchApp, states: list[DatasetState], health: dict[str, BackendHealth]) -> None:
    app.model.seed(states)
    app.model.apply(PollBatch(health=dict(health), everything=True))


def test_main_grid(snap_compare: Any) -> None:
    app = dashboard()

    async def show(pilot: Any) -> None:
        fill(app, STATES, HEALTHY)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=show)


def test_details_of_an_errored_dataset(snap_compare: Any) -> None:
    app = dashboard()
    key = ("vl", uid(3))
    tasks = {
        "tasks": [
            {
                "task_type": "INDEXING",
                "status": "FAILED",
                "progress_percentage": 72,
                "error_message": ERROR,
                "start_time": "2026-11-22T11:52:10",
                "end_time": "2026-11-22T11:58:40",
            },
        ]
    }

    async def open_details(pilot: Any) -> None:
        app.model.history.record(
            STATES[2].model_copy(
                update={"state": State.RUNNING, "status": "INDEXING", "polled_at": ago(400)}
            )
        )
        fill(app, STATES, HEALTHY)  # records the error after the run above
        app.model.last_failures[key] = Failure(
            kind="http",
            message="HTTP 502 Bad Gateway",
            http_status=502,
            body="<html>bad gateway</html>",
            at=ago(300),
        )
        await app.push_screen(DetailsScreen(app.model, key, app.watch_changed, clock=app.clock))
        app.screen.post_message(DetailsFetched(key, tasks))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_details)


def test_add_modal(snap_compare: Any) -> None:
    app = dashboard()
    remote = [
        RemoteDataset(uid(1), "street-scenes", "READY"),
        RemoteDataset(uid(8), "new-upload", "INDEXING"),
        RemoteDataset(uid(9), "archive-2025", "READY"),
    ]

    async def open_add(pilot: Any) -> None:
        fill(app, STATES, HEALTHY)
        watched = {"vl": {s.id for s in STATES if s.backend == "vl"}}
        await app.push_screen(AddDatasetsScreen(["vl", "cognee"], watched, "vl"))
        app.screen.post_message(RemoteListFetched("vl", remote))
        await pilot.pause()
        await pilot.press(*"not-an-id, ", *uid(8))

    assert snap_compare(app, terminal_size=SIZE, run_before=open_add)


def test_empty_state(snap_compare: Any) -> None:
    app = dashboard(path=Path("/home/user/.config/dswatch/config.toml"))
    assert snap_compare(app, terminal_size=SIZE)


def test_unauthorized_state(snap_compare: Any) -> None:
    failure = Failure(kind="http", message="HTTP 401 Unauthorized", http_status=401)
    locked = [
        s.model_copy(
            update={
                "state": State.UNAUTHORIZED,
                "stale": True,
                "stale_since": ago(30),
                "error": "HTTP 401 Unauthorized",
                "failure": failure,
            }
        )
        if s.backend == "cognee"
        else s
        for s in STATES
    ]
    health = dict(HEALTHY)
    health["cognee"] = BackendHealth(
        "cognee",
        Health.UNAUTHORIZED,
        message="HTTP 401 Unauthorized",
        last_poll=ago(2),
        credential_hint="check $COGNEE_API_KEY (R retries)",
        reason="refused credentials (HTTP 401)",
        since=ago(30),
        failure=failure,
    )
    app = dashboard()

    async def show(pilot: Any) -> None:
        fill(app, locked, health)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=show)


# Issue 15: the narrowest and a wide terminal. At 80x24 state, name and the
# STALE marker stay on screen and the Add dialog's buttons are reachable.
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((220, 60), id="220x60")]


@pytest.mark.parametrize("size", SIZES)
def test_main_grid_at(size: tuple[int, int], snap_compare: Any) -> None:
    app = dashboard()

    async def show(pilot: Any) -> None:
        fill(app, STATES, HEALTHY)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=show)


@pytest.mark.parametrize("size", SIZES)
def test_add_modal_at(size: tuple[int, int], snap_compare: Any) -> None:
    app = dashboard()

    async def open_add(pilot: Any) -> None:
        fill(app, STATES, HEALTHY)
        watched = {"vl": {s.id for s in STATES if s.backend == "vl"}}
        await app.push_screen(AddDatasetsScreen(["vl", "cognee"], watched, "vl"))
        app.screen.post_message(
            RemoteListFetched("vl", [RemoteDataset(uid(8), "new-upload", "INDEXING")])
        )
        await pilot.pause()
        await pilot.press(*f"https://app.visual-layer.com/dataset/{uid(8)}/data")

    assert snap_compare(app, terminal_size=size, run_before=open_add)


@pytest.mark.parametrize("size", SIZES)
def test_details_at(size: tuple[int, int], snap_compare: Any) -> None:
    """The details of a dataset whose backend is down: the cause, the same as the banner."""
    app = dashboard()
    key = ("vl", uid(7))  # faces-night: stale, HTTP 503
    failure = Failure(kind="http", message="HTTP 503 Service Unavailable", http_status=503)
    down = dict(HEALTHY)
    down["vl"] = BackendHealth(
        "vl",
        Health.UNREACHABLE,
        message=failure.message,
        last_poll=ago(2),
        reason="server error (HTTP 503)",
        since=ago(125),
        retry_at=ago(-4),
        last_ok=ago(125),
        failure=failure,
    )

    async def open_details(pilot: Any) -> None:
        fill(app, STATES, down)
        await app.push_screen(DetailsScreen(app.model, key, app.watch_changed, clock=app.clock))
        app.screen.post_message(DetailsFetched(key, {"tasks": []}))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_details)
