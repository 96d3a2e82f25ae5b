"""History store: a simulated week of 10,000 datasets that change on every poll.

    .venv/bin/python benchmarks/store.py [--datasets 10000] [--polls 1008] [--quick]

dswatch: `HistoryStore.record()` of every poll batch (the writer thread puts each
batch in one transaction), then the start-up path: `HistoryStore.open()` plus
`last_known()` of every dataset. The clock is driven: `--polls` batches spread
over 7 simulated days, each dataset's progress moving on every one of them
(runs of 20 polls, then READY, then a new run), so every row of every batch
is a real change. Retention and the size cap run as in the app (prune at open,
and once more at the end as the hourly prune would).

Baseline, same run: the same batches built and handed to a no-op instead of
the store ("writes off"); the difference in process CPU (caller + writer
thread) is what the store costs per row.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import PYTHON, Row, header_line, missed, ms, parser, pct, print_table
from startup import TEXTUAL_BASELINE, terminal_env

from tui.config import Settings
from tui.models import DatasetState, State
from tui.store import HistoryStore

WEEK_S = 7 * 86_400
RUN_POLLS = 20  # polls per simulated run: 19 of progress, then READY
WARM_TARGET_S = 0.300
SCREEN = (200, 60)
DOWN_URL = "http://127.0.0.1:9"  # port 9 on loopback refuses: a backend down at start
ROOT = Path(__file__).resolve().parent.parent
# The console script's entry point (what `dswatch` runs), on this checkout.
DSWATCH = f"{PYTHON} -c 'import sys; from tui.launch import main; sys.exit(main())'"
SIZE_TARGET_MB = 50.0
POLL_INTERVAL_S = Settings().poll_interval  # default: what a running dataset is polled at


def batches(n: int, polls: int, start: datetime) -> Iterator[list[DatasetState]]:
    """Every dataset, every poll, with a change (progress, or the run's end / start)."""
    ids = [f"{i:08d}-0000-4000-8000-000000000000" for i in range(n)]
    step = WEEK_S / polls
    for poll in range(polls):
        moment = start + timedelta(seconds=poll * step)
        phase = poll % RUN_POLLS
        state = State.READY if phase == RUN_POLLS - 1 else State.RUNNING
        status = "READY" if state is State.READY else "INDEXING"
        # model_construct: the poller's own validation is not what is measured here
        yield [
            DatasetState.model_construct(
                backend="vl" if i % 2 else "cg",
                id=dataset_id,
                name=f"dataset {i}",
                state=state,
                status=status,
                progress=100.0 if state is State.READY else phase * 5.0 + (i % 5) * 0.1,
                n_images=1000 + i,
                n_videos=None,
                n_objects=None,
                pipelines={},
                error=None,
                raw=None,
                failure=None,
                fetched_at=moment,
                changed_at=moment,
                polled_at=moment,
                stale=False,
                stale_since=None,
            )
            for i, dataset_id in enumerate(ids)
        ]


def run_week(
    path: Path, n: int, polls: int, start: datetime, *, writes: bool, max_mb: float
) -> float:
    """Process CPU seconds to build and (when `writes`) store every batch."""
    clock = [start]
    store = (
        HistoryStore.open(path, clock=lambda: clock[0], history_max_mb=max_mb) if writes else None
    )
    cpu = time.process_time()
    for batch in batches(n, polls, start):
        clock[0] = batch[0].fetched_at  # type: ignore[assignment]
        if store is not None:
            store.record(batch)
    if store is not None:
        store.prune()  # what the hourly prune would have done by now
        store.flush()  # counted: the prune is the store's work too
        store.close()
    return time.process_time() - cpu


def warm_start(path: Path, n: int, end: datetime, repeats: int) -> tuple[float, int]:
    """Median wall seconds of open() + last_known() of every dataset (a fresh process
    would also import; the store module's imports are already loaded here)."""
    walls = []
    found = 0
    for _ in range(repeats):
        began = time.perf_counter()
        store = HistoryStore.open(path, clock=lambda: end)
        found = len(store.last_known(store.known_keys()))
        walls.append(time.perf_counter() - began)
        store.close()
    return statistics.median(walls), found


def warm_first_screen(path: Path, n: int) -> tuple[float, int]:
    """Wall seconds from building the dashboard on a config of the n stored datasets
    (their backend down: nothing answers) to its first screen showing their stored
    names, headless at 200x60, as `dswatch` opens it (engine, history link, app,
    garbage collection tuned). In this process, after the week: imports are loaded."""
    import asyncio
    import gc

    from tui.app import DswatchApp
    from tui.config import BackendConfig, Config
    from tui.engine import build_engine, tune_gc
    from tui.history_link import HistoryLink

    by_backend = stored_ids(path)
    keys = [(backend, i) for backend, ids in by_backend.items() for i in ids]
    config = Config(
        settings=Settings(),
        backends=[
            BackendConfig(name=name, type="visual_layer", url=DOWN_URL, datasets=ids)  # type: ignore[call-arg]
            for name, ids in by_backend.items()
        ],
    )

    async def measure() -> tuple[float, int]:
        began = time.perf_counter()
        gc.disable()  # as `dswatch` starts (tui.launch); tune_gc turns it back on
        engine = build_engine(config, None, environ={})
        link = HistoryLink.open(engine.model, keys, path=path)
        app = DswatchApp(engine, config_path=None, history=link)
        tune_gc()  # as `dswatch` does before it runs the app (tui.app.run_dashboard)
        async with app.run_test(size=(200, 60)) as pilot:
            grid = app.grid
            while not (
                grid.visible_count and "dataset" in grid.render_line(1).text  # a stored name
            ):
                await pilot.pause(0.001)
            took = time.perf_counter() - began
            seeded = sum(1 for s in app.model.states.values() if s.name)
        return took, seeded

    return asyncio.run(measure())


def stored_ids(store: Path) -> dict[str, list[str]]:
    """{backend: dataset IDs} of every dataset in `store`."""
    opened = HistoryStore.open(store, prune=False)
    keys = opened.known_keys()
    opened.close()
    by_backend: dict[str, list[str]] = {}
    for backend, dataset_id in keys:
        by_backend.setdefault(backend, []).append(dataset_id)
    return by_backend


def write_config(path: Path, store: Path) -> None:
    """A config of every dataset in `store`, on a backend that is down."""
    path.write_text(
        "".join(
            f'[[backends]]\nname = "{name}"\ntype = "visual_layer"\n'
            f'url = "{DOWN_URL}"\ndatasets = [\n' + "".join(f'  "{i}",\n' for i in ids) + "]\n\n"
            for name, ids in stored_ids(store).items()
        ),
        encoding="utf-8",
    )
    path.chmod(0o600)


def spawn_first_screen(command: str, state_dir: Path, needle: str) -> float:
    """Wall seconds from starting `command` in a new tmux server (200x60) until
    `needle` is on its screen: process start, imports and all."""
    socket = f"dswatch-store-{os.getpid()}-{time.monotonic_ns()}"
    tmux = ["tmux", "-L", socket]
    width, height = (str(v) for v in SCREEN)
    began = time.perf_counter()
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "s", "-x", width, "-y", height,
         f"cd {ROOT} && exec env PYTHONPATH={ROOT} DSWATCH_STATE_DIR={state_dir} "
         f"timeout --foreground 60 {command}"],
        check=True, timeout=30, capture_output=True, env=terminal_env(),
    )  # fmt: skip
    screen = ""
    try:
        while time.perf_counter() - began < 30:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "s"], capture_output=True, text=True
            ).stdout
            if needle in screen:
                return time.perf_counter() - began
            time.sleep(0.005)
        raise TimeoutError(f"{command}: {needle!r} not shown after 30 s:\n{screen}")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=30)


