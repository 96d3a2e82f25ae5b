"""The benchmarks' baseline: the dashboard's grid built on Textual's stock DataTable.

Same columns, texts and styles as DatasetGrid (tui/widgets/cells.py), and the
update technique of dolphie (charles-001/dolphie), the usual way to keep a
DataTable live: inside `app.batch_update()`, new rows are added with a key,
and for known rows only the cells whose text changed get `update_cell`.
Column widths are fixed once from the first batch (never re-measured per
update), rows are kept in the grid's default order (by name), and a 1 s
tick rewrites the age cells of the visible rows whose age text changed.
Cells are `rich.text.Text`, so server text is never parsed as markup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from rich.text import Text
from textual.widgets import DataTable

from tui.models import DatasetState
from tui.widgets.cells import (
    COLUMNS,
    age_cells,
    static_cells,
    static_styles,
)

Key = tuple[str, str]
AGE_TICK_SECONDS = 1.0
# The baseline's stand-ins for DatasetGrid's component-class styles.
STYLES: dict[str, str] = {
    "": "",
    "dim": "dim",
    "progress": "cyan",
    "stale": "bold yellow",
    "state-ready": "green",
    "state-running": "cyan",
    "state-pending": "dim",
    "state-partial": "yellow",
    "state-error": "bold red",
    "state-not_found": "red",
    "state-unauthorized": "bold reverse red",
    "state-unreachable": "yellow",
    "state-unknown": "dim",
}


def _row_key(key: Key) -> str:
    return f"{key[0]}\0{key[1]}"


def _timestamp(state: DatasetState) -> tuple[float | None, float | None]:
    fetched = state.fetched_at.timestamp() if state.fetched_at else None
    stale = state.stale_since.timestamp() if state.stale_since else None
    return fetched, stale


class DataTableGrid(DataTable[Text]):
    """DatasetGrid's job done the stock way (see module docstring)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False)
        self.clock = clock
        self._states: dict[Key, DatasetState] = {}
        self._texts: dict[Key, tuple[str, ...]] = {}
        self._columns_added = False

    def on_mount(self) -> None:
        self.set_interval(AGE_TICK_SECONDS, self._tick_ages)

    def _add_columns(self, states: list[DatasetState]) -> None:
        """Fixed widths: the title, or the widest text of the first batch, capped."""
        sample = [static_cells(s) for s in states]
        for index, column in enumerate(COLUMNS):
            width = max(column.width, len(column.title))
            if column.max_width > column.width and index < len(sample[0] if sample else ()):
                widest = max((len(cells[index]) for cells in sample), default=0)
                width = max(width, min(widest, column.max_width))
            self.add_column(column.title, width=width, key=column.key)
        self._columns_added = True

    def _cells(self, state: DatasetState, now: float) -> tuple[str, ...]:
        fetched, stale_ts = _timestamp(state)
        return (*static_cells(state), "", *age_cells(fetched, state.stale, stale_ts, now))

    def _text(self, state: DatasetState, index: int, text: str) -> Text:
        styles = (*static_styles(state), "dim", "dim", "stale")  # eta, updated, stale
        justify = "right" if COLUMNS[index].right else "left"
        return Text(text, style=STYLES.get(styles[index], ""), justify=justify, no_wrap=True)

    def apply(self, states: Iterable[DatasetState]) -> None:
        """Upsert one batch: add_row for new keys, update_cell for changed cells only."""
        batch = list(states)
        if not batch:
            return
        if not self._columns_added:
            self._add_columns(batch)
        now = self.clock()
        new: list[DatasetState] = []
        with self.app.batch_update():
            for state in batch:
                key = state.key
                texts = self._cells(state, now)
                old = self._texts.get(key)
                self._states[key] = state
                self._texts[key] = texts
                if old is None:
                    new.append(state)
                    continue
                row_key = _row_key(key)
                for index, (was, now_text) in enumerate(zip(old, texts, strict=True)):
                    if was != now_text:
                        column = COLUMNS[index].key
                        self.update_cell(row_key, column, self._text(state, index, now_text))
            if new:
                # Kept in name order, like DatasetGrid's default sort.
                new.sort(key=lambda s: ((s.name or s.id).casefold(), s.backend, s.id))
                for state in new:
                    texts = self._texts[state.key]
                    cells = [self._text(state, i, text) for i, text in enumerate(texts)]
                    self.add_row(*cells, key=_row_key(state.key))

    def _tick_ages(self) -> None:
        """Rewrite the age cells of visible rows whose age text changed."""
        if not self.row_count:
            return
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height
        now = self.clock()
        ages = range(len(COLUMNS) - 2, len(COLUMNS))
        with self.app.batch_update():
            for row in self.ordered_rows[top : top + height]:
                key = self._key_of(row.key.value)
                state = self._states[key]
                fetched, stale_ts = _timestamp(state)
                old = self._texts[key]
                texts = (*old[:-3], "", *age_cells(fetched, state.stale, stale_ts, now))
                self._texts[key] = texts
                for index in ages:
                    if texts[index] != old[index]:
                        text = self._text(state, index, texts[index])
                        self.update_cell(row.key, COLUMNS[index].key, text)

    @staticmethod
    def _key_of(row_key: str | None) -> Key:
        backend, _, dataset_id = (row_key or "").partition("\0")
        return backend, dataset_id

    def visible_name(self, index: int) -> str:
        key = self._key_of(self.ordered_rows[index].key.value)
        state = self._states[key]
        return state.name or state.id
