"""What each of the grid's cells shows: pure functions of a DatasetState.

Cells are plain text plus a style name, pure functions of a DatasetState (and
the clock, for ages). No Textual here, so this is cheap to test and the grid can
cache its output per row. Every piece of server text goes through `sanitize`;
nothing is ever parsed as markup. The columns and their widths live in
tui/widgets/columns.py, the row model, sort keys and filter in tui/widgets/rows.py.
"""

from __future__ import annotations

import math
from functools import lru_cache

from rich.cells import cell_len

from ..eta import format_eta
from ..health import state_word
from ..models import MAX_COUNT, DatasetState, State
from ..palette import STATE_LOOKS
from ..text import fit, sanitize

# Re-exported: the app, tests and benchmarks import the columns from here.
from .columns import AGE_COLUMNS, COLUMN_KEYS, COLUMNS, STATIC_COLUMNS, Column, fit_widths

__all__ = [
    "AGE_COLUMNS",
    "AGE_SECONDS_STEP",
    "BAR_WIDTH",
    "COLUMNS",
    "COLUMN_KEYS",
    "FRESH_SECONDS",
    "STATE_LOOK",
    "STATE_RANK",
    "STATIC_COLUMNS",
    "Column",
    "age_cells",
    "backend_text",
    "backend_text_of",
    "changed_columns",
    "eta_cell",
    "fit_widths",
    "format_age",
    "format_count",
    "format_pipelines",
    "format_progress",
    "is_unconfirmed",
    "layout_cell",
    "name_text",
    "pipeline_symbol",
    "pipelines_cells",
    "shorten_progress",
    "shorten_status",
    "state_text",
    "static_cells",
    "static_styles",
    "status_text",
    "status_text_of",
]

# Symbol first, so the state reads without colour (one palette: tui/palette.py).
STATE_LOOK: dict[State, str] = {state: look.label for state, look in STATE_LOOKS.items()}
# Sorting by state puts the worst first.
STATE_RANK: dict[State, int] = {
    state: rank
    for rank, state in enumerate(
        (
            State.UNAUTHORIZED,
            State.ERROR,
            State.NOT_FOUND,
            State.UNREACHABLE,
            State.PARTIAL,
            State.RUNNING,
            State.PENDING,
            State.UNKNOWN,
            State.READY,
        )
    )
}

# Pipeline statuses of both Cognee vocabularies and VL's creation status.
_PIPELINE_SYMBOLS: dict[str, str] = {
    **dict.fromkeys(("COMPLETED", "READY", "SUCCEEDED", "SUCCESS", "DONE"), "✓"),
    **dict.fromkeys(("STARTED", "RUNNING", "PROCESSING", "INDEXING", "IN_PROGRESS"), "⟳"),
    **dict.fromkeys(("INITIATED", "PENDING", "QUEUED", "NEW", "INITIALIZING", "DRAFT"), "◌"),
    **dict.fromkeys(("ERRORED", "FAILED", "ERROR", "FATAL_ERROR", "ABORTED"), "✗"),
    **dict.fromkeys(("", "NOT_STARTED", "NONE"), "·"),
}
_BAR_EIGHTHS = " ▏▎▍▌▋▊▉█"
BAR_WIDTH = 10


def pipeline_symbol(status: str) -> str:
    """`✓`/`⟳`/`◌`/`✗`/`·` for a known pipeline status, else the status itself."""
    norm = status.strip().upper().replace(" ", "_").removeprefix("DATASET_PROCESSING_")
    return _PIPELINE_SYMBOLS.get(norm) or sanitize(status.strip().lower(), max_len=16)


def format_pipelines(pipelines: dict[str, str]) -> str:
    """`add ✓ cognify ⟳`: each pipeline (without `_pipeline`) and its state symbol."""
    return _format_pipelines(tuple(pipelines.items())) if pipelines else ""


