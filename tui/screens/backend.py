"""First run: define a backend (saved to the config file) so datasets can be added."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from pydantic import ValidationError
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Select, Static

from ..config import BackendConfig, Config, ConfigError, check_credentials
from ..text import sanitize
from .dialog import Dialog, FormInput

DEFAULT_URLS = {"visual_layer": "https://app.visual-layer.com", "cognee": "http://127.0.0.1:8000"}
KEY_HINTS = {
    "visual_layer": ("VL_API_KEY", "VL_API_SECRET"),
    "cognee": ("COGNEE_API_KEY", ""),
}


# Which input holds each config key, to put the cursor on the one to fix.
FIELD_OF_KEY = {
    "name": "#name",
    "url": "#url",
    "api_key_env": "#key-env",
    "api_secret_env": "#secret-env",
}
# Saves the backend; returns None when saved, else why not (the form stays open).
SaveBackend = Callable[[BackendConfig], str | None]


def describe(error: ValidationError) -> str:
    """The first problem, as `field: message`, without echoing the input."""
    first = error.errors(include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "backend"
    return f"{where}: {first['msg']}"


class AddBackendScreen(Dialog[BackendConfig | None]):
    """Returns the backend to save, or None; the app saves it and, when the save is
    refused, calls `refused(message)` on this same screen (kept open, nothing lost)."""

    DEFAULT_CSS = """
    AddBackendScreen #problem { width: 1fr; height: auto; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "submit", "Save", key_display="enter"),
        Binding("ctrl+s", "submit", "Save", priority=True, show=False),
    ]

    def __init__(
        self, save: SaveBackend | None = None, environ: Mapping[str, str] = os.environ
    ) -> None:
        super().__init__()
        self.save = save
        self.environ = environ

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Label("Add a backend", id="title")
            yield Static(
                Text(
                    "Credentials are the NAMES of environment variables; "
                    "their values never go into the file.",
                    style="dim",
                )
            )
            yield Select(
                [("Visual Layer", "visual_layer"), ("Cognee", "cognee")],
                value="visual_layer",
                allow_blank=False,
                id="type",
            )
            yield FormInput(placeholder="name shown in the grid, e.g. vl", id="name")
            yield FormInput(value=DEFAULT_URLS["visual_layer"], id="url")
            yield FormInput(placeholder="API key variable (optional)", id="key-env")
            yield FormInput(
                placeholder="API secret variable (Visual Layer, optional)", id="secret-env"
            )
            with Horizontal(id="buttons"):
                # Beside the buttons, which stay in view: the reason is seen at 80x24 too.
                yield Static(id="problem")
                yield Button("Save (enter)", variant="primary", id="save")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()  # this dialog's own keys, not the grid's

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    @on(Select.Changed, "#type")
    def _type_changed(self, event: Select.Changed) -> None:
        kind = str(event.value)
        self.query_one("#url", Input).value = DEFAULT_URLS[kind]
        key, secret = KEY_HINTS[kind]
        self.query_one("#key-env", Input).placeholder = f"API key variable, e.g. {key} (optional)"
        self.query_one("#secret-env", Input).disabled = not secret

    def backend(self) -> BackendConfig:
        def value(selector: str) -> str | None:
            field = self.query_one(selector, Input)
            return (field.value.strip() or None) if not field.disabled else None

        return BackendConfig(
            name=value("#name") or "",
            type=str(self.query_one("#type", Select).value),  # type: ignore[arg-type]
            url=value("#url") or "",
            api_key_env=value("#key-env"),
            api_secret_env=value("#secret-env"),
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#save")
    def action_submit(self) -> None:
        """Check everything before anything is written: a save is all or nothing."""
        try:
            backend = self.backend()
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            self.refused(describe(exc), str(first["loc"][0]) if first["loc"] else None)
            return
        try:
            # The same check loading the file would make, before the file is touched.
            check_credentials(Config(backends=[backend]), self.environ)
        except ConfigError as exc:
            problems = [exc.message, *(other.message for other in exc.others)]
            field = (exc.key or "").rpartition(".")[2]
            self.refused("\n".join(problems), field)
            return
        if self.save is not None:
            problem = self.save(backend)
            if problem is not None:
                self.refused(problem)
                return
        self.dismiss(backend)

    def refused(self, message: str, key: str | None = None) -> None:
        """Say why the form was refused and keep it open, as typed."""
        lines = (sanitize(line) for line in message.splitlines())  # one problem a line
        self.query_one("#problem", Static).update(Text("\n".join(lines), "red"))
        selector = FIELD_OF_KEY.get(key or "")
        if selector is not None:
            self.query_one(selector, Input).focus()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
