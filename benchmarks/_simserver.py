"""Serve a Simulator on a free port of 127.0.0.1 for the benchmarks, in its own process.

    python benchmarks/_simserver.py [--latency S] [--seed N] [--port P]

Prints `PORT <n>` on stdout once it listens, then serves until terminated, its
parent (the benchmark) exits, or --max-seconds pass.
It starts with no datasets: benchmarks add them (and turn on churn) through
the /_sim control API (tui.sim.SimControl), which answers with their IDs.
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn
from _common import exit_with_parent

from tui.sim import Simulator


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="0: any free port")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0, metavar="S", help="added per request")
    p.add_argument("--max-seconds", type=float, default=3600.0, help="exit after this long")
    args = p.parse_args()
    exit_with_parent(args.max_seconds)  # never outlive the benchmark

    sim = Simulator(seed=args.seed, vl_datasets=0, cognee_datasets=0)
    if args.latency:
        sim.set_faults("*", latency=args.latency)
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose
    # proto says TCP, and without it Nagle + delayed ACK stall every keep-alive
    # response by ~40 ms (uvicorn writes headers and body separately).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)  # connections made before uvicorn is up wait in the backlog
    config = uvicorn.Config(
        sim.app,
        log_level="critical",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
