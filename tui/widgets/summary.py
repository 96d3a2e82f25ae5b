"""The lines above the grid: counts per state, backend health, and loud alerts."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.widgets import Static

from ..credentials import RETRY_COMMAND
from ..health import BackendHealth, Health, describe_failure, short_failure
from ..history import format_duration
from ..models import State
from ..palette import HEALTH_LOOKS, STATE_LOOKS
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
        notes: tuple[str, ...] = (),
    ) -> None:
        """`notes`: short troubles of dswatch's own to keep in view ("hooks: 2 failed")."""
        self._last = (counts, health, last_poll, paused, shown, total, notes)
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
        notes: tuple[str, ...] = (),
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
            if backend.is_down and backend.reason:
                # The cause, as the banner says it: "server error (HTTP 500)"; narrow: "HTTP 500".
                word = short_cause(backend) if compact else backend.reason
            parts += [(f"{sanitize(name, max_len=32)} ", "bold"), (word, look.style), (gap, "")]
        for note in notes:
            parts += [(note, "bold $error"), (gap, "")]
        parts.append(("│ ", "$foreground-muted"))
        if not health and not notes:  # a broken config says so in its note instead
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
    """Backends that need attention, one line each, with the cause and the next try.

    `cg: server error (HTTP 500) for 1m05s, last answer 14:02:11, retry in 12s — R retries now`.
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
    else:
        cause = alert.reason or describe_failure(alert.failure)
    text.append(f" ⚠ {alert.backend}: {cause} ", "bold reverse")
    details: list[str] = []
    # Rate limited: the message is our own "retrying in ..." (said below, as a countdown).
    said = server_words(alert) if alert.health is not Health.RATE_LIMITED else None
    if said and said not in (alert.credential_hint or ""):
        details.append(sanitize(said, max_len=160))
    if alert.since is not None and alert.health is not Health.RATE_LIMITED:
        details.append(f"for {format_duration((now - alert.since).total_seconds())}")
    if alert.last_ok is not None and alert.is_down:  # this backend's own, not the summary's
        details.append(f"last answer {alert.last_ok.astimezone():%H:%M:%S}")
    if alert.retry_at is not None and alert.health is not Health.UNAUTHORIZED:
        wait = max(0.0, (alert.retry_at - now).total_seconds())
        details.append(f"retry in {format_duration(wait)}")
    if details:
        text.append(" " + ", ".join(details))
    if alert.credential_hint:
        text.append(f" — {alert.credential_hint}", "bold")
    if alert.failure is not None and alert.failure.kind == "config":
        # Unusable credentials (an unset variable, plain http): nothing was sent and
        # `R` cannot change that; the hint says the fix (export + restart, or the file).
        text.append(" (paused)")
    elif alert.health is Health.UNAUTHORIZED:
        # A token_command's hint already ends "then press R to retry": say it once.
        said_r = alert.credential_hint == RETRY_COMMAND
        text.append(" (paused)" if said_r else " (paused; R retries now)")
    else:
        text.append(" — R retries now")
    return text


def short_cause(health: BackendHealth) -> str:
    """A down backend's cause in a word or two, for a narrow summary: a server error
    must not read as a network problem there either."""
    if health.health is Health.UNREACHABLE and health.failure is not None:
        return short_failure(health.failure)  # as the rows say it
    return HEALTH_LOOKS[health.health].word


def server_words(alert: BackendHealth) -> str | None:
    """What the failure adds to its cause: a network error's words, or the server's
    own detail after `HTTP 401 Unauthorized: ` (the status is in the cause already)."""
    message = alert.message
    if not message:
        return None
    if alert.failure is None or alert.failure.http_status is None:
        return message
    _, sep, detail = message.partition(": ")
    return detail if sep else None
