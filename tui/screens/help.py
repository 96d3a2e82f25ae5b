"""`?`: every key, grouped, with what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Footer, Static

from ..palette import STALE, STATE_LOOKS
from .dialog import Dialog

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Grid",
        (
            ("↑ ↓  j k", "move the cursor"),
            ("PgUp PgDn  ctrl+u ctrl+d", "a page / half a page up, down"),
            ("Home End  g G", "first / last row"),
            ("enter, double-click", "details of the selected dataset"),
            (
                "/",
                "filter: words match name, id, backend, status;"
                " state:error backend:NAME; vl:NAME (as dswatch wait takes it)",
            ),
            ("esc", "clear the filter"),
            ("e", "problems only (error, not found, unauthorized, unreachable, stale)"),
            ("s / S", "next sort column / reverse (or click a header)"),
        ),
    ),
    (
        "Datasets",
        (
            (
                "a",
                "add datasets (paste IDs or pick from the backend's list);"
                " with no backend yet, define one",
            ),
            ("d", "remove the selected dataset (asks first)"),
            ("r / R", "refresh the selected dataset / all now (R also retries refused logins)"),
            ("p", "pause or resume polling"),
            ("c", "copy the dataset ID (OSC 52 clipboard)"),
            ("o", "open the dataset's web page"),
        ),
    ),
    (
        "Dialogs",
        (
            ("enter", "submit (a pasted block of lines lands whole)"),
            ("shift+enter, ctrl+j", "a new line in the paste box"),
            ("tab / shift+tab", "next / previous field"),
            ("esc", "cancel"),
        ),
    ),
    (
        "App",
        (
            ("ctrl+p", "command palette: every action"),
            ("?", "this help"),
            ("q, ctrl+c", "quit"),
        ),
    ),
)


def legend() -> Content:
    """Every state's glyph, word and colour, as the grid and summary show them."""
    lines: list[tuple[str, str] | str] = []
    for look in (*STATE_LOOKS.values(), STALE):
        lines += [(f"  {look.label:<15}", look.style), f"{look.meaning}\n"]
    return Content.assemble(*lines).rstrip()


class HelpScreen(Dialog[None]):
    DEFAULT_CSS = """
    HelpScreen {
        & > #dialog { width: 90; }
    }
    """

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column(overflow="fold")  # wraps at words; folds only a word wider than the column
        for group, keys in KEYS:
            table.add_row(Text(group, style="bold underline"), "")
            for key, what in keys:
                table.add_row(key, what)
            table.add_row("", "")
        with VerticalScroll(id="dialog"):
            yield Static(Text("dswatch keys", style="bold"), id="title")
            yield Static(table)
            yield Static(Text("States", style="bold underline"))
            yield Static(legend(), id="legend")
            yield Static(Text("\nesc to close", style="dim"))
        yield Footer()  # this dialog's own keys, not the grid's
