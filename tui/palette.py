"""One look per dataset state and backend health: glyph, word, theme colour.

Defined once and used by the grid, the summary, the help legend and the
details screen, so the same state never shows in two colours. Colours are
Textual theme variables (`$success`, ...) and follow the theme; this module
holds only the names, so it does not import Textual.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import State
from .poller import Health


@dataclass(frozen=True, slots=True)
class Look:
    glyph: str  # first, so a state reads without colour
    word: str
    colour: str  # a Textual theme variable, e.g. "$success"
    text_style: str = ""  # "bold", "bold reverse", or "" for none
    meaning: str = ""  # one line for the help legend

    @property
    def label(self) -> str:
        """`✓ ready`: what the grid and summary print."""
        return f"{self.glyph} {self.word}"

    @property
    def style(self) -> str:
        """A Textual style string (`bold $error`) for Content."""
        return f"{self.text_style} {self.colour}".strip()


STATE_LOOKS: dict[State, Look] = {
    State.READY: Look("✓", "ready", "$success", "", "processing finished"),
    State.RUNNING: Look("⟳", "running", "$primary", "", "processing now"),
    # Not `…`: that means "cut off" everywhere else.
    State.PENDING: Look("◌", "pending", "$foreground-muted", "", "queued, not started"),
    State.PARTIAL: Look("◐", "partial", "$warning", "", "usable, some items failed"),
    State.ERROR: Look("✗", "error", "$error", "bold", "processing failed"),
    State.NOT_FOUND: Look("?", "not_found", "$error", "", "the backend does not know this ID"),
    State.UNAUTHORIZED: Look(
        "⚠", "unauthorized", "$error", "bold reverse", "credentials refused: fix and press R"
    ),
    State.UNREACHABLE: Look(
        "⌁", "unreachable", "$warning", "", "not read: the row says why (HTTP 500, timed out)"
    ),
    State.UNKNOWN: Look("·", "unknown", "$foreground-muted", "", "not read yet"),
}
STALE = Look("STALE", "stale", "$warning", "bold", "last good data is old: polls keep failing")

HEALTH_LOOKS: dict[Health, Look] = {
    Health.UNKNOWN: Look("·", "…", "$foreground-muted"),
    Health.OK: Look("✓", "ok", "$success"),
    Health.UNAUTHORIZED: Look("⚠", "UNAUTHORIZED", "$error", "bold"),
    Health.UNREACHABLE: Look("⌁", "unreachable", "$warning"),
    Health.RATE_LIMITED: Look("◔", "rate limited", "$warning"),
}


def state_css(selector: str) -> str:
    """CSS rules `selector-STATE { color; text-style }` for every state, from STATE_LOOKS."""
    return "\n".join(
        f"{selector}{state.value} {{ color: {look.colour}; "
        f"text-style: {look.text_style or 'none'}; }}"
        for state, look in STATE_LOOKS.items()
    )
