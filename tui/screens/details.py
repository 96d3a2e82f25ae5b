"""Everything known about one dataset: the place to read why it failed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Footer, Sparkline, Static, TextArea

from ..eta import format_eta, format_minutes
from ..history import Transition, durations, format_duration
from ..history_link import HistoryLink
from ..messages import (
    CopyRequested,
    DetailsFetched,
    DetailsRequested,
    OpenRequested,
    RefreshRequested,
)
from ..models import FAILED_STATES, DatasetState, Failure, valid_count, valid_progress
from ..secrets import Redactor
from ..text import sanitize, sanitize_lines
from ..watch import PollUpdate, WatchModel
from ..widgets.cells import (
    STATE_LOOK,
    format_count,
    format_pipelines,
    format_progress,
    state_text,
)
from ..widgets.summary import alert_line

MAX_RAW_CHARS = 200_000  # a huge body is cut for display, not for the copy on disk


def pretty_json(value: Any) -> str:
    """Raw response as pretty JSON with credential-looking keys masked."""
    if value is None:
        return "(no response yet)"
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(Redactor().json(value), indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_RAW_CHARS:
        text = text[:MAX_RAW_CHARS] + f"\n… ({len(text) - MAX_RAW_CHARS:,} more characters)"
    return sanitize_block(text)


# One sanitizer for everything: the multi-line flavour lives in tui.text.
sanitize_block = sanitize_lines


def _when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "—"
    age = format_duration((now - moment).total_seconds())
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S} ({age} ago)"


def fields_table(state: DatasetState, now: datetime) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()

    def row(label: str, value: str | None) -> None:
        table.add_row(label, Text(value if value not in (None, "") else "—"))

    row("backend", state.backend)
    row("id", state.id)
    row("name", sanitize(state.name or ""))
    row("state", state_text(state) + ("  (STALE)" if state.stale else ""))
    row("status", sanitize(state.status or ""))
    row("progress", format_progress(state.progress).strip())
    for label, count in (
        ("images", state.n_images),
        ("videos", state.n_videos),
        ("objects", state.n_objects),
    ):
        row(label, format_count(count) or None)
    row("pipelines", format_pipelines(state.pipelines))
    for pipeline, status in state.pipelines.items():
        row(f"  {sanitize(pipeline, max_len=30)}", sanitize(status))
    row("last data", _when(state.fetched_at, now))
    row("last change", _when(state.changed_at, now))
    row("last poll", _when(state.polled_at, now))
    if state.stale:
        row("stale since", _when(state.stale_since, now))
    return table


def history_table(entries: list[Transition], now: datetime) -> Table | Text:
    """Each state with its span and duration: `INDEXING 14:02 → 14:19, 17 m`."""
    if not entries:
        return Text("No state seen yet.", style="dim")
    table = Table.grid(padding=(0, 2))
    for _ in range(4):
        table.add_column(no_wrap=True)
    spans = durations(entries, now)
    for index, (entry, seconds) in enumerate(spans):
        start = entry.at.astimezone()
        last = index == len(spans) - 1
        end = "now" if last else f"{spans[index + 1][0].at.astimezone():%H:%M}"
        day = (
            f"{start:%Y-%m-%d} "
            if index == 0 or spans[index - 1][0].at.date() != entry.at.date()
            else ""
        )
        table.add_row(
            STATE_LOOK[entry.state],
            sanitize(entry.status or "", max_len=40),
            f"{day}{start:%H:%M} → {end}",
            format_minutes(seconds) + (" so far" if last else ""),
        )
    return table


def merged_history(stored: list[Transition], live: list[Transition]) -> list[Transition]:
    """The store's history across runs, then what this run saw after it (the
    writer may not have written the newest changes yet)."""
    last = stored[-1].at if stored else None
    out = list(stored)
    for entry in live:
        if last is not None and entry.at <= last:
            continue
        if out and out[-1].state is entry.state and out[-1].status == entry.status:
            continue
        out.append(entry)
    return out


def timing_text(history: HistoryLink, state: DatasetState, now: datetime) -> Text:
    """`running for 5m03s · ETA ~12m (from the progress rate)`, or `stuck?`."""
    timing = history.timing(state, now)
    # The store keeps readable states only: for a row that cannot be read now its
    # `since` is the last readable state's, so the failure's own moment is told.
    since = (
        (state.stale_since or state.changed_at) if state.state in FAILED_STATES else timing.since
    )
    text = Text()
    if since is not None:
        text.append(f"{state.state.value} since {_when(since, now)}")
    if timing.elapsed is not None:
        text.append(f"\nthis run: {format_duration(timing.elapsed)}")
        if timing.stuck:
            text.append("  stuck? no change for longer than usual", "bold red")
        elif timing.eta.seconds is not None:
            source = "progress rate" if timing.eta.source == "rate" else "past runs"
            text.append(f"  ETA {format_eta(timing.eta.seconds)} (from the {source})")
    return text


def failure_text(failure: Failure | None, now: datetime) -> Text:
    if failure is None:
        return Text("No failure this run.", style="dim")
    text = Text()
    text.append(f"{_when(failure.at, now)}\n", "dim")
    message = sanitize(failure.message)
    if failure.http_status and str(failure.http_status) not in message:
        message = f"HTTP {failure.http_status}: {message}"
    text.append(f"{message}  [{failure.kind}]\n", "bold")
    if failure.body:
        text.append(sanitize_block(failure.body))
    return text


def _field(value: Any, max_len: int | None = 40) -> str:
    """One server value of a task or run as safe text: strings as they are, other
    JSON as JSON (never a Python repr), absent as empty."""
    if value is None or value == "":
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:200]
    return sanitize(text, max_len=max_len)


def extras_text(extras: dict[str, Any]) -> Text:
    """Visual Layer tasks or Cognee pipeline runs, newest first, as plain lines."""
    text = Text()
    for task in extras.get("tasks", []):
        if not isinstance(task, dict):
            continue
        line = "  ".join(
            _field(task.get(k)) for k in ("task_type", "status", "start_time", "end_time")
        )
        # A percentage is shown only when it is one; an absurd number (NaN, 250, 400
        # digits) is unknown; text is the server's, sanitized like the rest (it once
        # carried escapes to the terminal).
        raw_pct = task.get("progress_percentage")
        pct = valid_progress(raw_pct)
        if pct is not None:
            line += f"  {pct:.0f}%"
        elif isinstance(raw_pct, str):
            line += f"  progress {_field(raw_pct, 20)}"
        elif raw_pct is not None:
            line += "  progress unknown"
        text.append(line + "\n")
        if task.get("error_message"):
            text.append("    " + _field(task["error_message"], None) + "\n", "red")
    for run in extras.get("pipeline_runs", extras.get("runs", [])):
        if not isinstance(run, dict):
            continue
        line = "  ".join(
            _field(run.get(k))
            for k in ("pipeline_name", "status", "outcome", "started_at", "ended_at")
        )
        text.append(line + "\n")
        if run.get("error_class"):
            text.append("    " + _field(run["error_class"], None) + "\n", "red")
    if "item_count" in extras:
        count = valid_count(extras["item_count"])
        text.append(f"items in dataset: {format_count(count) or 'unknown'}\n")
    return text if text.plain else Text("Nothing more from the backend.", style="dim")


class DetailsScreen(Screen[None]):
    """Opened with enter; follows live updates of its dataset; esc goes back."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("r", "refresh", "Refresh"),
        Binding("c", "copy_id", "Copy ID"),
        Binding("o", "open", "Open in browser"),
    ]

    def __init__(
        self,
        model: WatchModel,
        key: tuple[str, str],
        changed: Signal[PollUpdate],
        *,
        clock: Callable[[], float],
        history: HistoryLink | None = None,
    ) -> None:
        super().__init__()
        self.history = history  # the store: history across runs, ETA (None: this run only)
        self._stored: list[Transition] = []
        self._progress: list[float] = []
        self.model = model
        self.key = key
        self.changed = changed
        self.clock = clock  # epoch seconds (tests pin it)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="details"):
            yield Static(id="title")
            yield Static(id="backend-health")
            yield Static(id="fields")
            yield Static("Error", classes="heading")
            yield TextArea(id="error", read_only=True, soft_wrap=True)
            yield Static("History" if self.history else "History (this run)", classes="heading")
            yield Static(id="timing")
            yield Sparkline([], id="progress-line")
            yield Static(id="history")
            yield Static("Last HTTP failure", classes="heading")
            yield Static(id="failure")
            yield Static("From the backend (tasks / pipeline runs)", classes="heading")
            yield Static(Text("Fetching…", style="dim"), id="extras")
            yield Static("Raw last response (secrets masked)", classes="heading")
            yield TextArea(id="raw", read_only=True, soft_wrap=False)
        yield Footer()

    def on_mount(self) -> None:
        self.changed.subscribe(self, self._changed)
        self.read_store()
        self.show_state()
        self.set_interval(1.0, self.show_state)  # ages ("9s ago") keep moving
        self.post_message(DetailsRequested(self.key))

    def _changed(self, update: PollUpdate) -> None:
        if self.key in update.changed or self.key in update.removed or update.health:
            if self.key in update.changed:
                self.read_store()
            self.show_state()

    def read_store(self) -> None:
        """History and progress samples from the store: on open and on each change
        of this dataset, not every second (they are SQL reads)."""
        if self.history is None:
            self.query_one("#progress-line", Sparkline).display = False
            return
        store = self.history.store
        self._stored = store.history(self.key)
        self._progress = [value for _, value in store.progress(self.key, limit=200)]
        line = self.query_one("#progress-line", Sparkline)
        line.display = len(self._progress) >= 2
        line.data = self._progress

    def show_state(self) -> None:
        """Redraw from the model's current knowledge of this dataset."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        state = self.model.states.get(self.key)
        if state is None:
            self.query_one("#title", Static).update(Text("This dataset is no longer watched."))
            return
        title = Text(sanitize(state.label), style="bold")
        title.append(f"  {state.backend} · {state.id}", style="dim")
        self.query_one("#title", Static).update(title)
        self.query_one("#backend-health", Static).update(health_text(self.model, state, now))
        self.query_one("#fields", Static).update(fields_table(state, now))
        error = self.query_one("#error", TextArea)
        message = sanitize_block(state.error) if state.error else "No error."
        if error.text != message:
            error.load_text(message)
        history = merged_history(self._stored, self.model.history.of(self.key))
        self.query_one("#history", Static).update(history_table(history, now))
        timing = self.query_one("#timing", Static)
        timing.display = self.history is not None
        if self.history is not None:
            timing.update(timing_text(self.history, state, now))
        last_failure = self.model.last_failures.get(self.key)
        self.query_one("#failure", Static).update(failure_text(last_failure, now))
        raw = self.query_one("#raw", TextArea)
        text = pretty_json(state.raw)
        if raw.text != text:
            raw.load_text(text)

    def on_details_fetched(self, message: DetailsFetched) -> None:
        if message.key != self.key:
            return
        extras = self.query_one("#extras", Static)
        if message.error is not None:
            extras.update(Text(f"Could not fetch: {sanitize(message.error)}", style="red"))
        else:
            extras.update(extras_text(message.extras or {}))

    def action_refresh(self) -> None:
        self.post_message(RefreshRequested([self.key]))
        self.post_message(DetailsRequested(self.key))

    def action_copy_id(self) -> None:
        self.post_message(CopyRequested(self.key))

    def action_open(self) -> None:
        self.post_message(OpenRequested(self.key))


def health_text(model: WatchModel, state: DatasetState, now: datetime) -> Text:
    """The backend's trouble in the banner's own words: one truth on every screen."""
    health = model.health.get(state.backend)
    if health is None or not health.is_down:
        return Text()
    return alert_line(health, now)
