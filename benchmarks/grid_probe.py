"""Measure DatasetGrid: first screen, a 10% batch, full repaint, idle and churn CPU.

    .venv/bin/python benchmarks/grid_probe.py [--rows 5000 20000] [--seconds 10]

Headless `run_test` at 200x60. Headless Textual skips encoding frames for the
terminal, so this probe wraps `App._display` to encode every frame too (the
output is discarded): the numbers include the full cost of a frame.

Times (median of --repeat runs): "cpu" is process time from the call until the frame is encoded (the
work the UI thread did); "wall" adds the wait for the next frame slot
(Textual paints at most 60 times a second, so up to ~17 ms of it is idle).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.app import App, ComposeResult

from tui.models import DatasetState, State
from tui.widgets import DatasetGrid

SIZE = (200, 60)
STATES = list(State)


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield DatasetGrid()

    def on_mount(self) -> None:
        self.query_one(DatasetGrid).focus()


def make_states(n: int, now: datetime, age: float) -> list[DatasetState]:
    rng = random.Random(1)
    return [
        DatasetState(
            backend=("vl-prod", "cognee", "vl-onprem")[i % 3],
            id=f"{i:08x}-0000-4000-8000-{rng.getrandbits(48):012x}",
            name=f"dataset {rng.choice(['alpha', 'beta', 'gamma', 'delta'])} {i}",
            state=STATES[i % len(STATES)],
            status=("READY", "INDEXING", "DATASET_PROCESSING_STARTED")[i % 3],
            progress=rng.uniform(0, 100) if i % 4 else None,
            n_images=rng.randrange(10**6),
            n_videos=rng.randrange(1000) if i % 2 else None,
            pipelines={"add_pipeline": "DATASET_PROCESSING_COMPLETED"} if i % 3 == 1 else {},
            fetched_at=now - timedelta(seconds=age + rng.uniform(0, 30)),
            stale=i % 17 == 0,
            stale_since=now - timedelta(seconds=300) if i % 17 == 0 else None,
        )
        for i in range(n)
    ]


def churn(states: list[DatasetState], fraction: float, rng: random.Random) -> list[DatasetState]:
    """A poll's answer: `fraction` of the rows progressed and were fetched just now."""
    now = datetime.now(UTC)
    picked = rng.sample(range(len(states)), int(len(states) * fraction))
    for i in picked:
        old = states[i]
        progress = ((old.progress or 0) + rng.uniform(1, 5)) % 100
        states[i] = old.model_copy(update={"progress": progress, "fetched_at": now})
    return [states[i] for i in picked]


class FrameProbe:
    """Wraps App._display: encode each frame like a real terminal would, note when."""

    def __init__(self, app: App[Any]) -> None:
        self.frames = 0
        self.event = asyncio.Event()
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None:
                renderable.render_segments(app.console)
                self.frames += 1
                self.event.set()

        app._display = display  # type: ignore[method-assign]

    async def timed(self, action: Callable[[], object]) -> tuple[float, float]:
        """(cpu ms, wall ms) from calling `action` until its frame is encoded."""
        await asyncio.sleep(0.05)  # let earlier frames settle
        self.event.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        await asyncio.wait_for(self.event.wait(), 5)
        return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


async def cpu_percent(seconds: float, each_second: list[Callable[[], object]] = ()) -> float:
    """CPU % of this process over `seconds`, running one of `each_second` per second."""
    await asyncio.sleep(2.5)  # let earlier work finish (changed-cell highlights last 2 s)
    # Pay the garbage collector's debt from the earlier steps now: a full
    # collection of this heap costs ~50 ms and would land in a random window.
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(int(seconds)):
        if each_second:
            each_second[i % len(each_second)]()
        await asyncio.sleep(1)
    return 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)


def median(runs: list[tuple[float, float]]) -> str:
    cpu = statistics.median(run[0] for run in runs)
    wall = statistics.median(run[1] for run in runs)
    return f"{cpu:6.1f} / {wall:6.1f}"


async def probe(n: int, seconds: float, repeat: int) -> dict[str, str]:
    app = Host()
    results: dict[str, str] = {}
    async with app.run_test(size=SIZE) as pilot:
        frames = FrameProbe(app)
        grid = app.query_one(DatasetGrid)
        await pilot.pause()
        states = make_states(n, datetime.now(UTC), age=120)
        rng = random.Random(2)

        runs = []
        for _ in range(repeat):
            grid.clear()
            runs.append(await frames.timed(lambda: grid.apply(states)))
        results["first screen"] = median(runs)

        batches = [churn(states, 0.1, rng) for _ in range(repeat)]
        runs = [await frames.timed(lambda b=b: grid.apply(b)) for b in batches]
        results["10% batch, sort=name"] = median(runs)
        grid.sort_by("updated")  # every fetched row moves: the order is rebuilt
        batches = [churn(states, 0.1, rng) for _ in range(repeat)]
        runs = [await frames.timed(lambda b=b: grid.apply(b)) for b in batches]
        results["10% batch, sort=updated"] = median(runs)
        grid.sort_by("name")

        runs = [await frames.timed(grid._invalidate) for _ in range(repeat)]
        results["full repaint (restyle)"] = median(runs)
        body = grid.scrollable_content_region.height - 1

        def next_page() -> None:
            grid.scroll_to(y=grid.scroll_offset.y + body, animate=False)

        runs = [await frames.timed(next_page) for _ in range(repeat)]
        results["scroll a page (new rows)"] = median(runs)
        runs = []
        for _ in range(repeat):
            runs.append(await frames.timed(lambda: grid.sort_by("state")))
            grid.sort_by("name")
        results["sort by state"] = median(runs)
        runs = []
        for _ in range(repeat):
            runs.append(await frames.timed(lambda: grid.set_filter("alpha")))
            grid.set_filter("")
        results["filter 'alpha'"] = median(runs)

        grid.scroll_to(y=0, animate=False)
        await asyncio.sleep(1)
        frames.frames = 0
        results["idle CPU %, ages ~2m"] = f"{await cpu_percent(seconds):.2f}"
        results["  frames/s meanwhile"] = f"{frames.frames / (seconds + 2.5):.1f}"
        grid.apply(make_states(n, datetime.now(UTC), age=0))
        await asyncio.sleep(1)
        frames.frames = 0
        results["idle CPU %, ages <60s"] = f"{await cpu_percent(seconds):.2f}"
        results["  frames/s meanwhile "] = f"{frames.frames / (seconds + 2.5):.1f}"
        batches = [churn(states, 0.1, rng) for _ in range(int(seconds))]
        calls = [lambda b=b: grid.apply(b) for b in batches]
        results["CPU %, 10% batch/s"] = f"{await cpu_percent(seconds, calls):.2f}"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--seconds", type=float, default=10, help="per CPU measurement")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    args = parser.parse_args()
    columns = {n: asyncio.run(probe(n, args.seconds, args.repeat)) for n in args.rows}
    print(f"DatasetGrid at {SIZE[0]}x{SIZE[1]}; times are cpu ms / wall ms, medians")
    print(f"{'':26}" + "".join(f"{f'N={n:,}':>18}" for n in columns))
    for label in next(iter(columns.values())):
        print(f"{label:26}" + "".join(f"{column[label]:>18}" for column in columns.values()))


if __name__ == "__main__":
    main()
