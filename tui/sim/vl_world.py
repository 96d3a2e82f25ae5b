"""Visual Layer datasets: lifecycles computed from time, and their JSON documents.

A dataset's whole future is drawn once from the seed when it is created
(phase durations, whether it fails, when media gets added); its status at any
instant is then plain arithmetic on "now". Flows follow the docs:
new dataset DRAFT -> INDEXING -> READY (or ERROR), and add media
READY -> READ ONLY -> PARTIAL INDEX -> INDEXING -> READY, repeating, with
some datasets staying PARTIAL INDEX for good.

One module at a little over 400 lines: the lifecycle arithmetic and the JSON
documents built from it change together whenever a VL flow does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .world import SimClock, derived_uuid, iso_naive, random_uuid, unit_hash

DRAFT, INDEXING, READ_ONLY, PARTIAL_INDEX, READY, ERROR = (
    "DRAFT",
    "INDEXING",
    "READ ONLY",
    "PARTIAL INDEX",
    "READY",
    "ERROR",
)
VL_STATUSES = (DRAFT, INDEXING, READ_ONLY, PARTIAL_INDEX, READY, ERROR)
# What the knob `unknown_status_rate` shows: a value no client knows yet.
UNKNOWN_FUTURE_STATUS = "ARCHIVING"

# The retiring `status` field speaks an older vocabulary; this is our best
# mapping of the documented new values onto the documented legacy ones.
LEGACY_OF = {
    DRAFT: "NEW",
    INDEXING: "INDEXING",
    READ_ONLY: "UPDATING",
    PARTIAL_INDEX: "READY",
    READY: "READY",
    ERROR: "FATAL_ERROR",
}

FATAL_ERRORS = (
    "Failed to read from bucket s3://acme-raw/images/: Access Denied (403)",
    "No valid media found: all 37 files were rejected (unsupported format)",
    "Indexing failed: out of memory while computing embeddings",
    "Archive 'batch_03.zip' is corrupted and could not be extracted",
    "Dataset creation timed out after 3600 seconds",
)
DATASET_WORDS = (
    "retail", "shelf", "drone", "xray", "street", "faces", "defects", "parts",
    "traffic", "wildlife", "fashion", "docs", "receipts", "satellite", "kitchen",
)  # fmt: skip

StatusStyle = Literal["space", "underscore", "mixed"]
StatusFields = Literal["both", "legacy", "future"]


@dataclass(slots=True)
class VlSnapshot:
    """What a dataset looks like at one instant."""

    status: str  # the documented status_new value, before any spelling knob
    progress: int
    legacy: str
    n_images: int
    fatal_error_msg: str | None
    since: float  # sim time the current phase began (for updated_at)


@dataclass(slots=True)
class VlLifecycle:
    """A dataset's planned future, relative to its creation at `start` (sim seconds)."""

    start: float
    draft_s: float
    index_s: float
    error_at: float | None  # fraction of INDEXING at which it fails; None: it succeeds
    error_msg: str
    n_images: int  # once the first upload is done
    media_first: float | None  # seconds after READY of the first add-media; None: never
    media_period: float
    read_only_s: float
    partial_s: float
    reindex_s: float
    stays_partial: bool  # the first add-media is never reindexed
    media_added: int  # images per add-media

    def snapshot(self, now: float) -> VlSnapshot:
        e = max(0.0, now - self.start)
        if e < self.draft_s:
            fraction = e / self.draft_s
            legacy = (
                "NEW" if fraction < 1 / 3 else "UPLOADING" if fraction < 2 / 3 else "PRE_PROCESSING"
            )
            return VlSnapshot(DRAFT, 0, legacy, int(self.n_images * fraction), None, self.start)
        indexing_start = self.start + self.draft_s
        e -= self.draft_s
        if self.error_at is not None and e >= self.error_at * self.index_s:
            failed_at = indexing_start + self.error_at * self.index_s
            progress = int(self.error_at * 100)
            return VlSnapshot(
                ERROR, progress, "FATAL_ERROR", self.n_images, self.error_msg, failed_at
            )
        if e < self.index_s:
            progress = int(100 * e / self.index_s)
            legacy = "SAVING" if progress >= 90 else INDEXING
            return VlSnapshot(INDEXING, progress, legacy, self.n_images, None, indexing_start)
        ready_at = indexing_start + self.index_s
        e -= self.index_s
        if self.media_first is None or e < self.media_first:
            return VlSnapshot(READY, 100, READY, self.n_images, None, ready_at)
        e -= self.media_first
        first_media = ready_at + self.media_first
        if self.stays_partial:
            if e < self.read_only_s:
                progress = int(100 * e / self.read_only_s)
                return VlSnapshot(READ_ONLY, progress, "UPDATING", self.n_images, None, first_media)
            images = self.n_images + self.media_added
            return VlSnapshot(
                PARTIAL_INDEX, 100, READY, images, None, first_media + self.read_only_s
            )
        cycle = int(e // self.media_period)
        cycle_start = first_media + cycle * self.media_period
        c = e - cycle * self.media_period
        images = self.n_images + self.media_added * cycle
        if c < self.read_only_s:
            progress = int(100 * c / self.read_only_s)
            return VlSnapshot(READ_ONLY, progress, "UPDATING", images, None, cycle_start)
        images += self.media_added
        c -= self.read_only_s
        if c < self.partial_s:
            since = cycle_start + self.read_only_s
            return VlSnapshot(PARTIAL_INDEX, 100, READY, images, None, since)
        c -= self.partial_s
        reindex_start = cycle_start + self.read_only_s + self.partial_s
        if c < self.reindex_s:
            progress = int(100 * c / self.reindex_s)
            return VlSnapshot(INDEXING, progress, INDEXING, images, None, reindex_start)
        return VlSnapshot(READY, 100, READY, images, None, reindex_start + self.reindex_s)

    def task_windows(self, now: float, limit: int) -> list[TaskWindow]:
        """The tasks this lifecycle has started by `now`, newest first, at most `limit`."""
        windows: list[TaskWindow] = []
        indexing_start = self.start + self.draft_s
        ready_at = indexing_start + self.index_s
        if self.error_at is None and self.media_first is not None:
            first_media = ready_at + self.media_first
            if self.stays_partial:
                cycles = 1 if now >= first_media else 0
            else:
                cycles = max(0, math.floor((now - first_media) / self.media_period) + 1)
            for k in range(cycles - 1, -1, -1):
                cycle_start = first_media + k * self.media_period
                reindex_start = cycle_start + self.read_only_s + self.partial_s
                if not self.stays_partial and reindex_start <= now:
                    windows.append(
                        TaskWindow("REINDEX", k, reindex_start, reindex_start + self.reindex_s)
                    )
                windows.append(
                    TaskWindow("ADD_MEDIA", k, cycle_start, cycle_start + self.read_only_s)
                )
                if len(windows) >= limit:
                    return windows[:limit]
        if indexing_start <= now:
            if self.error_at is None:
                windows.append(TaskWindow("INDEXING", 0, indexing_start, ready_at))
            else:
                failed_at = indexing_start + self.error_at * self.index_s
                progress = int(self.error_at * 100)
                windows.append(
                    TaskWindow("INDEXING", 0, indexing_start, failed_at, self.error_msg, progress)
                )
        windows.append(TaskWindow("UPLOAD", 0, self.start, indexing_start))
        return windows[:limit]


@dataclass(slots=True)
class TaskWindow:
    """One task of a dataset: when it ran and whether it failed."""

    task_type: str
    cycle: int
    start: float
    end: float
    error: str | None = None
    failed_progress: int = 0

    def as_json(
        self, dataset_id: str, now: float, wall: Callable[[float], float]
    ) -> dict[str, Any]:
        running = now < self.end
        if running:
            span = self.end - self.start
            progress = int(100 * (now - self.start) / span) if span > 0 else 0
            status = "INITIALIZING" if now - self.start < 1.0 else "RUNNING"
        elif self.error is not None:
            status, progress = "FAILED", self.failed_progress
        else:
            status, progress = "COMPLETED", 100
        return {
            "id": derived_uuid(dataset_id, f"task:{self.task_type}:{self.cycle}"),
            "dataset_id": dataset_id,
            "task_type": self.task_type,
            "status": status,
            "progress_percentage": progress,
            "error_message": self.error if status == "FAILED" else None,
            "start_time": iso_naive(wall(self.start)),
            "end_time": None if running else iso_naive(wall(self.end)),
        }


@dataclass(slots=True)
class VlPin:
    """A status fixed by a test: it never moves until changed again."""

    status: str
    progress: float | None = None


@dataclass(slots=True)
class VlDataset:
    id: str
    name: str
    created_wall: float
    created_by: str
    source_type: str
    n_videos: int
    n_objects: int
    lifecycle: VlLifecycle | None
    pin: VlPin | None = None
    # Fields a test set explicitly; they win over everything computed.
    overrides: dict[str, Any] = field(default_factory=dict)


class VlWorld:
    """Every Visual Layer dataset the simulator knows, and the knobs on how they read."""

    def __init__(self, clock: SimClock, rng: random.Random) -> None:
        self.clock = clock
        self.rng = rng
        self.datasets: dict[str, VlDataset] = {}
        # Spelling knobs: the docs warn that READ_ONLY/PARTIAL_INDEX and
        # unknown future values appear in the wild.
        self.status_style: StatusStyle = "space"
        self.unknown_status_rate = 0.0
        # "both": status_new + legacy status (today); "legacy": only `status`
        # with legacy values (older servers); "future": status_new renamed to
        # `status` (announced).
        self.status_fields: StatusFields = "both"
        # Benchmarks: every dataset changes each second, INDEXING/READY (churn_settles)
        # or INDEXING with a new progress (always busy).
        self.churn = False
        self.churn_settles = True

    # -- creation -----------------------------------------------------------

    def random_lifecycle(self, start: float) -> VlLifecycle:
        rng = self.rng
        media = rng.random() < 0.45
        read_only_s, partial_s, reindex_s = (
            rng.uniform(6, 18),
            rng.uniform(6, 25),
            rng.uniform(8, 30),
        )
        return VlLifecycle(
            start=start,
            draft_s=rng.uniform(4, 15),
            index_s=rng.uniform(12, 60),
            error_at=rng.uniform(0.1, 0.9) if rng.random() < 0.15 else None,
            error_msg=rng.choice(FATAL_ERRORS),
            n_images=int(10 ** rng.uniform(1, 4.5)),
            media_first=rng.uniform(10, 90) if media else None,
            media_period=read_only_s + partial_s + reindex_s + rng.uniform(30, 150),
            read_only_s=read_only_s,
            partial_s=partial_s,
            reindex_s=reindex_s,
            stays_partial=rng.random() < 0.2,
            media_added=rng.randint(5, 500),
        )

    def add(
        self,
        *,
        name: str | None = None,
        lifecycle: VlLifecycle | None = None,
        pin: VlPin | None = None,
        created_wall: float | None = None,
    ) -> VlDataset:
        rng = self.rng
        # Visual Layer IDs are time-based (version 1) UUIDs.
        dataset_id = random_uuid(rng, version=1)
        number = len(self.datasets) + 1
        dataset = VlDataset(
            id=dataset_id,
            name=name or f"{rng.choice(DATASET_WORDS)}-{rng.choice(DATASET_WORDS)}-{number}",
            created_wall=created_wall if created_wall is not None else self.clock.wall(),
            created_by=random_uuid(rng),
            source_type=rng.choice(("BUCKET", "UPLOAD", "BUCKET", "DATASET")),
            n_videos=rng.randint(1, 50) if rng.random() < 0.2 else 0,
            n_objects=rng.randint(0, 5000),
            lifecycle=lifecycle,
            pin=pin,
        )
        self.datasets[dataset_id] = dataset
        return dataset

    # -- reading ------------------------------------------------------------

    def snapshot(self, dataset: VlDataset, now: float) -> VlSnapshot:
        if self.churn:
            phase = unit_hash(dataset.id, "churn")
            if not self.churn_settles or (math.floor(now) + (phase < 0.5)) % 2 == 0:
                progress = int((now * 7 + phase * 100) % 100)
                return VlSnapshot(INDEXING, progress, INDEXING, 100, None, math.floor(now))
            return VlSnapshot(READY, 100, READY, 100, None, math.floor(now))
        pin = dataset.pin
        if pin is not None:
            base = dataset.lifecycle.snapshot(now) if dataset.lifecycle else None
            status = pin.status
            default_progress = 100 if status in (READY, PARTIAL_INDEX) else 0
            progress = pin.progress if pin.progress is not None else default_progress
            fatal = dataset.overrides.get("fatal_error_msg")
            if fatal is None and status == ERROR:
                fatal = FATAL_ERRORS[0]
            return VlSnapshot(
                status=status,
                progress=int(progress),
                legacy=LEGACY_OF.get(status, status),
                n_images=base.n_images if base else int(unit_hash(dataset.id, "images") * 5000),
                fatal_error_msg=fatal,
                since=0.0,
            )
        if dataset.lifecycle is None:
            return VlSnapshot(READY, 100, READY, 0, None, 0.0)
        return dataset.lifecycle.snapshot(now)

    def spell(self, dataset_id: str, status: str) -> str:
        """Apply the spelling knobs to a documented status value."""
        if self.unknown_status_rate and unit_hash(dataset_id, "unknown") < self.unknown_status_rate:
            return UNKNOWN_FUTURE_STATUS
        if self.status_style == "underscore":
            return status.replace(" ", "_")
        if self.status_style == "mixed":
            pick = unit_hash(dataset_id, "style")
            if pick < 1 / 3:
                return status.replace(" ", "_")
            if pick < 2 / 3:
                return status.lower()
        return status

    def document(self, dataset: VlDataset) -> dict[str, Any]:
        """The body of GET /api/v1/dataset/{id}."""
        now = self.clock.now()
        snap = self.snapshot(dataset, now)
        status_new = self.spell(dataset.id, snap.status)
        doc: dict[str, Any] = {
            "id": dataset.id,
            "display_name": dataset.name,
            "description": "",
            "source_type": dataset.source_type,
            "owned_by": "VL",
            "created_at": iso_naive(dataset.created_wall),
            "created_by": dataset.created_by,
            "updated_at": iso_naive(max(dataset.created_wall, self.clock.wall(snap.since))),
        }
        if self.status_fields == "both":
            doc["status_new"] = status_new
            doc["status"] = snap.legacy
        elif self.status_fields == "legacy":
            doc["status"] = snap.legacy
        else:
            doc["status"] = status_new
        doc.update(
            progress=snap.progress,
            n_images=snap.n_images,
            n_videos=dataset.n_videos,
            n_objects=dataset.n_objects,
            fatal_error_msg=snap.fatal_error_msg,
            source_dataset_id=None,
            preview_uri=f"https://cdn.visual-layer.com/previews/{dataset.id}.jpg",
            source_uri=f"s3://acme-datasets/{dataset.name}/",
            filename=None,
            sample=False,
        )
        doc.update(dataset.overrides)
        return doc

    def creation_status(self, dataset: VlDataset) -> dict[str, Any]:
        snap = self.snapshot(dataset, self.clock.now())
        return {"status": self.spell(dataset.id, snap.status), "progress": snap.progress}

    def tasks(self, dataset: VlDataset, limit: int = 500) -> list[dict[str, Any]]:
        """The dataset's tasks, newest first."""
        now = self.clock.now()
        wall = self.clock.wall
        if dataset.pin is not None or dataset.lifecycle is None:
            snap = self.snapshot(dataset, now)
            status = {READY: "COMPLETED", ERROR: "FAILED", PARTIAL_INDEX: "COMPLETED"}.get(
                snap.status, "RUNNING"
            )
            return [
                {
                    "id": derived_uuid(dataset.id, "task:pinned"),
                    "dataset_id": dataset.id,
                    "task_type": "DATASET_CREATION",
                    "status": status,
                    "progress_percentage": snap.progress,
                    "error_message": snap.fatal_error_msg if status == "FAILED" else None,
                    "start_time": iso_naive(dataset.created_wall),
                    "end_time": None if status == "RUNNING" else iso_naive(wall(now)),
                }
            ]
        windows = dataset.lifecycle.task_windows(now, limit)
        return [window.as_json(dataset.id, now, wall) for window in windows]
