"""A simulator of the Visual Layer and Cognee APIs, for the demo, tests and benchmarks.

One Starlette app: Visual Layer under /vl, Cognee under /cognee, the control
API under /_sim. Use it in-process (httpx.ASGITransport(app=sim.app)), on a
socket in a thread (SimServer) or standalone (serve, behind `dswatch sim`).
"""

from __future__ import annotations

from .control import SimControl
from .faults import BODY_FAULTS, FAULT_STATUSES, Faults
from .server import SimServer, serve
from .simulator import Simulator
from .stats import BackendStats

__all__ = [
    "BODY_FAULTS",
    "FAULT_STATUSES",
    "BackendStats",
    "Faults",
    "SimControl",
    "SimServer",
    "Simulator",
    "serve",
]
