"""The lines above the grid: counts per state, backend health, and loud alerts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ..health import BackendHealth, Health, describe_failure
from ..history import format_duration
from ..models import State
from ..text import sanitize
from .cells import STATE_LOOK

# Colours of the summary; the grid has its own component classes.
STATE_COLOURS: dict[State, str] = {
    State.READY: "green",
    State.RUNNING: "cyan",
    State.PENDING: "blue",
    State.PARTIAL: "yellow",
    State.ERROR: "red",
    State.NOT_FOUND: "magenta",
    State.UNAUTHORIZED: "bold red",
    State.UNREACHABLE: "red",
    State.UNKNOWN: "dim",
}
HEALTH_LOOK: dict[Health, tuple[str, str]] = {
    Health.UNKNOWN: ("…", "dim"),
    Health.OK: ("ok", "green"),
    Health.UNAUTHORIZED: ("UNAUTHORIZED", "bold red"),
    Health.UNREACHABLE: ("unreachable", "red"),
    Health.RATE_LIMITED: ("rate limited", "yellow"),
}


class SummaryBar(Static):
    """`12 ✓ ready  3 ⟳ running ...  │ vl ok  cognee unreachable │ polled 14:02:11`."""

    def show(
        self,
        counts: Counter[State],
        health: dict[str, BackendHealth],
        *,
        last_poll: datetime | None,
        paused: bool,
        shown: int,
        total: int,
    ) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for state in State:
            if counts.get(state):
                text.append(f"{counts[state]} {STATE_LOOK[state]}", STATE_COLOURS[state])
                text.append("  ")
        if not total:
            text.append("no datasets  ", "dim")
        if shown != total:
            text.append(f"(showing {shown} of {total})  ", "bold")
        if health:
            text.append("│ ", "dim")
        for name, backend in health.items():
            word, colour = HEALTH_LOOK[backend.health]
            text.append(f"{name} ", "bold")
            text.append(word, colour)
            text.append("  ")
        text.append("│ ", "dim")
        if not health:
            text.append("no backend configured", "dim")
        elif paused:
            text.append("⏸ PAUSED (p to resume)", "bold yellow")
        elif last_poll is not None:
            text.append(f"polled {last_poll.astimezone():%H:%M:%S}", "dim")
        else:
            text.append("polling…", "dim")
        self.update(text, layout=False)  # one line, always: no layout pass per batch


class AlertBanner(Static):
    """Backends that need attention, one line each, with the cause and the next try.

    `cg: server error (HTTP 500) for 1m05s, retry in 12s — R retries now`.
    Hidden when all is well; redrawn every second while shown (the countdown).
    """

    def __init__(self, *, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self._alerts: tuple[BackendHealth, ...] = ()
        self._shown: Text | None = None

    def on_mount(self) -> None:
        self.set_interval(1.0, self._redraw)

    def show(self, health: dict[str, BackendHealth]) -> None:
        self._alerts = tuple(
            h
            for h in health.values()
            if h.health not in (Health.OK, Health.UNKNOWN) or h.recovering
        )
        self._redraw()

    def _redraw(self) -> None:
        alerts = self._alerts
        now = datetime.fromtimestamp(self.clock(), UTC)
        text = Text()
        for index, alert in enumerate(alerts):
            if index:
                text.append("\n")
            text.append_text(alert_line(alert, now))
        if self._shown is not None and text == self._shown:
            return  # most batches and ticks change nothing here
        self._shown = text
        self.display = bool(alerts)
        self.set_class(any(h.health is Health.UNAUTHORIZED for h in alerts), "-unauthorized")
        self.update(text)


def alert_line(alert: BackendHealth, now: datetime) -> Text:
    """One backend's trouble in words: the cause, for how long, and what happens next."""
    text = Text()
    if alert.health is Health.OK and alert.recovering:
        text.append(f" ⟳ {alert.backend}: answering again ", "bold reverse")
        text.append(f" re-reading {alert.recovering} datasets…")
        return text
    if alert.health is Health.RATE_LIMITED:
        cause = "rate limited"
    elif alert.health is Health.UNAUTHORIZED:
        cause = alert.reason if alert.reason and "credential" in alert.reason else None
        cause = cause or "refused credentials"
        if alert.failure is not None and alert.failure.kind == "config":
            cause = "unusable config"
    else:
        cause = alert.reason or describe_failure(alert.failure)
    text.append(f" ⚠ {alert.backend}: {cause} ", "bold reverse")
    if alert.message and (alert.failure is None or alert.failure.http_status is None):
        # An HTTP status is in the cause already; a network error's words are not.
        text.append(" " + sanitize(alert.message, max_len=160))
    if alert.since is not None and alert.health is not Health.RATE_LIMITED:
        text.append(f", for {format_duration((now - alert.since).total_seconds())}")
    if alert.retry_at is not None and alert.health is not Health.UNAUTHORIZED:
        wait = max(0.0, (alert.retry_at - now).total_seconds())
        text.append(f", retry in {format_duration(wait)}")
    if alert.credential_hint:
        text.append(f" — {alert.credential_hint}", "bold")
    if alert.health is Health.UNAUTHORIZED:
        text.append(" (paused; R retries now)")
    else:
        text.append(" — R retries now")
    return text
