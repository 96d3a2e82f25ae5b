"""The end-to-end benchmark's baselines, each run as its own process on a config file.

    python benchmarks/_e2e_baselines.py poller    --config PATH [--max-seconds S]
    python benchmarks/_e2e_baselines.py datatable --config PATH [--max-seconds S]

poller: dswatch's engine with no UI at all (the poll results go nowhere): the
cost of polling alone, the floor any UI adds to.
datatable: the same engine feeding a minimal Textual app whose only widget is
the stock-DataTable grid of `_datatable_grid.py` (run it in a terminal).
Both exit by themselves after --max-seconds, or when their parent exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from _common import exit_with_parent
from _datatable_grid import DataTableGrid
from textual.app import App, ComposeResult
from textual.binding import Binding

from tui.engine import Engine, load_engine, tune_gc
from tui.messages import PollerUpdated


async def poller_only(engine: Engine, max_seconds: float) -> None:
    runner = asyncio.create_task(engine.poller.run(lambda update: None))
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(runner), max_seconds)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await engine.aclose()


class DataTableDashboard(App[None]):
    """The engine's poll results applied to a DataTableGrid, one batch at a time."""

    BINDINGS = [Binding("q", "quit", "Quit")]

    def __init__(self, engine: Engine, max_seconds: float) -> None:
        super().__init__()
        self.engine = engine
        self.max_seconds = max_seconds

    def compose(self) -> ComposeResult:
        yield DataTableGrid()

    def on_mount(self) -> None:
        self.set_timer(self.max_seconds, self.exit)
        self.run_worker(self._poll(), exit_on_error=False)

    async def _poll(self) -> None:
        try:
            await self.engine.poller.run(lambda update: self.post_message(PollerUpdated(update)))
        finally:
            await self.engine.aclose()

    def on_poller_updated(self, message: PollerUpdated) -> None:
        self.query_one(DataTableGrid).apply(message.update.states)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("poller", "datatable"))
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--max-seconds", type=float, default=900.0)
    args = p.parse_args()
    exit_with_parent(args.max_seconds + 10)
    engine = load_engine(args.config)
    tune_gc()  # the process settings dswatch runs with, so only the UI differs
    if args.what == "poller":
        asyncio.run(poller_only(engine, args.max_seconds))
    else:
        DataTableDashboard(engine, args.max_seconds).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
