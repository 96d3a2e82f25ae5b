"""`dswatch`: the dashboard, and one-shot commands for scripts and CI.

`main` parses the arguments and runs one command; each command lives in a
module of its own here and is imported only when it runs, so a one-shot
command never pays for the dashboard or the simulator.
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
