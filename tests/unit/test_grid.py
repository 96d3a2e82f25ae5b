"""DatasetGrid: what it shows, how it sorts, filters, follows the cursor and repaints.

Assertions are on rendered lines (`render_line(y)`): line 0 is the header,
line 1 the first visible row. Time is a fake clock, never a sleep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from tests.support.clock import FakeClock
from tests.support.grid import T0, ds
from tui.models import State
from tui.widgets import DatasetGrid
from tui.widgets.cells import COLUMN_KEYS


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock(T0.timestamp())
        self.messages: list[Any] = []

    def compose(self) -> ComposeResult:
        yield DatasetGrid(clock=self.clock)

    def on_dataset_grid_header_clicked(self, message: DatasetGrid.HeaderClicked) -> None:
        self.messages.append(message)

    def on_dataset_grid_cursor_moved(self, message: DatasetGrid.CursorMoved) -> None:
        self.messages.append(message)


def lines(grid: DatasetGrid) -> list[str]:
    return [grid.render_line(y).text for y in range(grid.scrollable_content_region.height)]


def row_line(grid: DatasetGrid, key: tuple[str, str]) -> str:
    """The rendered text of `key`'s row (it must be on screen)."""
    index = grid.visible_keys().index(key)
    return grid.render_line(index - grid.scroll_offset.y + 1).text


def cell(grid: DatasetGrid, key: tuple[str, str], column: str) -> str:
    """The text of one cell, cut out of the rendered line at the column's position.

    (Cell offsets are string offsets here: use it on single-width text only.)
    """
    i = COLUMN_KEYS.index(column)
    x, width = grid._x[i], grid._widths[i]
    return row_line(grid, key)[x : x + width]


def ids(grid: DatasetGrid) -> list[str]:
    return [key[1] for key in grid.visible_keys()]


@pytest.fixture
async def pilot() -> AsyncIterator[Pilot[None]]:
    async with Host().run_test(size=(160, 45)) as pilot:
        yield pilot


@pytest.fixture
def host(pilot: Pilot[None]) -> Host:
    assert isinstance(pilot.app, Host)
    return pilot.app


@pytest.fixture
def grid(host: Host) -> DatasetGrid:
    return host.query_one(DatasetGrid)


async def test_rows_show_every_column(grid: DatasetGrid, pilot: Pilot[None]) -> None:
    grid.apply(
        [
            ds(
                1,
                name="cats",
                state=State.RUNNING,
                status="INDEXING",
                progress=45,
                n_images=1234567,
                n_videos=0,
                pipelines={
                    "add_pipeline": "DATASET_PROCESSING_COMPLETED",
                    "cognify_pipeline": "DATASET_PROCESSING_STARTED",
                },
                fetched_at=T0 - timedelta(seconds=12),  # shown in 5 s steps
            ),
            ds(
                2,
                name=None,
                state=State.ERROR,
                backend="cognee",
                pipelines={"creation": "NEW"},
                fetched_at=T0 - timedelta(hours=2),
            ),
        ]
    )
    await pilot.pause()
    header = grid.render_line(0).text
    for title in (
        "backend",
        "name ▲",
        "state",
        "status",
        "progress",
        "images",
        "videos",
        "objects",
        "pipelines",
        "updated",
        "stale",
    ):
        assert title in header
    key = ("vl", "id-001")
    assert cell(grid, key, "name").rstrip() == "cats"
    assert cell(grid, key, "state").rstrip() == "⟳ running"
    assert cell(grid, key, "status").rstrip() == "INDEXING"
    assert cell(grid, key, "progress") == "████▌       45%"
    assert cell(grid, key, "images").strip() == "1,234,567"
    assert cell(grid, key, "images").endswith("1,234,567")  # right-aligned
    assert cell(grid, key, "videos").strip() == "0"
    assert cell(grid, key, "objects").strip() == ""  # None is blank
    assert cell(grid, key, "pipelines").rstrip() == "add ✓ cognify ⟳"
    assert cell(grid, key, "updated").strip() == "10s"
    other = ("cognee", "id-002")
    assert cell(grid, other, "name").rstrip() == "id-002"  # the id when the name is unknown
    assert cell(grid, other, "state").rstrip() == "✗ error"
    assert cell(grid, other, "progress").strip() == ""
    assert cell(grid, other, "pipelines").rstrip() == "creation ◌"
    assert cell(grid, other, "updated").strip() == "2h"
    assert grid.row_count == grid.visible_count == 2


