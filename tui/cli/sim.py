"""`dswatch sim`: serve the simulator on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_OK


def run_sim(args: argparse.Namespace) -> int:
    from ..sim import Simulator, serve

    simulator = Simulator(seed=args.seed, vl_datasets=args.vl, cognee_datasets=args.cognee)
    if args.latency:
        simulator.set_faults("*", latency=args.latency)
    print(
        f"dswatch sim on http://{args.host}:{args.port}  (Visual Layer: /vl, Cognee: /cognee)",
        file=sys.stderr,
    )
    serve(simulator, host=args.host, port=args.port)
    return EXIT_OK
