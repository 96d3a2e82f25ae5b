"""The poller's CPU under churn, two source trees alternated in the same run.

    .venv/bin/python benchmarks/poller_cpu.py [--base TREE] [--ours .] [--runs 3]

The simulator (its own process) serves N Cognee datasets whose every pipeline
changes status each second; `_e2e_baselines.py poller` (the engine, no UI)
polls them at --intervals (default 1 s / 1 s, issue 17's stress case) with
PYTHONPATH set to one tree, then the other, alternately. After --warmup
seconds, the child's CPU (utime + stime) is read over --seconds. Only such
alternated pairs compare on a shared machine; the medians are printed. Without
--base, this tree is compared with itself: the method's noise.
--together runs both pollers at once over the same window instead (each then
has the other's load too, but both meet the same machine at the same time).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from _common import (
    HERE,
    PYTHON,
    Row,
    SimProcess,
    header_line,
    median,
    parser,
    pct,
    print_table,
    proc_cpu_seconds,
)
from e2e import parse_intervals, write_config


def run_once(trees: list[Path], config: Path, warmup: float, seconds: float) -> list[float]:
    """% of a core the poller of each of `trees` (run at once) used over `seconds`."""
    command = [PYTHON, str(HERE / "_e2e_baselines.py"), "poller", "--config", str(config)]
    command += ["--max-seconds", str(warmup + seconds + 30)]
    procs = []
    try:
        for tree in trees:
            env = {**os.environ, "PYTHONPATH": str(tree), "DSWATCH_HISTORY": "off"}
            quiet = subprocess.DEVNULL
            procs.append(subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet))
        time.sleep(warmup)
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError("a poller exited early")
        cpu, wall = [proc_cpu_seconds(p.pid) for p in procs], time.perf_counter()
        time.sleep(seconds)
        wall = time.perf_counter() - wall
        return [100 * (proc_cpu_seconds(p.pid) - c) / wall for p, c in zip(procs, cpu, strict=True)]
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--base", type=Path, default=HERE.parent, help="the tree to compare with")
    p.add_argument("--ours", type=Path, default=HERE.parent, help="this tree (default)")
    p.add_argument("--datasets", type=int, default=5000, metavar="N")
    p.add_argument("--intervals", default="1/1", metavar="POLL/SETTLED")
    p.add_argument("--warmup", type=float, default=8.0, metavar="S")
    p.add_argument("--seconds", type=float, default=20.0, metavar="S")
    p.add_argument("--together", action="store_true", help="both pollers at once, each run")
    args = p.parse_args()
    if args.quick:
        args.datasets, args.warmup, args.seconds = 200, 2.0, 2.0
    poll, settled = parse_intervals(args.intervals)
    trees = {"base": args.base.resolve(), "ours": args.ours.resolve()}
    results: dict[str, list[float]] = {name: [] for name in trees}
    with SimProcess(latency=args.latency) as sim, tempfile.TemporaryDirectory() as home:
        ids = sim.control.add_cognee_datasets(args.datasets)
        sim.control.set_churn("cognee", True, settles=False)
        config = Path(home) / "config.toml"
        write_config(config, sim.url, ids, poll, settled)
        for run in range(args.runs):
            order = list(trees) if run % 2 == 0 else list(reversed(trees))
            groups = [order] if args.together else [[name] for name in order]
            for group in groups:
                measured = run_once([trees[n] for n in group], config, args.warmup, args.seconds)
                for name, cpu in zip(group, measured, strict=True):
                    results[name].append(cpu)
                    print(f"run {run + 1} {name}: {cpu:.2f}% of a core", flush=True)
    base, ours = median(results["base"]), median(results["ours"])
    change = f"{(ours - base) / base:+.1%}" if base > 0 else "-"
    label = f"{args.datasets:,} datasets at {poll:g} s/{settled:g} s"
    print_table(
        "The poller's CPU under churn, two trees",
        [Row(f"{label}: poller CPU (vs --base)", pct(ours), pct(base), change)],
        intro=[
            header_line("Poller CPU", args),
            f"ours: {trees['ours']}; base: {trees['base']}; "
            + ("both at once" if args.together else "alternated")
            + f"; {args.warmup:g} s warm-up, {args.seconds:g} s window. Ratio: change vs base.",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
