"""The grid's row model without the widget: one Row per dataset, its sort keys, the filter.

A Row caches the texts sorting, filtering and sizing need, worked out lazily
from its DatasetState (cells come from tui/widgets/cells.py). SORT_VALUE gives
each column's sort key; RowFilter parses and applies the `/` filter. No Textual here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from ..models import DatasetState, State
from .cells import (
    STATE_RANK,
    backend_text,
    changed_columns,
    format_pipelines,
    name_text,
    status_text,
)

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
