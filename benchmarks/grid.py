"""Grid: the dashboard's DatasetGrid headless at 200x60, against a stock-DataTable equivalent.

    .venv/bin/python benchmarks/grid.py [--rows 1000 5000 20000] [--runs 1] [--quick]

Each (widget, N, run) is measured in a fresh subprocess (clean peak RSS):
`App.run_test(size=(200, 60))` with the widget alone, TEXTUAL_COLOR_SYSTEM=
truecolor. The baseline is `_datatable_grid.DataTableGrid`: same columns,
texts and styles, dolphie-style diff updates through `update_cell`.

When is a frame rendered? Headless Textual composes every frame but skips
encoding it for the terminal. This benchmark wraps `App._display` (where
Textual hands each composed frame to the driver): it lets Textual do its
part, then encodes the frame into the exact escape sequences a terminal
would get (`render_segments`) and searches them for a marker, a text the
awaited change must show (the first row's name; a new status written into
a visible row; the name of a row scrolled into view). A time is taken when
the frame holding the marker has been encoded: the work *and* the wait for
Textual's next frame slot (at most 60 frames/s) are both in it.

Measured per N: first screen (apply N states to the mounted, empty grid ->
frame with rows); a batch changing 1%, 10%, 100% of rows (always including
the top visible row) -> frame showing it; full repaint (scroll 50 rows to
rows never drawn -> frame); CPU % over --seconds idle, with ages under a
minute (the 1 s age tick repaints visible age cells) and over a minute;
CPU % with one 10% batch per second; peak RSS of the process once the
N rows are shown (before the later steps build extra copies of the data);
the widget's own memory per row: tracemalloc, in a separate process, around
applying the N states (built beforehand: the states are the watch model's,
not the widget's) until the frame shows them.
Both widgets run with the garbage collection settings of `dswatch`
(`tui.engine.tune_gc`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import HERE, PYTHON, Row, median, missed, ms, pct, print_table, times
from _datatable_grid import DataTableGrid
from textual.app import App, ComposeResult

from tui.engine import tune_gc
from tui.models import DatasetState, State
from tui.widgets import grid as grid_module
from tui.widgets.grid import DatasetGrid

SIZE = (200, 60)
FLASH_SECONDS: float = getattr(grid_module, "FLASH_SECONDS", 2.0)  # changed-cell highlight
WIDGETS = ("dswatch", "datatable")
WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")
FRAME_TIMEOUT = 120.0
SCROLL = 50  # rows scrolled for a "full repaint": more than half of the 59 shown
# Targets at the target size (5,000 rows by default).
TARGETS: dict[str, tuple[float, str]] = {
    "first_screen": (0.100, "≤ 100 ms"),
    "batch_10": (0.030, "≤ 30 ms"),
    "repaint": (0.020, "≤ 20 ms"),
    "idle_cpu": (0.5, "≤ 0.5%"),
    "idle_cpu_old": (0.5, "≤ 0.5%"),
    "churn_cpu": (5.0, "≤ 5%"),
}
METRICS: list[tuple[str, str]] = [
    ("first_screen", "first full screen"),
    ("batch_1", "1% batch -> frame"),
    ("batch_10", "10% batch -> frame"),
    ("batch_100", "100% batch -> frame"),
    ("repaint", "full repaint (scroll 50 rows)"),
    ("idle_cpu", "idle CPU, ages < 1 min"),
    ("idle_cpu_old", "idle CPU, ages > 1 min"),
    ("churn_cpu", "CPU, one 10% batch per second"),
    ("rss", "peak RSS (N rows shown)"),
    ("bytes_per_row", "memory per row (tracemalloc)"),
]
CPU_METRICS = {"idle_cpu", "idle_cpu_old", "churn_cpu"}
# Metrics whose work grows with N by definition: (metric, label, share of rows touched).
PER_ROW: list[tuple[str, str, float]] = [
    ("first_screen", "first full screen", 1.0),
    ("batch_10", "10% batch -> frame", 0.1),
    ("batch_100", "100% batch -> frame", 1.0),
]


# ---------------------------------------------------------------- data


def make_states(n: int, now: datetime, seed: int = 1) -> list[DatasetState]:
    """N rows as a mixed dashboard shows them, last fetched within the past minute."""
    rng = random.Random(seed)
    states = []
    for i in range(n):
        backend = ("vl-prod", "cognee", "vl-onprem")[i % 3]
        state = rng.choices(
            (State.READY, State.RUNNING, State.PENDING, State.PARTIAL, State.ERROR),
            weights=(70, 15, 5, 5, 5),
        )[0]
        cognee = backend == "cognee"
        states.append(
            DatasetState(
                backend=backend,
                id=f"{i:08x}-{rng.getrandbits(16):04x}-4000-8000-{rng.getrandbits(48):012x}",
                name=f"{WORDS[i % len(WORDS)]} {i:06d}",
                state=state,
                status="DATASET_PROCESSING_STARTED" if cognee else str(state.value).upper(),
                progress=None if cognee else rng.uniform(0, 100),
                n_images=None if cognee else rng.randrange(10**6),
                n_videos=None if cognee else rng.randrange(100),
                n_objects=None if cognee else rng.randrange(10**5),
                pipelines={"add_pipeline": "DATASET_PROCESSING_COMPLETED"} if cognee else {},
                error="pipeline failed" if state is State.ERROR else None,
                fetched_at=now - timedelta(seconds=rng.uniform(0, 55)),
            )
        )
    return states


def changed(
    states: list[DatasetState], picked: list[int], status: str, fetched: datetime
) -> list[DatasetState]:
    """A poll's answer for `picked`: new status, progress moved, fetched at `fetched`."""
    batch = []
    for i in picked:
        old = states[i]
        progress = None if old.progress is None else (old.progress + 7.5) % 100
        new = old.model_copy(update={"status": status, "progress": progress, "fetched_at": fetched})
        states[i] = new
        batch.append(new)
    return batch


