"""The grid's rows without the widget: what each column shows, sorts and filters by.

Cells are plain text plus a style name, pure functions of a DatasetState (and
the clock, for ages). No Textual here, so this is cheap to test and the grid can
cache its output per row. Every piece of server text goes through `sanitize`;
nothing is ever parsed as markup.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any

from rich.cells import cell_len

from ..eta import format_eta
from ..models import MAX_COUNT, DatasetState, State
from ..palette import STATE_LOOKS
from ..text import fit, sanitize


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int  # starting (and minimum) width in cells
    max_width: int  # data can widen the column up to this; == width: fixed
    right: bool = False  # right-aligned (numbers)


COLUMNS: tuple[Column, ...] = (
    Column("backend", "backend", 7, 16),  # see _SHRINKABLE
    Column("name", "name", 12, 36),
    Column("state", "state", 14, 14),
    Column("status", "status", 8, 28),  # DATASET_PROCESSING_COMPLETED fits
    Column("progress", "progress", 15, 15),
    Column("images", "images", 10, 10, right=True),
    Column("videos", "videos", 10, 10, right=True),
    Column("objects", "objects", 10, 10, right=True),
    Column("pipelines", "pipelines", 11, 36),
    Column("eta", "eta", 9, 14),  # `~12m · 4m`, `stuck? 2h`: running rows only
    Column("updated", "updated", 9, 9, right=True),
    Column("stale", "stale", 9, 9),
)
COLUMN_KEYS: tuple[str, ...] = tuple(column.key for column in COLUMNS)
# When the columns do not fit the screen: first these give up width, in this
# order, down to these widths (enough for VL statuses, `add ✓ cognify ✓`, a
# readable name, seven-digit counts, a bare percentage)...
_SHRINKABLE: tuple[tuple[str, int], ...] = (
    ("status", 14),
    ("pipelines", 15),
    ("progress", 4),
    ("name", 20),
    ("backend", 12),  # `visual-layer` whole
    ("images", 9),
    ("videos", 9),
    ("objects", 9),
)
# ...then these leave the screen, in this order. State, name and stale never do.
_HIDE_FIRST: tuple[str, ...] = (
    "eta",
    "videos",
    "objects",
    "images",
    "pipelines",
    "status",
    "progress",
    "backend",
    "updated",
)
# Width left over after hiding goes back to these, in this order.
_GIVE_BACK: tuple[str, ...] = ("name", "progress", "status", "backend", "pipelines")
# On a screen too small even for that, the name shrinks to this.
_NAME_FLOOR = 8


def fit_widths(widths: list[int], available: int) -> list[int]:
    """Column widths (0: hidden) that fit `available` cells with gaps, or as close as allowed."""
    fitted = list(widths)
    if available <= 0:  # not laid out yet
        return fitted

    def excess() -> int:
        return sum(width + 1 for width in fitted if width) + 1 - available

    for key, floor in _SHRINKABLE:
        over = excess()
        if over <= 0:
            return fitted
        index = COLUMN_KEYS.index(key)
        fitted[index] -= max(0, min(over, fitted[index] - floor))
    for key in _HIDE_FIRST:
        if excess() <= 0:
            break
        fitted[COLUMN_KEYS.index(key)] = 0
    spare = -excess()
    for key in _GIVE_BACK:
        index = COLUMN_KEYS.index(key)
        if spare <= 0:
            break
        if fitted[index]:
            give = min(spare, widths[index] - fitted[index])
            fitted[index] += give
            spare -= give
    if spare < 0:
        name = COLUMN_KEYS.index("name")
        fitted[name] = max(_NAME_FLOOR, fitted[name] + spare)
    return fitted


# The last three columns (eta, updated, stale) change with the clock, not with
# the data, so the grid caches the rest of a row and splices these in.
AGE_COLUMNS = 3
STATIC_COLUMNS = len(COLUMNS) - AGE_COLUMNS

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
    return sanitize(state.backend, max_len=64)


def name_text(state: DatasetState) -> str:
    return sanitize(state.label, max_len=256)


def status_text(state: DatasetState) -> str:
    return sanitize(state.status or "", max_len=128)


def static_cells(state: DatasetState) -> tuple[str, ...]:
    """The texts of every column but the ages, in COLUMNS order."""
    return (
        backend_text(state),
        name_text(state),
        STATE_LOOK.get(state.state, str(state.state)),
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


# ---------------------------------------------------------------- rows

Key = tuple[str, str]
_DIGITS = re.compile(r"\d+")


def _natural(text: str) -> str:
    """Sort key that puts "set 2" before "set 10" (digit runs zero-padded)."""
    return _DIGITS.sub(lambda m: m.group().rjust(20, "0"), text.casefold())


class Row:
    """One dataset plus what sorting, filtering and sizing need.

    An update only swaps the state (and redoes the name's sort key when the name
    changed): the texts below are worked out when something asks for them, so a
    poll that changes thousands of rows off screen costs little per row.
    """

    __slots__ = (
        "_fetched_ts",
        "_pipes",
        "_stale_ts",
        "_status",
        "_texts_of",
        "_times_at",
        "_times_of",
        "ages",
        "backend",
        "flash_base",
        "haystack",
        "key",
        "name",
        "order",
        "sort_name",
        "state",
        "stuck",
        "tie",
    )

    def __init__(self, key: Key, state: DatasetState) -> None:
        self.key = key
        self.state = state
        # The state before the changes still highlighted; None: nothing highlighted.
        self.flash_base: DatasetState | None = None
        self.ages: tuple[str, ...] = ("", "", "")  # eta and age texts in the cached line
        self.stuck = False  # the watch model's "stuck?" (a problem for the `e` toggle)
        self.backend = backend_text(state)
        self._texts_of: DatasetState | None = None  # the state _status/_pipes are of
        self._times_of: DatasetState | None = None  # the state the timestamps are of
        self._times_at: object = None  # and its fetched_at then
        self._set_name(state)

    def set(self, state: DatasetState) -> bool:
        """Take a newer state of the same dataset; True when its name changed."""
        old, self.state = self.state, state
        if state.name != old.name:
            self._set_name(state)
            return True
        if state.status != old.status:
            self.haystack = None
        return False

    def _set_name(self, state: DatasetState) -> None:
        self.name = name_text(state)
        # One string, not a tuple: 20,000 string comparisons sort ~2x faster.
        self.sort_name = _natural(self.name)
        self.tie = f"{self.backend.casefold()}\0{self.sort_name}\0{state.id}"
        self.order: tuple[Any, str] | None = None  # (sort value, tie), set by the grid
        self.haystack: str | None = None  # built on the first filter that needs it

    @property
    def status(self) -> str:
        if self._texts_of is not self.state:
            self._set_texts()
        return self._status

    @property
    def pipes(self) -> str:
        if self._texts_of is not self.state:
            self._set_texts()
        return self._pipes

    def _set_texts(self) -> None:
        state = self._texts_of = self.state
        self._status = status_text(state)
        self._pipes = format_pipelines(state.pipelines)

    @property
    def fetched_ts(self) -> float | None:
        # A repeated reading moves fetched_at in place (tui.models.touch_read).
        state = self.state
        if self._times_of is not state or self._times_at is not state.fetched_at:
            self._set_times()
        return self._fetched_ts

    @property
    def stale_ts(self) -> float | None:
        if self._times_of is not self.state:
            self._set_times()
        return self._stale_ts

    def _set_times(self) -> None:
        state = self._times_of = self.state
        self._times_at = state.fetched_at
        self._fetched_ts = state.fetched_at.timestamp() if state.fetched_at else None
        self._stale_ts = state.stale_since.timestamp() if state.stale_since else None

    @property
    def flash(self) -> frozenset[int]:
        """Columns (indexes into COLUMNS) highlighted as changed."""
        base = self.flash_base
        return _NO_COLUMNS if base is None else changed_columns(base, self.state)

    def search_text(self) -> str:
        if self.haystack is None:
            # "\n" keeps a search term from matching across two fields.
            fields = (self.name, self.state.id, self.backend, self.status)
            self.haystack = "\n".join(fields).casefold()
        return self.haystack


_NO_COLUMNS: frozenset[int] = frozenset()


def _count(field: str) -> Callable[[Row], int]:
    return lambda row: -1 if (value := getattr(row.state, field)) is None else value


# Primary sort value of a row per column; ties go by (backend, name, id).
SORT_VALUE: dict[str, Callable[[Row], Any]] = {
    "backend": lambda row: "",  # the tie starts with the backend
    "name": lambda row: row.sort_name,
    "state": lambda row: STATE_RANK.get(row.state.state, len(STATE_RANK)),  # worst first
    "status": lambda row: _natural(row.status),
    "progress": lambda row: -1.0 if row.state.progress is None else row.state.progress,
    "images": _count("n_images"),
    "videos": _count("n_videos"),
    "objects": _count("n_objects"),
    "pipelines": lambda row: row.pipes.casefold(),
    # running rows first (the ETA is a clock's, not the row's): stuck ones first
    "eta": lambda row: (
        0 if row.stuck else 1 if row.state.state is State.RUNNING else 2,
        -(row.state.progress or 0.0),
    ),
    # youngest first; never fetched last
    "updated": lambda row: float("inf") if row.fetched_ts is None else -row.fetched_ts,
    # stale rows first, the longest stale first
    "stale": lambda row: (0, row.stale_ts or 0.0) if row.state.stale else (1, 0.0),
}
ORDER = attrgetter("order")
# Columns whose sort value follows the name alone (the backend never changes).
SORTED_BY_NAME = frozenset({"backend", "name"})


@dataclass(frozen=True, slots=True)
class RowFilter:
    words: tuple[str, ...] = ()
    states: tuple[tuple[str, ...], ...] = ()  # AND of terms, each an OR of prefixes
    backends: tuple[tuple[str, ...], ...] = ()  # AND of terms, each an OR of names
    problems_only: bool = False

    @classmethod
    def parse(cls, text: str, problems_only: bool) -> RowFilter:
        words: list[str] = []
        states: list[tuple[str, ...]] = []
        backends: list[tuple[str, ...]] = []
        for term in text.casefold().split():
            field, sep, value = term.partition(":")
            if sep and field in ("state", "backend"):
                options = tuple(option for option in value.split(",") if option)
                (states if field == "state" else backends).append(options)
            else:
                words.append(term)
        return cls(tuple(words), tuple(states), tuple(backends), problems_only)

    def __bool__(self) -> bool:
        return bool(self.words or self.states or self.backends or self.problems_only)

    def unknown_states(self) -> list[str]:
        """`state:` options that no state starts with (`state:eror`): say so, not nothing."""
        return [
            option
            for term in self.states
            for option in term
            if option != "stale" and not any(s.value.startswith(option) for s in State)
        ]

    def matches(self, row: Row) -> bool:
        # Plain loops: this runs once per row on every rebuild.
        state = row.state
        if self.problems_only and not (state.is_problem or row.stuck):
            return False
        for term in self.states:
            value = state.state.value
            if not any(value.startswith(o) or (o == "stale" and state.stale) for o in term):
                return False
        for term in self.backends:
            if row.backend.casefold() not in term:
                return False
        if self.words:
            text = row.search_text()
            for word in self.words:
                if word not in text:
                    return False
        return True
