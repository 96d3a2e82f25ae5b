"""What every dialog shares: centred, fits 80x24 (scrolls if it must), buttons in view."""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A modal dialog whose content is a `#dialog` container with `#title` and `#buttons`.

    Subclasses set only what differs (their width, their own widgets).
    """

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
        & > #dialog {
            height: auto;
            width: 80;
            max-width: 100%;
            max-height: 100%;
            background: $surface;
            border: thick $accent;
            padding: 0 1;
        }
        & #title { text-style: bold; }
        & #buttons {
            dock: bottom;
            height: auto;
            align-horizontal: right;
            background: $surface;
        }
        & Button { margin-left: 2; }
    }
    """
