"""Memory: dswatch's resident memory headless, after the first sweep and after churn.

    .venv/bin/python benchmarks/memory.py [--datasets 20000] [--reads 720] [--quick]

The simulator runs in its own process with N Cognee datasets whose every
pipeline changes status each second (STARTED <-> INITIATED: every read is a
change, the worst case for memory: each read builds a new state and a
transition). dswatch's engine runs headless in a child process of this
script, wired as `dswatch watch` wires it (`load_engine` on a config file,
`HistoryLink.for_settings` on a temporary DSWATCH_STATE_DIR, `tune_gc`), and
reads its own /proc/self/status: VmRSS (now) and VmHWM (peak) after the
imports, after the engine is built (placeholder rows), after the first sweep
(every dataset read once) and after `--reads` reads per dataset.

"An hour of churn" at the default intervals (poll_interval 5 s) is 720 reads
of every busy dataset; the same number of reads is made here with faster
intervals (--intervals, default 1 s / 1 s), so it takes minutes, not an hour.
The table says which intervals and how many reads were actually made.
Targets (issue 17): RSS after the churn ≤ 2× RSS after the first sweep, at
20,000 datasets; RSS ≤ 250 MB at 50,000 (--big; at 5 s / 60 s, --big-reads
reads each). Baseline, same run: the RSS after the first sweep, and the
process after imports alone (its fixed cost).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import HERE, PYTHON, Row, SimProcess, header_line, missed, parser, print_table

MIB = 1024 * 1024
DEFAULT_POLL_S = 5.0  # what an hour of churn means: reads at the default poll_interval
TARGET_RATIO = 2.0  # RSS after an hour of churn / after the first sweep (issue 17)
TARGET_BIG_MB = 250.0  # RSS at 50,000 datasets, MB (issue 17)
REPORT_EVERY_S = 10.0


def vm(key: str) -> int:
    """VmRSS / VmHWM of this process, bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def snapshot(label: str, **extra: Any) -> dict[str, Any]:
    return {"at": label, "rss": vm("VmRSS"), "hwm": vm("VmHWM"), **extra}


# ---------------------------------------------------------------- the child: dswatch


def print_top_allocations(n: int, top: int = 40) -> None:
    """With PYTHONTRACEMALLOC=1 (slow): where the live memory was allocated, per dataset."""
    stats = tracemalloc.take_snapshot().statistics("lineno")
    total = sum(s.size for s in stats)
    print(f"tracemalloc: {total / n:,.0f} B/dataset live in Python objects", file=sys.stderr)
    for stat in stats[:top]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        print(f"  {stat.size / n:8,.0f} B/dataset  {stat.count:>9,}  {where}", file=sys.stderr)


async def child_run(config: Path, reads_each: int, max_seconds: float) -> None:
    from tui.engine import load_engine, tune_gc
    from tui.history_link import HistoryLink

    out = [snapshot("imports")]
    engine = load_engine(config)
    keys = [(b.name, i) for b in engine.config.backends for i in b.datasets]
    history = HistoryLink.for_settings(engine.model, keys, engine.config.settings)
    tune_gc()
    n = len(keys)
    out.append(snapshot("built"))
    reads = 0
    for backend in engine.backends.values():
        fetch = backend.fetch

        async def counting(ids: Any, previous: Any, _fetch: Any = fetch) -> Any:
            nonlocal reads
            result = await _fetch(ids, previous)
            reads += len(ids)
            return result

        backend.fetch = counting  # type: ignore[method-assign]
    unread = set(keys)

    def on_update(update: Any) -> None:
        if unread:
            for state in update.states:
                if state.fetched_at is not None:
                    unread.discard(state.key)

    runner = asyncio.create_task(engine.poller.run(on_update))
    started = time.monotonic()
    last_report = started
    try:
        while unread:
            await asyncio.sleep(0.05)
            if time.monotonic() - last_report >= REPORT_EVERY_S:
                last_report = time.monotonic()
                progress = snapshot("sweeping", reads=reads, unread=len(unread))
                print(json.dumps(progress), file=sys.stderr, flush=True)
            if time.monotonic() - started > max_seconds:
                raise TimeoutError(f"the first sweep did not end in {max_seconds:.0f} s")
        out.append(snapshot("first sweep", reads=reads, seconds=time.monotonic() - started))
        swept = time.monotonic()
        # Batches the store's writer has not taken yet: a backlog is memory too.
        waiting = history.store._queue.qsize  # a diagnostic, read only
        backlog = 0
        while reads < reads_each * n and time.monotonic() - started < max_seconds:
            await asyncio.sleep(0.2)
            backlog = max(backlog, waiting())
            if time.monotonic() - last_report >= REPORT_EVERY_S:
                last_report = time.monotonic()
                progress = snapshot("progress", reads=reads, seconds=last_report - swept)
                print(json.dumps({**progress, "queued": waiting()}), file=sys.stderr, flush=True)
        seconds = time.monotonic() - swept
        out.append(snapshot("churn", reads=reads, seconds=seconds, backlog=backlog))
        if tracemalloc.is_tracing():
            print_top_allocations(n)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        history.close()
        await engine.aclose()
    print(json.dumps({"n": n, "samples": out}), flush=True)


