"""`dswatch status`: poll every watched dataset once, print a table or JSON."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Sequence

from rich.cells import cell_len

from ..engine import Engine
from ..models import DatasetState
from ..text import fit, sanitize
from .common import EXIT_OK, EXIT_PROBLEM, UNREADABLE
from .pipes import ReaderGone, write_out


async def status(engine: Engine, *, as_json: bool) -> int:
    try:
        states = await engine.poller.poll_all_once()
    finally:
        await engine.aclose()
    rows = sorted(states.values(), key=lambda s: (s.backend, s.label.lower(), s.id))
    code = EXIT_PROBLEM if any(s.state in UNREADABLE for s in rows) else EXIT_OK
    text = json.dumps([s.summary() for s in rows], indent=2) if as_json else format_table(rows)
    # A reader that went away (`| head -1`) is not an error of ours: same exit code.
    with contextlib.suppress(ReaderGone):
        write_out(text + "\n", stream=sys.stdout)
    return code


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
            fit(sanitize(s.label), 40),
            s.state.value,
            fit(sanitize(s.status or ""), 32),
            "" if s.progress is None else f"{s.progress:.0f}%",
            _count(s.n_images),
            _count(s.n_videos),
            _count(s.n_objects),
            " ".join(
                f"{sanitize(p.removesuffix('_pipeline'))}={fit(sanitize(v), 30)}"
                for p, v in s.pipelines.items()
            ),
            fit(sanitize(s.error or ""), 80),
        )
        for s in rows
    ]
    # Widths and padding in terminal cells, as the grid does: CJK and emoji take
    # two cells, combining marks none; len() would misalign every column after.
    widths = [max(cell_len(r[i]) for r in (header, *body)) for i in range(len(header))]
    right = {4, 5, 6, 7}
    lines = [
        "  ".join(pad(cell, widths[i], right=i in right) for i, cell in enumerate(row)).rstrip()
        for row in (header, *body)
    ]
    return "\n".join(lines)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """`text` padded with spaces to `width` terminal cells."""
    room = " " * max(width - cell_len(text), 0)
    return room + text if right else text + room


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
