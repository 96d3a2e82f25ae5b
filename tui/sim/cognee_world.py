"""Cognee datasets: pipeline runs computed from time, and their JSON shapes.

As on a real server, a dataset's status per pipeline is the status of its
latest run of that pipeline; no run means no status. Lifecycles: add_pipeline
STARTED -> COMPLETED, then cognify_pipeline STARTED -> COMPLETED or ERRORED;
some datasets never ran anything, some are stuck on an old INITIATED row, and
some re-run cognify periodically so a demo stays lively. Shapes and details
follow a real 1.6.5 server (docs/cognee-real-server.md): naive timestamps,
two activity rows per run, a cognify that fails with InternalServerError, an
empty dataset's cognify completing at once.

One module at about 450 lines: the run schedule and the JSON shapes are read
together (each shape is a view of the same runs), so apart they would be two
halves of one rule.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from .world import SimClock, derived_uuid, iso_naive, iso_z, random_uuid, unit_hash

INITIATED = "DATASET_PROCESSING_INITIATED"
STARTED = "DATASET_PROCESSING_STARTED"
COMPLETED = "DATASET_PROCESSING_COMPLETED"
ERRORED = "DATASET_PROCESSING_ERRORED"
SERVER_STATUSES = (INITIATED, STARTED, COMPLETED, ERRORED)
# The docs page speaks another vocabulary than the server; the knob
# `vocabulary="docs"` answers in it.
DOCS_VOCABULARY = {
    INITIATED: "pending",
    STARTED: "running",
    COMPLETED: "completed",
    ERRORED: "failed",
}
Vocabulary = Literal["server", "docs"]

ADD_PIPELINE, COGNIFY_PIPELINE, CODE_GRAPH_PIPELINE = (
    "add_pipeline",
    "cognify_pipeline",
    "code_graph_pipeline",
)
DEFAULT_PIPELINE = COGNIFY_PIPELINE
STAGES = {
    ADD_PIPELINE: ("resolve_data_directories", "ingest_data"),
    COGNIFY_PIPELINE: (
        "classify_documents",
        "extract_chunks_from_documents",
        "extract_graph_from_data",
        "summarize_text",
        "add_data_points",
    ),
    CODE_GRAPH_PIPELINE: ("get_repo_file_dependencies", "add_data_points"),
}
# The error_class a real 1.6.5 server records when a POST /cognify run fails (no LLM).
COGNIFY_ERROR_CLASS = "InternalServerError"
# A background POST /add stays STARTED about this long (s).
BACKGROUND_ADD_SECONDS = 0.3
ERROR_CLASSES = (
    "LLMAPIKeyNotSetError",
    "RateLimitError",
    "InvalidValueError",
    "EmbeddingException",
    "APIConnectionError",
)
NAME_WORDS = (
    "research_papers", "support_tickets", "contracts", "meeting_notes", "wiki",
    "changelogs", "emails", "manuals", "code_docs", "news", "invoices", "faq",
)  # fmt: skip


@dataclass(slots=True)
class Run:
    """One pipeline run: STARTED for `duration` seconds, then its outcome."""

    pipeline: str
    start: float  # sim seconds
    duration: float
    run_id: str
    error_class: str | None = None
    initiated: bool = False  # an old row that never left INITIATED
    fixed_status: str | None = None  # a pinned status, shown as is

    def status_at(self, now: float) -> str:
        if self.fixed_status is not None:
            return self.fixed_status
        if self.initiated:
            return INITIATED
        if now < self.start + self.duration:
            return STARTED
        return ERRORED if self.error_class else COMPLETED

    def fraction_done(self, now: float) -> float:
        if self.duration <= 0:
            return 1.0
        return min(1.0, max(0.0, (now - self.start) / self.duration))


@dataclass(slots=True)
class Rerun:
    """Cognify again every `period` seconds from `origin` (keeps a demo lively)."""

    origin: float
    period: float
    duration: float
    error_rate: float


@dataclass(slots=True)
class CogneeDataset:
    id: str
    name: str
    created_wall: float
    updated_wall: float | None
    owner_id: str
    data_count: int
    runs: list[Run] = field(default_factory=list)
    rerun: Rerun | None = None
    pins: dict[str, str | None] = field(default_factory=dict)  # None: pinned to "no runs"
    foreign: bool = False  # exists but belongs to someone else: 403 like an unknown ID

    def latest_run(self, pipeline: str, now: float) -> Run | None:
        best: Run | None = None
        for run in self.runs:
            if (
                run.pipeline == pipeline
                and run.start <= now
                and (best is None or run.start >= best.start)
            ):
                best = run
        rerun = self.rerun
        if rerun is not None and pipeline == COGNIFY_PIPELINE and now >= rerun.origin:
            cycle = math.floor((now - rerun.origin) / rerun.period)
            start = rerun.origin + cycle * rerun.period
            if best is None or start > best.start:
                best = self._rerun(cycle)
        return best

    def _rerun(self, cycle: int) -> Run:
        assert self.rerun is not None
        rerun = self.rerun
        failed = unit_hash(self.id, "rerun", cycle) < rerun.error_rate
        return Run(
            pipeline=COGNIFY_PIPELINE,
            start=rerun.origin + cycle * rerun.period,
            duration=rerun.duration,
            run_id=derived_uuid(self.id, f"rerun:{cycle}"),
            error_class=ERROR_CLASSES[cycle % len(ERROR_CLASSES)] if failed else None,
        )

    def history(self, now: float, limit: int) -> list[Run]:
        """Runs started by `now`, newest first, at most `limit` (pins not included)."""
        runs = [run for run in self.runs if run.start <= now]
        rerun = self.rerun
        if rerun is not None and now >= rerun.origin:
            last = math.floor((now - rerun.origin) / rerun.period)
            runs.extend(self._rerun(cycle) for cycle in range(last, max(-1, last - limit), -1))
        # Newest first; of runs started in the same instant, the one created last.
        order = {id(run): index for index, run in enumerate(runs)}
        runs.sort(key=lambda run: (run.start, order[id(run)]), reverse=True)
        return runs[:limit]


class CogneeWorld:
    """Every Cognee dataset the simulator knows, owned by the one simulated user."""

    def __init__(self, clock: SimClock, rng: random.Random, owner_email: str) -> None:
        self.clock = clock
        self.rng = rng
        self.datasets: dict[str, CogneeDataset] = {}
        self.owner_id = random_uuid(rng)
        self.owner_email = owner_email
        self.vocabulary: Vocabulary = "server"
        # Benchmarks: every dataset's every pipeline flips each second, STARTED/COMPLETED
        # (churn_settles: a reader may see it done) or STARTED/INITIATED (always busy).
        self.churn = False
        self.churn_settles = True
        # Runs started by POST /cognify with runInBackground: how long, how often they fail.
        self.cognify_seconds = 20.0
        self.cognify_error_rate = 0.25

    # -- creation -----------------------------------------------------------

    def add(
        self,
        *,
        name: str | None = None,
        start: float | None = None,
        foreign: bool = False,
        dataset_id: str | None = None,
    ) -> CogneeDataset:
        rng = self.rng
        dataset_id = dataset_id or random_uuid(rng)
        start = self.clock.now() if start is None else start
        created = self.clock.wall(start)
        dataset = CogneeDataset(
            id=dataset_id,
            name=name or f"{rng.choice(NAME_WORDS)}_{len(self.datasets) + 1}",
            created_wall=created,
            # Real rows: updatedAt is null until the dataset is first modified.
            updated_wall=None if rng.random() < 0.3 else created + rng.uniform(0, 5),
            owner_id=random_uuid(rng) if foreign else self.owner_id,
            data_count=0,
            foreign=foreign,
        )
        self.datasets[dataset_id] = dataset
        return dataset

    def add_random(self, *, start: float) -> CogneeDataset:
        """A dataset with a seeded lifecycle starting at `start` (sim seconds)."""
        rng = self.rng
        dataset = self.add(start=start)
        kind = rng.random()
        if kind < 0.12:  # created, nothing ever run: statuses are omitted
            return dataset
        dataset.data_count = rng.randint(1, 40)
        add_start = start + rng.uniform(0, 4)
        add_duration = rng.uniform(1, 6)
        dataset.runs.append(self._run(dataset, ADD_PIPELINE, add_start, add_duration))
        if kind < 0.22:  # added, never cognified
            return dataset
        cognify_start = add_start + add_duration + rng.uniform(1, 8)
        if kind < 0.30:  # an old row from a server that stopped at INITIATED
            run = self._run(dataset, COGNIFY_PIPELINE, cognify_start, 0.0)
            run.initiated = True
            dataset.runs.append(run)
            return dataset
        cognify_duration = rng.uniform(10, 60)
        error_class = rng.choice(ERROR_CLASSES) if rng.random() < 0.25 else None
        dataset.runs.append(
            self._run(dataset, COGNIFY_PIPELINE, cognify_start, cognify_duration, error_class)
        )
        if rng.random() < 0.4:
            dataset.rerun = Rerun(
                origin=cognify_start + cognify_duration + rng.uniform(20, 90),
                period=rng.uniform(60, 180),
                duration=rng.uniform(10, 40),
                error_rate=0.2,
            )
        return dataset

    def add_planned(
        self,
        *,
        name: str | None = None,
        add_at: float,
        add_seconds: float,
        cognify_at: float | None = None,
        cognify_seconds: float = 0.0,
        error_class: str | None = None,
        data_count: int = 10,
    ) -> CogneeDataset:
        """A dataset with an explicit plan (sim seconds): for demos and tests."""
        dataset = self.add(name=name, start=add_at)
        dataset.data_count = data_count
        dataset.runs.append(self._run(dataset, ADD_PIPELINE, add_at, add_seconds))
        if cognify_at is not None:
            run = self._run(dataset, COGNIFY_PIPELINE, cognify_at, cognify_seconds, error_class)
            dataset.runs.append(run)
        return dataset

    def _run(
        self,
        dataset: CogneeDataset,
        pipeline: str,
        start: float,
        duration: float,
        error_class: str | None = None,
    ) -> Run:
        run_id = derived_uuid(dataset.id, f"run:{pipeline}:{len(dataset.runs)}")
        return Run(pipeline, start, duration, run_id, error_class)

    def start_run(
        self, dataset: CogneeDataset, pipeline: str, duration: float, error_class: str | None = None
    ) -> Run:
        """A run starting now (POST add / cognify)."""
        run = self._run(dataset, pipeline, self.clock.now(), duration, error_class)
        dataset.runs.append(run)
        dataset.pins.pop(pipeline, None)
        # A run does not touch the dataset row: updatedAt stays as it was (a real /add
        # or /cognify leaves it null).
        return run

    def add_named(self, name: str) -> CogneeDataset:
        """A dataset created through the API (POST /datasets, /add): its id derived from
        the name, updatedAt null."""
        dataset = self.add(name=name, dataset_id=self.named_id(name))
        dataset.updated_wall = None
        return dataset

    def named_id(self, name: str) -> str:
        """The id a real server gives a dataset created by name: UUIDv5 of name + owner
        (+ tenant, None here), so a name always maps to the same id for a user."""
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{name}{self.owner_id}None"))

    def start_cognify(self, dataset: CogneeDataset, *, background: bool) -> Run:
        """POST /cognify: a run of cognify_seconds (instant when blocking), failing at
        cognify_error_rate (decided per dataset and run, so reproducible) with the
        InternalServerError a real server records. An empty dataset completes at once."""
        if dataset.data_count == 0:
            return self.start_run(dataset, COGNIFY_PIPELINE, 0.0)
        attempt = len(dataset.runs)
        failing = unit_hash(dataset.id, attempt) < self.cognify_error_rate
        error_class = COGNIFY_ERROR_CLASS if failing else None
        duration = self.cognify_seconds if background else 0.0
        return self.start_run(dataset, COGNIFY_PIPELINE, duration, error_class)

    # -- reading ------------------------------------------------------------

    def readable(self, dataset_id: str) -> CogneeDataset | None:
        dataset = self.datasets.get(dataset_id)
        return None if dataset is None or dataset.foreign else dataset

    def raw_status(self, dataset: CogneeDataset, pipeline: str, now: float) -> str | None:
        """The server-vocabulary status of the latest run, None when there is none."""
        if self.churn:
            flip = unit_hash(dataset.id, "churn") < 0.5
            if (math.floor(now) + flip) % 2 == 0:
                return STARTED
            return COMPLETED if self.churn_settles else INITIATED
        if pipeline in dataset.pins:
            return dataset.pins[pipeline]
        run = dataset.latest_run(pipeline, now)
        return None if run is None else run.status_at(now)

    def spoken(self, status: str) -> str:
        if self.vocabulary == "docs":
            return DOCS_VOCABULARY.get(status, status)
        return status

    def status(self, dataset: CogneeDataset, pipeline: str, now: float) -> str | None:
        raw = self.raw_status(dataset, pipeline, now)
        return None if raw is None else self.spoken(raw)

    def progress(self, dataset: CogneeDataset, pipeline: str, now: float) -> dict[str, Any] | None:
        """The `progress` member of /status/progress: only while a run is going.

        A real 1.6.5 server always answers null (docs/cognee-real-server.md);
        the object the docs page describes comes with the docs vocabulary.
        """
        if self.vocabulary != "docs" or self.raw_status(dataset, pipeline, now) != STARTED:
            return None
        run = None if self.churn or pipeline in dataset.pins else dataset.latest_run(pipeline, now)
        fraction = run.fraction_done(now) if run else 0.5
        stages = STAGES.get(pipeline, ("run_tasks",))
        total = max(1, dataset.data_count)
        return {
            "completed_items": min(total - 1, int(total * fraction)),
            "total_items": total,
            "current_stage": stages[min(len(stages) - 1, int(fraction * len(stages)))],
        }

    def completed_items(self, dataset: CogneeDataset, pipeline: str, now: float) -> int:
        """Items stamped done for the pipeline: all after COMPLETED, some while STARTED,
        none after ERRORED (a real errored cognify leaves every item pending)."""
        raw = self.raw_status(dataset, pipeline, now)
        if raw == COMPLETED:
            return dataset.data_count
        if raw == STARTED:
            run = dataset.latest_run(pipeline, now)
            fraction = run.fraction_done(now) if run else 0.5
            return min(dataset.data_count, int(dataset.data_count * fraction))
        return 0

    def listing(self, dataset: CogneeDataset, *, just_created: bool = False) -> dict[str, Any]:
        """One entry of GET /api/v1/datasets (camelCase, as the real DTO).

        Timestamps are naive UTC (no Z), except createdAt in the answer of the
        POST /datasets that created the dataset: that one has the Z.
        """
        return {
            "id": dataset.id,
            "name": dataset.name,
            "createdAt": (iso_z if just_created else iso_naive)(dataset.created_wall),
            "updatedAt": None if dataset.updated_wall is None else iso_naive(dataset.updated_wall),
            "ownerId": dataset.owner_id,
        }

    def run_records(self, dataset: CogneeDataset, run: Run, now: float) -> list[dict[str, Any]]:
        """The rows of GET /api/v1/activity/pipeline-runs one run wrote, newest first.

        As on a real server: a STARTED row when the run began and, once it ended, a
        terminal row sharing its pipeline_run_id and started_at. Naive timestamps.
        """
        status = run.status_at(now)
        start_wall = self.clock.wall(run.start)
        if status in (STARTED, INITIATED):  # not ended: its first row is all there is
            return [self._row(dataset, run, status, "start", start_wall, None)]
        end_wall = self.clock.wall(run.start + run.duration)
        return [
            self._row(dataset, run, status, "end", start_wall, end_wall),
            self._row(dataset, run, STARTED, "start", start_wall, None),
        ]

    def _row(
        self,
        dataset: CogneeDataset,
        run: Run,
        status: str,
        tag: str,
        start_wall: float,
        end_wall: float | None,
    ) -> dict[str, Any]:
        outcome = {COMPLETED: "succeeded", ERRORED: "failed"}.get(status)
        if outcome is None and status not in (STARTED, INITIATED):
            outcome = "noop"  # a pinned status the server vocabulary does not have
        tokens = None if end_wall is None else 0
        return {
            "id": derived_uuid(run.run_id, f"row:{tag}"),
            "kind": "pipeline",
            "pipeline_name": run.pipeline,
            "status": status,
            "dataset_id": dataset.id,
            "dataset_name": dataset.name,
            "owner_id": dataset.owner_id,
            "owner_email": self.owner_email,
            "created_at": iso_naive(start_wall if end_wall is None else end_wall),
            "pipeline_run_id": run.run_id,
            "operation_name": run.pipeline,
            "origin": "api",
            "outcome": outcome,
            "background": None,
            "error_class": run.error_class if end_wall is not None else None,
            "tokens_in": tokens,
            "tokens_out": tokens,
            "embedding_tokens": tokens,
            "started_at": iso_naive(start_wall),
            "ended_at": None if end_wall is None else iso_naive(end_wall),
            "user_id": dataset.owner_id,
            "session_id": None,
            "parent_operation_id": None,
        }

    def runs_of(self, dataset: CogneeDataset, now: float, limit: int) -> list[Run]:
        """History including pinned statuses (as a synthetic latest run)."""
        runs = dataset.history(now, limit)
        for pipeline, status in dataset.pins.items():
            if status is None:
                runs = [run for run in runs if run.pipeline != pipeline]
                continue
            error = ERROR_CLASSES[0] if status in (ERRORED, "failed") else None
            pinned = Run(pipeline, now, 0.0, derived_uuid(dataset.id, f"pin:{pipeline}"), error)
            pinned.fixed_status = status
            runs.insert(0, pinned)
        return runs[:limit]
