"""Sweep: one full poll of N Visual Layer datasets (all READY: one request each).

    .venv/bin/python benchmarks/sweep.py [--runs 3] [--latency 0.02] [--quick]

dswatch: `Poller.poll_all_once()` of an engine built from a config (the path
`dswatch status` takes), keep-alive httpx pool of `max_concurrency`.
Baseline: the loop of Visual Layer's docs, `requests.get` per dataset,
sequential, measured in the same run against the same simulator. For sizes
above --baseline-sample the baseline is measured on that many datasets and
extrapolated linearly (the table marks it). Client CPU is
`time.process_time()` of this process; the simulator runs in another.
"""

from __future__ import annotations

import asyncio
import math
import sys
from dataclasses import dataclass

import requests
from _common import (
    Row,
    SimProcess,
    engine_sweep,
    floor_seconds,
    header_line,
    median,
    missed,
    ms,
    parser,
    print_table,
    ratio_of,
    secs,
    timed,
    times,
)

from tui.config import Settings

DATASET_ROUTE = "GET /api/v1/dataset/{dataset_id}"
SPEEDUP_TARGET = 10.0  # at N = 1,000: at least this many times faster than the docs' loop
CPU_TARGET = 0.002  # seconds of client CPU per request


@dataclass
class Sweep:
    n: int
    wall: float
    cpu: float
    requests: int  # counted by the client (FetchResult.requests)
    served: int  # counted by the simulator
    ready: int

    @property
    def cpu_per_request(self) -> float:
        return self.cpu / self.requests if self.requests else math.nan


async def dswatch_sweep(url: str, ids: list[str], concurrency: int) -> Sweep:
    run = await engine_sweep(f"{url}/vl", "visual_layer", ids, concurrency)
    return Sweep(len(ids), run.wall, run.cpu, run.requests, 0, run.ready)


def docs_loop(base: str, ids: list[str]) -> Sweep:
    """Visual Layer's documented loop: one `requests.get` per dataset, one after another."""
    ready = 0
    with timed() as t:
        for dataset_id in ids:
            response = requests.get(f"{base}/api/v1/dataset/{dataset_id}", timeout=30)
            response.raise_for_status()
            if response.json().get("status_new") == "READY":
                ready += 1
    return Sweep(len(ids), t.wall, t.cpu, len(ids), 0, ready)


def one_run(
    sim: SimProcess, ids: list[str], sizes: list[int], sample: int, concurrency: int
) -> tuple[dict[int, Sweep], Sweep]:
    ours: dict[int, Sweep] = {}
    for n in sizes:
        sim.reset_stats()
        sweep = asyncio.run(dswatch_sweep(sim.url, ids[:n], concurrency))
        sweep.served = sim.requests("vl")
        ours[n] = sweep
    sim.reset_stats()
    baseline = docs_loop(f"{sim.url}/vl", ids[:sample])
    baseline.served = sim.requests("vl")
    return ours, baseline


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", metavar="N", help="default 1000 10000")
    p.add_argument(
        "--concurrency",
        type=int,
        default=Settings().max_concurrency,
        help="max_concurrency (default: the setting's default)",
    )
    p.add_argument(
        "--baseline-sample",
        type=int,
        default=1000,
        metavar="N",
        help="datasets the docs' loop really polls; larger sizes are extrapolated",
    )
    args = p.parse_args()
    sizes = args.sizes or ([20, 100] if args.quick else [1000, 10000])
    sample = min(args.baseline_sample, max(sizes))
    concurrency = args.concurrency

    runs: list[tuple[dict[int, Sweep], Sweep]] = []
    with SimProcess(latency=args.latency) as sim:
        ids = sim.control.add_vl_datasets(max(sizes), status="READY")
        for _ in range(args.runs):
            runs.append(one_run(sim, ids, sizes, sample, concurrency))

    base_runs = [b for _, b in runs]
    base_wall_per = median([b.wall / b.n for b in base_runs])
    base_cpu_per = median([b.cpu / b.n for b in base_runs])
    rows: list[Row] = []
    intro = [
        header_line("Sweep", args),
        f"dswatch: Poller.poll_all_once, max_concurrency {concurrency}, httpx keep-alive. "
        f"Baseline: the Visual Layer docs' loop (sequential requests.get), measured on "
        f"{sample:,} datasets per run.",
    ]
    notes: list[str] = []
    for n in sizes:
        sweeps = [r[n] for r, _ in runs]
        wall = median([s.wall for s in sweeps])
        cpu_per = median([s.cpu_per_request for s in sweeps])
        made = median([s.requests for s in sweeps])
        served = median([s.served for s in sweeps])
        ready = min(s.ready for s in sweeps)
        extrapolated = n > sample
        mark = " *" if extrapolated else ""
        base_wall = base_wall_per * n
        speedup = ratio_of(base_wall, wall)
        floor = floor_seconds(n, concurrency, args.latency)
        speed_target = n == 1000 or (args.quick and n == sizes[0])
        rows += [
            Row(
                f"N={n:,} wall time",
                secs(wall),
                secs(base_wall) + mark,
                times(speedup),
                f"≥ {SPEEDUP_TARGET:g}× faster" if speed_target else "-",
                speedup >= SPEEDUP_TARGET if speed_target else None,
            ),
            Row(
                f"N={n:,} requests/s",
                f"{made / wall:,.0f}",
                f"{1 / base_wall_per:,.0f}" + mark,
                times(ratio_of(made / wall, 1 / base_wall_per)),
            ),
            Row(
                f"N={n:,} client CPU per request",
                ms(cpu_per, 2),
                ms(base_cpu_per, 2) + mark,
                times(ratio_of(base_cpu_per, cpu_per)),
                f"≤ {CPU_TARGET * 1000:g} ms",
                cpu_per <= CPU_TARGET,
            ),
            Row(
                f"N={n:,} floor ceil(N/{concurrency})×latency",
                secs(floor),
                "-",
                f"wall = {wall / floor:.1f}× floor" if floor else "-",
            ),
            Row(
                f"N={n:,} requests (client / simulator)",
                f"{made:,.0f} / {served:,.0f}",
                f"{n:,}",
                "-",
                f"= {n:,}, all READY",
                made == n and served == n and ready == n,
            ),
        ]
    if any(n > sample for n in sizes):
        notes.append(
            f"* extrapolated linearly from the docs' loop over {sample:,} datasets "
            f"({ms(base_wall_per, 2)} wall, {ms(base_cpu_per, 2)} CPU per dataset)."
        )
    print_table(
        "Sweep: one full poll of N READY Visual Layer datasets", rows, intro=intro, notes=notes
    )
    return 1 if args.strict and missed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
