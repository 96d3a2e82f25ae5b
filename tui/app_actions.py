"""What a user asks of the dashboard: the actions behind its keys, and screens' requests.

`DatasetActions` is the half of `DswatchApp` (tui/app.py) that acts on
datasets: details, refresh, copy, open, add, remove, pause, sort, filter. The
workers here are the only code of the dashboard that talks HTTP (through the
engine's backends), and they answer screens with messages.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.widgets import Input

from .backends.base import BackendError
from .config import (
    BackendConfig,
    ConfigError,
    add_backend,
    add_datasets,
    remove_datasets,
)
from .engine import Engine, load_engine
from .messages import (
    CopyRequested,
    DetailsFetched,
    DetailsRequested,
    OpenRequested,
    RefreshRequested,
    RemoteListFetched,
)
from .text import sanitize
from .widgets.cells import COLUMN_KEYS

if TYPE_CHECKING:
    from textual.app import App

    from .config import ConfigWatcher
    from .history_link import HistoryLink
    from .screens.add import AddRequest
    from .watch import WatchModel
    from .widgets.grid import DatasetGrid

    _Base = App[int]
else:
    _Base = object

log = logging.getLogger("tui.app")

Key = tuple[str, str]


class DatasetActions(_Base):
    """Actions and requests; mixed into DswatchApp, which owns the state they use."""

    engine: Engine | None
    model: WatchModel
    config_path: Path | None
    config_error: ConfigError | None
    watcher: ConfigWatcher | None
    history: HistoryLink | None
    problems_only: bool
    filter_text: str

    @property
    def grid(self) -> DatasetGrid:
        raise NotImplementedError

    def show_summary(self) -> None:
        raise NotImplementedError

    def replace_engine(self, engine: Engine) -> None:
        raise NotImplementedError

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

    # Each screen (and the Textual widgets only it uses: TextArea, Select, ...) is
    # imported when first pushed, not before the dashboard's first screen.

    def action_help(self) -> None:
        from .screens.help import HelpScreen

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

    def action_details(self) -> None:
        from .screens.details import DetailsScreen

        key = self._selected()
        if key is not None:
            self.push_screen(
                DetailsScreen(
                    self.model, key, self.watch_changed, clock=self.clock, history=self.history
                )
            )

    def action_add(self) -> None:
        from .screens.add import AddDatasetsScreen
        from .screens.backend import AddBackendScreen

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
        follower = self.engine.follower if self.engine is not None else None
        rule = follower.following_rule(*key) if follower is not None else None
        listed = self.engine is not None and any(
            b.name == key[0] and key[1] in b.datasets for b in self.engine.config.backends
        )
        if rule is not None and not listed:
            # Removing it would last until the next list: say what would stop it.
            self.notify(
                f"{label} is watched because {key[0]} has {rule}: it comes back with the"
                f" next list. Narrow `follow` in the config to stop watching it.",
                title="not removed",
                severity="warning",
                markup=False,
            )
            return
        question = f"Stop watching {label}?"
        detail = f"{key[0]} · {key[1]}" + (
            f"\nIt is removed from {self.config_path}." if self.config_path else ""
        )
        if rule is not None:
            detail += f"\nIt stays watched: {key[0]} has {rule} and its list names it."

        def answered(yes: bool | None) -> None:
            if yes:
                self._remove(key)

        from .screens.confirm import ConfirmScreen

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
        follower = self.engine.follower
        if follower is not None and follower.following_rule(*key) is not None:
            return  # the backend's list keeps it watched (the question said so)
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


def can_open_browser(environ: Mapping[str, str]) -> bool:
    """Whether a web browser can be opened from here: not over SSH, and on Linux
    only with a display (macOS and Windows always have one)."""
    if environ.get("SSH_CONNECTION") or environ.get("SSH_TTY"):
        return False
    if sys.platform.startswith("linux"):
        return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
    return True