# ---------------------------------------------------------------- the apps


class GridHost(App[None]):
    def compose(self) -> ComposeResult:
        yield DatasetGrid(id="grid")

    def on_mount(self) -> None:
        self.query_one(DatasetGrid).focus()

    def apply(self, states: list[DatasetState]) -> None:
        self.query_one(DatasetGrid).apply(states)

    def scroll_rows(self, y: int) -> None:
        self.query_one(DatasetGrid).scroll_to(y=y, animate=False, immediate=True)

    def first_names(self, k: int) -> list[str]:
        grid = self.query_one(DatasetGrid)
        return [grid.state_of(key).name or "" for key in grid.visible_keys()[:k]]  # type: ignore[union-attr]


class TableHost(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTableGrid()

    def on_mount(self) -> None:
        self.table.focus()

    @property
    def table(self) -> DataTableGrid:
        return self.query_one(DataTableGrid)

    def apply(self, states: list[DatasetState]) -> None:
        self.table.apply(states)

    def scroll_rows(self, y: int) -> None:
        self.table.scroll_to(y=y, animate=False, immediate=True)

    def first_names(self, k: int) -> list[str]:
        return [self.table.visible_name(i) for i in range(k)]


Host = GridHost | TableHost


class Frames:
    """Wraps App._display: encode each frame like a terminal driver, watch for a marker."""

    def __init__(self, app: App[Any]) -> None:
        self.count = 0
        self.marker: str | None = None
        self.seen = asyncio.Event()
        self.at = (0.0, 0.0)
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return
            encoded = renderable.render_segments(app.console)
            self.count += 1
            if self.marker is not None and self.marker in encoded:
                self.at = (time.perf_counter(), time.process_time())
                self.marker = None
                self.seen.set()

        app._display = display  # type: ignore[method-assign]

    async def until_shown(self, action: Callable[[], object], marker: str) -> tuple[float, float]:
        """(wall s, CPU s) from calling `action` until a frame showing `marker` is encoded."""
        await asyncio.sleep(0.1)  # let earlier frames and timers settle
        self.marker = marker
        self.seen.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        await asyncio.wait_for(self.seen.wait(), FRAME_TIMEOUT)
        return self.at[0] - wall, self.at[1] - cpu


async def cpu_percent(seconds: int, each_second: Callable[[int], object] | None = None) -> float:
    """Process CPU over `seconds`, % of one core; `each_second(i)` runs at the start of each.

    A full garbage collection first: the previous step's garbage (a first screen,
    a 100% batch) is not the cost of this window.
    """
    gc.collect()
    start = time.perf_counter()
    cpu = time.process_time()
    for second in range(seconds):
        if each_second is not None:
            each_second(second)
        await asyncio.sleep(max(0.0, start + second + 1 - time.perf_counter()))
    return 100 * (time.process_time() - cpu) / (time.perf_counter() - start)


async def measure(
    widget: str, n: int, seconds: int, repeat: int, settle: float
) -> dict[str, float]:
    """Everything for one widget at one size; `settle`: pause before each idle window."""
    app: Host = GridHost() if widget == "dswatch" else TableHost()
    result: dict[str, float] = {}
    states = make_states(n, datetime.now(UTC))
    order = sorted(range(n), key=lambda i: states[i].name or "")
    top = order[0]
    rng = random.Random(2)
    async with app.run_test(size=SIZE) as pilot:
        frames = Frames(app)
        await pilot.pause()
        first = list(states)
        result["first_screen"] = (
            await frames.until_shown(lambda: app.apply(first), states[top].name or "")
        )[0]
        shown = app.first_names(3)
        expected = [states[i].name for i in order[:3]]
        if shown != expected:
            raise RuntimeError(f"unexpected row order: {shown} != {expected}")

        # Rows fetched 0-55 s ago: the age tick repaints a few visible age cells.
        await pilot.pause(settle)
        frames.count = 0
        result["idle_cpu"] = await cpu_percent(seconds)
        result["idle_frames"] = frames.count / seconds
        # Peak RSS with N rows shown; later steps keep extra copies of the data for
        # themselves (pre-built batches), which are the benchmark's, not the widget's.
        result["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

        serial = 0
        for fraction, label in ((0.01, "batch_1"), (0.10, "batch_10"), (1.0, "batch_100")):
            walls = []
            for _ in range(repeat):
                serial += 1
                marker = f"B{serial:05d}"
                picked = rng.sample(range(n), max(1, round(n * fraction)))
                if top not in picked:
                    picked[0] = top
                batch = changed(states, picked, marker, datetime.now(UTC))
                walls.append((await frames.until_shown(lambda b=batch: app.apply(b), marker))[0])
            result[label] = median(walls)

        walls = []
        for k in range(1, repeat + 1):
            y = k * SCROLL
            if y + 20 >= n:
                break
            marker = states[order[y + 20]].name or ""
            walls.append((await frames.until_shown(lambda y=y: app.scroll_rows(y), marker))[0])
        result["repaint"] = median(walls)
        app.scroll_rows(0)

        fetched = datetime.now(UTC)
        churn = [
            changed(states, rng.sample(range(n), n // 10), ("INDEXING", "READY")[s % 2], fetched)
            for s in range(seconds)
        ]
        await pilot.pause(settle)
        frames.count = 0
        result["churn_cpu"] = await cpu_percent(seconds, lambda s: app.apply(churn[s]))
        result["churn_frames"] = frames.count / seconds

        aged = changed(states, list(range(n)), "READY", datetime.now(UTC) - timedelta(minutes=2))
        app.apply(aged)
        await pilot.pause(settle)
        result["idle_cpu_old"] = await cpu_percent(seconds)
    return result


async def measure_memory(widget: str, n: int) -> dict[str, float]:
    """Bytes the widget allocates and keeps per row, states excluded (tracemalloc)."""
    app: Host = GridHost() if widget == "dswatch" else TableHost()
    states = make_states(n, datetime.now(UTC))
    top = min(states, key=lambda state: state.name or "").name or ""
    async with app.run_test(size=SIZE) as pilot:
        frames = Frames(app)
        await pilot.pause()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        await frames.until_shown(lambda: app.apply(states), top)
        await pilot.pause(0.2)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    kept = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return {"bytes_per_row": kept / n}


# ---------------------------------------------------------------- the parent


def run_child(widget: str, n: int, seconds: int, repeat: int, settle: float) -> dict[str, float]:
    result: dict[str, float] = {}
    for memory in (False, True):  # tracemalloc slows everything: its own process
        command = [PYTHON, str(HERE / "grid.py"), "--child", widget, "--rows", str(n)]
        command += ["--seconds", str(seconds), "--repeat", str(repeat), "--settle", str(settle)]
        command += ["--memory"] if memory else []
        env = {**os.environ, "TEXTUAL_COLOR_SYSTEM": "truecolor"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"{widget} N={n} failed:\n{done.stderr[-3000:]}")
        result.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return result


def show(metric: str, value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if metric == "rss":
        return f"{value / 2**20:,.0f} MiB"
    if metric == "bytes_per_row":
        return f"{value:,.0f} B"
    if metric in CPU_METRICS:
        return pct(value)
    return ms(value)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 s CPU windows (smoke test)")
    p.add_argument("--latency", type=float, default=0.0, help="unused: no network here")
    p.add_argument("--runs", type=int, default=1, metavar="K", help="median of K runs")
    p.add_argument("--strict", action="store_true", help="exit 1 when any target is missed")
    p.add_argument("--rows", type=int, nargs="+", metavar="N", help="default 1000 5000 20000")
    p.add_argument("--target-rows", type=int, metavar="N", help="where targets apply (5000)")
    p.add_argument("--seconds", type=int, metavar="S", help="per CPU window (default 10)")
    p.add_argument("--repeat", type=int, help="batches/repaints per run, median (default 3)")
    p.add_argument(
        "--settle",
        type=float,
        help="seconds before each CPU window, so highlights of changed cells (2 s) expire first",
    )
    p.add_argument("--widgets", nargs="+", choices=WIDGETS, default=list(WIDGETS))
    p.add_argument("--child", choices=WIDGETS, help=argparse.SUPPRESS)
    p.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    sizes = args.rows or ([100, 200] if args.quick else [1000, 5000, 20000])
    seconds = args.seconds or (1 if args.quick else 10)
    repeat = args.repeat or (1 if args.quick else 3)
    settle = args.settle if args.settle is not None else (0.1 if args.quick else FLASH_SECONDS + 1)
    if args.child:
        tune_gc()  # the garbage collection settings `dswatch` runs with, for both widgets
        if args.memory:
            result = asyncio.run(measure_memory(args.child, sizes[0]))
        else:
            result = asyncio.run(measure(args.child, sizes[0], seconds, repeat, settle))
        print(json.dumps(result))
        return 0
    target_n = args.target_rows or (sizes[1] if len(sizes) > 2 else sizes[0])

    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for _ in range(args.runs):
        for n in sizes:
            for widget in args.widgets:
                runs = results.setdefault((widget, n), [])
                runs.append(run_child(widget, n, seconds, repeat, settle))

    def value(widget: str, n: int, metric: str) -> float:
        runs = results.get((widget, n), [])
        return median([r[metric] for r in runs]) if runs else float("nan")

    stamp = time.strftime("%Y-%m-%d %H:%M")
    runs_text = f"median of {args.runs} runs" if args.runs > 1 else "1 run"
    intro = [
        f"Grid: {stamp}, {os.cpu_count()} CPUs, {SIZE[0]}x{SIZE[1]} headless, {runs_text}, "
        f"CPU windows {seconds} s, batch/repaint times median of {repeat}"
        + (", --quick (sizes too small for the targets to mean much)" if args.quick else ""),
        "measured: DatasetGrid (tui/widgets/grid.py); baseline: DataTableGrid "
        "(benchmarks/_datatable_grid.py, stock DataTable + update_cell diffs); ratio = "
        "baseline / measured. Times run from the call until the frame showing the change "
        "has been encoded for the terminal (see the script's docstring).",
    ]
    all_rows: list[Row] = []
    for n in sizes:
        rows = []
        for metric, label in METRICS:
            ours, base = value("dswatch", n, metric), value("datatable", n, metric)
            target = TARGETS.get(metric) if n == target_n else None
            extra = ""
            if metric in ("idle_cpu", "churn_cpu"):
                frames_key = "idle_frames" if metric == "idle_cpu" else "churn_frames"
                extra = f" ({value('dswatch', n, frames_key):.1f} frames/s)"
            rows.append(
                Row(
                    label,
                    show(metric, ours) + extra,
                    show(metric, base),
                    times(base / ours) if ours > 0 else "-",
                    target[1] if target else "-",
                    (ours <= target[0]) if target else None,
                )
            )
        print_table(f"Grid, N={n:,} rows", rows, intro=intro if n == sizes[0] else ())
        all_rows += rows

    big = max(sizes)
    if big != target_n:
        rows = []
        for metric, label in METRICS:
            at_target, at_big = value("dswatch", target_n, metric), value("dswatch", big, metric)
            growth = at_big / at_target if at_target > 0 else float("nan")
            rows.append(
                Row(
                    label,
                    f"{show(metric, at_target)} -> {show(metric, at_big)}",
                    "-",
                    f"{growth:.2f}×",
                    "≤ 2×",
                    growth <= 2.0,
                )
            )
        # What the growth is made of: work per row, which is what must not grow.
        for metric, label, share in PER_ROW:
            at_target = value("dswatch", target_n, metric) / (target_n * share)
            at_big = value("dswatch", big, metric) / (big * share)
            rows.append(
                Row(
                    f"{label}, per row",
                    f"{at_target * 1e6:.1f} µs -> {at_big * 1e6:.1f} µs",
                    "-",
                    f"{at_big / at_target:.2f}×" if at_target > 0 else "-",
                )
            )
        print_table(f"Grid scaling: DatasetGrid at N={target_n:,} -> N={big:,}", rows)
        all_rows += rows
    return 1 if args.strict and missed(all_rows) else 0


if __name__ == "__main__":
    sys.exit(main())
