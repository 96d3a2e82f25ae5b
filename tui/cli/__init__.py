"""`dswatch`: the dashboard, and one-shot commands for scripts and CI.

`main` parses the arguments and runs one command; each command lives in a
module of its own here and is imported only when it runs, so a one-shot
command never pays for the dashboard or the simulator.
"""

from __future__ import annotations

import sys

# `import httpx` also imports httpx's own command-line tool (`httpx._main`, which
# pulls in rich.progress, click and pygments: ~50 ms) whenever those happen to be
# installed; it guards that import with `except ImportError`. A None entry in
# sys.modules makes that import fail at once (the import system's documented
# "halted" marker), so dswatch never pays for a tool it does not run. Only when
# httpx is not imported yet: an embedding process keeps whatever it has.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)

from .main import main

__all__ = ["main"]
