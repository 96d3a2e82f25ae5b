"""Dialogs, help, summary and palette as a keyboard user meets them (issue 15).

Each screen is pushed on a small host app; what is asserted is what the user
sees or gets back when the dialog closes.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Button, Input, Static
from textual.widgets._footer import FooterKey

from tui.config import BackendConfig
from tui.credentials import RETRY_COMMAND
from tui.models import Failure, State
from tui.palette import STATE_LOOKS
from tui.poller import BackendHealth, Health
from tui.screens.add import AddDatasetsScreen, AddRequest, PasteBox
from tui.screens.backend import AddBackendScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.widgets import DatasetGrid
from tui.widgets.rows import RowFilter
from tui.widgets.summary import SummaryBar, alert_line

A = "0b6ad7b4-0000-4000-8000-000000000001"
B = "0b6ad7b4-0000-4000-8000-000000000002"
SMALL, BIG = (80, 24), (220, 60)


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.results: list[Any] = []
        self.lists: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("the dashboard")

    def request_remote_list(self, backend: str) -> None:  # what AddDatasetsScreen asks for
        self.lists.append(backend)

    def open(self, screen: Any) -> None:
        self.push_screen(screen, self.results.append)


def fully_on_screen(app: App[Any], widget: Any) -> bool:
    region = widget.region
    return region.area > 0 and Region(0, 0, *app.size).contains_region(region)


# -- Add datasets -------------------------------------------------------------------


async def test_enter_adds_what_was_typed() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddDatasetsScreen(["vl", "cg"], {"vl": set()}))
        await pilot.pause()
        await pilot.press(*A, "enter")
        await pilot.pause()
        assert app.results == [AddRequest("vl", [A])]


async def test_a_pasted_block_lands_whole_and_enter_adds_it_all() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddDatasetsScreen(["vl"], {"vl": set()}))
        await pilot.pause()
        url = f"https://app.visual-layer.com/dataset/{B}/data"
        app.post_message(events.Paste(f"{A}\n{url}\n"))  # as a terminal's bracketed paste
        await pilot.pause()
        assert app.results == []  # a paste is not a key press: nothing submitted yet
        assert app.screen.query_one(PasteBox).text == f"{A}\n{url}\n"
        assert "2 new" in str(app.screen.query_one("#check", Static).render())
        await pilot.press("enter")
        await pilot.pause()
        assert app.results == [AddRequest("vl", [A, B])]


async def test_shift_enter_and_ctrl_j_start_a_new_line() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddDatasetsScreen(["vl"], {"vl": set()}))
        await pilot.pause()
        await pilot.press(*A, "shift+enter", *B, "ctrl+j", "x")
        box = app.screen.query_one(PasteBox)
        assert box.text == f"{A}\n{B}\nx"
        await pilot.press("backspace", "enter")
        await pilot.pause()
        assert app.results == [AddRequest("vl", [A, B])]


async def test_a_refused_paste_stays_open_and_keeps_the_text() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddDatasetsScreen(["vl"], {"vl": set()}))
        await pilot.pause()
        await pilot.press(*"nope", "enter")
        await pilot.pause()
        assert app.results == [] and isinstance(app.screen, AddDatasetsScreen)
        assert app.screen.query_one(PasteBox).text == "nope"
        assert "not a dataset ID" in str(app.screen.query_one("#check", Static).render())


@pytest.mark.parametrize("size", [SMALL, BIG])
async def test_add_dialog_fits_and_every_field_can_be_reached(size: tuple[int, int]) -> None:
    app = Host()
    async with app.run_test(size=size) as pilot:
        app.open(AddDatasetsScreen(["vl"], {"vl": set()}))
        await pilot.pause()
        dialog = app.screen.query_one("#dialog")
        assert fully_on_screen(app, dialog)
        for button in app.screen.query(Button):  # docked: always in view
            assert fully_on_screen(app, button), button.id
        seen = set()
        for _ in range(8):  # tab through: the focused field is scrolled into view
            await pilot.press("tab")
            await pilot.pause()
            focused = app.focused
            assert focused is not None and fully_on_screen(app, focused), focused
            if focused.id != "dialog" and not isinstance(focused, Button):  # not under the buttons
                buttons = app.screen.query_one("#buttons").region
                assert not focused.region.overlaps(buttons), focused
            seen.add(focused.id)
        assert {"picker-filter", "picker", "add", "cancel"} <= seen


# -- Add a backend ------------------------------------------------------------------


async def test_enter_saves_a_backend() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddBackendScreen(environ={}))
        await pilot.pause()
        await pilot.press(*"vl", "enter")
        await pilot.pause()
        [backend] = app.results
        assert isinstance(backend, BackendConfig) and backend.name == "vl"


async def test_an_unset_credential_variable_refuses_the_form_and_keeps_it() -> None:
    app = Host()
    saved: list[BackendConfig] = []
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddBackendScreen(save=lambda b: saved.append(b), environ={"VL_KEY": "k"}))
        await pilot.pause()
        await pilot.press(*"vl", "tab", "tab", *"VL_KEY", "tab", *"VL_SECRET", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AddBackendScreen) and app.results == [] and saved == []
        problem = str(screen.query_one("#problem", Static).render())
        assert "VL_SECRET is not set" in problem
        assert screen.query_one("#name", Input).value == "vl"  # nothing lost
        assert screen.query_one("#key-env", Input).value == "VL_KEY"
        assert app.focused is screen.query_one("#secret-env", Input)  # on the one to fix
        problem_widget = screen.query_one("#problem", Static)  # the reason is in view at 80x24
        assert fully_on_screen(app, problem_widget)
        assert fully_on_screen(app, app.focused)
        assert not problem_widget.region.overlaps(app.focused.region)


async def test_the_reason_for_a_refusal_is_in_view_at_80x24() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddBackendScreen(environ={}))
        await pilot.pause()
        await pilot.press(*"vl", "tab", "tab", *"NOPE_KEY", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AddBackendScreen) and app.results == []
        problem = screen.query_one("#problem", Static)
        lines = str(problem.render()).splitlines()  # each problem on its own line
        assert "set api_secret_env too" in lines[0] and "NOPE_KEY is not set" in lines[-1]
        assert lines[-1].startswith("backend 'vl'")
        assert app.focused is screen.query_one("#key-env", Input)
        assert fully_on_screen(app, problem) and fully_on_screen(app, app.focused)
        # Not under the docked buttons nor scrolled out of the dialog: drawn.
        region = problem.region
        for y in range(region.y, region.bottom):
            assert app.screen.get_widget_at(region.x, y)[0] is problem, y


async def test_a_refused_save_keeps_the_form_open() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddBackendScreen(save=lambda b: f"a backend named {b.name!r} exists", environ={}))
        await pilot.pause()
        await pilot.press(*"vl", "enter")
        await pilot.pause()
        assert app.results == [] and isinstance(app.screen, AddBackendScreen)
        assert "'vl' exists" in str(app.screen.query_one("#problem", Static).render())
        assert app.screen.query_one("#name", Input).value == "vl"


@pytest.mark.parametrize(
    "screen",
    [
        lambda: AddBackendScreen(environ={}),
        lambda: ConfirmScreen("Stop watching docs-receipts-17?", "vl · " + A + "\nIt is removed."),
        lambda: HelpScreen(),
    ],
)
async def test_every_dialog_fits_80x24(screen: Any) -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(screen())
        await pilot.pause()
        assert fully_on_screen(app, app.screen.query_one("#dialog"))
        for button in app.screen.query(Button):
            assert fully_on_screen(app, button)


# -- Help -----------------------------------------------------------------------------


async def test_help_has_a_legend_of_every_state_in_its_colours() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(HelpScreen())
        await pilot.pause()
        legend = app.screen.query_one("#legend", Static)
        text = str(legend.render())
        variables = app.get_css_variables()
        for state, look in STATE_LOOKS.items():
            assert look.label in text, state
        lines = [legend.render_line(y) for y in range(legend.region.height)]
        for look, variable in (
            (STATE_LOOKS[State.READY], "success"),
            (STATE_LOOKS[State.ERROR], "error"),
        ):
            segment = next(seg for line in lines for seg in line if look.label in seg.text)
            assert segment.style is not None and segment.style.color is not None
            assert segment.style.color.name.lower() == variables[variable].lower()
        assert "◌ pending" in text and "… pending" not in text


async def test_help_lines_wrap_at_words_at_80_columns() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(HelpScreen())
        await pilot.pause()
        dialog = app.screen.query_one("#dialog")
        assert dialog.region.width <= 80
        # The help's texts fit their column: no word is cut by the dialog's edge.
        widest = max(w.region.right for w in app.screen.query(Static))
        assert widest <= dialog.region.right


# -- Summary and palette -------------------------------------------------------------


def health(name: str, state: Health = Health.OK) -> BackendHealth:
    return BackendHealth(backend=name, health=state)


class SummaryHost(App[None]):
    def compose(self) -> ComposeResult:
        yield SummaryBar(id="summary")
        yield DatasetGrid()


@pytest.mark.parametrize("width", [80, 120, 220])
async def test_summary_keeps_health_and_poll_time_at_any_width(width: int) -> None:
    app = SummaryHost()
    async with app.run_test(size=(width, 10)) as pilot:
        bar = app.query_one(SummaryBar)
        counts = Counter({s: 12 for s in State})
        polled = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
        bar.show(
            counts,
            {
                "visual-layer": health("visual-layer"),
                "cognee": health("cognee", Health.UNREACHABLE),
            },
            last_poll=polled,
            paused=False,
            shown=100,
            total=108,
        )
        await pilot.pause()
        text = str(bar.render())
        assert "visual-layer" in text and "cognee unreachable" in text
        assert f"{polled.astimezone():%H:%M:%S}" in text
        assert len(text) <= width
        assert "✗" in text  # the worst states come first, so they stay
        if width >= 220:
            assert "12 ✓ ready" in text and "(showing 100 of 108)" in text


@pytest.mark.parametrize(
    ("width", "said"), [(50, "cg HTTP 500"), (220, "cg server error (HTTP 500)")]
)
async def test_a_narrow_summary_names_a_server_error_too(width: int, said: str) -> None:
    """At 80 columns the summary went compact and said `cg unreachable` beside a
    banner saying `server error (HTTP 500)`: the cause, short, at any width."""
    app = SummaryHost()
    async with app.run_test(size=(width, 10)) as pilot:
        bar = app.query_one(SummaryBar)
        down = BackendHealth(
            backend="cg",
            health=Health.UNREACHABLE,
            reason="server error (HTTP 500)",
            failure=Failure(kind="http", message="HTTP 500", http_status=500),
        )
        counts = Counter({State.UNREACHABLE: 5, State.READY: 5})
        bar.show(
            counts,
            {"vl": health("vl"), "cg": down},
            last_poll=None,
            paused=False,
            shown=10,
            total=10,
        )
        await pilot.pause()
        text = str(bar.render())
        assert said in text and "cg unreachable" not in text, text


async def test_summary_and_grid_use_the_same_colour_for_each_state() -> None:
    app = SummaryHost()
    async with app.run_test(size=(220, 10)) as pilot:
        bar, grid = app.query_one(SummaryBar), app.query_one(DatasetGrid)
        bar.show(Counter({s: 1 for s in State}), {}, last_poll=None, paused=False, shown=9, total=9)
        await pilot.pause()
        strip = bar.render_line(0)
        for state, look in STATE_LOOKS.items():
            segment = next(s for s in strip if s.text.startswith(f"1 {look.glyph}"))
            grid_style = grid.get_component_rich_style(f"datasetgrid--state-{state.value}")
            assert segment.style is not None and segment.style.color and grid_style.color
            # The same theme variable; a translucent one (muted) blends with each
            # widget's own background, so allow that much.
            ours, theirs = segment.style.color.triplet, grid_style.color.triplet
            assert ours and theirs
            assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) <= 12, state
            assert bool(segment.style.bold) == bool(grid_style.bold), state


@pytest.mark.parametrize(
    ("kind", "hint", "ending"),
    [
        ("auth", "check $COGNEE_API_KEY", "(paused; R retries now)"),
        ("login", RETRY_COMMAND, "then press R to retry (paused)"),
        ("config", "export COGNEE_API_KEY=..., then restart dswatch", "restart dswatch (paused)"),
    ],
    ids=["refused", "token-command", "unset-variable"],
)
def test_the_banner_offers_r_once_and_only_where_it_helps(
    kind: str, hint: str, ending: str
) -> None:
    """Refused credentials: `R` retries. A token_command's hint says `R` already
    (once is enough). An unset variable: `R` cannot export it, so it is not offered."""
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    alert = BackendHealth(
        backend="cg",
        health=Health.UNAUTHORIZED,
        credential_hint=hint,
        since=now,
        failure=Failure(kind=kind, message="refused"),
        reason="refused credentials",
    )
    said = alert_line(alert, now).plain
    assert said.endswith(ending), said
    assert said.count(" R ") <= 1, said


def test_a_filter_on_an_unknown_state_says_so() -> None:
    assert RowFilter.parse("state:eror cats", False).unknown_states() == ["eror"]
    assert RowFilter.parse("state:err,stale state:r", False).unknown_states() == []


def test_a_filter_term_backend_colon_name_is_a_dataset_reference() -> None:
    row_filter = RowFilter.parse("VL:Docs-Receipts", False)
    assert row_filter.refs == (("vl", "docs-receipts"),) and not row_filter.words
    assert RowFilter.parse("https://x/dataset/1", False).words == ("https://x/dataset/1",)


def footer_keys(app: App[Any]) -> dict[str, str]:
    """What the footer shows: key as displayed -> description."""
    return {
        key.key_display: key.description
        for key in app.screen.query(FooterKey)
        if not key.has_class("-command-palette")
    }


async def test_the_footer_shows_enter_in_every_field_of_a_dialog() -> None:
    app = Host()
    async with app.run_test(size=SMALL) as pilot:
        app.open(AddBackendScreen(environ={}))
        await pilot.pause()
        assert isinstance(app.focused, Input)
        assert footer_keys(app) == {"esc": "Cancel", "enter": "Save"}
        await pilot.press("tab", "tab")  # the URL field
        await pilot.pause()
        assert footer_keys(app)["enter"] == "Save"
        await pilot.press("escape")
        app.open(AddDatasetsScreen(["vl"], {"vl": set()}))
        await pilot.pause()
        assert footer_keys(app) == {"esc": "Cancel", "enter": "Add", "shift+enter": "New line"}
        app.screen.query_one("#picker-filter", Input).focus()
        await pilot.pause()
        assert footer_keys(app) == {"esc": "Cancel", "enter": "Add"}  # no new line to make
        await pilot.press(*A)  # not an ID to add: the filter's text
        await pilot.press("tab", "shift+tab", "enter")
        await pilot.pause()
        assert app.results == [None]  # the backend form was cancelled; nothing picked here
        assert "No IDs given." in str(app.screen.query_one("#check", Static).render())


def test_a_rate_limited_banner_says_it_once_with_its_countdown() -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    alert = BackendHealth(
        backend="vl",
        health=Health.RATE_LIMITED,
        message="rate limited, retrying in 3600s",  # the log's words, not the banner's
        since=now,
        retry_at=now.replace(hour=13),
    )
    said = alert_line(alert, now).plain
    assert said.count("rate limited") == 1 and "retrying in" not in said, said
    assert "retry in 1h" in said
