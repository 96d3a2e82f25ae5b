"""Model: the watch model's cost per dataset read, when most reads repeat the last answer.

    .venv/bin/python benchmarks/model.py [--runs 3] [--quick]

`WatchModel.apply` of poll batches of N Cognee readings (100 per batch, as
the backend answers; each built by the backend's own translation,
`cognee_status.dataset_state`), in-process, no network: once with every reading a
change (the e2e stress case), once with 80% of readings repeating the last
answer (what a dashboard sees: DESIGN.md). Baseline, same run: the same
batches through the model as it was at 16c9f1b: every reading merged (with
that commit's `merge`: `model_copy`), stored and published. CPU per reading,
median of --runs.
"""

from __future__ import annotations

import gc
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import Row, header_line, median, missed, parser, print_table, times

from tui.backends.cognee_status import dataset_state
from tui.engine import tune_gc
from tui.models import VISIBLE_FIELDS, DatasetState
from tui.watch import PollBatch, WatchModel

ADD, COGNIFY = "add_pipeline", "cognify_pipeline"
PIPELINES = (ADD, COGNIFY)
STATUSES = ("DATASET_PROCESSING_STARTED", "DATASET_PROCESSING_INITIATED")
BATCH = 100
SWEEPS = 10
T0 = datetime(2026, 11, 24, tzinfo=UTC)


class MergeEveryReading(WatchModel):
    """The baseline: every reading merged, stored and published, repeat or not,
    with the merge of commit 16c9f1b (`model_copy`, fields compared by getattr)."""

    def _merge(self, *args: Any) -> None:
        # (key, observed, at, update), or (observed, at, update) before 2e054e5: this
        # script runs against older trees too (alternated runs, same script).
        key, observed, at, update = args if len(args) == 4 else (args[0].key, *args)
        old = self.states.get(key)
        if old is None:
            return
        new, changed = merge_16c9f1b(old, observed, at)
        self._store(key, old, new, changed, update)


def merge_16c9f1b(
    previous: DatasetState | None, observed: DatasetState, now: datetime
) -> tuple[DatasetState, frozenset[str]]:
    """tui.models.merge as it was (fresh readings only: all this benchmark sends)."""
    update: dict[str, Any] = {"polled_at": now, "stale": False, "stale_since": None}
    update["fetched_at"] = now
    if previous is not None and observed.name is None:
        update["name"] = previous.name
    if previous is None:
        changed = frozenset(VISIBLE_FIELDS)
    else:
        changed = frozenset(
            f for f in VISIBLE_FIELDS if getattr(previous, f) != update.get(f, getattr(observed, f))
        )
    same_data = previous is not None and changed <= {"stale"}
    update["changed_at"] = previous.changed_at if same_data else now  # type: ignore[union-attr]
    return observed.model_copy(update=update), changed


def reading(dataset_id: str, n: int, status: str) -> DatasetState:
    """One dataset's reading as the Cognee backend translates its answer."""
    runs = {ADD: "DATASET_PROCESSING_COMPLETED", COGNIFY: status}
    return dataset_state("cg", dataset_id, runs, PIPELINES, {dataset_id: runs}, f"dataset_{n}")


def sweeps(ids: list[str], changing: float, rng: random.Random) -> list[list[PollBatch]]:
    """SWEEPS full sweeps; each reading differs from the last with probability `changing`."""
    current = dict.fromkeys(ids, 0)
    out = []
    for s in range(SWEEPS):
        at = T0 + timedelta(seconds=s + 1)
        batches = []
        for start in range(0, len(ids), BATCH):
            observations = []
            for n, dataset_id in enumerate(ids[start : start + BATCH], start):
                if rng.random() < changing:
                    current[dataset_id] ^= 1
                status = STATUSES[current[dataset_id]]
                observations.append((reading(dataset_id, n, status), at))
            batches.append(PollBatch(observations=observations))
        out.append(batches)
    return out


def cpu_per_reading(model: WatchModel, ids: list[str], work: list[list[PollBatch]]) -> float:
    model.track(("cg", i) for i in ids)
    model.subscribe(lambda update: None)
    first, *rest = work
    for batch in first:  # every dataset read once: the steady state starts here
        model.apply(batch)
    gc.collect()
    start = time.process_time()
    for sweep in rest:
        for batch in sweep:
            model.apply(batch)
    return (time.process_time() - start) / (len(ids) * len(rest))


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, metavar="N", help="default 5000")
    args = p.parse_args()
    n = args.datasets or (500 if args.quick else 5000)
    tune_gc()
    ids = [str(uuid.UUID(int=random.Random(i).getrandbits(128))) for i in range(n)]
    cases = {"every reading a change": 1.0, "80% of readings repeat": 0.2}
    ours: dict[str, list[float]] = {c: [] for c in cases}
    base: dict[str, list[float]] = {c: [] for c in cases}
    for run in range(args.runs):
        for case, changing in cases.items():
            # The same readings for both models: built once per case and run.
            work = sweeps(ids, changing, random.Random(run))
            base[case].append(cpu_per_reading(MergeEveryReading(now=lambda: T0), ids, work))
            work = sweeps(ids, changing, random.Random(run))
            ours[case].append(cpu_per_reading(WatchModel(now=lambda: T0), ids, work))
    rows = []
    for case in cases:
        mine, theirs = median(ours[case]), median(base[case])
        repeats = case.startswith("80%")
        rows.append(
            Row(
                f"N={n:,}, {case}: CPU per reading",
                f"{mine * 1e6:.1f} µs",
                f"{theirs * 1e6:.1f} µs",
                times(theirs / mine) if mine > 0 else "-",
                "cheaper than merging all" if repeats else "-",
                mine < theirs if repeats else None,
            )
        )
    intro = [
        header_line("Model", args),
        f"WatchModel.apply of {SWEEPS - 1} sweeps of {n:,} readings in batches of {BATCH} "
        "(after one sweep that fills the model). Baseline: every reading merged as at 16c9f1b.",
    ]
    print_table("Model: CPU per dataset read in the watch model", rows, intro=intro)
    return 1 if args.strict and missed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
