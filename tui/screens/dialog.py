"""What every dialog shares: centred, fits 80x24 (scrolls if it must), buttons in view."""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen
from textual.widgets import Input

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


class FormInput(Input):
    """A dialog's text field: `enter` is the dialog's submit, so the footer shows it
    (`enter Save`); Input's own `enter` binding, hidden from the footer, stands aside."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "submit":
            return False  # the key goes on to the dialog's `enter` binding
        return super().check_action(action, parameters)
