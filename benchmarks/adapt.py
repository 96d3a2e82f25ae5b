"""Polling cost adapts: N settled (READY) datasets cost N / settled_interval requests/s.

    .venv/bin/python benchmarks/adapt.py [--runs 3] [--settled 5] [--quick]

dswatch's poller runs (`Poller.run`) over N READY Visual Layer datasets with
settled_interval S. After the first sweep has answered for every dataset,
the simulator counts the requests of a window of --window seconds (default
2·S). Target: requests/s ≤ N / S. Baseline, same run: the same poller with
settled_interval = poll_interval, i.e. polling without regard to state.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from _common import (
    Row,
    SimProcess,
    header_line,
    median,
    missed,
    parser,
    pct,
    print_table,
    ratio_of,
    times,
)

from tui.config import BackendConfig, Config, Settings
from tui.engine import build_engine

WARMUP_TIMEOUT = 120.0


@dataclass
class Steady:
    rate: float  # requests/s the simulator received during the window
    cpu: float  # client CPU, % of one core, during the window
    warmup: float  # seconds until every dataset had answered once


async def steady_state(
    sim: SimProcess, ids: list[str], settings: Settings, window: float
) -> Steady:
    config = Config(
        settings=settings,
        backends=[BackendConfig(name="vl", type="visual_layer", url=f"{sim.url}/vl", datasets=ids)],
    )
    engine = build_engine(config, None, environ={})
    poller = engine.poller
    started = time.perf_counter()
    runner = asyncio.create_task(poller.run(lambda update: None))
    try:
        deadline = started + WARMUP_TIMEOUT
        while any(s.polled_at is None for s in poller.states.values()):
            if time.perf_counter() > deadline or runner.done():
                raise RuntimeError("the first sweep did not finish")
            await asyncio.sleep(0.05)
        warmup = time.perf_counter() - started
        await asyncio.to_thread(sim.reset_stats)
        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(window)
        served = await asyncio.to_thread(sim.requests, "vl")
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await engine.aclose()
    return Steady(served / wall, 100 * cpu / wall, warmup)


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, metavar="N", help="READY datasets (default 1000)")
    p.add_argument("--settled", type=float, metavar="S", help="settled_interval (default 5)")
    p.add_argument("--poll", type=float, metavar="S", help="poll_interval (default 1)")
    p.add_argument("--window", type=float, metavar="S", help="seconds counted (default 2·S)")
    p.add_argument(
        "--concurrency",
        type=int,
        default=Settings().max_concurrency,
        help="max_concurrency (default: the setting's default)",
    )
    args = p.parse_args()
    n = args.datasets or (50 if args.quick else 1000)
    settled = args.settled or (1.0 if args.quick else 5.0)
    poll = args.poll or (0.25 if args.quick else 1.0)
    window = args.window or 2 * settled

    def settings(settled_interval: float) -> Settings:
        return Settings(
            poll_interval=poll,
            settled_interval=settled_interval,
            max_concurrency=args.concurrency,
            timeout=30.0,
        )

    ours: list[Steady] = []
    base: list[Steady] = []
    with SimProcess(latency=args.latency) as sim:
        ids = sim.control.add_vl_datasets(n, status="READY")
        for _ in range(args.runs):
            ours.append(asyncio.run(steady_state(sim, ids, settings(settled), window)))
            base.append(asyncio.run(steady_state(sim, ids, settings(poll), window)))

    rate, base_rate = median([s.rate for s in ours]), median([s.rate for s in base])
    cpu, base_cpu = median([s.cpu for s in ours]), median([s.cpu for s in base])
    limit = n / settled
    rows = [
        Row(
            f"N={n:,} READY, settled_interval {settled:g} s: requests/s",
            f"{rate:,.1f}",
            f"{base_rate:,.1f}",
            times(ratio_of(base_rate, rate)),
            f"≤ {limit:,.1f} (N/S)",
            rate <= limit,
        ),
        Row(
            f"N={n:,} READY: client CPU, % of a core",
            pct(cpu),
            pct(base_cpu),
            times(ratio_of(base_cpu, cpu)),
        ),
        Row(
            "first sweep (warm-up, not counted)",
            f"{median([s.warmup for s in ours]):.2f} s",
            f"{median([s.warmup for s in base]):.2f} s",
        ),
    ]
    intro = [
        header_line("Adaptive polling", args),
        f"dswatch: Poller.run, poll_interval {poll:g} s, settled_interval {settled:g} s, "
        f"requests counted by the simulator over {window:g} s after the first sweep. "
        f"Baseline: settled_interval = poll_interval = {poll:g} s (no adaptation).",
    ]
    print_table("Polling cost adapts to state", rows, intro=intro)
    return 1 if args.strict and missed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
