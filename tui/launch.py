"""The `dswatch` console script: `tui.cli.main` with garbage collection off during
start-up, and no interpreter teardown after it.

Start-up builds objects that live for the whole run (modules, the config, the
stored rows of a warm start); collecting garbage among them finds none and
cost ~60 ms of the warm first screen at 10,000 datasets (benchmarks/README.md).
Each command turns collection back on once it is set up (`tui.cli.main.dispatch`,
`tui.engine.tune_gc`). A module of its own, not `tui.cli`: that package's import
is most of what start-up imports, and tests call `tui.cli.main` in-process.

After the command, tearing the interpreter down (freeing every module, the
pydantic schemas, the event loop's leftovers) took ~25-30 ms of a one-shot
`dswatch status`, whose target is 0.2 s in all (benchmarks/startup.py). Nothing
is left to do by then but what `exit_now` does: flush the output, run the
`atexit` handlers (logging's flush, `weakref.finalize`), then `os._exit`.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading


def main() -> int:
    """The console script: run the command, then leave without a teardown."""
    code = run()
    exit_now(code)
    return code  # only when exit_now could not leave at once (see there)


def run() -> int:
    gc.disable()
    try:
        from .cli import main as run_command

        return run_command()
    finally:
        gc.enable()


def exit_now(code: int) -> None:
    """End the process with `code` the way `sys.exit` would, minus the teardown.

    Returns (and the caller exits normally) while another non-daemon thread
    still runs: the interpreter would wait for it, so must we.
    """
    _flush()
    if any(
        t.is_alive() and not t.daemon
        for t in threading.enumerate()
        if t is not threading.main_thread()
    ):
        return
    atexit._run_exitfuncs()  # what a normal exit runs first; CPython's own hook
    _flush()  # what the handlers wrote
    os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BrokenPipeError, ValueError):  # reader left; stream closed
            stream.flush()