def from_spawn(store: Path, tmp: Path, runs: int) -> dict[str, float]:
    """Median seconds to the first screen from a new process: `dswatch` warm (the
    week's store), cold (the same config, no store: rows show their IDs) and a
    one-widget Textual app, alternated, after one untimed round (bytecode, disk cache)."""
    config = tmp / "config.toml"
    write_config(config, store)
    empty = tmp / "empty-state"
    empty.mkdir()
    textual = tmp / "one_widget.py"
    textual.write_text(TEXTUAL_BASELINE.replace("baseline-ready", "dataset baseline"))
    cases = {
        "warm": (f"{DSWATCH} --config {config}", store.parent, "dataset "),
        # Never read: the name column shows the ID until an answer comes.
        "cold": (f"{DSWATCH} --config {config}", empty, "-0000-4000-8000-"),
        "textual": (f"{PYTHON} {textual}", empty, "dataset baseline"),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(runs + 1):
        for name, (command, state_dir, needle) in cases.items():
            if name == "cold":
                shutil.rmtree(empty)
                empty.mkdir()  # cold every time: a run leaves a store behind
            took = spawn_first_screen(command, state_dir, needle)
            if round_:
                samples[name].append(took)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, default=10_000)
    p.add_argument("--polls", type=int, default=1008, help="poll batches in the week")
    p.add_argument(
        "--max-mb",
        type=float,
        default=Settings().history_max_mb,
        help="the store's size cap (default: the history_max_mb default)",
    )
    args = p.parse_args()
    n = 500 if args.quick else args.datasets
    polls = 40 if args.quick else args.polls
    start = datetime.now(UTC) - timedelta(seconds=WEEK_S)
    with tempfile.TemporaryDirectory(prefix="dswatch-store-bench-") as tmp:
        path = Path(tmp) / "history.sqlite3"
        baseline_cpu = run_week(path, n, polls, start, writes=False, max_mb=args.max_mb)
        store_cpu = run_week(path, n, polls, start, writes=True, max_mb=args.max_mb)
        size_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
        warm, found = warm_start(path, n, start + timedelta(seconds=WEEK_S), 3 if args.quick else 5)
        screen, seeded = warm_first_screen(path, n)
        check = HistoryStore.open(path, prune=False)
        keys = check.known_keys()
        kept = len(check.history(keys[0])) if found else 0
        details = []  # what opening one dataset's details reads: history + progress
        for key in keys[:: max(1, len(keys) // 20)]:
            began = time.perf_counter()
            check.history(key)
            check.progress(key)
            details.append(time.perf_counter() - began)
        check.close()
        spawned = (
            from_spawn(path, Path(tmp), 1 if args.quick else max(args.runs, 5))
            if shutil.which("tmux")
            else None
        )
    rows_written = n * polls
    per_row_us = max(0.0, store_cpu - baseline_cpu) / rows_written * 1e6
    per_batch_ms = max(0.0, store_cpu - baseline_cpu) / polls
    # Store CPU in the app at the default poll interval if all n datasets change each poll.
    cpu_share = per_row_us * 1e-6 * n / POLL_INTERVAL_S
    cap = args.max_mb
    rows = [
        Row(
            "store CPU per row (caller + writer)",
            f"{per_row_us:,.2f} µs",
            f"{baseline_cpu / rows_written * 1e6:,.2f} µs to build it",
        ),
        Row(f"store CPU per batch of {n:,}", ms(per_batch_ms)),
        Row(f"one CPU if all {n:,} changed every {POLL_INTERVAL_S:g} s", pct(cpu_share * 100)),
        Row(
            f"warm start: open + last_known of {n:,}",
            ms(warm),
            "-",
            "-",
            "<= 300 ms",
            warm <= WARM_TARGET_S and found == n,
        ),
        Row("datasets found on warm start", f"{found:,}", "-", "-", f"= {n:,}", found == n),
        Row(
            f"warm first screen in-process (imports loaded): the dashboard at 200x60 "
            f"showing stored names of {n:,}",
            ms(screen),
            "-",
            "-",
            "<= 300 ms",
            screen <= WARM_TARGET_S and seeded == n,
        ),
        Row(
            f"store size after the week ({rows_written:,} changes, cap {cap:g} MB)",
            f"{size_mb:,.1f} MB",
            "-",
            "-",
            f"<= {SIZE_TARGET_MB:g} MB",
            size_mb <= SIZE_TARGET_MB,
        ),
        Row("state changes kept for one dataset", f"{kept:,}"),
        Row(
            "one dataset's details: history + progress read (median of 20)",
            ms(statistics.median(details)),
            "-",
            "-",
            "<= 16 ms (a frame)",
            statistics.median(details) <= 0.016,
        ),
    ]
    if spawned is not None:
        rows[6:6] = [
            Row(
                f"warm first screen from spawn: `dswatch --config` in tmux 200x60 until a "
                f"stored name shows (median of {1 if args.quick else max(args.runs, 5)})",
                ms(spawned["warm"]),
                f"one-widget Textual app {ms(spawned['textual'])}",
                f"{spawned['warm'] / spawned['textual']:.2f}x",
                "<= 300 ms",
                spawned["warm"] <= WARM_TARGET_S,
            ),
            Row(
                "  cold first screen from spawn: the same config, no store (IDs show)",
                ms(spawned["cold"]),
                "-",
                "-",
            ),
            Row(
                "  what the stored rows add to a start from spawn (warm - cold)",
                ms(spawned["warm"] - spawned["cold"]),
            ),
        ]
    intro = [
        header_line("benchmarks/store.py", args),
        f"{n:,} datasets x {polls:,} polls over 7 simulated days "
        f"(one every {WEEK_S / polls / 60:,.1f} min), every row a change.",
    ]
    notes = [
        "CPU is process CPU (the caller's thread and the writer thread) minus the same-run "
        "baseline that builds the same batches with writes off.",
        "The 'every 5 s' row is a worst-case extrapolation; the issue's target (<= 1 point "
        "of CPU at default intervals) is for the e2e benchmark, once the store is wired in.",
    ]
    print_table("History store: a simulated week", rows, intro=intro, notes=notes)
    return 1 if args.strict and missed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
