"""A simulator of the Visual Layer and Cognee APIs, for the demo, tests and benchmarks.

One Starlette app: Visual Layer under /vl, Cognee under /cognee, the control
API under /_sim. Use it in-process (httpx.ASGITransport(app=sim.app)), on a
socket in a thread (SimServer) or standalone (serve, behind `dswatch sim`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .control import SimControl
from .faults import BODY_FAULTS, FAULT_STATUSES, Faults
from .simulator import Simulator
from .stats import BackendStats

if TYPE_CHECKING:
    from .server import SimServer, serve


def __getattr__(name: str) -> Any:
    # uvicorn only when serving on a socket: the in-process demo never needs it.
    if name in ("SimServer", "serve"):
        from . import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
