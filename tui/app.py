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
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Input, Static

from .app_actions import DatasetActions
from .config import (
    ConfigError,
    ConfigWatcher,
    Settings,
    secret_warnings,
)
from .engine import Engine, demo_engine, load_engine, tune_gc
from .history_link import STUCK_CHECK_SECONDS, HistoryLink, history_off
from .messages import (
    PollerUpdated,
    RemoteListRequested,
)
from .models import DatasetState, State
from .notify import TextOut
from .outreach import Outreach
from .toasts import Toasts
from .watch import PollUpdate, WatchModel
from .widgets.cells import eta_cell
from .widgets.empty import empty_text
from .widgets.footer import FittingFooter
from .widgets.grid import DatasetGrid
from .widgets.summary import AlertBanner, SummaryBar

log = logging.getLogger(__name__)

Key = tuple[str, str]
NARROW_COLUMNS = 120  # below this, toasts move to the left edge (see app.tcss)
# Deleted (or mid-rename) while running: an empty config would drop every row.
CONFIG_GONE = "the file is gone; watching with the last good config"


# Grid keys that act on the row under the cursor.
_ROW_ACTIONS = frozenset({"details", "remove", "refresh", "copy_id", "open", "cycle_sort"})


class DswatchApp(DatasetActions, App[int]):
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
        if action in _ROW_ACTIONS and not self._rows_shown:
            return None  # no row to act on: the footer shows the key dimmed
        return True

    def __init__(
        self,
        engine: Engine | None,
        *,
        config_path: Path | None,
        config_error: ConfigError | None = None,
        warnings: Iterable[str] | Callable[[], Iterable[str]] = (),
        clock: Callable[[], float] = time.time,
        history: HistoryLink | None = None,
    ) -> None:
        super().__init__()
        self.clock = clock  # epoch seconds: ages and durations (tests pin it)
        self.engine = engine
        self.config_path = config_path
        self.config_error = config_error
        # A callable is asked after the first frame: the secret check parses the file again.
        self.warnings = warnings
        self.watcher = ConfigWatcher(config_path) if config_path is not None else None
        # The one copy of what is known; it outlives engines (a config reload keeps it).
        self.model = engine.model if engine is not None else WatchModel()
        self.model.subscribe(self._model_applied)
        self.history = history  # the history store, joined to the model (None: none)
        self.watch_changed: Signal[PollUpdate] = Signal(self, "watch-changed")
        self.problems_only = False
        self.filter_text = ""
        self._rows_shown = False  # any row on the grid (filtered in): keys that act on one
        self.toasts = Toasts(
            self,
            lambda: self.model.states,
            lambda: self.settings,
            lambda: self.outreach.rules if self.outreach is not None else None,
        )
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
        yield FittingFooter()  # whole keys only, however narrow

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one("#alerts", AlertBanner).display = False
        grid = self.query_one(DatasetGrid)
        grid.focus()
        # What is known before any answer (stored last known data, never-read rows)
        # is on the first frame; polling starts once that frame is out.
        grid.apply(self.model.states.values())
        self.show_summary()
        self.call_after_refresh(self._after_first_frame)
        if self.watcher is not None:
            self.set_interval(2.0, self.check_config_file)
        if self.history is not None:
            if self.history.warning:  # logged by the store
                self.notify(self.history.warning, title="history", severity="warning", markup=False)
            self.history.on_warning = lambda warning: self.notify(  # failed mid-run: once
                warning, title="history", severity="warning", markup=False
            )
            self.set_interval(STUCK_CHECK_SECONDS, self.check_stuck)

    def _after_first_frame(self) -> None:
        if self.engine is not None:
            self.start_engine(self.engine)
        warnings = self.warnings() if callable(self.warnings) else self.warnings
        for warning in warnings:
            self.notify(warning, title="config", severity="warning", timeout=30, markup=False)

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
            self.outreach.hooks.on_failure = self._hook_failed
            self.model.subscribe(self.outreach)
        else:
            self.outreach.reconfigure(engine)
        for warning in self.outreach.hook_warnings():
            self.notify(warning, title="hooks", severity="warning", timeout=30, markup=False)
        self.run_worker(
            self._poll(engine), name="poller", group="poller", exclusive=True, exit_on_error=False
        )

    def _hook_failed(self, message: str) -> None:  # logged by the runner
        if self._screen_up():
            self.show_summary()  # "hooks: N failed" at once

    def _write_to_terminal(self, text: str) -> None:
        if self._driver is not None:
            self._driver.write(text)

    async def on_unmount(self) -> None:
        if self.outreach is not None:
            await self.outreach.aclose()
        if self.history is not None:  # writes what is queued: off the event loop
            self.history.on_warning = None  # no toast from a thread as the app closes
            await asyncio.to_thread(self.history.close)

    async def _poll(self, engine: Engine) -> None:
        try:
            await engine.poller.run()
        finally:
            await engine.aclose()

    def _model_applied(self, update: PollUpdate) -> None:
        # Called on the event loop by the model; widgets change in the handler below.
        self.post_message(PollerUpdated(update))

    def _screen_up(self) -> bool:
        """False while the app shuts down: its widgets are being removed one by one
        (Textual clears `is_running` first); a late batch or hook must not draw."""
        return self.is_running and bool(self.query(DatasetGrid))

    def on_poller_updated(self, message: PollerUpdated) -> None:
        if self._screen_up():
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
        self.toasts.announce(update.news)
        self.toasts.announce_backends(update.backend_events)
        self.watch_changed.publish(update)

    @property
    def settings(self) -> Settings:
        return self.engine.config.settings if self.engine is not None else Settings()

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
        if (self.grid.visible_count > 0) != self._rows_shown:
            self._rows_shown = not self._rows_shown
            self.refresh_bindings()
        empty = self.query_one("#empty", Static)
        has_rows = bool(total)
        empty.display = not has_rows
        self.grid.display = has_rows
        if not has_rows:
            backends = self.engine is not None and bool(self.engine.config.backends)
            empty.update(empty_text(self.config_error, self.config_path, has_backends=backends))

    def _notes(self) -> tuple[str, ...]:
        notes = []
        if self.config_error is not None:
            where = f":{self.config_error.line}" if self.config_error.line else ""
            kept = " (last good kept)" if self.engine is not None else ""
            gone = self.config_error.message == CONFIG_GONE  # not broken: say what it is
            notes.append(f"config file gone{kept}" if gone else f"config broken{where}{kept}")
        hooks = self.outreach.hooks.summary() if self.outreach is not None else None
        if hooks:
            notes.append(hooks)
        return tuple(notes)

    # -- config file --------------------------------------------------------

    def check_config_file(self) -> None:
        """Pick up edits made in another editor (or a fixed broken file)."""
        if self.watcher is None or self.config_path is None or not self.watcher.changed():
            return
        try:
            if self.engine is not None and not self.config_path.exists():
                raise ConfigError(self.config_path, CONFIG_GONE)
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

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._apply_filter()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.grid.focus()

    @on(DatasetGrid.HeaderClicked)
    def _header_clicked(self, event: DatasetGrid.HeaderClicked) -> None:
        # The grid has sorted itself; say so, as `s` does.
        order = "reversed" if event.reverse else "ascending"
        self.notify(f"sorted by {event.column} ({order})", timeout=2)

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
        from .screens.details import DetailsScreen  # when first opened (tui.app_actions)

        self.push_screen(
            DetailsScreen(
                self.model, event.key, self.watch_changed, clock=self.clock, history=self.history
            )
        )

    def on_remote_list_requested(self, message: RemoteListRequested) -> None:
        self._fetch_remote_list(message.backend)


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
    warnings = (lambda: secret_warnings(path)) if path is not None else ()
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
