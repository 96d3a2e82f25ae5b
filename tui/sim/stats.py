"""Request counters per backend, read by tests and benchmarks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BackendStats:
    """Every request that reached one backend, faulted or not."""

    total: int = 0
    by_route: Counter[str] = field(default_factory=Counter)  # "GET /api/v1/datasets/status"
    by_status: Counter[int] = field(default_factory=Counter)  # status codes actually sent

    def record_request(self, route: str) -> None:
        self.total += 1
        self.by_route[route] += 1

    def record_status(self, status: int) -> None:
        self.by_status[status] += 1

    def reset(self) -> None:
        self.total = 0
        self.by_route.clear()
        self.by_status.clear()

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_route": dict(self.by_route),
            "by_status": {str(code): count for code, count in self.by_status.items()},
        }
