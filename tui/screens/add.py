"""`a`: add datasets by pasting IDs or picking from the backend's own list."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Footer, Input, Label, Select, SelectionList, Static, TextArea
from textual.widgets.selection_list import Selection

from ..backends.base import RemoteDataset
from ..messages import RemoteListFetched, RemoteListRequested
from ..models import InvalidDatasetId, split_ids
from ..refs import dataset_id_from
from ..text import sanitize
from .dialog import Dialog, FormInput

MAX_PICKER_ROWS = 500  # type to narrow a longer list


@dataclass(frozen=True, slots=True)
class AddRequest:
    backend: str
    ids: list[str]


@dataclass(frozen=True, slots=True)
class PasteCheck:
    """What the pasted text holds: new IDs, already watched ones, and refusals."""

    new: list[str]
    watched: list[str]
    invalid: list[str]

    def message(self) -> Text:
        text = Text()
        if self.new:
            text.append(f"{len(self.new)} new", "green")
        if self.watched:
            text.append(f"{'  ' if text else ''}{len(self.watched)} already watched", "yellow")
        for reason in self.invalid[:3]:
            text.append(f"{chr(10) if text else ''}✗ {sanitize(reason)}", "red")
        if len(self.invalid) > 3:
            text.append(f"\n✗ … and {len(self.invalid) - 3} more invalid", "red")
        return text


def check_paste(text: str, watched: set[str]) -> PasteCheck:
    new: list[str] = []
    already: list[str] = []
    invalid: list[str] = []
    for part in split_ids(text):
        try:
            dataset_id = dataset_id_from(part)  # an ID, or the dataset's web address
        except InvalidDatasetId as exc:
            invalid.append(str(exc))
            continue
        bucket = already if dataset_id in watched else new
        if dataset_id not in bucket:
            bucket.append(dataset_id)
    return PasteCheck(new, already, invalid)


class PasteBox(TextArea):
    """The IDs box: `enter` submits the dialog; `shift+enter` / `ctrl+j` start a new line.

    A pasted block arrives as one Paste event (bracketed paste), not as key
    presses, so its newlines land in the box whole.
    """

    class Submitted(Message):
        """`enter` was pressed in the box."""

    async def _on_key(self, event: events.Key) -> None:
        # TextArea's own _on_key runs after this one unless the default is prevented.
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted())
        elif event.key in ("shift+enter", "ctrl+j"):
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)


class AddDatasetsScreen(Dialog[AddRequest | None]):
    DEFAULT_CSS = """
    AddDatasetsScreen {
        & > #dialog { width: 100; }
        & #ids { height: 5; }
        & #check { height: auto; min-height: 1; }
        & #picker { height: 10; }
        & Label { margin-top: 1; }
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "submit", "Add", key_display="enter"),
        Binding("ctrl+s", "submit", "Add", priority=True, show=False),
        Binding("shift+enter,ctrl+j", "noop", "New line", key_display="shift+enter"),
    ]

    def __init__(
        self, backends: list[str], watched: dict[str, set[str]], initial_backend: str | None = None
    ) -> None:
        super().__init__()
        self.backends = backends
        self.watched = watched
        self.initial_backend = initial_backend or (backends[0] if backends else None)
        self.remote: list[RemoteDataset] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Label("Add datasets", id="title")
            yield Select(
                [(name, name) for name in self.backends],
                value=self.initial_backend or Select.BLANK,
                allow_blank=False,
                id="backend",
            )
            yield Label("Paste IDs or dataset web addresses (comma, space or newline separated):")
            yield PasteBox(id="ids", soft_wrap=True)
            yield Static(id="check")
            yield Label("…or pick from the backend's list:")
            yield FormInput(placeholder="type to filter by name or id", id="picker-filter")
            yield SelectionList[str](id="picker")
            yield Static(Text("Loading the list…", style="dim"), id="picker-status")
            with Horizontal(id="buttons"):
                yield Button("Add (enter)", variant="primary", id="add")
                yield Button("Cancel (esc)", id="cancel")
        yield Footer()  # this dialog's own keys, not the grid's

    def on_mount(self) -> None:
        self.query_one("#ids", TextArea).focus()
        self._load_remote()

    @property
    def backend(self) -> str | None:
        value = self.query_one("#backend", Select).value
        return value if isinstance(value, str) else None

    def _load_remote(self) -> None:
        self.remote = []
        self.query_one("#picker", SelectionList).clear_options()
        status = self.query_one("#picker-status", Static)
        status.update(Text("Loading the list…", style="dim"))
        if self.backend:
            self.post_message(RemoteListRequested(self.backend))

    @on(Select.Changed, "#backend")
    def _backend_changed(self) -> None:
        self._load_remote()
        self._check()

    @on(TextArea.Changed, "#ids")
    def _check(self) -> None:
        self.query_one("#check", Static).update(self._paste().message())

    def _paste(self) -> PasteCheck:
        watched = self.watched.get(self.backend or "", set())
        return check_paste(self.query_one("#ids", TextArea).text, watched)

    def on_remote_list_fetched(self, message: RemoteListFetched) -> None:
        if message.backend != self.backend:
            return
        status = self.query_one("#picker-status", Static)
        if message.error is not None:
            status.update(Text(f"Could not load the list: {sanitize(message.error)}", "red"))
            return
        self.remote = list(message.datasets or [])
        self._fill_picker()

    @on(Input.Changed, "#picker-filter")
    def _fill_picker(self) -> None:
        needle = self.query_one("#picker-filter", Input).value.strip().lower()
        picker = self.query_one("#picker", SelectionList)
        chosen = set(picker.selected)
        watched = self.watched.get(self.backend or "", set())
        matches = [
            d
            for d in self.remote
            if not needle or needle in d.id or needle in (d.name or "").lower()
        ]
        picker.clear_options()
        options = []
        for dataset in matches[:MAX_PICKER_ROWS]:
            label = Text(sanitize(dataset.name or "(no name)", max_len=40))
            label.append(f"  {dataset.id}", "dim")
            if dataset.status:
                label.append(f"  {sanitize(dataset.status, max_len=20)}", "dim")
            is_watched = dataset.id in watched
            if is_watched:
                label.append("  ✓ watched", "green")
            options.append(Selection(label, dataset.id, dataset.id in chosen, disabled=is_watched))
        picker.add_options(options)
        more = len(matches) - MAX_PICKER_ROWS
        summary = f"{len(self.remote)} datasets on {self.backend}"
        if more > 0:
            summary += f"; {more} more match: type to narrow"
        self.query_one("#picker-status", Static).update(Text(summary, style="dim"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "noop":  # `shift+enter New line` only where it makes one
            return isinstance(self.focused, PasteBox)
        return True

    def action_noop(self) -> None:
        """Only for the footer: PasteBox itself handles the new-line keys."""

    @on(PasteBox.Submitted)
    @on(Input.Submitted, "#picker-filter")
    @on(Button.Pressed, "#add")
    def action_submit(self) -> None:
        backend = self.backend
        paste = self._paste()
        check = self.query_one("#check", Static)
        if backend is None:
            check.update(Text("Pick a backend first.", style="red"))
            return
        if paste.invalid:
            check.update(paste.message())  # refused inline; nothing is sent
            self.query_one("#ids", TextArea).focus()
            return
        picked = [
            i for i in self.query_one("#picker", SelectionList).selected if isinstance(i, str)
        ]
        ids = list(dict.fromkeys([*paste.new, *picked]))
        if not ids:
            reason = "All of these are already watched." if paste.watched else "No IDs given."
            check.update(Text(reason, style="yellow"))
            return
        self.dismiss(AddRequest(backend, ids))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
