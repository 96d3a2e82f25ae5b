"""The lines above the grid: counts per state, backend health, and loud alerts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from ..models import State
from ..poller import BackendHealth, Health
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
    """Backends that need attention, one line each; hidden when all is well."""

    _shown: tuple[BackendHealth, ...] | None = None

    def show(self, health: dict[str, BackendHealth]) -> None:
        alerts = [h for h in health.values() if h.health not in (Health.OK, Health.UNKNOWN)]
        if tuple(alerts) == self._shown:
            return  # most batches change no backend's health
        self._shown = tuple(alerts)
        self.display = bool(alerts)
        self.set_class(any(h.health is Health.UNAUTHORIZED for h in alerts), "-unauthorized")
        text = Text()
        for index, alert in enumerate(alerts):
            if index:
                text.append("\n")
            word, _ = HEALTH_LOOK[alert.health]
            text.append(f" ⚠ {alert.backend}: {word.upper()} ", "bold reverse")
            if alert.message:
                text.append(" " + sanitize(alert.message, max_len=200))
            if alert.credential_hint:
                text.append(f" — {alert.credential_hint}", "bold")
            if alert.health is Health.UNAUTHORIZED:
                text.append(" (paused; R retries now)")
            elif alert.paused_for:
                text.append(f" (retrying in {alert.paused_for:.0f}s)")
            else:
                text.append(" (retrying with backoff)")
        self.update(text)
