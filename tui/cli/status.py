"""`dswatch status`: poll every watched dataset once, print a table or JSON."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

from ..engine import Engine
from ..health import state_word
from ..models import DatasetState
from ..text import fit, sanitize
from .common import EXIT_OK, EXIT_PROBLEM, UNREADABLE
from .pipes import ReaderGone, write_out

if TYPE_CHECKING:
    from ..history_link import HistoryLink


async def status(
    engine: Engine, *, as_json: bool, wide: bool = False, history: HistoryLink | None = None
) -> int:
    try:
        states = await engine.poller.poll_all_once()
    finally:
        await engine.aclose()
    rows = sorted(states.values(), key=lambda s: (s.backend, s.label.lower(), s.id))
    code = EXIT_PROBLEM if any(s.state in UNREADABLE for s in rows) else EXIT_OK
    now = engine.model.now()
    stuck = history.check_stuck(now) if history is not None else set()
    if as_json:
        text = json.dumps([{**s.summary(), **timing_of(history, s, now)} for s in rows], indent=2)
    else:
        text = format_table(rows, wide=wide, width=terminal_width(), stuck=stuck)
    # A reader that went away (`| head -1`) is not an error of ours: same exit code.
    with contextlib.suppress(ReaderGone):
        write_out(text + "\n", stream=sys.stdout)
    return code


def timing_of(history: HistoryLink | None, state: DatasetState, now: datetime) -> dict[str, Any]:
    """The keys the store adds to a JSON row: since, eta_seconds, stuck."""
    if history is None:
        return {"since": None, "eta_seconds": None, "stuck": False}
    summary = history.timing(state, now).summary()
    summary["stuck"] = summary["stuck"] and history.is_stuck(state, now)  # running, fresh only
    return summary


def terminal_width() -> int | None:
    """The terminal's width ($COLUMNS first), or None when printing to a pipe or file."""
    if not sys.stdout.isatty() and "COLUMNS" not in os.environ:
        return None  # a script gets whole lines
    return shutil.get_terminal_size().columns


# When a line is wider than the terminal, columns give way in this order: some
# shrink (down to a floor), the least useful go whole, so that the ERROR text
# stays on screen as long as it can; what is still too wide is cut at the edge.
_FIT_STEPS: tuple[tuple[int, int | None], ...] = (
    (8, 16),  # PIPELINES shrinks
    (1, 16),  # NAME
    (3, 10),  # STATUS
    (6, None),  # VIDEOS goes
    (7, None),  # OBJECTS
    (5, None),  # IMAGES
    (8, None),  # PIPELINES
    (9, 12),  # ERROR shrinks
    (4, None),  # PROGRESS goes
)


def format_table(
    rows: Sequence[DatasetState],
    *,
    wide: bool = False,
    width: int | None = None,
    stuck: Collection[tuple[str, str]] = (),
) -> str:
    """The table; `wide` adds an ID column; `width` (cells) keeps each line within it."""
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
            state_word(s) + (" stuck?" if s.key in stuck else ""),
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
    shown = list(range(len(header)))

    def excess() -> int:
        used = sum(widths[i] for i in shown) + 2 * (len(shown) - 1) + (38 if wide else 0)
        return used - (width or 0)

    if width is not None:
        for index, floor in _FIT_STEPS:
            if excess() <= 0:
                break
            if floor is None:
                shown.remove(index)
            else:
                least = max(floor, len(header[index]))
                widths[index] -= max(0, min(excess(), widths[index] - least))
    right = {4, 5, 6, 7}
    ids = ["ID", *(s.id for s in rows)] if wide else None
    lines = []
    for n, row in enumerate((header, *body)):
        cells = [pad(fit(row[i], widths[i]), widths[i], right=i in right) for i in shown]
        if ids is not None:
            cells.insert(2, ids[n].ljust(36))
        line = "  ".join(cells).rstrip()
        lines.append(fit(line, width) if width is not None else line)
    return "\n".join(lines)


def pad(text: str, width: int, *, right: bool = False) -> str:
    """`text` padded with spaces to `width` terminal cells."""
    room = " " * max(width - cell_len(text), 0)
    return room + text if right else text + room


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"
