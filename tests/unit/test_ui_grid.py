"""The grid as a k9s user drives it: vim keys, double-click, keys that belong
to the grid only, and columns that give way on a narrow screen."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from tests.support.clock import FakeClock
from tests.support.grid import T0, ds
from tui.models import State
from tui.widgets import DatasetGrid
from tui.widgets.cells import COLUMN_KEYS, COLUMNS, fit_widths
from tui.widgets.footer import FittingFooter


class Dialog(ModalScreen[None]):
    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        yield Static("a dialog")
        yield Footer()


class Host(App[None]):
    """Binds nothing itself: every dataset key must come from the grid."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0.timestamp())
        self.actions: list[str] = []
        self.activated: list[Any] = []

    def compose(self) -> ComposeResult:
        yield DatasetGrid(clock=self.clock)
        yield Footer()

    def action_add(self) -> None:
        self.actions.append("add")

    def action_cycle_sort(self) -> None:
        self.actions.append("sort")

    def on_dataset_grid_row_activated(self, message: DatasetGrid.RowActivated) -> None:
        self.activated.append(message.key)


async def test_vim_keys_move_the_cursor() -> None:
    app = Host()
    async with app.run_test(size=(160, 45)) as pilot:
        grid = app.query_one(DatasetGrid)
        grid.apply([ds(i) for i in range(100)])
        grid.focus()
        await pilot.pause()
        keys = grid.visible_keys()
        await pilot.press("j", "j")
        assert grid.cursor_key == keys[2]
        await pilot.press("k")
        assert grid.cursor_key == keys[1]
        await pilot.press("G")
        assert grid.cursor_key == keys[-1]
        await pilot.press("g")
        assert grid.cursor_key == keys[0]
        half = (grid.scrollable_content_region.height - 1) // 2
        await pilot.press("ctrl+d")
        assert grid.cursor_key == keys[half]
        await pilot.press("ctrl+d", "ctrl+u")
        assert grid.cursor_key == keys[half]
        await pilot.press("ctrl+u", "ctrl+u")
        assert grid.cursor_key == keys[0]


async def test_double_click_opens_the_row_and_a_single_click_selects() -> None:
    app = Host()
    async with app.run_test(size=(160, 45)) as pilot:
        grid = app.query_one(DatasetGrid)
        grid.apply([ds(i) for i in range(5)])
        await pilot.pause()
        await pilot.click(DatasetGrid, offset=(5, 3))
        assert grid.cursor_key == grid.visible_keys()[2]
        assert app.activated == []
        await pilot.click(DatasetGrid, offset=(5, 4), times=2)
        assert app.activated == [grid.visible_keys()[3]]


async def test_dataset_keys_work_and_show_only_while_the_grid_is_on_screen() -> None:
    app = Host()
    async with app.run_test(size=(160, 45)) as pilot:
        grid = app.query_one(DatasetGrid)
        grid.focus()
        await pilot.pause()
        shown = {key for key, b in app.active_bindings.items() if b.binding.show}
        assert {"a", "s", "slash", "enter"} <= shown
        await pilot.press("a", "s")
        assert app.actions == ["add", "sort"]
        await app.push_screen(Dialog())
        await pilot.pause()
        assert not {"a", "s", "slash", "e", "d", "r", "p"} & set(app.active_bindings)
        await pilot.press("a", "s", "e")
        assert app.actions == ["add", "sort"]  # nothing reached the hidden grid
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("a")
        assert app.actions == ["add", "sort", "add"]


def test_slash_shows_as_a_slash() -> None:
    bindings = {b.action: b for b in DatasetGrid.BINDINGS if isinstance(b, Binding)}
    assert bindings["app.filter"].key_display == "/"


# ------------------------------------------------------------ column priorities

WIDE = [max(c.width, len(c.title) + 2) for c in COLUMNS]
ALWAYS = ("name", "state", "stale")


@pytest.mark.parametrize("available", [40, 60, 80, 100, 120, 160, 220])
def test_widths_fit_and_keep_state_name_and_stale(available: int) -> None:
    widths = list(WIDE)
    widths[COLUMN_KEYS.index("name")] = 30
    widths[COLUMN_KEYS.index("pipelines")] = 30
    fitted = fit_widths(widths, available)
    assert sum(w + 1 for w in fitted if w) + 1 <= available
    for key in ALWAYS:
        assert fitted[COLUMN_KEYS.index(key)] > 0, key
    assert all(0 <= f <= w for f, w in zip(fitted, widths, strict=True))


def test_counts_go_before_progress_and_updated() -> None:
    fitted = dict(zip(COLUMN_KEYS, fit_widths(list(WIDE), 80), strict=True))
    assert fitted["videos"] == fitted["objects"] == fitted["images"] == 0
    assert fitted["updated"] > 0 and fitted["backend"] > 0
    assert fitted == dict(zip(COLUMN_KEYS, fit_widths(list(WIDE), 80), strict=True))
    assert fit_widths(list(WIDE), 400) == WIDE  # room for all: nothing changes


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40), (160, 45), (220, 60)])
async def test_grid_shows_state_name_and_stale_marker_without_scrolling(
    width: int, height: int
) -> None:
    app = Host()
    async with app.run_test(size=(width, height)) as pilot:
        grid = app.query_one(DatasetGrid)
        grid.apply(
            [
                ds(1, name="docs-receipts-17", state=State.RUNNING, progress=45, n_images=1234),
                ds(
                    2,
                    name="a long dataset name of forty characters",
                    state=State.ERROR,
                    stale=True,
                    stale_since=T0,
                    pipelines={"add_pipeline": "COMPLETED", "cognify_pipeline": "STARTED"},
                ),
            ]
        )
        await pilot.pause()
        assert grid.virtual_size.width <= grid.size.width  # no horizontal scrolling
        header = grid.render_line(0).text
        for title in ("name", "state", "stale", "updated"):
            assert title in header, (width, header)
        running, stale_row = (grid.render_line(y).text for y in (2, 1))  # sorted by name
        assert "docs-receipts-17" in running and "⟳ running" in running
        assert "45%" in running  # the bar may go, the figure stays
        assert "STALE" in stale_row and "✗ error" in stale_row
        if width >= 160:
            assert "images" in header and "pipelines" in header


