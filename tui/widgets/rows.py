"""The grid's row model without the widget: one Row per dataset, its sort keys, the filter.

A Row keeps its DatasetState and its sort key; the texts sorting, filtering and
sizing need are worked out from the state when asked (cells come from
tui/widgets/cells.py). order_of gives each column's sort key; RowFilter parses
and applies the `/` filter. No Textual here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any

from ..models import DatasetState, State
from .cells import (
    STATE_RANK,
    backend_text,
    backend_text_of,
    changed_columns,
    format_pipelines,
    name_text,
    status_text,
)

Key = tuple[str, str]
_DIGITS = re.compile(r"\d+")


def _natural(text: str) -> str:
    """Sort key that puts "set 2" before "set 10": each digit run compares as a number.

    A run becomes "0", a character counting its digits (leading zeros dropped),
    then the digits: it sorts against other characters as a "0" does, and
    against another run by length first, then digit by digit. The same order
    as zero-padding every run to 20 digits, in ~18 fewer characters per run
    (one such key is kept per row: 50,000 rows).
    """
    return _DIGITS.sub(_number, text.casefold())


def _number(match: re.Match[str]) -> str:
    digits = match.group().lstrip("0") or "0"
    return f"0{chr(48 + len(digits))}{digits}"


@lru_cache(maxsize=256)  # a handful of backends: one key each, shared by every row
def _backend_key(backend: str) -> str:
    return backend_text_of(backend).casefold()


# Statuses and pipeline texts repeat across thousands of rows: one sort key per
# distinct text, shared (sorting by them builds no string per row).
@lru_cache(maxsize=4096)
def _status_key(status: str) -> str:
    return _natural(status)


def _pipes_key(pipelines: dict[str, str]) -> str:
    return _pipes_key_of(tuple(pipelines.items())) if pipelines else ""


@lru_cache(maxsize=1024)
def _pipes_key_of(items: tuple[tuple[str, str], ...]) -> str:
    return format_pipelines(dict(items)).casefold()


class Row:
    """One dataset plus what sorting and filtering need, kept small.

    50,000 rows live at once: a row holds only its state, its key and its sort
    key; its texts (name, status, pipelines, timestamps) are worked out from the
    state when something asks (each is cheap: sanitizing clean text returns it
    as is, pipelines are formatted through a shared cache). An update only swaps
    the state, so a poll that changes thousands of rows off screen costs little.
    """

    __slots__ = ("flash_base", "haystack", "key", "name_key", "order", "state", "stuck")

    def __init__(self, key: Key, state: DatasetState) -> None:
        self.key = key
        self.state = state
        # The state before the changes still highlighted; None: nothing highlighted.
        self.flash_base: DatasetState | None = None
        self.stuck = False  # the watch model's "stuck?" (a problem for the `e` toggle)
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
        # Sorting by name (the default) sorts by this one string: (name, backend,
        # id) joined by "\0", which sorts below every character a sanitized text
        # holds, so it orders like the tuple at half its memory and twice the speed.
        self.name_key = f"{_natural(self.name)}\0{_backend_key(state.backend)}\0{state.id}"
        self.order: Any = None  # the sort key for the grid's column (order_of), set by the grid
        self.haystack: str | None = None  # built on the first filter that needs it

    @property
    def backend(self) -> str:
        return backend_text(self.state)

    @property
    def name(self) -> str:
        return name_text(self.state)

    @property
    def status(self) -> str:
        return status_text(self.state)

    @property
    def pipes(self) -> str:
        return format_pipelines(self.state.pipelines)

    @property
    def fetched_ts(self) -> float | None:
        # Read from the state every time: a repeated reading moves fetched_at in
        # place (tui.models.touch_read), and only visible rows ask (or a sort).
        fetched = self.state.fetched_at
        return None if fetched is None else fetched.timestamp()

    @property
    def stale_ts(self) -> float | None:
        since = self.state.stale_since
        return None if since is None else since.timestamp()

    @property
    def flash(self) -> frozenset[int]:
        """Columns (indexes into COLUMNS) highlighted as changed."""
        base = self.flash_base
        return _NO_COLUMNS if base is None else changed_columns(base, self.state)

    def search_text(self) -> str:
        if self.haystack is None:
            # "\n" keeps a search term from matching across two fields.
            state = self.state
            self.haystack = (
                f"{name_text(state)}\n{state.id}\n{backend_text_of(self.key[0])}\n"
                f"{status_text(state)}"
            ).casefold()
        return self.haystack


_NO_COLUMNS: frozenset[int] = frozenset()


def _count(field: str) -> Callable[[Row], int]:
    return lambda row: -1 if (value := getattr(row.state, field)) is None else value


# Primary sort value of a row per column; ties go by (backend, name, id). (Name
# and backend are sorted by their whole keys: see order_of.)
SORT_VALUE: dict[str, Callable[[Row], Any]] = {
    "backend": lambda row: "",  # the tie starts with the backend
    "name": lambda row: row.name_key,
    "state": lambda row: STATE_RANK.get(row.state.state, len(STATE_RANK)),  # worst first
    "status": lambda row: _status_key(row.status),
    "progress": lambda row: -1.0 if row.state.progress is None else row.state.progress,
    "images": _count("n_images"),
    "videos": _count("n_videos"),
    "objects": _count("n_objects"),
    "pipelines": lambda row: _pipes_key(row.state.pipelines),
    # running rows first (the ETA is a clock's, not the row's): stuck ones first
    "eta": lambda row: (
        0 if row.stuck else 1 if row.state.state is State.RUNNING else 2,
        -(row.state.progress or 0.0),
    ),
    # youngest first; never fetched last
    "updated": lambda row: _NEVER if (ts := row.fetched_ts) is None else -ts,
    # stale rows first, the longest stale first
    "stale": lambda row: (0, row.stale_ts or 0.0) if row.state.stale else (1, 0.0),
}
_NEVER = float("inf")
ORDER = attrgetter("order")
# Columns whose sort value follows the name alone (the backend never changes).
SORTED_BY_NAME = frozenset({"backend", "name"})


def order_of(column: str) -> Callable[[Row], Any]:
    """The whole sort key of a row when sorting by `column`: value, then the tie.

    By name it is the row's name_key itself, a string (no tuple per row);
    otherwise (value, backend, name_key), built when the grid sorts by it.
    """
    if column == "name":
        return _NAME_KEY
    if column == "backend":
        return lambda row: (_backend_key(row.key[0]), row.name_key)
    value = SORT_VALUE[column]
    return lambda row: (value(row), _backend_key(row.key[0]), row.name_key)


_NAME_KEY = attrgetter("name_key")


@dataclass(frozen=True, slots=True)
class RowFilter:
    words: tuple[str, ...] = ()
    states: tuple[tuple[str, ...], ...] = ()  # AND of terms, each an OR of prefixes
    backends: tuple[tuple[str, ...], ...] = ()  # AND of terms, each an OR of names
    problems_only: bool = False
    # `BACKEND:NAME` or `BACKEND:ID`, as `dswatch wait` takes them: (backend, word)
    refs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str, problems_only: bool) -> RowFilter:
        words: list[str] = []
        states: list[tuple[str, ...]] = []
        backends: list[tuple[str, ...]] = []
        refs: list[tuple[str, str]] = []
        for term in text.casefold().split():
            field, sep, value = term.partition(":")
            if sep and field in ("state", "backend"):
                options = tuple(option for option in value.split(",") if option)
                (states if field == "state" else backends).append(options)
            elif sep and field and value and "/" not in term:
                refs.append((field, value))
            else:
                words.append(term)
        return cls(tuple(words), tuple(states), tuple(backends), problems_only, tuple(refs))

    def __bool__(self) -> bool:
        return bool(self.words or self.states or self.backends or self.refs or self.problems_only)

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
        if self.words or self.refs:
            text = row.search_text()
            for word in self.words:
                if word not in text:
                    return False
            for backend, word in self.refs:
                # `vl:docs-receipts-17`; a status holding a colon still matches as typed.
                if (row.backend.casefold() != backend or word not in text) and (
                    f"{backend}:{word}" not in text
                ):
                    return False
        return True
