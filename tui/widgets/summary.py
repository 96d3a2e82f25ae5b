"""The lines above the grid: counts per state, backend health, and loud alerts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from ..models import State
from ..palette import HEALTH_LOOKS, STATE_LOOKS
from ..poller import BackendHealth, Health
from ..text import sanitize
from .cells import STATE_RANK

Part = tuple[str, str]  # (text, Textual style)


class SummaryBar(Static):
    """`12 ✓ ready  3 ⟳ running ...  │ vl ok  cognee unreachable │ polled 14:02:11`.

    When that does not fit the width, the counts lose their words (`12✓ 3⟳`),
    health its words (`vl ✓`) and the poll time its label: backend health and
    the poll time stay on an 80-column screen. Colours come from tui.palette.
    """

    DEFAULT_CSS = "SummaryBar { text-wrap: nowrap; text-overflow: ellipsis; }"

    _last: tuple[object, ...] | None = None

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
        self._last = (counts, health, last_poll, paused, shown, total)
        self._redraw()

    def on_resize(self) -> None:
        if self._last is not None:
            self._redraw()

    def _redraw(self) -> None:
        assert self._last is not None
        width = self.content_region.width
        left, right = (Content.assemble(*p) for p in self.parts(*self._last, compact=False))
        if width and left.cell_length + right.cell_length > width:
            left, right = (Content.assemble(*p) for p in self.parts(*self._last, compact=True))
        if width and left.cell_length + right.cell_length > width:
            # Health and poll time stay; the counts (worst first) are cut at the end.
            left = left.truncate(max(width - right.cell_length - 1, 0), ellipsis=True) + " "
        self.update(left + right, layout=False)  # one line, always: no layout pass per batch

    @staticmethod
    def parts(
        counts: Counter[State],
        health: dict[str, BackendHealth],
        last_poll: datetime | None,
        paused: bool,
        shown: int,
        total: int,
        *,
        compact: bool,
    ) -> tuple[list[Part], list[Part]]:
        """(counts, health and poll time): the second part never gives way."""
        gap = " " if compact else "  "
        parts: list[Part] = []
        for state in sorted(State, key=lambda s: STATE_RANK.get(s, len(STATE_RANK))):
            if counts.get(state):
                look = STATE_LOOKS[state]
                label = (
                    f"{counts[state]}{look.glyph}" if compact else f"{counts[state]} {look.label}"
                )
                parts += [(label, look.style), (gap, "")]
        if not total:
            parts.append(("no datasets" + gap, "$foreground-muted"))
        if shown != total:
            parts.append(
                (
                    f"({shown}/{total} shown){gap}"
                    if compact
                    else f"(showing {shown} of {total})  ",
                    "bold",
                )
            )
        left, parts = parts, []
        if health:
            parts.append(("│ ", "$foreground-muted"))
        for name, backend in health.items():
            look = HEALTH_LOOKS[backend.health]
            ok = backend.health in (Health.OK, Health.UNKNOWN)
            word = look.glyph if compact and ok else look.word
            parts += [(f"{sanitize(name, max_len=32)} ", "bold"), (word, look.style), (gap, "")]
        parts.append(("│ ", "$foreground-muted"))
        if not health:
            parts.append(("no backend configured", "$foreground-muted"))
        elif paused:
            parts.append(("⏸ PAUSED" if compact else "⏸ PAUSED (p to resume)", "bold $warning"))
        elif last_poll is not None:
            when = f"{last_poll.astimezone():%H:%M:%S}"
            parts.append((when if compact else f"polled {when}", "$foreground-muted"))
        else:
            parts.append(("polling…", "$foreground-muted"))
        return left, parts


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
            word = HEALTH_LOOKS[alert.health].word
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