@pytest.mark.parametrize(("width", "height"), [(80, 24), (120, 40), (160, 45), (220, 60)])
async def test_with_more_rows_than_lines_the_stale_column_stays_beside_the_scrollbar(
    width: int, height: int
) -> None:
    """A vertical scrollbar takes two columns: the columns fit beside it, with no
    horizontal scrollbar taking a line and hiding the stale column under it."""
    app = Host()
    async with app.run_test(size=(width, height)) as pilot:
        grid = app.query_one(DatasetGrid)
        rows = [ds(i, name=f"dataset-with-a-long-name-{i:03d}", n_images=1234) for i in range(100)]
        rows[0] = ds(0, name="a-stale-one", state=State.ERROR, stale=True, stale_since=T0)
        rows[1] = ds(1, name="a-visual-layer-one", backend="visual-layer")
        grid.apply(rows)
        await pilot.pause()
        assert grid.render_line(2).text.startswith(" visual-layer ")  # not `visual…`
        assert grid.show_vertical_scrollbar and not grid.show_horizontal_scrollbar
        header = grid.render_line(0).text
        assert header.rstrip().endswith("stale"), header
        assert "…" not in header  # a narrow progress column is headed `%`, not `pro…`
        assert header.index("stale") + len("stale") <= grid.scrollable_content_region.width
        first = grid.render_line(1).text
        assert "a-stale-one" in first and "STALE" in first
        assert first.index("STALE") + len("STALE") <= grid.scrollable_content_region.width
        grid.apply([ds(i) for i in range(100, 200)])  # more rows: the layout holds
        grid.remove([("vl", f"id-{i:03d}") for i in range(1, 200)])  # one row: no scrollbar
        await pilot.pause()
        assert not grid.show_vertical_scrollbar and not grid.show_horizontal_scrollbar
        assert grid.render_line(0).text.rstrip().endswith("stale")


class FooterHost(Host):
    def compose(self) -> ComposeResult:
        yield DatasetGrid(clock=self.clock)
        yield FittingFooter()


@pytest.mark.parametrize("width", [80, 100, 120, 160])
async def test_the_footer_shows_whole_keys_only_at_any_width(width: int) -> None:
    app = FooterHost()
    async with app.run_test(size=(width, 24)) as pilot:
        app.query_one(DatasetGrid).focus()
        await pilot.pause()
        await pilot.pause()
        footer = app.query_one(FittingFooter)
        keys = list(footer.query(FooterKey))
        palette = [k for k in keys if k.has_class("-command-palette")]
        keys = [k for k in keys if not k.has_class("-command-palette")]
        shown = [k.key_display for k in keys]
        assert shown[:2] == ["?", "q"]  # help and quit first: always there
        assert {"/", "e", "a", "s", "d", "r"} <= set(shown)  # at 80: all but Pause
        limit = palette[0].region.x if palette else width
        for key in keys:  # none cut, none under the palette's key
            assert key.region.right <= limit, (key.key_display, key.region, limit)
        if width >= 120:
            assert "p" in shown and palette


# ------------------------------------------------------------ the README's key table

README = Path(__file__).resolve().parents[2] / "README.md"
# How the README writes a key Textual names otherwise.
README_NAMES = {
    "up": "↑",
    "down": "↓",
    "pageup": "PgUp",
    "pagedown": "PgDn",
    "home": "Home",
    "end": "End",
    "question_mark": "?",
    "slash": "/",
    "escape": "esc",
}


def readme_key_table() -> list[tuple[list[str], str]]:
    """Each row of the README's `### Keys` table: (the keys in its first cell, the row)."""
    text = README.read_text(encoding="utf-8").split("### Keys", 1)[1]
    rows = []
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith(("| key ", "|---")):
            if rows:
                break
            continue
        first = line.split(" | ", 1)[0]
        keys = [key for quoted in re.findall(r"`([^`]+)`", first) for key in quoted.split()]
        rows.append((keys, line))
    return rows


def test_the_readme_key_table_matches_the_bindings() -> None:
    from tui.app import DswatchApp

    bound = {
        README_NAMES.get(key, key)
        for binding in (*DatasetGrid.BINDINGS, *DswatchApp.BINDINGS)
        if isinstance(binding, Binding)
        for key in binding.key.split(",")
    } | {"ctrl+p"}  # Textual's command palette
    rows = readme_key_table()
    documented = {key for keys, _ in rows for key in keys}
    assert documented <= bound, documented - bound  # nothing documented that is not bound
    in_rows = documented | {"esc"} if any("`esc`" in line for _, line in rows) else documented
    assert bound <= in_rows, bound - in_rows  # nothing bound that is not documented