def child_main(argv: list[str]) -> int:
    from _common import exit_with_parent

    config, reads_each, max_seconds = Path(argv[0]), int(argv[1]), float(argv[2])
    exit_with_parent(max_seconds + 60)
    asyncio.run(child_run(config, reads_each, max_seconds))
    return 0


# ---------------------------------------------------------------- the parent


def write_config(path: Path, url: str, ids: list[str], poll: float, settled: float) -> None:
    datasets = ",\n".join(f'    "{i}"' for i in ids)
    path.write_text(
        f"[settings]\npoll_interval = {poll}\nsettled_interval = {settled}\n\n"
        f'[[backends]]\nname = "cognee"\ntype = "cognee"\nurl = "{url}/cognee"\n'
        f"datasets = [\n{datasets},\n]\n",
        encoding="utf-8",
    )
    path.chmod(0o600)


def run_child(
    sim: SimProcess, home: Path, n: int, intervals: tuple[float, float], reads: int, limit: float
) -> dict[str, Any]:
    poll, settled = intervals
    config = home / f"config-{n}.toml"
    write_config(config, sim.url, sim.control.state()["cognee_ids"][:n], poll, settled)
    state_dir = home / f"state-{n}"
    state_dir.mkdir()
    env = {**os.environ, "DSWATCH_STATE_DIR": str(state_dir), "XDG_STATE_HOME": str(home)}
    env.pop("DSWATCH_HISTORY", None)  # the store is part of what is measured
    command = [PYTHON, str(Path(__file__).resolve()), "--child", str(config)]
    command += [str(reads), str(limit)]
    # Its progress lines and any traceback go to our stderr as they come.
    done = subprocess.run(
        command, env=env, stdout=subprocess.PIPE, text=True, timeout=limit + 120, cwd=HERE
    )
    if done.returncode != 0:
        raise RuntimeError(f"the dswatch child failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def mib(value: float) -> str:
    return f"{value / MIB:,.0f} MiB"


def rows_for(result: dict[str, Any], label: str, intervals: tuple[float, float]) -> list[Row]:
    n = result["n"]
    at = {s["at"]: s for s in result["samples"]}
    imports, built, first, churn = at["imports"], at["built"], at["first sweep"], at["churn"]
    reads_each = churn["reads"] / n
    hour = reads_each * DEFAULT_POLL_S / 3600
    per_row = (first["rss"] - imports["rss"]) / n
    per_row_end = (churn["rss"] - imports["rss"]) / n
    ratio = churn["rss"] / first["rss"]
    poll, settled = intervals
    churned = (
        f"{reads_each:,.0f} reads each at {poll:g} s/{settled:g} s in {churn['seconds']:,.0f} s"
        f" (= {hour:.2f} h at poll_interval {DEFAULT_POLL_S:g} s)"
    )
    return [
        Row(f"{label}: RSS after imports (the fixed cost)", mib(imports["rss"])),
        Row(
            f"{label}: RSS with the engine built (placeholders)",
            mib(built["rss"]),
            mib(imports["rss"]),
            f"{(built['rss'] - imports['rss']) / n:,.0f} B/dataset",
        ),
        Row(
            f"{label}: RSS after the first sweep",
            mib(first["rss"]),
            mib(imports["rss"]),
            f"{per_row:,.0f} B/dataset",
        ),
        Row(f"{label}: churn", churned),
        Row(
            f"{label}: RSS after the churn (vs after the first sweep)",
            mib(churn["rss"]),
            mib(first["rss"]),
            f"{ratio:.2f}× ({per_row_end:,.0f} B/dataset)",
            f"≤ {TARGET_RATIO:g}×",
            ratio <= TARGET_RATIO,
        ),
        Row(f"{label}: peak RSS (VmHWM) over the run", mib(churn["hwm"])),
        Row(
            f"{label}: history store, batches waiting for its writer (peak, 0.2 s samples)",
            f"{churn['backlog']:,}",
        ),
    ]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(sys.argv[2:])
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, metavar="N", help="Cognee datasets (default 20000)")
    p.add_argument(
        "--reads", type=int, metavar="K", help="reads per dataset after the first sweep (720)"
    )
    p.add_argument("--intervals", default="1/1", metavar="POLL/SETTLED", help="default 1/1")
    p.add_argument("--big", type=int, metavar="N", help="the 50,000 case (default 50000; 0: skip)")
    p.add_argument("--big-reads", type=int, metavar="K", help="its reads per dataset (default 20)")
    p.add_argument("--big-intervals", default="5/60", metavar="POLL/SETTLED", help="default 5/60")
    p.add_argument("--max-seconds", type=float, default=3600.0, help="per child, at most")
    args = p.parse_args()
    n = args.datasets or (1000 if args.quick else 20_000)
    reads = args.reads if args.reads is not None else (5 if args.quick else 720)
    big = args.big if args.big is not None else (2000 if args.quick else 50_000)
    big_reads = args.big_reads if args.big_reads is not None else (2 if args.quick else 20)

    def intervals(text: str) -> tuple[float, float]:
        poll, _, settled = text.partition("/")
        return float(poll), float(settled or poll)

    churn_intervals = intervals(args.intervals)
    big_intervals = intervals(args.big_intervals)
    rows: list[Row] = []
    with (
        tempfile.TemporaryDirectory(prefix="dswatch-memory-") as tmp,
        SimProcess(latency=args.latency) as sim,
    ):
        sim.control.add_cognee_datasets(max(n, big))
        sim.control.set_churn("cognee", True, settles=False)
        result = run_child(sim, Path(tmp), n, churn_intervals, reads, args.max_seconds)
        rows += rows_for(result, f"{n:,}", churn_intervals)
        if big:
            result = run_child(sim, Path(tmp), big, big_intervals, big_reads, args.max_seconds)
            big_rows = rows_for(result, f"{big:,}", big_intervals)
            first = result["samples"][2]
            end = result["samples"][3]
            top = max(first["hwm"], end["hwm"]) / 1e6
            big_rows.append(
                Row(
                    f"{big:,}: peak RSS, MB (headless)",
                    f"{top:,.0f} MB",
                    target=f"≤ {TARGET_BIG_MB:g} MB",
                    ok=top <= TARGET_BIG_MB,
                )
            )
            for row in big_rows:
                if "vs after the first sweep" in row.metric:
                    row.target, row.ok = "-", None  # the ratio target is the 20,000 one
            rows += big_rows
    intro = [
        header_line("Memory", args),
        "dswatch's engine headless (load_engine + HistoryLink + tune_gc, as `dswatch "
        "watch`), history store on a temporary DSWATCH_STATE_DIR, over Cognee datasets "
        "whose every pipeline changes status each second (every read a change). RSS from "
        "the child's /proc/self/status; ratio: bytes per dataset over the process after "
        "imports.",
    ]
    print_table("Memory: RSS after the first sweep and after churn", rows, intro=intro)
    return 1 if args.strict and missed(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