async def test_every_state_has_a_symbol_and_its_own_style(
    grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    grid.apply([ds(i, state=state) for i, state in enumerate(State)])
    await pilot.pause()
    styles = set()
    for i, state in enumerate(State):
        text = cell(grid, ("vl", f"id-{i:03d}"), "state").rstrip()
        symbol, word = text.split(" ")
        assert word == state.value and not symbol.isalnum()
    for y in range(2, len(State) + 1):  # the cursor line (1) has the cursor style
        segment = [s for s in grid.render_line(y) if s.text.strip()][2]  # backend, name, state
        styles.add(segment.style)
    assert len(styles) >= 6  # ready/running/pending/partial/error/... differ


async def test_stale_marker(grid: DatasetGrid, pilot: Pilot[None]) -> None:
    grid.apply(
        [ds(1, state=State.UNREACHABLE, stale=True, stale_since=T0 - timedelta(minutes=2)), ds(2)]
    )
    await pilot.pause()
    # One age per row: how old the data is (30 s), not also how long it has failed.
    assert cell(grid, ("vl", "id-001"), "updated").strip() == "30s"
    assert cell(grid, ("vl", "id-001"), "stale").rstrip() == "STALE"
    assert cell(grid, ("vl", "id-002"), "stale").strip() == ""
    grid.select(("vl", "id-002"))  # keep the cursor style off the stale row
    await pilot.pause()
    line = grid.render_line(1 + grid.visible_keys().index(("vl", "id-001")))
    stale = next(s for s in line if s.text.startswith("STALE"))
    assert stale.style == grid.get_component_rich_style("datasetgrid--stale")


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("backend", ["id-002", "id-003", "id-001"]),  # a < b, then natural name
        ("name", ["id-003", "id-001", "id-002"]),  # natural: set 2 < set 10
        ("state", ["id-001", "id-003", "id-002"]),  # worst first
        ("status", ["id-002", "id-003", "id-001"]),
        ("progress", ["id-003", "id-002", "id-001"]),  # blank first
        ("images", ["id-001", "id-003", "id-002"]),
        ("videos", ["id-003", "id-002", "id-001"]),  # blank first
        ("objects", ["id-003", "id-001", "id-002"]),
        ("pipelines", ["id-002", "id-003", "id-001"]),
        ("updated", ["id-001", "id-002", "id-003"]),  # youngest first
        ("stale", ["id-003", "id-002", "id-001"]),  # stale first, longest first
    ],
)
async def test_sort_by_each_column(
    grid: DatasetGrid, pilot: Pilot[None], column: str, expected: list[str]
) -> None:
    grid.apply(
        [
            ds(
                1,
                backend="b",
                name="set 10",
                state=State.ERROR,
                status="c",
                progress=90,
                n_images=1,
                n_videos=5,
                n_objects=5,
                pipelines={"z": "COMPLETED"},
                fetched_at=T0 - timedelta(seconds=1),
            ),
            ds(
                2,
                backend="a",
                name="set 11",
                state=State.READY,
                status="a",
                progress=10,
                n_images=9,
                n_videos=1,
                n_objects=9,
                pipelines={"a": "COMPLETED"},
                fetched_at=T0 - timedelta(seconds=5),
                stale=True,
                stale_since=T0,
            ),
            ds(
                3,
                backend="b",
                name="set 2",
                state=State.RUNNING,
                status="b",
                progress=None,
                n_images=5,
                n_videos=None,
                n_objects=None,
                pipelines={"m": "FAILED"},
                fetched_at=T0 - timedelta(seconds=50),
                stale=True,
                stale_since=T0 - timedelta(minutes=5),
            ),
        ]
    )
    grid.sort_by(column)
    await pilot.pause()
    assert ids(grid) == expected
    assert grid.sort_column == column and not grid.sort_reverse
    assert f"{column} ▲" in grid.render_line(0).text
    grid.sort_by(column, reverse=True)
    await pilot.pause()
    assert ids(grid) == expected[::-1]
    assert f"{column} ▼" in grid.render_line(0).text
    shown = [line[grid._x[1] :].split("  ")[0] for line in lines(grid)[1:4]]
    assert shown == [
        {"id-001": "set 10", "id-002": "set 11", "id-003": "set 2"}[k] for k in expected[::-1]
    ]