@lru_cache(maxsize=512)  # thousands of rows share a handful of combinations
def _format_pipelines(items: tuple[tuple[str, str], ...]) -> str:
    return " ".join(
        f"{sanitize(name.removesuffix('_pipeline'), max_len=24)} {pipeline_symbol(status)}"
        for name, status in items
    )


def pipelines_cells(pipelines: dict[str, str]) -> int:
    """How many cells format_pipelines(pipelines) takes (cached like it)."""
    return _pipelines_cells(tuple(pipelines.items())) if pipelines else 0


@lru_cache(maxsize=512)
def _pipelines_cells(items: tuple[tuple[str, str], ...]) -> int:
    return cell_len(_format_pipelines(items))


def _progress_shown(progress: float | None) -> tuple[int, int] | None:
    """What the progress cell shows: (eighths of bar, whole percent)."""
    if progress is None or not math.isfinite(progress):
        return None  # models.valid_progress already refuses these; never crash a repaint
    value = min(max(progress, 0.0), 100.0)
    return round(value * BAR_WIDTH * 8 / 100), round(value)


def format_progress(progress: float | None) -> str:
    """`████▌      45%`: a 10-cell bar in eighths, then the percentage."""
    shown = _progress_shown(progress)
    if shown is None:
        return ""
    full, part = divmod(shown[0], 8)
    bar = ("█" * full + (_BAR_EIGHTHS[part] if part else "")).ljust(BAR_WIDTH)
    return f"{bar} {shown[1]:3d}%"


def format_count(value: int | None) -> str:
    """`1,234,567`; past 10 cells `123.5M`/`12.3B`, so the column never needs to grow."""
    if value is None or not 0 <= value <= MAX_COUNT:
        return ""  # models.valid_count already refuses these: unknown, never an overflow
    if value < 100_000_000:
        return f"{value:,}"
    big = abs(value)
    size, unit = (10**12, "T") if big >= 10**12 else (10**9, "B") if big >= 10**9 else (10**6, "M")
    return f"{value / size:,.1f}{unit}"


AGE_SECONDS_STEP = 5
FRESH_SECONDS = 10  # younger data reads "now"


def format_age(seconds: float) -> str:
    """`15s`, `4m`, `2h`, `3d`: coarse on purpose, so the text changes rarely.

    Under a minute the age moves in 5-second steps: with 1-second steps every
    visible fresh row repaints every second, ~8 ms of Textual compositing per
    second on a 200x60 screen (0.8% CPU while nothing else happens); in steps
    of 5 that is 0.15%.
    """
    seconds = max(int(seconds), 0)
    if seconds < FRESH_SECONDS:
        return "now"  # a row polled every 5 s stays "now", not 0s/5s/0s
    if seconds < 60:
        return f"{seconds - seconds % AGE_SECONDS_STEP}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def backend_text(state: DatasetState) -> str:
    return backend_text_of(state.backend)


def backend_text_of(backend: str) -> str:
    return sanitize(backend, max_len=64)


def name_text(state: DatasetState) -> str:
    return sanitize(state.label, max_len=256)


def status_text(state: DatasetState) -> str:
    return status_text_of(state.status or "")


def status_text_of(status: str) -> str:
    return sanitize(status, max_len=128)


def state_text(state: DatasetState) -> str:
    """`✓ ready`; for a failed read, why: `⌁ HTTP 500`, `⌁ timed out`."""
    if state.state is State.UNREACHABLE:
        return f"{STATE_LOOKS[state.state].glyph} {state_word(state)}"
    return STATE_LOOK[state.state]


def static_cells(state: DatasetState) -> tuple[str, ...]:
    """The texts of every column but the ages, in COLUMNS order."""
    return (
        backend_text(state),
        name_text(state),
        state_text(state),
        status_text(state),
        format_progress(state.progress),
        format_count(state.n_images),
        format_count(state.n_videos),
        format_count(state.n_objects),
        format_pipelines(state.pipelines),
    )


