"""Batching: one full poll of N Cognee datasets, counted in HTTP requests.

    .venv/bin/python benchmarks/batching.py [--runs 3] [--latency 0.02] [--quick]

dswatch: `Poller.poll_all_once()` of an engine built from a config; the
Cognee backend asks for up to 100 datasets per `GET /api/v1/datasets/status`
and looks names up once with `GET /api/v1/datasets` (reported separately).
Requests are counted twice: by the client (`FetchResult.requests`) and by
the simulator (its per-route counter). Baseline: one status request per
dataset with httpx, at the same concurrency, measured in the same run.
"""

from __future__ import annotations

import asyncio
import math
import sys
from dataclasses import dataclass

import httpx
from _common import (
    Row,
    SimProcess,
    engine_sweep,
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

STATUS_ROUTE = "GET /api/v1/datasets/status"
NAMES_ROUTE = "GET /api/v1/datasets"
PIPELINES = ("add_pipeline", "cognify_pipeline")
BATCH = 100  # the target: at most ceil(N / BATCH) status requests per sweep


@dataclass
class Sweep:
    n: int
    wall: float
    cpu: float
    client_requests: int  # FetchResult.requests (status and names together)
    status_requests: int = 0  # counted by the simulator
    names_requests: int = 0
    ready: int = 0


async def dswatch_sweep(url: str, ids: list[str], concurrency: int) -> Sweep:
    run = await engine_sweep(f"{url}/cognee", "cognee", ids, concurrency)
    return Sweep(len(ids), run.wall, run.cpu, run.requests, ready=run.ready)


async def one_per_dataset(url: str, ids: list[str], concurrency: int) -> Sweep:
    """The baseline: a status request per dataset, `concurrency` at a time."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    slots = asyncio.Semaphore(concurrency)
    ready = 0
    async with httpx.AsyncClient(base_url=f"{url}/cognee", limits=limits, timeout=30) as client:

        async def one(dataset_id: str) -> None:
            nonlocal ready
            params = [("dataset", dataset_id)] + [("pipeline", p) for p in PIPELINES]
            async with slots:
                response = await client.get("/api/v1/datasets/status", params=params)
            response.raise_for_status()
            runs = response.json().get(dataset_id) or {}
            if all(str(runs.get(p, "")).endswith("COMPLETED") for p in PIPELINES):
                ready += 1

        with timed() as t:
            await asyncio.gather(*(one(i) for i in ids))
    return Sweep(len(ids), t.wall, t.cpu, len(ids), ready=ready)


def counted(sim: SimProcess, sweep: Sweep) -> Sweep:
    stats = sim.control.stats()["cognee"]["by_route"]
    sweep.status_requests = int(stats.get(STATUS_ROUTE, 0))
    sweep.names_requests = int(stats.get(NAMES_ROUTE, 0))
    return sweep


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", metavar="N", help="default 1000 10000")
    p.add_argument("--concurrency", type=int, default=12, help="max_concurrency (default 12)")
    p.add_argument(
        "--baseline-sample",
        type=int,
        metavar="N",
        help="datasets the baseline really polls; larger sizes are extrapolated (default: all)",
    )
    args = p.parse_args()
    sizes = args.sizes or ([150, 450] if args.quick else [1000, 10000])
    sample = min(args.baseline_sample or max(sizes), max(sizes))

    ours: dict[int, list[Sweep]] = {n: [] for n in sizes}
    base: dict[int, list[Sweep]] = {n: [] for n in sizes}
    with SimProcess(latency=args.latency) as sim:
        ids = sim.control.add_cognee_datasets(max(sizes))
        for _ in range(args.runs):
            for n in sizes:
                sim.reset_stats()
                ours[n].append(
                    counted(sim, asyncio.run(dswatch_sweep(sim.url, ids[:n], args.concurrency)))
                )
            for n in sorted({min(n, sample) for n in sizes}):
                sim.reset_stats()
                sweep = asyncio.run(one_per_dataset(sim.url, ids[:n], args.concurrency))
                base[n].append(counted(sim, sweep))

    rows: list[Row] = []
    notes: list[str] = []
    for n in sizes:
        measured_n = min(n, sample)
        scale = n / measured_n
        mark = " *" if scale != 1 else ""
        mine, theirs = ours[n], base[measured_n]
        status = median([s.status_requests for s in mine])
        client = median([s.client_requests for s in mine])
        names = median([s.names_requests for s in mine])
        wall = median([s.wall for s in mine])
        cpu = median([s.cpu for s in mine])
        base_status = median([s.status_requests for s in theirs]) * scale
        base_wall = median([s.wall for s in theirs]) * scale
        base_cpu = median([s.cpu for s in theirs]) * scale
        limit = math.ceil(n / BATCH)
        ready = min(s.ready for s in mine)
        rows += [
            Row(
                f"N={n:,} status requests (simulator)",
                f"{status:,.0f}",
                f"{base_status:,.0f}{mark}",
                times(ratio_of(base_status, status)),
                f"≤ {limit:,}",
                status <= limit,
            ),
            Row(
                f"N={n:,} names lookups (simulator)",
                f"{names:,.0f}",
                "0",
                "-",
                "reported apart",
            ),
            Row(
                f"N={n:,} requests (client FetchResult)",
                f"{client:,.0f}",
                "-",
                "-",
                "= status + names",
                client == status + names,
            ),
            Row(
                f"N={n:,} wall time",
                secs(wall),
                secs(base_wall) + mark,
                times(ratio_of(base_wall, wall)),
            ),
            Row(
                f"N={n:,} client CPU",
                ms(cpu, 0),
                ms(base_cpu, 0) + mark,
                times(ratio_of(base_cpu, cpu)),
            ),
            Row(f"N={n:,} datasets read as ready", f"{ready:,}", "-", "-", f"= {n:,}", ready == n),
        ]
        if scale != 1:
            notes.append(
                f"* N={n:,}: baseline measured on {measured_n:,} datasets, scaled ×{scale:g}."
            )
    intro = [
        header_line("Batching", args),
        f"dswatch: Poller.poll_all_once, Cognee backend (batch of {BATCH}), "
        f"max_concurrency {args.concurrency}. Baseline: httpx, one status request per "
        f"dataset, {args.concurrency} at a time.",
    ]
    print_table("Batching: one full poll of N Cognee datasets", rows, intro=intro, notes=notes)
    return 1 if args.strict and missed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
