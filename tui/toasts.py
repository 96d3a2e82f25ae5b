"""Toasts for news: one per real change, a flood told in one go, backends once.

News arriving sooner than NEWS_QUIET_SECONDS after the last toast waits and is
told in one summary toast, and only what is still true then: a thousand
datasets finishing at once make one toast, not a thousand. Which news becomes
a toast follows `notifications` and `notify_on` (tui.notify's one rule).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

from .config import Settings
from .models import DatasetState
from .notify import NewsLike, NotifyRules
from .text import sanitize
from .watch import BackendEvent, News

if TYPE_CHECKING:
    from textual.app import App
    from textual.timer import Timer

Key = tuple[str, str]
MAX_TOASTS_PER_BATCH = 3  # more than this become one summary toast
NEWS_QUIET_SECONDS = 3.0


class Toasts:
    """The dashboard's toasts for news, coalesced; `app` shows them."""

    def __init__(
        self,
        app: App[int],
        states: Callable[[], dict[Key, DatasetState]],
        settings: Callable[[], Settings],
        rules: Callable[[], NotifyRules | None],
    ) -> None:
        self.app = app
        self._states = states
        self._settings = settings
        self._rules = rules
        self._news: dict[Key, DatasetState] = {}  # not told yet: the newest per dataset
        self._timer: Timer | None = None  # running while toasts must wait

    def _toasts_for(self, news: list[News]) -> list[NewsLike]:
        rules = self._rules() or NotifyRules(self._settings(), [])
        return rules.toasts(news)

    def announce(self, news: list[News]) -> None:
        """Toast datasets that really changed to a state worth knowing (and ring)."""
        for item in self._toasts_for(news):
            self._news[item.state.key] = item.state
        if self._news and self._timer is None:
            self._tell_news()

    def announce_backends(self, events: list[BackendEvent]) -> None:
        """One toast when a backend goes down or comes back, never one per dataset."""
        mode = self._settings().notifications
        if mode == "off":
            return
        for event in events:
            if event.kind == "down":
                text = f"{event.backend} is down: {event.reason}"
                self.app.notify(text, title="backend", severity="error", markup=False)
            elif mode == "all":
                self.app.notify(
                    f"{event.backend} is answering again", title="backend", markup=False
                )

    def _tell_news(self) -> None:
        # Only what is still true: a dataset may have moved on (or gone) while it waited.
        states = self._states()
        news = [
            current
            for key, told in self._news.items()
            if (current := states.get(key)) is not None and current.state is told.state
        ]
        self._news.clear()
        if not news:
            self._timer = None
            return
        if len(news) > MAX_TOASTS_PER_BATCH:
            by_state = Counter(s.state.value for s in news)
            summary = ", ".join(f"{n} {state}" for state, n in by_state.most_common())
            self.app.notify(f"{len(news)} datasets changed: {summary}", title="dswatch")
        else:
            for state in news:
                severity = "error" if state.is_problem else "information"
                self.app.notify(
                    f"{sanitize(state.label, max_len=60)} is now {state.state.value}",
                    title=state.backend,
                    severity=severity,
                    markup=False,
                )
        if self._settings().bell:
            self.app.bell()
        self._timer = self.app.set_timer(NEWS_QUIET_SECONDS, self._quiet_over)

    def _quiet_over(self) -> None:
        self._timer = None
        if self._news:
            self._tell_news()
