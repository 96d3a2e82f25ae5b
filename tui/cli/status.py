"""`dswatch status`: poll every watched dataset once, print a table or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..engine import Engine
from ..models import DatasetState
from ..text import sanitize
from .common import EXIT_OK, EXIT_PROBLEM, UNREADABLE


async def status(engine: Engine, *, as_json: bool) -> int:
    try:
        states = await engine.poller.poll_all_once()
    finally:
        await engine.aclose()
    rows = sorted(states.values(), key=lambda s: (s.backend, s.label.lower(), s.id))
    if as_json:
        print(json.dumps([s.summary() for s in rows], indent=2))
    else:
        print(format_table(rows))
    return EXIT_PROBLEM if any(s.state in UNREADABLE for s in rows) else EXIT_OK


def format_table(rows: Sequence[DatasetState]) -> str:
    if not rows:
        return "No datasets are watched. Add one with: dswatch add BACKEND ID"
    header = (
        "BACKEND",
        "NAME",
        "STATE",
        "STATUS",
        "PROGRESS",
        "IMAGES",
        "VIDEOS",
        "OBJECTS",
        "PIPELINES",
        "ERROR",
    )
    body = [
        (
            s.backend,
            sanitize(s.label, max_len=40),
            s.state.value,
            sanitize(s.status or "", max_len=32),
            "" if s.progress is None else f"{s.progress:.0f}%",
            _count(s.n_images),
            _count(s.n_videos),
            _count(s.n_objects),
            " ".join(
                f"{p.removesuffix('_pipeline')}={sanitize(v, max_len=30)}"
                for p, v in s.pipelines.items()
            ),
            sanitize(s.error or "", max_len=80),
        )
        for s in rows
    ]
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]
    right = {4, 5, 6, 7}
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in (header, *body)
    ]
    return "\n".join(lines)


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
