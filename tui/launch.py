"""The `dswatch` console script: `tui.cli.main` with garbage collection off during start-up.

Start-up builds objects that live for the whole run (modules, the config, the
stored rows of a warm start); collecting garbage among them finds none and
cost ~60 ms of the warm first screen at 10,000 datasets (benchmarks/README.md).
Each command turns collection back on once it is set up (`tui.cli.main.dispatch`,
`tui.engine.tune_gc`). A module of its own, not `tui.cli`: that package's import
is most of what start-up imports, and tests call `tui.cli.main` in-process.
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    try:
        from .cli import main as run_command

        return run_command()
    finally:
        gc.enable()