def static_styles(state: DatasetState) -> tuple[str, ...]:
    """The style name (a `datasetgrid--NAME` component class, or "") of each static cell."""
    state_style = f"state-{state.state.value}"
    return ("dim", "", state_style, "", "progress", "", "", "", "dim")


def age_cells(
    fetched_ts: float | None,
    stale: bool,
    stale_ts: float | None,
    now: float,
    unconfirmed: bool = False,
) -> tuple[str, str]:
    """The `updated` and `stale` texts at time `now` (timestamps in epoch seconds).

    One age per row: how old the data shown is. A stale row is only marked
    (since when it fails is in the details); a row never read says so. A row
    shown from the history store, not yet confirmed by this run's first
    answer, says `seen 3h` (the age of what it shows).
    """
    if fetched_ts is None:
        return ("never" if stale else ""), ("STALE" if stale else "")
    age = format_age(now - fetched_ts)
    if unconfirmed and not stale:
        return age, f"seen {age}"
    return age, ("STALE" if stale else "")


def is_unconfirmed(state: DatasetState) -> bool:
    """Shown from the history store: read in an earlier run, not yet this run."""
    return state.polled_at is None and state.fetched_at is not None


def eta_cell(elapsed: float | None, eta_seconds: float | None, stuck: bool) -> str:
    """The eta column of a running dataset: `~12m · 4m`, `stuck? 2h`, `4m`; else ``.

    Coarse like the ages (format_age), so a running row repaints rarely.
    """
    if elapsed is None:
        return ""
    spent = format_age(elapsed)
    if spent == "now":  # an age says "now"; a run only just started has run for <10s
        spent = "<10s"
    if stuck:
        return f"stuck? {spent}"
    if eta_seconds is None:
        return spent
    return f"{format_eta(eta_seconds)} · {spent}"


_COGNEE_STATUS_PREFIX = "DATASET_PROCESSING_"


def shorten_status(text: str, width: int) -> str:
    """Cognee's `DATASET_PROCESSING_COMPLETED` reads as `…COMPLETED` in a narrow column."""
    if cell_len(text) > width and text.startswith(_COGNEE_STATUS_PREFIX):
        return "…" + text[len(_COGNEE_STATUS_PREFIX) :]
    return text


def shorten_progress(text: str, width: int) -> str:
    """`████▌      45%` in a narrower column: a shorter bar, or `45%` alone."""
    if cell_len(text) <= width:
        return text
    percent = text[BAR_WIDTH:].strip()
    cells = width - 5  # " 100%"
    if cells < 3:
        return percent
    full, part = divmod(round(int(percent[:-1]) * cells * 8 / 100), 8)
    bar = ("█" * full + (_BAR_EIGHTHS[part] if part else "")).ljust(cells)
    return f"{bar} {percent:>4}"


def layout_cell(text: str, width: int, right: bool) -> str:
    """`text` cut or padded to exactly `width` cells."""
    text = fit(text, width)
    pad = width - cell_len(text)
    if pad <= 0:
        return text
    return " " * pad + text if right else text + " " * pad


# Columns whose text follows one DatasetState field (progress is compared by its text).
_WATCHED_FIELDS = (
    (1, "name"),
    (2, "state"),
    (3, "status"),
    (5, "n_images"),
    (6, "n_videos"),
    (7, "n_objects"),
    (8, "pipelines"),
    (10, "stale"),
)


def changed_columns(old: DatasetState, new: DatasetState) -> frozenset[int]:
    """Indexes (into COLUMNS) of the cells whose shown value differs; ages excluded."""
    changed = {
        index for index, field in _WATCHED_FIELDS if getattr(old, field) != getattr(new, field)
    }
    if old.progress != new.progress and _progress_shown(old.progress) != _progress_shown(
        new.progress
    ):
        changed.add(4)
    return frozenset(changed)
