"""DatasetGrid: thousands of live DatasetStates in one grid, on Textual's Line API.

Why not DataTable: every update there repaints everything (measured against a
stock-DataTable grid by benchmarks/grid.py). Here an update swaps the row's
state and repaints only its screen line (or nothing when it is off screen); the row's texts,
highlighted cells and Strip are worked out when it is drawn, and a cached
Strip is used only while it is of the row's current state. Sorting and
filtering rebuild only the list of keys in display order; column widths only
ever grow, and only when data needs it.

Ages ("eta", "updated", "stale") change with the clock, not the data: a row's cached
segments leave them out, and a 1 s tick re-splices them only into visible rows
whose age *text* changed (mostly once a minute or less), repainting only those
cells.

What a row is, how rows sort and filter (tui/widgets/rows.py), the columns and
their widths (tui/widgets/columns.py) and what each cell shows
(tui/widgets/cells.py) live beside this module. Why it is still ~720 lines: it
is one widget class (a quarter of it the declarations of its keys, styles and
messages) whose line caches, display order, cursor and column offsets every
method reads and keeps in step; the per-update path (`apply`) is tuned against
benchmarks/grid.py and is easiest to keep fast and correct in one place.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from ..models import DatasetState
from ..palette import state_css
from .cells import (
    STATE_RANK,
    age_cells,
    backend_text_of,
    is_unconfirmed,
    layout_cell,
    name_text,
    pipelines_cells,
    shorten_progress,
    shorten_status,
    static_cells,
    static_styles,
    status_text_of,
)
from .columns import COLUMN_KEYS, COLUMNS, STATIC_COLUMNS, fit_widths
from .rows import ORDER, SORT_VALUE, SORTED_BY_NAME, Key, Row, RowFilter, order_of

FLASH_SECONDS = 2.0  # how long a changed cell stays highlighted
AGE_TICK_SECONDS = 1.0
_FIRST_AGE_INDEX = COLUMN_KEYS.index("eta")
_BACKEND_COLUMN = COLUMN_KEYS.index("backend")
_NAME_COLUMN = COLUMN_KEYS.index("name")
_STATUS_COLUMN = COLUMN_KEYS.index("status")
_PIPELINES_COLUMN = COLUMN_KEYS.index("pipelines")
_PROGRESS_COLUMN = COLUMN_KEYS.index("progress")
# The per-row caches are bounded: a long scroll through 20,000 rows must not
# keep 20,000 Strips alive. A screen is < 100 lines, so this is plenty.
_CACHE_ROWS = 1024


def _cells(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)  # sanitized ASCII: a cell a character


class DatasetGrid(ScrollView, can_focus=True):
    """A sortable, filterable grid of DatasetStates, updated in place."""

    COLUMNS: ClassVar[list[str]] = list(COLUMN_KEYS)

    # Moving keys, hidden in the footer (`?` lists them), then the dashboard's
    # keys: they live here, not on the App, so they are shown and work only
    # while the grid is on screen, never under a dialog or the details screen.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("ctrl+u", "half_page(-1)", "Half page up", show=False),
        Binding("ctrl+d", "half_page(1)", "Half page down", show=False),
        Binding("home,g", "cursor_to(0)", "First", show=False),
        Binding("end,G", "cursor_to(-1)", "Last", show=False),
        *(
            Binding(key, f"app.{action}", description, show=show, key_display=display)
            # In the footer's order, most needed first: a narrow footer cuts the end.
            # (`?` and `q` stay on the App too, for the other screens.)
            for key, action, description, show, display in (
                ("question_mark", "help", "Help", True, "?"),
                ("q", "quit", "Quit", True, None),
                ("enter", "details", "Details", True, None),
                ("slash", "filter", "Filter", True, "/"),
                ("e", "toggle_problems", "Problems", True, None),
                ("a", "add", "Add", True, None),
                ("s", "cycle_sort", "Sort", True, None),
                ("d", "remove", "Remove", True, None),
                ("r", "refresh", "Refresh", True, None),
                ("p", "toggle_pause", "Pause", True, None),
                ("S", "reverse_sort", "Reverse", False, None),
                ("R", "refresh_all", "Refresh all", False, None),
                ("c", "copy_id", "Copy ID", False, None),
                ("o", "open", "Open", False, None),
            )
        ),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "datasetgrid--header",
        "datasetgrid--cursor",
        "datasetgrid--changed",
        "datasetgrid--dim",
        "datasetgrid--progress",
        "datasetgrid--stale",
        *(f"datasetgrid--state-{state}" for state in STATE_RANK),
    }

    DEFAULT_CSS = """
    DatasetGrid {
        background: $surface;
        color: $foreground;
        &:focus { background-tint: $foreground 5%; }
        & > .datasetgrid--header { background: $panel; color: $foreground; text-style: bold; }
        & > .datasetgrid--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .datasetgrid--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .datasetgrid--changed { background: $warning 30%; }
        & > .datasetgrid--dim { color: $text-muted; }
        & > .datasetgrid--progress { color: $accent; }
        & > .datasetgrid--stale { color: $warning; text-style: bold; }
    }
    """ + state_css("DatasetGrid > .datasetgrid--state-")

    class HeaderClicked(Message):
        """A column header was clicked; the grid has already sorted by it."""

        def __init__(self, grid: DatasetGrid, column: str, reverse: bool) -> None:
            super().__init__()
            self.grid = grid
            self.column = column
            self.reverse = reverse

        @property
        def control(self) -> DatasetGrid:
            return self.grid

    class CursorMoved(Message):
        """The selected dataset changed (None: no rows)."""

        def __init__(self, grid: DatasetGrid, key: Key | None) -> None:
            super().__init__()
            self.grid = grid
            self.key = key

        @property
        def control(self) -> DatasetGrid:
            return self.grid

    class RowActivated(Message):
        """A row was double-clicked: open it (`enter` runs the app's details action)."""

        def __init__(self, grid: DatasetGrid, key: Key) -> None:
            super().__init__()
            self.grid = grid
            self.key = key

        @property
        def control(self) -> DatasetGrid:
            return self.grid

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        eta: Callable[[DatasetState, float], str] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.clock = clock  # epoch seconds; tests substitute their own
        # The eta column's text of a row at a time (from the history store); None: blank.
        self.eta = eta
        self.sort_column = "name"
        self.sort_reverse = False
        self._rows: dict[Key, Row] = {}
        # Every row, kept in sort order between rebuilds: re-sorting a nearly
        # sorted list is close to linear (timsort), filtering it is one pass.
        self._all: list[Row] = []
        self._order: list[Key] = []  # visible rows, in display order
        self._hidden: set[Key] = set()  # rows the filter hides
        self._filter = RowFilter()
        self._cursor: Key | None = None
        self._cursor_index = 0  # where the cursor was, for when its row vanishes
        # Until the user (or `select`) places the cursor it stays on the top row: at
        # start names arrive and rows re-sort, and following the first row's dataset
        # left the cursor mid-list (Enter opened a dataset nobody chose).
        self._cursor_placed = False
        self._widths = [max(c.width, len(c.title) + 2) for c in COLUMNS]  # + " ▲"
        self._shown = list(self._widths)  # the widths drawn: _widths fitted to the screen
        self._x: list[int] = []
        self._total_width = 0
        self._scrollbar = False  # the rows need a vertical scrollbar (set by _layout_columns)
        self._layout_columns()
        self._styles: dict[str, Style] = {}
        self._header: Strip | None = None
        # Row without its ages (segments), and the full line; see module docstring.
        # Each with the state and highlight base it was drawn for (see _row_strip).
        self._static: LRUCache[Key, tuple[DatasetState, DatasetState | None, list[Segment]]] = (
            LRUCache(_CACHE_ROWS)
        )
        # (The full line also keeps the age texts it shows: the age tick compares them.)
        self._lines: LRUCache[
            Key, tuple[DatasetState, DatasetState | None, Strip, tuple[str, str, str]]
        ] = LRUCache(_CACHE_ROWS)
        self._stuck: set[Key] = set()  # rows the watch model finds stuck
        self._flash_until: dict[Key, float] = {}  # highlighted rows: until when
        # The same, one entry per batch in time order: expiring reads only what is due.
        self._flash_queue: deque[tuple[float, list[Key]]] = deque()
        self._flash_timer: Timer | None = None

    # ------------------------------------------------------------------ API

    @property
    def cursor_key(self) -> Key | None:
        return self._cursor

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def visible_count(self) -> int:
        return len(self._order)

    def visible_keys(self) -> list[Key]:
        """The shown rows' keys, in display order (a copy)."""
        return list(self._order)

    def state_of(self, key: Key) -> DatasetState | None:
        row = self._rows.get(key)
        return None if row is None else row.state

    def select(self, key: Key) -> bool:
        """Move the cursor to `key` (and scroll to it); False when it is not shown."""
        index = self._index(key)
        if index is not None:
            self._move_cursor(index)
        return index is not None

    def apply(self, states: Iterable[DatasetState]) -> None:
        """Upsert one batch of states; repaints only the lines that changed."""
        now = self.clock()
        rows, widths = self._rows, self._widths
        order_of_row = order_of(self.sort_column)
        by_name = self.sort_column in SORTED_BY_NAME
        match = self._filter.matches if self._filter else None
        hidden = self._hidden
        flash_until, flash_end = self._flash_until, now + FLASH_SECONDS
        touched: list[Key] = []
        flashed: list[Key] = []
        added: list[Row] = []
        reorder = widened = False
        for state in states:
            key = (state.backend, state.id)
            row = rows.get(key)
            if row is None:
                row = rows[key] = Row(key, state)
                added.append(row)
            elif row.state is state:
                continue
            else:
                # Kept cheap: thousands of rows change per poll, most of them off
                # screen. Texts and highlights are worked out when a row is drawn.
                old = row.state
                renamed = row.set(state)
                # The poller keeps changed_at when a poll brought nothing new to show.
                if state.changed_at is None or state.changed_at != old.changed_at:
                    if row.flash_base is None:
                        row.flash_base = old
                    flash_until[key] = flash_end
                    flashed.append(key)
                if match is not None and (key in hidden) == match(row):
                    reorder = True
                # Widths: only texts that changed, and only those that may not fit.
                status = state.status
                if (
                    status is not None
                    and status != old.status
                    and (len(status) > widths[_STATUS_COLUMN] or not status.isascii())
                ):
                    widened = self._fit(_STATUS_COLUMN, row.status) or widened
                pipelines = state.pipelines
                if (
                    pipelines
                    and pipelines != old.pipelines
                    # (cached per combination: no formatting or measuring per row)
                    and pipelines_cells(pipelines) > widths[_PIPELINES_COLUMN]
                ):
                    widened = (
                        self._widen_to(_PIPELINES_COLUMN, pipelines_cells(pipelines)) or widened
                    )
                if renamed:
                    widened = self._fit(_NAME_COLUMN, row.name) or widened
                elif by_name:  # its place cannot have changed
                    touched.append(key)
                    continue
            order = order_of_row(row)
            if order != row.order:
                row.order = order
                reorder = True
            touched.append(key)
        if added:
            self._all.extend(added)
            reorder = True
            widened = self._fit_new([row.state for row in added]) or widened
        if widened:
            self._layout_columns()
            self._invalidate()
        if reorder:
            self._reorder(touched)
        elif not widened:
            self._refresh_keys(touched)
        if flashed:
            self._flash_queue.append((flash_end, flashed))
            if self._flash_timer is None:
                self._flash_timer = self.set_timer(FLASH_SECONDS, self._expire_flashes)

    def remove(self, keys: Iterable[Key]) -> None:
        gone = {key for key in keys if self._rows.pop(key, None) is not None}
        if not gone:
            return
        for key in gone:
            self._hidden.discard(key)
            self._flash_until.pop(key, None)
            self._static.discard(key)
            self._lines.discard(key)
        # Removal keeps the relative order: no need to sort.
        self._all = [row for row in self._all if row.key not in gone]
        self._set_order([key for key in self._order if key not in gone])
        self.refresh()

    def clear(self) -> None:
        self._rows.clear()
        self._all.clear()
        self._hidden.clear()
        self._flash_until.clear()
        self._flash_queue.clear()
        self._widths = [max(c.width, len(c.title) + 2) for c in COLUMNS]
        self._layout_columns()
        self._invalidate()
        self._set_order([])

    def set_filter(self, text: str = "", *, problems_only: bool = False) -> list[str]:
        """Show only the rows matching every term of `text`.

        Plain words match a substring of name, id, backend or status
        (case-insensitive); `state:err` matches states starting with `err`
        (`state:stale` the stale rows); `backend:NAME` one backend; a comma
        gives alternatives (`state:error,unauthorized`). `problems_only` keeps
        error/not_found/unauthorized/unreachable and stale rows. Returns the
        `state:` options that match no state (a typo), for the caller to show.
        """
        self._filter = RowFilter.parse(text, problems_only)
        self._reorder()
        self._scroll_to_cursor()
        return self._filter.unknown_states()

    def sort_by(self, column: str, *, reverse: bool = False) -> None:
        """Sort by `column`, ties by (backend, name, id); `reverse` flips the whole order."""
        if column not in SORT_VALUE:
            raise ValueError(f"unknown column {column!r}")
        self.sort_column, self.sort_reverse = column, reverse
        order = order_of(column)
        for row in self._all:
            row.order = order(row)
        self._header = None
        self._reorder()
        self.refresh()
        self._scroll_to_cursor()

    # ------------------------------------------------------------ ordering

    def _reorder(self, touched: Iterable[Key] = ()) -> None:
        """Rebuild the display order, repainting only visible lines that changed."""
        top, body = self._body_window()
        before = self._order[top : top + body]
        self._all.sort(key=ORDER, reverse=self.sort_reverse)
        if self._filter:
            match, hidden = self._filter.matches, self._hidden
            hidden.clear()
            order = []
            for row in self._all:
                if match(row):
                    order.append(row.key)
                else:
                    hidden.add(row.key)
            self._set_order(order)
        else:
            self._hidden.clear()
            self._set_order([row.key for row in self._all])
        after = self._order[top : top + body]
        changed = set(touched)
        self._refresh_body_lines(
            y
            for y in range(max(len(before), len(after)))
            if y >= len(before) or y >= len(after) or before[y] != after[y] or after[y] in changed
        )

    def _set_order(self, order: list[Key]) -> None:
        self._order = order
        if (len(order) + 1 > self.size.height) != self._scrollbar:
            shown = self._shown
            self._layout_columns()  # the vertical scrollbar comes or goes
            if self._shown != shown:
                self._invalidate()
        self.virtual_size = Size(self._total_width, len(order) + 1)
        # Keep the cursor on its dataset; when that row is gone, stay at its place.
        index = self._index(self._cursor) if self._cursor_placed else (0 if order else None)
        if index is None and order:
            index = min(self._cursor_index, len(order) - 1)
        if index is None:
            self._set_cursor(None, 0)
        else:
            self._set_cursor(order[index], index)

    def _index(self, key: Key | None) -> int | None:
        """Where `key` is shown, or None.

        No key -> position dict: rebuilding one for 20,000 rows on every
        reorder cost more than this scan (C speed; and the cursor, the usual
        question, is mostly where it was).
        """
        order, guess = self._order, self._cursor_index
        if key is None:
            return None
        if guess < len(order) and order[guess] == key:
            return guess
        try:
            return order.index(key)
        except ValueError:
            return None

    def _set_cursor(self, key: Key | None, index: int) -> None:
        old = self._cursor
        self._cursor, self._cursor_index = key, index
        if key != old:
            for k in (old, key):
                if k is not None:
                    self._refresh_keys([k])
            self.post_message(self.CursorMoved(self, key))

    # ------------------------------------------------------------ columns

    def _fit(self, index: int, text: str) -> bool:
        """Widen column `index` for `text` if it needs it; True when it did."""
        width = self._widths[index]
        # Most texts fit: skip measuring those (sanitized ASCII is a cell per
        # character, any other character at most two).
        if len(text) > width or (2 * len(text) > width and not text.isascii()):
            return self._widen(index, text)
        return False

    def _fit_new(self, states: list[DatasetState]) -> bool:
        """Widen the columns sized by data for new rows; True when any widened.

        Once per column, not once per row: a start brings thousands of rows,
        sharing a few backends, statuses and pipeline combinations (measured
        from their distinct values).
        """
        widest = (
            (_BACKEND_COLUMN, map(backend_text_of, {state.backend for state in states})),
            (_NAME_COLUMN, map(name_text, states)),
            (_STATUS_COLUMN, map(status_text_of, {state.status or "" for state in states})),
        )
        widened = False
        for index, texts in widest:
            widened = self._fit(index, max(texts, key=_cells)) or widened
        pipes = max(pipelines_cells(state.pipelines) for state in states)
        return self._widen_to(_PIPELINES_COLUMN, pipes) or widened

    def _widen(self, index: int, text: str) -> bool:
        return self._widen_to(index, _cells(text))

    def _widen_to(self, index: int, cells: int) -> bool:
        """Widen column `index` to `cells` (up to its max_width); True when it did."""
        need = min(cells, COLUMNS[index].max_width)
        if need > self._widths[index]:
            self._widths[index] = need
            return True
        return False

    def _layout_columns(self) -> None:
        widths = list(self._widths)
        if self.eta is None:  # no history store (the demo): no eta column at all
            widths[COLUMN_KEYS.index("eta")] = 0
        # Fitted to the width left beside the vertical scrollbar when the rows
        # need one: else a horizontal scrollbar appears and hides the stale column.
        self._scrollbar = len(self._order) + 1 > self.size.height
        scrollbar = self.styles.scrollbar_size_vertical if self._scrollbar else 0
        self._shown = fit_widths(widths, self.size.width - scrollbar)
        # One blank cell before each column: the gap doubles as a left margin.
        x, self._x = 1, []
        for width in self._shown:
            self._x.append(x)
            if width:  # 0: a hidden column, no gap either
                x += width + 1
        self._total_width = x
        self.virtual_size = Size(x, self.virtual_size.height)

    def _column_at(self, x: int) -> str | None:
        for key, start, width in zip(COLUMN_KEYS, self._x, self._shown, strict=True):
            if width and start - 1 <= x < start + width:
                return key
        return None

    # ------------------------------------------------------------ rendering

    def _style(self, name: str) -> Style:
        # Our own cache: Textual's is cleared on every refresh().
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = (
                self.get_component_rich_style(f"datasetgrid--{name}") if name else self.rich_style
            )
        return style

    def on_resize(self) -> None:
        shown = self._shown
        self._layout_columns()
        if self._shown != shown:
            self._invalidate()

    def notify_style_update(self) -> None:
        super().notify_style_update()  # theme, focus: colours may have changed
        self._invalidate()

    def _invalidate(self) -> None:
        self._styles.clear()
        self._static.clear()
        self._lines.clear()
        self._header = None
        self.refresh()

    def _header_strip(self) -> Strip:
        if self._header is None:
            style = self._style("header")
            arrow = " ▼" if self.sort_reverse else " ▲"
            segments = [Segment(" ", style)]
            for column, width in zip(COLUMNS, self._shown, strict=True):
                if not width:
                    continue
                title = column.title
                if column.short and len(title) > width:
                    title = column.short  # not `pro…`
                title += arrow if column.key == self.sort_column else ""
                segments += (
                    Segment(layout_cell(title, width, column.right), style),
                    Segment(" ", style),
                )
            self._header = Strip(segments, self._total_width)
        return self._header

    def _row_strip(self, key: Key) -> Strip:
        # Cached lines are checked against the state and highlight they were drawn
        # for: an update need not find and drop them.
        row = self._rows[key]
        state, base = row.state, row.flash_base
        line = self._lines.get(key)
        if line is not None and line[0] is state and line[1] is base:
            return line[2]
        flash = row.flash
        static = self._static.get(key)
        if static is None or static[0] is not state or static[1] is not base:
            cells = zip(static_cells(state), static_styles(state), strict=True)
            static = self._static[key] = (state, base, self._segments(cells, 0, flash))
        ages = self._ages(row, self.clock())
        age_segments = self._segments(
            zip(ages, _age_styles(ages), strict=True), STATIC_COLUMNS, flash
        )
        strip = Strip([*static[2], *age_segments], self._total_width)
        self._lines[key] = (state, base, strip, ages)
        return strip

    def _ages(self, row: Row, now: float) -> tuple[str, str, str]:
        """The eta, updated and stale texts of a row at `now`."""
        state = row.state
        eta = self.eta(state, now) if self.eta is not None else ""
        ages = age_cells(row.fetched_ts, state.stale, row.stale_ts, now, is_unconfirmed(state))
        return (eta, *ages)

    def set_stuck(self, keys: set[Key]) -> None:
        """Mark the rows the watch model finds stuck (a problem for the `e` toggle)."""
        if keys == self._stuck:
            return  # every batch asks: mostly nothing changed
        flipped = [key for key in keys ^ self._stuck if key in self._rows]
        self._stuck = set(keys)
        for key in flipped:
            self._rows[key].stuck = key in keys
            self._lines.discard(key)
        if self._filter.problems_only or self.sort_column == "eta":
            order = order_of(self.sort_column)
            for key in flipped:
                row = self._rows[key]
                row.order = order(row)
            self._reorder(flipped)
        else:
            self._refresh_keys(flipped)

    def _segments(
        self, cells: Iterable[tuple[str, str]], first: int, flash: frozenset[int]
    ) -> list[Segment]:
        gap = Segment(" ", self._style(""))
        # A changed cell keeps its colour and gets the "changed" background.
        changed = Style(bgcolor=self._style("changed").bgcolor) if flash else None
        segments = [gap] if first == 0 else []
        for index, (text, style_name) in enumerate(cells, first):
            style = self._style(style_name)
            if changed is not None and index in flash:
                style += changed
            column, width = COLUMNS[index], self._shown[index]
            if not width:
                continue
            if index == _STATUS_COLUMN:
                text = shorten_status(text, width)
            elif index == _PROGRESS_COLUMN:
                text = shorten_progress(text, width)
            segments += (Segment(layout_cell(text, width, column.right), style), gap)
        return segments

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        right = scroll_x + self.size.width
        if y == 0:  # the header stays put while the rows scroll
            return self._header_strip().crop_extend(scroll_x, right, self._style("header"))
        index = scroll_y + y - 1
        if index >= len(self._order):
            return Strip.blank(self.size.width, self._style(""))
        key = self._order[index]
        strip = self._row_strip(key)
        if key != self._cursor:
            return strip.crop_extend(scroll_x, right, self._style(""))
        cursor = self._style("cursor")
        strip = Strip(
            [Segment(t, s + cursor if s else cursor) for t, s, _ in strip], strip.cell_length
        )
        return strip.crop_extend(scroll_x, right, cursor)

    # ------------------------------------------------------------ repainting

    def _body_window(self) -> tuple[int, int]:
        """(index of the first visible row, how many rows fit)."""
        # Not self.size: that includes the horizontal scrollbar's line.
        return self.scroll_offset.y, max(self.scrollable_content_region.height - 1, 0)

    def _refresh_body_lines(self, lines: Iterable[int], x: int = 0) -> None:
        """Repaint these body lines (0 = first visible row), from column x on."""
        width = self.size.width - x
        regions = [Region(x, y + 1, width, 1) for y in lines] if width > 0 else []
        if regions:  # refresh() without regions would repaint everything
            self.refresh(*regions)

    def _refresh_keys(self, keys: Iterable[Key]) -> None:
        top, body = self._body_window()
        shown = {key: y for y, key in enumerate(self._order[top : top + body])}
        self._refresh_body_lines(shown[key] for key in keys if key in shown)

    def on_mount(self) -> None:
        # (Textual calls ScrollView.on_mount itself: handlers run for each class.)
        self.set_interval(AGE_TICK_SECONDS, self._tick_ages)

    def _tick_ages(self) -> None:
        """Re-splice the age cells of visible rows whose age text changed."""
        top, body = self._body_window()
        if not body or not self._order:
            return
        now = self.clock()
        lines = []
        for y, key in enumerate(self._order[top : top + body]):
            line = self._lines.get(key)
            if line is None or self._ages(self._rows[key], now) != line[3]:
                self._lines.discard(key)  # the static segments stay cached
                lines.append(y)
        x = max(self._x[_FIRST_AGE_INDEX] - self.scroll_offset.x, 0)
        self._refresh_body_lines(lines, x)

    def _expire_flashes(self) -> None:
        self._flash_timer = None
        now = self.clock() + 0.05  # timers fire a hair early or late: group them
        queue, flash_until = self._flash_queue, self._flash_until
        expired = []
        while queue and queue[0][0] <= now:
            until, keys = queue.popleft()
            for key in keys:
                if flash_until.get(key) == until:  # not changed again since (nor removed)
                    del flash_until[key]
                    self._rows[key].flash_base = None  # its cached lines are out of date now
                    expired.append(key)
        self._refresh_keys(expired)
        if queue:
            self._flash_timer = self.set_timer(max(queue[0][0] - now, 0.1), self._expire_flashes)

    # ------------------------------------------------------------ cursor & mouse

    def _move_cursor(self, index: int) -> None:
        if not self._order:
            return
        index = min(max(index, 0), len(self._order) - 1)
        self._cursor_placed = True
        self._set_cursor(self._order[index], index)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        index = self._index(self._cursor)
        top, body = self._body_window()
        if index is None or not body:
            return
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + body:
            self.scroll_to(y=index - body + 1, animate=False)

    def action_cursor(self, delta: int) -> None:
        self._move_cursor(self._cursor_index + delta)

    def action_page(self, direction: int) -> None:
        self._move_cursor(self._cursor_index + direction * max(self._body_window()[1] - 1, 1))

    def action_half_page(self, direction: int) -> None:
        self._move_cursor(self._cursor_index + direction * max(self._body_window()[1] // 2, 1))

    def action_cursor_to(self, index: int) -> None:
        self._move_cursor(index if index >= 0 else len(self._order) - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        scroll_x, scroll_y = self.scroll_offset
        if offset.y == 0:
            column = self._column_at(offset.x + scroll_x)
            if column is not None:
                reverse = column == self.sort_column and not self.sort_reverse
                self.sort_by(column, reverse=reverse)
                self.post_message(self.HeaderClicked(self, column, reverse))
        elif scroll_y + offset.y - 1 < len(self._order):
            self._move_cursor(scroll_y + offset.y - 1)
            if event.chain == 2 and self._cursor is not None:  # a double click opens the row
                self.post_message(self.RowActivated(self, self._cursor))


def _age_styles(ages: tuple[str, ...]) -> tuple[str, str, str]:
    eta, _, stale = ages
    return (
        "stale" if eta.startswith("stuck") else "dim",
        "dim",
        "dim" if stale.startswith("seen") else "stale",
    )
