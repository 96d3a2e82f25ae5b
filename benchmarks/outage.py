"""How fast an outage is seen and a recovery shown, at dswatch's default settings.

A simulator on 127.0.0.1 (uvicorn in this process's threads) serves datasets
that are all settled (the hard case: nothing is due for settled_interval =
60 s). For each fault, the time from the fault to the backend being down with
every row stale, and from the fault's end to every row fresh again, against
the bounds the README promises: poll_interval + timeout (+1 s) and
poll_interval (+1 s). Prints a markdown table; `--quick` shortens the
intervals (what the smoke test runs).

    .venv/bin/python benchmarks/outage.py
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tui.config import load_config
from tui.engine import build_engine
from tui.sim import SimServer, Simulator


def config(path: Path, url: str, ids: list[str], poll: float, timeout: float) -> Path:
    listed = ", ".join(f'"{i}"' for i in ids)
    path.write_text(
        f"[settings]\npoll_interval = {poll}\nsettled_interval = 60\ntimeout = {timeout}\n"
        f'[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "{url}/vl"\n'
        f"datasets = [{listed}]\n"
    )
    return path


async def until(condition: Callable[[], bool], limit: float) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > limit:
            return float("nan")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def case(name: str, poll: float, timeout: float, datasets: int) -> tuple[str, float, float]:
    sim = Simulator(seed=2, vl_datasets=0, cognee_datasets=0)
    ids = [sim.add_vl_dataset(name=f"d{n}", status="READY", progress=100) for n in range(datasets)]
    with SimServer(sim) as server, tempfile.TemporaryDirectory() as tmp:
        path = config(Path(tmp) / "config.toml", server.url, ids, poll, timeout)
        engine = build_engine(load_config(path), path, environ={})
        model = engine.model
        runner = asyncio.create_task(engine.poller.run())
        try:
            await until(lambda: all(s.fetched_at for s in model.states.values()), 30)
            await asyncio.sleep(poll * 1.5)  # well into the quiet spell
            if name == "server killed":
                server.stop()
            elif name == "HTTP 503":
                sim.set_faults("vl", status=503)
            else:  # the server hangs: every request times out
                sim.set_faults("vl", latency=timeout * 10)
            seen = await until(
                lambda: model.health["vl"].is_down and all(s.stale for s in model.states.values()),
                limit=120,
            )
            await asyncio.sleep(poll)
            if name == "server killed":
                server.start()
            else:
                sim.clear_faults("vl")
            fresh = await until(
                lambda: (
                    not model.health["vl"].is_down
                    and not any(s.stale for s in model.states.values())
                ),
                limit=120,
            )
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await engine.aclose()
    return name, seen, fresh


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short intervals (smoke test)")
    parser.add_argument("--datasets", type=int, default=200)
    args = parser.parse_args()
    poll, timeout = (0.5, 1.0) if args.quick else (5.0, 10.0)
    datasets = 20 if args.quick else args.datasets
    print(
        f"poll_interval {poll:g} s, timeout {timeout:g} s, settled_interval 60 s, "
        f"{datasets} Visual Layer datasets, all settled\n"
    )
    print("| fault | outage seen (all rows stale) | bound | recovery (all rows fresh) | bound |")
    print("|---|---|---|---|---|")
    for name in ("server killed", "HTTP 503", "server hangs"):
        _, seen, fresh = await case(name, poll, timeout, datasets)
        seen_ok = "PASS" if seen <= poll + timeout + 1 else "MISS"
        fresh_ok = "PASS" if fresh <= poll + 1 else "MISS"
        print(
            f"| {name} | {seen:.1f} s | {poll + timeout + 1:g} s {seen_ok} |"
            f" {fresh:.1f} s | {poll + 1:g} s {fresh_ok} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
