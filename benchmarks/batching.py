"""Batching: one full poll of N Cognee datasets, counted in HTTP requests.

    .venv/bin/python benchmarks/batching.py [--runs 3] [--latency 0.02] [--quick]

dswatch: `Poller.poll_all_once()` of an engine built from a config; the
Cognee backend asks for up to 100 datasets per `GET /api/v1/datasets/status`
and looks names up once with `GET /api/v1/datasets` (reported separately).
Requests are counted twice: by the client (`FetchResult.requests`) and by
the simulator (its per-route counter). Baseline: one status request per
dataset with httpx, at the same concurrency, measured in the same run.

Then the cost of following the whole backend (`follow = "all"`, tui.follow):
one `Follower.sync` (the list request, parsing, adding every dataset to the
poller) over all N datasets; neither API pages its list, so it is one
request per settled_interval whatever N.
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

from tui.config import Settings

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


@dataclass
class Listing:
    n: int
    wall: float
    cpu: float
    requests: int  # counted by the simulator
    watched: int  # datasets the follower added


async def follow_list(url: str) -> Listing:
    """`follow = "all"`: one Follower.sync of the Cognee backend, timed (no dataset polled)."""
    from tui.config import BackendConfig, Config
    from tui.engine import build_engine

    config = Config(backends=[BackendConfig(name="b", type="cognee", url=url, follow="all")])
    engine = build_engine(config, None, environ={})
    assert engine.follower is not None
    try:
        with timed() as t:
            await engine.follower.sync("b")
    finally:
        await engine.aclose()
    return Listing(0, t.wall, t.cpu, 0, len(engine.poller.watched("b")))


def counted(sim: SimProcess, sweep: Sweep) -> Sweep:
    stats = sim.control.stats()["cognee"]["by_route"]
    sweep.status_requests = int(stats.get(STATUS_ROUTE, 0))
    sweep.names_requests = int(stats.get(NAMES_ROUTE, 0))
    return sweep


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
        metavar="N",
        help="datasets the baseline really polls; larger sizes are extrapolated (default: all)",
    )
    args = p.parse_args()
    sizes = args.sizes or ([150, 450] if args.quick else [1000, 10000])
    sample = min(args.baseline_sample or max(sizes), max(sizes))

    ours: dict[int, list[Sweep]] = {n: [] for n in sizes}
    base: dict[int, list[Sweep]] = {n: [] for n in sizes}
    listings: list[Listing] = []
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
            sim.reset_stats()
            listing = asyncio.run(follow_list(f"{sim.url}/cognee"))
            listing.n, listing.requests = len(ids), sim.requests("cognee", NAMES_ROUTE)
            listings.append(listing)

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
    n_listed = max(sizes)
    list_requests = median([x.requests for x in listings])
    list_cpu = median([x.cpu for x in listings])
    watched = min(x.watched for x in listings)
    rows += [
        Row(
            f'follow = "all", N={n_listed:,}: list requests per settled_interval',
            f"{list_requests:,.0f}",
            "-",
            "-",
            "1 (no paging in the API)",
            list_requests == 1,
        ),
        Row(
            f'follow = "all", N={n_listed:,}: list wall time',
            secs(median([x.wall for x in listings])),
        ),
        Row(
            f'follow = "all", N={n_listed:,}: list client CPU (per dataset)',
            f"{ms(list_cpu, 0)} ({list_cpu / n_listed * 1e6:.1f} µs)",
        ),
        Row(
            f'follow = "all", N={n_listed:,}: datasets now watched',
            f"{watched:,}",
            "-",
            "-",
            f"= {n_listed:,}",
            watched == n_listed,
        ),
    ]
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