async def test_a_row_found_stuck_moves_first_when_sorted_by_eta(
    grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    grid.apply(
        [
            ds(1, state=State.RUNNING, progress=50.0),
            ds(2, state=State.RUNNING, progress=10.0),
            ds(3),
        ]
    )
    grid.sort_by("eta")
    await pilot.pause()
    assert ids(grid) == ["id-001", "id-002", "id-003"]  # running first, furthest along first
    grid.set_stuck({("vl", "id-002")})
    await pilot.pause()
    assert ids(grid) == ["id-002", "id-001", "id-003"]
    grid.set_stuck(set())
    await pilot.pause()
    assert ids(grid) == ["id-001", "id-002", "id-003"]


async def test_ties_keep_backend_name_id_order(grid: DatasetGrid, pilot: Pilot[None]) -> None:
    grid.apply(
        [
            ds(3, backend="b", name="x"),
            ds(2, backend="a", name="y"),
            ds(1, backend="a", name="y"),
            ds(4, backend="a", name="x"),
        ]
    )
    grid.sort_by("state")  # all ready: the tie decides
    await pilot.pause()
    assert grid.visible_keys() == [
        ("a", "id-004"),
        ("a", "id-001"),
        ("a", "id-002"),
        ("b", "id-003"),
    ]


async def test_sort_by_unknown_column_is_refused(grid: DatasetGrid) -> None:
    with pytest.raises(ValueError):
        grid.sort_by("nope")
    assert grid.sort_column == "name"


async def test_header_click_sorts_and_toggles(
    host: Host, grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    grid.apply([ds(1, n_images=5), ds(2, n_images=1), ds(3, n_images=3)])
    await pilot.pause()
    x = grid._x[COLUMN_KEYS.index("images")] + 2
    await pilot.click(DatasetGrid, offset=(x, 0))
    await pilot.pause()
    assert (grid.sort_column, grid.sort_reverse) == ("images", False)
    assert ids(grid) == ["id-002", "id-003", "id-001"]
    await pilot.click(DatasetGrid, offset=(x, 0))
    await pilot.pause()
    assert (grid.sort_column, grid.sort_reverse) == ("images", True)
    assert ids(grid) == ["id-001", "id-003", "id-002"]
    clicks = [m for m in host.messages if isinstance(m, DatasetGrid.HeaderClicked)]
    assert [(m.column, m.reverse) for m in clicks] == [("images", False), ("images", True)]


async def test_filters(grid: DatasetGrid, pilot: Pilot[None]) -> None:
    grid.apply(
        [
            ds(1, name="Alpha cats", status="READY"),
            ds(2, name="beta", backend="cognee", state=State.ERROR),
            ds(3, name="gamma", state=State.UNAUTHORIZED, status="denied"),
            ds(4, name="delta", state=State.RUNNING, stale=True, stale_since=T0),
            ds(5, name="epsilon", backend="cognee", state=State.NOT_FOUND),
        ]
    )
    await pilot.pause()
    cases = {
        "alpha": ["id-001"],  # name, case-insensitive
        "CATS": ["id-001"],
        "id-003": ["id-003"],  # id
        "cognee": ["id-002", "id-005"],  # backend
        "denied": ["id-003"],  # status
        "state:error": ["id-002"],
        "state:err": ["id-002"],  # prefix
        "state:error,not_found": ["id-002", "id-005"],  # alternatives
        "state:stale": ["id-004"],
        "backend:cognee": ["id-002", "id-005"],
        "backend:cog": [],  # backend is exact
        "backend:cognee eps": ["id-005"],  # terms are AND-ed
        "backend:vl state:running": ["id-004"],
        "nothing-matches": [],
    }
    for text, expected in cases.items():
        grid.set_filter(text)
        assert sorted(ids(grid)) == expected, text
        assert grid.visible_count == len(expected)
    grid.set_filter(problems_only=True)
    assert sorted(ids(grid)) == ["id-002", "id-003", "id-004", "id-005"]
    grid.set_filter("backend:cognee", problems_only=True)
    assert sorted(ids(grid)) == ["id-002", "id-005"]
    grid.set_filter()
    assert grid.visible_count == grid.row_count == 5
    await pilot.pause()
    assert len([line for line in lines(grid) if line.strip()]) == 6


async def test_filter_follows_updates(grid: DatasetGrid) -> None:
    grid.apply([ds(1), ds(2)])
    grid.set_filter("state:error")
    assert ids(grid) == []
    grid.apply([ds(2, state=State.ERROR)])  # now matches: appears
    assert ids(grid) == ["id-002"]
    grid.apply([ds(2, state=State.READY)])  # no longer matches: disappears
    assert ids(grid) == []
    grid.apply([ds(3, state=State.ERROR)])  # new rows are filtered too
    assert ids(grid) == ["id-003"]


async def test_cursor_keys_and_mouse(host: Host, grid: DatasetGrid, pilot: Pilot[None]) -> None:
    grid.apply([ds(i) for i in range(100)])
    grid.focus()
    await pilot.pause()
    assert grid.cursor_key == ("vl", "id-000")
    await pilot.press("down", "down")
    assert grid.cursor_key == grid.visible_keys()[2]
    await pilot.press("up")
    assert grid.cursor_key == grid.visible_keys()[1]
    await pilot.press("end")
    assert grid.cursor_key == grid.visible_keys()[-1]
    await pilot.pause()
    assert grid.scroll_offset.y > 0  # scrolled to show it
    assert row_line(grid, grid.visible_keys()[-1])  # on screen
    await pilot.press("home")
    assert grid.cursor_key == grid.visible_keys()[0]
    await pilot.press("pagedown")
    page = grid.scrollable_content_region.height - 2
    assert grid.cursor_key == grid.visible_keys()[page]
    await pilot.press("pagedown")
    await pilot.pause()
    assert grid.cursor_key == grid.visible_keys()[2 * page]
    await pilot.press("pageup")
    assert grid.cursor_key == grid.visible_keys()[page]
    await pilot.pause()
    top = grid.scroll_offset.y
    await pilot.click(DatasetGrid, offset=(5, 3))
    assert grid.cursor_key == grid.visible_keys()[top + 2]
    moved = [m.key for m in host.messages if isinstance(m, DatasetGrid.CursorMoved)]
    assert moved[-1] == grid.cursor_key
    # The cursor line looks different from the others.
    await pilot.pause()
    y = 1 + grid.visible_keys().index(grid.cursor_key) - grid.scroll_offset.y
    cursor_style = grid.get_component_rich_style("datasetgrid--cursor")
    assert list(grid.render_line(y))[1].style.bgcolor == cursor_style.bgcolor
    assert list(grid.render_line(y + 1))[1].style.bgcolor != cursor_style.bgcolor


async def test_cursor_keeps_its_dataset(grid: DatasetGrid) -> None:
    grid.apply([ds(i, n_images=i) for i in range(10)])
    assert grid.select(("vl", "id-007"))
    key = ("vl", "id-007")
    grid.sort_by("images", reverse=True)
    assert grid.cursor_key == key
    assert grid.visible_keys().index(key) == 2
    grid.set_filter("set")  # matches all
    assert grid.cursor_key == key
    grid.apply([ds(7, n_images=100), ds(3, n_images=50)])  # moves to the top
    assert grid.cursor_key == key
    assert grid.visible_keys()[0] == key
    grid.set_filter("id-00", problems_only=False)
    assert grid.cursor_key == key
    # Filtered out: the cursor stays at its place, on the row now there.
    grid.set_filter("set 3")
    assert grid.cursor_key == ("vl", "id-003")
    grid.set_filter("no such thing")
    assert grid.cursor_key is None
    assert not grid.select(key)


async def test_remove_and_clear(grid: DatasetGrid, pilot: Pilot[None]) -> None:
    grid.apply([ds(i) for i in range(5)])
    grid.select(("vl", "id-002"))
    grid.remove([("vl", "id-002"), ("vl", "id-004"), ("vl", "nope")])
    await pilot.pause()
    assert ids(grid) == ["id-000", "id-001", "id-003"]
    assert grid.row_count == 3
    assert grid.state_of(("vl", "id-002")) is None
    assert grid.cursor_key == ("vl", "id-003")  # the row that took its place
    assert grid.virtual_size.height == 4
    assert not any("set 2" in line for line in lines(grid))
    grid.clear()
    await pilot.pause()
    assert grid.row_count == grid.visible_count == 0
    assert grid.cursor_key is None
    assert all(not line.strip() for line in lines(grid)[1:])


async def test_changed_cells_flash_then_clear(
    host: Host, grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    grid.apply([ds(1, progress=10, status="INDEXING"), ds(2)])
    assert grid._flash_timer is None  # new rows do not flash; no timer without flashes
    grid.apply([ds(1, progress=50, status="INDEXING")])
    await pilot.pause()
    changed = grid.get_component_rich_style("datasetgrid--changed").bgcolor
    grid.select(("vl", "id-002"))  # keep the cursor style off id-001's line
    await pilot.pause()
    y = 1 + grid.visible_keys().index(("vl", "id-001"))
    flashed = [s.text for s in grid.render_line(y) if s.style and s.style.bgcolor == changed]
    assert flashed == ["█████       50%"]  # only the progress cell
    assert grid._flash_timer is not None
    # Two seconds later the one timer drops the highlight.
    host.clock.now += 2.0
    grid._expire_flashes()
    await pilot.pause()
    assert not [s for s in grid.render_line(y) if s.style and s.style.bgcolor == changed]
    assert grid._flash_timer is None


async def test_flash_timer_reschedules_for_later_changes(host: Host, grid: DatasetGrid) -> None:
    grid.apply([ds(1), ds(2)])
    grid.apply([ds(1, status="A")])
    host.clock.now += 1.0
    grid.apply([ds(2, status="B")])
    host.clock.now += 1.0
    grid._expire_flashes()  # the first row's flash is over, not the second's
    assert grid._rows[("vl", "id-001")].flash == frozenset()
    assert grid._rows[("vl", "id-002")].flash
    assert grid._flash_timer is not None
    host.clock.now += 1.0
    grid._expire_flashes()
    assert not grid._rows[("vl", "id-002")].flash and grid._flash_timer is None


async def test_server_text_is_shown_literally_and_safely(
    grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    grid.apply(
        [
            ds(1, name="[bold red]x[/]", status="[link=http://e]y[/link]"),
            ds(2, name="evil\x1b[2J\x1b]52;c;aGk=\x07name", status="a\x1b]8;;http://x\x1b\\b\nc"),
            ds(3, name="tab\there\x00", status="\x9b31m"),
        ]
    )
    await pilot.pause()
    assert cell(grid, ("vl", "id-001"), "name").rstrip() == "[bold red]x[/]"
    assert cell(grid, ("vl", "id-001"), "status").rstrip() == "[link=http://e]y[/link]"
    assert cell(grid, ("vl", "id-002"), "name").rstrip() == "evilname"
    assert cell(grid, ("vl", "id-002"), "status").rstrip() == "ab c"
    assert cell(grid, ("vl", "id-003"), "name").rstrip() == "tab here␀"
    for y in range(4):
        strip = grid.render_line(y)
        for segment in strip:
            assert segment.control is None
            assert all(c.isprintable() for c in segment.text), repr(segment.text)
            assert not (segment.style and segment.style.link)
    # Markup was not parsed: the segment holding the name carries the brackets.
    line = grid.render_line(1 + grid.visible_keys().index(("vl", "id-001")))
    assert any(s.text.startswith("[bold red]x[/]") for s in line)


@pytest.mark.parametrize(
    "name",
    [
        "a-very-long-dataset-name-that-goes-on-and-on-well-past-the-column-width",
        "猫" * 40,
        "🚀 rocket 👨‍👩‍👧 family " * 4,
        "שלום עולם " * 6,
        "مرحبا بالعالم " * 5,
    ],
)
async def test_long_names_are_cut_to_the_column(
    grid: DatasetGrid, pilot: Pilot[None], name: str
) -> None:
    grid.apply([ds(1, name=name), ds(2, name="short")])
    await pilot.pause()
    i = COLUMN_KEYS.index("name")
    width = grid._widths[i]
    line = grid.render_line(1 + grid.visible_keys().index(("vl", "id-001")))
    segment = list(line)[1 + 2 * i]  # leading gap, then (cell, gap) pairs
    assert cell_len(segment.text) == width
    assert segment.text.rstrip().endswith("…")
    assert cell_len(line.text) == grid.size.width  # nothing spills over other columns
    state_x = grid._x[COLUMN_KEYS.index("state")]
    assert line.crop(state_x, state_x + 7).text == "✓ ready"


async def test_columns_widen_for_data_but_not_past_their_cap(grid: DatasetGrid) -> None:
    i = COLUMN_KEYS.index("name")
    start = grid._widths[i]
    grid.apply([ds(1, name="x" * (start + 5))])
    assert grid._widths[i] == start + 5
    grid.apply([ds(2, name="y" * 500)])
    assert grid._widths[i] == 36
    grid.apply([ds(3, name="猫" * 10)])  # 20 cells
    assert grid._widths[i] == 36


async def test_update_repaints_only_its_line(grid: DatasetGrid, pilot: Pilot[None]) -> None:
    grid.apply([ds(i) for i in range(200)])
    await pilot.pause()
    refreshed: list[tuple[Region, ...]] = []
    original = grid.refresh

    def spy(*regions: Region, **kwargs: Any) -> Any:
        refreshed.append(regions)
        return original(*regions, **kwargs)

    grid.refresh = spy  # type: ignore[method-assign]
    grid.apply([ds(150, status="CHANGED")])  # off screen: nothing to repaint
    assert refreshed == []
    grid.apply([ds(3, status="CHANGED")])  # on screen: its line only
    assert len(refreshed) == 1 and len(refreshed[0]) == 1
    region = refreshed[0][0]
    assert region.height == 1 and region.y == 1 + grid.visible_keys().index(("vl", "id-003"))
    grid.apply([grid.state_of(("vl", "id-003"))])  # type: ignore[list-item]  # same object
    assert len(refreshed) == 1


async def test_ages_tick_only_when_their_text_changes(
    host: Host, grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    grid.apply(
        [ds(1, fetched_at=T0 - timedelta(seconds=90)), ds(2, fetched_at=T0 - timedelta(seconds=5))]
    )
    await pilot.pause()
    assert cell(grid, ("vl", "id-001"), "updated").strip() == "1m"
    assert cell(grid, ("vl", "id-002"), "updated").strip() == "now"  # under 10 s
    refreshed: list[tuple[Region, ...]] = []
    original = grid.refresh

    def spy(*regions: Region, **kwargs: Any) -> Any:
        refreshed.append(regions)
        return original(*regions, **kwargs)

    grid.refresh = spy  # type: ignore[method-assign]
    grid._tick_ages()  # no time passed: nothing to repaint
    host.clock.now += 4
    grid._tick_ages()  # 9 s is still shown as "now": nothing to repaint
    assert refreshed == []
    host.clock.now += 1
    grid._tick_ages()  # "now" -> "10s"; "1m" stays "1m"
    assert len(refreshed) == 1 and len(refreshed[0]) == 1
    region = refreshed[0][0]
    assert region.y == 1 + grid.visible_keys().index(("vl", "id-002"))
    assert region.x == grid._x[COLUMN_KEYS.index("eta")]  # just the clock's cells
    assert cell(grid, ("vl", "id-002"), "updated").strip() == "10s"
    assert cell(grid, ("vl", "id-001"), "updated").strip() == "1m"
    host.clock.now += 25
    grid._tick_ages()
    assert cell(grid, ("vl", "id-001"), "updated").strip() == "2m"


async def test_empty_grid_renders_header_only(grid: DatasetGrid, pilot: Pilot[None]) -> None:
    await pilot.pause()
    assert "name ▲" in grid.render_line(0).text
    assert not grid.render_line(1).text.strip()
    assert grid.cursor_key is None
    await pilot.press("down", "end", "pagedown")  # no rows: keys do nothing
    grid._tick_ages()


async def test_header_and_rows_scroll_sideways_together(
    grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    # Narrower than even name, state and stale: a horizontal scrollbar appears.
    grid.styles.width = 20
    grid.apply([ds(i, state=State.ERROR) for i in range(3)])
    await pilot.pause()
    x = grid._x[COLUMN_KEYS.index("state")]
    grid.scroll_to(x=x, animate=False)
    await pilot.pause()
    assert grid.scroll_offset.x == x
    header, first = grid.render_line(0).text, grid.render_line(1).text
    assert header.split()[0] == "state"
    assert first.index("✗ error") == header.index("state")
    assert cell_len(grid.render_line(1).text) == grid.size.width
    await pilot.click(DatasetGrid, offset=(2, 0))  # "state", as scrolled
    assert grid.sort_column == "state"


async def test_rows_changed_off_screen_are_drawn_as_they_are_now(
    host: Host, grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    grid.apply([ds(i, status="INDEXING", progress=10) for i in range(200)])
    await pilot.pause()
    key = ("vl", "id-150")
    grid.apply([ds(150, status="INDEXING", progress=10)])  # polled again: nothing new
    grid.apply([ds(150, status="PARTIAL INDEX", progress=10)])
    grid.apply([ds(150, status="PARTIAL INDEX " + "x" * 20, progress=60, name="set 150 renamed")])
    assert grid._widths[COLUMN_KEYS.index("status")] == 28  # widened while off screen
    grid.select(key)
    grid.select(("vl", "id-149"))  # still on screen; the cursor style off id-150's line
    await pilot.pause()
    assert grid.visible_keys().index(key) >= grid.scroll_offset.y  # scrolled to it
    line = row_line(grid, key)
    assert "set 150 renamed" in line and "PARTIAL INDEX xxxx" in line and "60%" in line
    changed = grid.get_component_rich_style("datasetgrid--changed").bgcolor
    y = grid.visible_keys().index(key) - grid.scroll_offset.y + 1
    flashed = {
        s.text.strip() for s in grid.render_line(y) if s.style and s.style.bgcolor == changed
    }
    # Everything that differs from what the row showed before its changes began.
    assert {"set 150 renamed", "██████      60%"} <= flashed
    assert any(text.startswith("PARTIAL INDEX") for text in flashed)
    host.clock.now += 2.0
    grid._expire_flashes()
    await pilot.pause()
    assert not [s for s in grid.render_line(y) if s.style and s.style.bgcolor == changed]
    grid.apply([ds(150, status="PARTIAL INDEX " + "x" * 20, progress=60, name="set 150 renamed")])
    assert not [s for s in grid.render_line(y) if s.style and s.style.bgcolor == changed]


async def test_a_poll_that_brings_nothing_new_highlights_nothing(grid: DatasetGrid) -> None:
    grid.apply([ds(1, changed_at=T0)])
    # Polled again: newer fetched_at, and the poller kept changed_at (no visible change).
    grid.apply([ds(1, changed_at=T0, fetched_at=T0 + timedelta(seconds=5))])
    assert grid._flash_timer is None and not grid._flash_until
    later = T0 + timedelta(seconds=10)
    grid.apply([ds(1, status="INDEXING", changed_at=later, fetched_at=later)])
    assert grid._flash_timer is not None
    assert grid._rows[("vl", "id-001")].flash == frozenset({COLUMN_KEYS.index("status")})


async def test_an_unmoved_cursor_stays_on_the_top_row_as_rows_re_sort(
    grid: DatasetGrid, pilot: Pilot[None]
) -> None:
    # At start the rows come before their names (placeholders sort by ID), then
    # re-sort: the cursor stays on top until someone moves it, then keeps its dataset.
    grid.apply([ds(i, name=None) for i in range(5)])
    grid.focus()
    await pilot.pause()
    assert grid.cursor_key == ("vl", "id-000")
    grid.apply([ds(i, name=f"set {9 - i}") for i in range(5)])  # id-004 sorts first now
    assert grid.visible_keys()[0] == ("vl", "id-004")
    assert grid.cursor_key == ("vl", "id-004")
    await pilot.press("down")
    key = grid.cursor_key
    assert key == grid.visible_keys()[1]
    grid.apply([ds(i, name=f"set {i}") for i in range(5)])  # the order turns round
    assert grid.cursor_key == key
