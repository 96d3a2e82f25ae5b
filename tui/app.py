"""The dashboard: one grid of every watched dataset, live.

Data flows one way: the poller feeds the watch model (`tui.watch`), the model
tells the app of each applied batch, and the app hands it to the widgets in
one synchronous pass (one repaint per batch) and to screens through the
`watch_changed` signal. Screens get the model when they are built and ask for
things (details, refresh, copy, open) by message; they never reach into the
app, and nothing here talks HTTP except the workers that answer them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from .backends.base import BackendError
from .config import (
    BackendConfig,
    ConfigError,
    ConfigWatcher,
    Settings,
    add_backend,
    add_datasets,
    remove_datasets,
    secret_warnings,
)
from .engine import Engine, demo_engine, load_engine, tune_gc
from .history_link import STUCK_CHECK_SECONDS, HistoryLink, history_off
from .messages import (
    CopyRequested,
    DetailsFetched,
    DetailsRequested,
    OpenRequested,
    PollerUpdated,
    RefreshRequested,
    RemoteListFetched,
    RemoteListRequested,
)
from .models import DatasetState, State
from .notify import NewsLike, NotifyRules, TextOut
from .outreach import Outreach
from .screens.add import AddDatasetsScreen, AddRequest
from .screens.backend import AddBackendScreen
from .screens.confirm import ConfirmScreen
from .screens.details import DetailsScreen
from .screens.help import HelpScreen
from .text import sanitize
from .watch import BackendEvent, News, PollUpdate, WatchModel
from .widgets.cells import COLUMN_KEYS, eta_cell
from .widgets.grid import DatasetGrid
from .widgets.summary import AlertBanner, SummaryBar

log = logging.getLogger(__name__)

Key = tuple[str, str]
MAX_TOASTS_PER_BATCH = 3  # more than this become one summary toast
# News arriving sooner than this after the last toast waits, and is told in one go:
# a flood of changes makes one toast every few seconds, not one per poll batch.
NEWS_QUIET_SECONDS = 3.0
NARROW_COLUMNS = 120  # below this, toasts move to the left edge (see app.tcss)


class DswatchApp(App[int]):
    TITLE = "dswatch"
    CSS_PATH = "app.tcss"
    # The grid carries the dashboard's keys (so dialogs and details show and take
    # only their own); these work on every screen.
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        # A priority binding runs as the App receives the key, before the keys
        # queued behind it are handed on: a burst typed after `/` (a paste, fast
        # typing) lands in the filter instead of running grid commands.
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":
            return isinstance(self.focused, DatasetGrid)  # `/` typed elsewhere is text
        return True

    def __init__(
        self,
        engine: Engine | None,
        *,
        config_path: Path | None,
        config_error: ConfigError | None = None,
        warnings: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        history: HistoryLink | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock  # epoch seconds: ages and durations (tests pin it)
        self.engine = engine
        self.config_path = config_path
        self.config_error = config_error
        self.warnings = list(warnings)
        self.watcher = ConfigWatcher(config_path) if config_path is not None else None
        # The one copy of what is known; it outlives engines (a config reload keeps it).
        self.model = engine.model if engine is not None else WatchModel()
        self.model.subscribe(self._model_applied)
        self.history = history  # the history store, joined to the model (None: none)
        self.watch_changed: Signal[PollUpdate] = Signal(self, "watch-changed")
        self.problems_only = False
        self.filter_text = ""
        self._news: dict[Key, DatasetState] = {}  # not told yet: the newest per dataset
        self._news_timer: Timer | None = None  # running while toasts must wait
        self.outreach: Outreach | None = None  # desktop notifications and hooks

    # -- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield SummaryBar(id="summary")
        yield AlertBanner(id="alerts", clock=self.clock)
        yield DatasetGrid(id="grid", clock=self.clock, eta=self._eta_cell if self.history else None)
        yield Static(id="empty")
        yield Input(
            placeholder="filter: words, state:error, backend:NAME — esc clears", id="filter"
        )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#alerts", AlertBanner).display = False
        self.query_one(DatasetGrid).focus()
        if self.engine is not None:
            self.start_engine(self.engine)
        self.show_summary()
        if self.watcher is not None:
            self.set_interval(2.0, self.check_config_file)
        for warning in self.warnings:
            self.notify(warning, title="config", severity="warning", timeout=30, markup=False)
        if self.history is not None:
            if self.history.warning:  # logged by the store
                self.notify(self.history.warning, title="history", severity="warning", markup=False)
            self.set_interval(STUCK_CHECK_SECONDS, self.check_stuck)

    def check_stuck(self) -> None:
        if self.history is not None:
            self.history.check_stuck(self.now())

    def _eta_cell(self, state: DatasetState, now: float) -> str:
        if self.history is None or state.state is not State.RUNNING or state.stale:
            return ""
        timing = self.history.timing(state, datetime.fromtimestamp(now, UTC))
        return eta_cell(timing.elapsed, timing.eta.seconds, timing.stuck)

    def on_resize(self) -> None:
        self.set_class(self.size.width < NARROW_COLUMNS, "-narrow")

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    @property
    def grid(self) -> DatasetGrid:
        return self.query_one(DatasetGrid)

    @property
    def settings_bell(self) -> bool:
        return self.settings.bell

    # -- the engine ---------------------------------------------------------

    def start_engine(self, engine: Engine) -> None:
        self.engine = engine
        if engine.follower is not None:  # `follow`: datasets the backend lists come and go
            engine.follower.subscribe(
                lambda change: self.notify(change.describe(), title="follow", markup=False)
            )
        if self.outreach is None:
            # Desktop notifications go through the driver, as the bell does: the
            # terminal is Textual's. Hooks run in tasks on this loop.
            self.outreach = Outreach(engine, TextOut(self._write_to_terminal))
            self.model.subscribe(self.outreach)
        else:
            self.outreach.reconfigure(engine)
        self.run_worker(
            self._poll(engine), name="poller", group="poller", exclusive=True, exit_on_error=False
        )

    def _write_to_terminal(self, text: str) -> None:
        if self._driver is not None:
            self._driver.write(text)

    async def on_unmount(self) -> None:
        if self.outreach is not None:
            await self.outreach.aclose()
        if self.history is not None:  # writes what is queued: off the event loop
            await asyncio.to_thread(self.history.close)

    async def _poll(self, engine: Engine) -> None:
        try:
            await engine.poller.run()
        finally:
            await engine.aclose()

    def _model_applied(self, update: PollUpdate) -> None:
        # Called on the event loop by the model; widgets change in the handler below.
        self.post_message(PollerUpdated(update))

    def on_poller_updated(self, message: PollerUpdated) -> None:
        if not self.query(DatasetGrid):
            return  # a last batch arriving while the app shuts down
        self.apply_update(message.update)

    def apply_update(self, update: PollUpdate) -> None:
        """Show one applied batch in one synchronous pass: one repaint, not one per dataset."""
        grid = self.grid
        with self.batch_update():
            if update.removed:
                grid.remove(update.removed)
            grid.apply(update.states)
            grid.set_stuck(self.model.stuck)
            self.show_summary(update)
        self.announce(update.news)
        self.announce_backends(update.backend_events)
        self.watch_changed.publish(update)

    @property
    def settings(self) -> Settings:
        return self.engine.config.settings if self.engine is not None else Settings()

    def _toasts_for(self, news: list[News]) -> list[NewsLike]:
        """Toasts follow `notifications` and `notify_on` (tui.notify's one rule)."""
        rules = self.outreach.rules if self.outreach is not None else NotifyRules(self.settings, [])
        return rules.toasts(news)

    def announce(self, news: list[News]) -> None:
        """Toast datasets that really changed to a state worth knowing (and ring)."""
        for item in self._toasts_for(news):
            self._news[item.state.key] = item.state
        if self._news and self._news_timer is None:
            self._tell_news()

    def announce_backends(self, events: list[BackendEvent]) -> None:
        """One toast when a backend goes down or comes back, never one per dataset."""
        mode = self.settings.notifications
        if mode == "off":
            return
        for event in events:
            if event.kind == "down":
                text = f"{event.backend} is down: {event.reason}"
                self.notify(text, title="backend", severity="error", markup=False)
            elif mode == "all":
                self.notify(f"{event.backend} is answering again", title="backend", markup=False)

    def _tell_news(self) -> None:
        # Only what is still true: a dataset may have moved on (or gone) while it waited.
        states = self.model.states
        news = [
            current
            for key, told in self._news.items()
            if (current := states.get(key)) is not None and current.state is told.state
        ]
        self._news.clear()
        if not news:
            self._news_timer = None
            return
        if len(news) > MAX_TOASTS_PER_BATCH:
            by_state = Counter(s.state.value for s in news)
            summary = ", ".join(f"{n} {state}" for state, n in by_state.most_common())
            self.notify(f"{len(news)} datasets changed: {summary}", title="dswatch")
        else:
            for state in news:
                severity = "error" if state.is_problem else "information"
                self.notify(
                    f"{sanitize(state.label, max_len=60)} is now {state.state.value}",
                    title=state.backend,
                    severity=severity,
                    markup=False,
                )
        if self.settings_bell:
            self.bell()
        self._news_timer = self.set_timer(NEWS_QUIET_SECONDS, self._news_quiet_over)

    def _news_quiet_over(self) -> None:
        self._news_timer = None
        if self._news:
            self._tell_news()

    def show_summary(self, update: PollUpdate | None = None) -> None:
        """Summary and banner from one batch's snapshot (or the model's, between batches)."""
        model = self.model
        counts = update.counts if update is not None else +model.counts
        health = update.all_health if update is not None else dict(model.health)
        total = sum(counts.values())
        self.query_one(SummaryBar).show(
            counts,
            health,
            last_poll=model.last_ok(),
            paused=self.engine is not None and self.engine.poller.paused,
            shown=self.grid.visible_count,
            total=total,
            notes=self._notes(),
        )
        self.query_one(AlertBanner).show(health)
        empty = self.query_one("#empty", Static)
        has_rows = bool(total)
        empty.display = not has_rows
        self.grid.display = has_rows
        if not has_rows:
            empty.update(self.empty_text())

    def _notes(self) -> tuple[str, ...]:
        notes = []
        if self.config_error is not None:
            where = f":{self.config_error.line}" if self.config_error.line else ""
            kept = " (last good kept)" if self.engine is not None else ""
            notes.append(f"config broken{where}{kept}")
        hooks = self.outreach.hooks.summary() if self.outreach is not None else None
        if hooks:
            notes.append(hooks)
        return tuple(notes)

    def empty_text(self) -> Text:
        text = Text()
        if self.config_error is not None:
            text.append("The config file has an error:\n\n", "bold red")
            text.append(str(self.config_error) + "\n\n")
            text.append("Fix it in your editor: dswatch reloads it by itself.\n", "dim")
            return text
        text.append("No datasets are watched yet.\n\n", "bold")
        if self.engine is not None and self.engine.config.backends:
            text.append("Press ")
            text.append("a", "bold reverse")
            text.append(" to add datasets: paste IDs or pick from a backend's list.\n")
        else:
            text.append("Press ")
            text.append("a", "bold reverse")
            text.append(" to define a backend (Visual Layer or Cognee), then ")
            text.append("a", "bold reverse")
            text.append(" again to add its datasets.\n")
            text.append("Or edit the config file: config.example.toml documents every key.\n")
        if self.config_path is not None:
            text.append(f"\nConfig file: {self.config_path}\n", "dim")
        text.append("\nJust looking? Run ")
        text.append("dswatch --demo", "bold")
        text.append(" for a live demo: no account, no network.\n")
        return text

    # -- config file --------------------------------------------------------

    def check_config_file(self) -> None:
        """Pick up edits made in another editor (or a fixed broken file)."""
        if self.watcher is None or self.config_path is None or not self.watcher.changed():
            return
        try:
            if self.engine is not None and not self.config_path.exists():
                # Deleted (or mid-rename): an empty config would drop every row.
                raise ConfigError(
                    self.config_path, "the file is gone; watching with the last good config"
                )
            engine = load_engine(self.config_path, model=self.model)
        except ConfigError as exc:
            # Told once, then kept in view (summary, empty screen) until it parses again.
            self.notify(str(exc), title="config not reloaded", severity="error", markup=False)
            self.config_error = exc
            self.show_summary()
            return
        self.config_error = None
        self.replace_engine(engine)
        self.notify(f"reloaded {self.config_path}", title="config", markup=False)

    def replace_engine(self, engine: Engine) -> None:
        """Swap in a new engine on the same model: what is known of datasets stays."""
        keep = {(b.name, i) for b in engine.config.backends for i in b.datasets}
        gone = [key for key in self.model.states if key not in keep]
        self.model.keep_only_backends(b.name for b in engine.config.backends)
        if gone:
            from .watch import PollBatch

            self.model.apply(PollBatch(removed=gone))
        self.start_engine(engine)

    # -- requests from screens ------------------------------------------------

    def on_details_requested(self, message: DetailsRequested) -> None:
        self._fetch_details(message.key)

    def on_refresh_requested(self, message: RefreshRequested) -> None:
        self.refresh_keys(message.keys)

    def on_copy_requested(self, message: CopyRequested) -> None:
        self.copy_dataset_id(message.key)

    def on_open_requested(self, message: OpenRequested) -> None:
        self.open_dataset(message.key)

    @work(group="details", exit_on_error=False)
    async def _fetch_details(self, key: Key) -> None:
        backend = self.engine.backends.get(key[0]) if self.engine else None
        message: DetailsFetched
        if backend is None:
            message = DetailsFetched(key, None, "backend is gone")
        else:
            try:
                message = DetailsFetched(key, await backend.details(key[1]))
            except BackendError as exc:
                message = DetailsFetched(key, None, str(exc))
        self.screen.post_message(message)
        past_runs = getattr(backend, "past_runs", None)  # Cognee's activity feed
        if self.history is not None and past_runs is not None:
            try:  # past durations for ETAs: nice to have, never an error to show
                self.history.store.add_runs(key[0], key[1], await past_runs(key[1]))
            except BackendError as exc:
                log.info("past runs of %s/%s: %s", key[0], key[1], exc)

    @work(group="remote-list", exclusive=True, exit_on_error=False)
    async def _fetch_remote_list(self, backend_name: str) -> None:
        backend = self.engine.backends.get(backend_name) if self.engine else None
        message: RemoteListFetched
        if backend is None:
            message = RemoteListFetched(backend_name, None, "unknown backend")
        else:
            try:
                datasets = await backend.list_datasets()
                message = RemoteListFetched(backend_name, datasets)
            except BackendError as exc:
                message = RemoteListFetched(backend_name, None, str(exc))
        self.screen.post_message(message)

    def refresh_keys(self, keys: Iterable[Key]) -> None:
        if self.engine is not None:
            self.engine.poller.refresh(list(keys))

    def copy_dataset_id(self, key: Key) -> None:
        self.copy_to_clipboard(key[1])
        self.notify(f"copied {key[1]}", title="clipboard", markup=False)

    def open_dataset(self, key: Key) -> None:
        backend = self.engine.backends.get(key[0]) if self.engine else None
        url = backend.web_url(key[1]) if backend else None
        if url is None:
            self.notify(
                f"{key[0]} has no web page for datasets (set web_url in the config)",
                severity="warning",
                markup=False,
            )
            return
        if not can_open_browser(os.environ):
            # Over SSH or without a display there is no browser to open (and a text
            # browser would take over this terminal): hand the address over instead.
            self.copy_to_clipboard(url)
            self.notify(
                f"no browser here (SSH or no display): {url} — copied to the clipboard",
                title="open",
                severity="warning",
                timeout=15,
                markup=False,
            )
            return
        self.open_url(url)
        self.notify(f"opening {url}", markup=False)

    # -- actions --------------------------------------------------------------

    def _selected(self) -> Key | None:
        key = self.grid.cursor_key
        if key is None:
            self.notify("No dataset selected.", severity="warning")
        return key

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        # At once, not via call_later as focus() does: keys already queued behind
        # the `/` (a paste, fast typing) must reach the filter, not run grid commands.
        self.screen.set_focus(field)

    def action_clear_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.value = ""
        field.display = False
        self.grid.focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._apply_filter()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.grid.focus()

    def _apply_filter(self) -> None:
        unknown = self.grid.set_filter(self.filter_text, problems_only=self.problems_only)
        field = self.query_one("#filter", Input)
        # `state:eror` shows nothing: say why, instead of an empty grid.
        field.border_subtitle = f"unknown state: {', '.join(unknown)}" if unknown else ""
        field.set_class(bool(unknown), "-invalid")
        self.show_summary()

    def action_toggle_problems(self) -> None:
        self.problems_only = not self.problems_only
        self._apply_filter()
        self.notify("problems only" if self.problems_only else "all datasets", timeout=2)

    def action_cycle_sort(self) -> None:
        columns = list(COLUMN_KEYS)
        current = self.grid.sort_column
        following = columns[(columns.index(current) + 1) % len(columns)]
        self.grid.sort_by(following, reverse=False)
        self.notify(f"sorted by {following}", timeout=2)

    def action_reverse_sort(self) -> None:
        self.grid.sort_by(self.grid.sort_column, reverse=not self.grid.sort_reverse)

    @on(DatasetGrid.HeaderClicked)
    def _header_clicked(self, event: DatasetGrid.HeaderClicked) -> None:
        # The grid has sorted itself; say so, as `s` does.
        order = "reversed" if event.reverse else "ascending"
        self.notify(f"sorted by {event.column} ({order})", timeout=2)

    def action_details(self) -> None:
        key = self._selected()
        if key is not None:
            self.push_screen(
                DetailsScreen(
                    self.model, key, self.watch_changed, clock=self.clock, history=self.history
                )
            )

    def action_add(self) -> None:
        if self.engine is None or not self.engine.config.backends:
            if self.config_path is None or self.config_error is not None:
                self.notify("Fix the config file first.", severity="warning")
                return
            self.push_screen(AddBackendScreen(save=self._save_backend), self._backend_added)
            return
        watched: dict[str, set[str]] = {}
        for backend, dataset_id in self.model.states:
            watched.setdefault(backend, set()).add(dataset_id)
        names = [b.name for b in self.engine.config.backends]
        selected = self.grid.cursor_key
        screen = AddDatasetsScreen(names, watched, selected[0] if selected else None)
        self.push_screen(screen, self._add_datasets)

    def _save_backend(self, backend: BackendConfig) -> str | None:
        """All or nothing: refused before anything is written, or saved and watched.

        Returns why it was refused; the form then stays open with what was typed.
        """
        if self.config_path is None:
            return "no config file to save to"
        try:
            add_backend(self.config_path, backend)  # refuses a duplicate before writing
            engine = load_engine(self.config_path, model=self.model)
        except ConfigError as exc:
            return str(exc)
        self._saved()
        self.replace_engine(engine)
        self.show_summary()
        return None

    def _backend_added(self, backend: BackendConfig | None) -> None:
        if backend is not None:
            self.notify(f"added backend {backend.name}: now press a to add datasets", markup=False)

    def _add_datasets(self, request: AddRequest | None) -> None:
        if request is None or self.engine is None:
            return
        if self.config_path is not None:
            try:
                add_datasets(self.config_path, request.backend, request.ids)
            except ConfigError as exc:
                self.notify(str(exc), title="not added", severity="error", markup=False)
                return
            self._saved()
            where = f"saved to {self.config_path}"
        else:
            where = "demo: not saved"
        self.engine.poller.add(request.backend, request.ids)
        self.notify(
            f"watching {len(request.ids)} more on {request.backend} ({where})", markup=False
        )

    def action_remove(self) -> None:
        key = self._selected()
        if key is None:
            return
        state = self.model.states.get(key)
        label = sanitize(state.label if state else key[1], max_len=60)
        question = f"Stop watching {label}?"
        detail = f"{key[0]} · {key[1]}" + (
            f"\nIt is removed from {self.config_path}." if self.config_path else ""
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(key)

        self.push_screen(ConfirmScreen(question, detail), answered)

    def _remove(self, key: Key) -> None:
        if self.engine is None:
            return
        if self.config_path is not None:
            try:
                remove_datasets(self.config_path, key[0], [key[1]])
            except ConfigError as exc:
                self.notify(str(exc), title="not removed", severity="error", markup=False)
                return
            self._saved()
        self.engine.poller.remove(key[0], [key[1]])

    def _saved(self) -> None:
        # Our own write is not an external edit to reload.
        if self.watcher is not None:
            self.watcher.changed()

    def action_refresh(self) -> None:
        key = self._selected()
        if key is not None:
            self.refresh_keys([key])
            self.notify("refreshing", timeout=1)

    def action_refresh_all(self) -> None:
        if self.engine is not None:
            self.engine.poller.refresh()
            self.notify("refreshing everything", timeout=2)

    def action_toggle_pause(self) -> None:
        if self.engine is None:
            return
        poller = self.engine.poller
        if poller.paused:
            poller.resume()
        else:
            poller.pause()
        self.show_summary()

    def action_copy_id(self) -> None:
        key = self._selected()
        if key is not None:
            self.copy_dataset_id(key)

    def action_open(self) -> None:
        key = self._selected()
        if key is not None:
            self.open_dataset(key)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for binding in DatasetGrid.BINDINGS:
            if not isinstance(binding, Binding) or not binding.action.startswith("app."):
                continue
            action = binding.action.removeprefix("app.")
            if action == "quit":
                continue
            yield SystemCommand(
                binding.description,
                f"key: {self.get_key_display(binding)}",
                lambda action=action: self.run_action(action),
            )

    @on(DatasetGrid.RowActivated)
    def _row_activated(self, event: DatasetGrid.RowActivated) -> None:
        self.push_screen(
            DetailsScreen(
                self.model, event.key, self.watch_changed, clock=self.clock, history=self.history
            )
        )

    def on_remote_list_requested(self, message: RemoteListRequested) -> None:
        self._fetch_remote_list(message.backend)


def can_open_browser(environ: Mapping[str, str]) -> bool:
    """Whether a web browser can be opened from here: not over SSH, and on Linux
    only with a display (macOS and Windows always have one)."""
    if environ.get("SSH_CONNECTION") or environ.get("SSH_TTY"):
        return False
    if sys.platform.startswith("linux"):
        return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
    return True


def run_dashboard(*, config_path: Path, demo: bool) -> int:
    """Open the dashboard; a broken config is shown in it, never as a traceback."""
    engine: Engine | None = None
    error: ConfigError | None = None
    if demo:
        engine = demo_engine()
        path: Path | None = None
    else:
        path = config_path
        try:
            engine = load_engine(config_path)
        except ConfigError as exc:
            error = exc
    warnings = secret_warnings(path) if path is not None else []
    history = None
    if engine is not None and not demo and not history_off():  # the demo's stay out of it
        keys = [(b.name, i) for b in engine.config.backends for i in b.datasets]
        history = HistoryLink.for_settings(engine.model, keys, engine.config.settings)
    app = DswatchApp(
        engine, config_path=path, config_error=error, warnings=warnings, history=history
    )
    tune_gc()
    app.run()
    return app.return_code or 0
