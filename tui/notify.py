"""Desktop notifications through the terminal, and which news is worth telling.

Terminals turn three escape sequences into desktop notifications: OSC 9
(iTerm2, WezTerm, Windows Terminal, Ghostty), OSC 777 (foot, VTE terminals,
rxvt) and OSC 99 (kitty). `pick_form` chooses one from `desktop_notify` and the
environment; inside tmux the sequence is wrapped for passthrough.

Server text goes into these sequences, so it is made inert twice: `sanitize`
turns control characters into visible placeholders, and `_field` removes
whatever could still end or extend the sequence (BEL, ESC, ST, newlines, and
`;`, a separator in OSC 777 and a sub-command marker in OSC 9).

No Textual here: the app and `dswatch watch` both use it.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from .config import BackendConfig, Settings
from .models import PROBLEM_STATES, DatasetState, State
from .text import sanitize

log = logging.getLogger(__name__)

Key = tuple[str, str]
NotifyForm = Literal["osc9", "osc777", "osc99"]

ESC = "\x1b"
BEL = "\x07"
ST = ESC + "\\"
# News arriving sooner than this after the last notification waits and is told
# in one go (the same quiet spell the toasts use).
QUIET_SECONDS = 3.0
MAX_NAMED = 3  # more news than this in one burst becomes a count per state
_TITLE_CHARS = 80
_BODY_CHARS = 240
# Events that are trouble: what `notifications = "problems"` keeps.
PROBLEM_EVENTS = frozenset({s.value for s in PROBLEM_STATES} | {"partial", "stuck"})


class NewsLike(Protocol):
    """What tui.watch.News offers (only what is read here)."""

    @property
    def state(self) -> DatasetState: ...
    @property
    def old(self) -> State: ...
    @property
    def event(self) -> str: ...
    @property
    def at(self) -> datetime: ...


class BinaryOut(Protocol):
    def write(self, data: bytes, /) -> Any: ...
    def flush(self) -> Any: ...


# ------------------------------------------------------------- the sequences

# Anything that could end or extend an OSC string, whatever sanitize did first:
# C0 and C1 controls (BEL, ESC, ST = U+009C, CR/LF...) and the line separators.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _field(text: str, max_len: int) -> str:
    """Server (or any) text made safe for one field of a notification sequence."""
    cleaned = _UNSAFE.sub("", sanitize(text, max_len=max_len))
    return cleaned.replace(";", ",")


def osc9(title: str, body: str) -> str:
    """`ESC ] 9 ; text BEL`: one line of text, title and body joined."""
    text = _field(f"{title}: {body}" if title else body, _TITLE_CHARS + _BODY_CHARS)
    return f"{ESC}]9;{text}{BEL}"


def osc777(title: str, body: str) -> str:
    """`ESC ] 777 ; notify ; title ; body BEL`."""
    return f"{ESC}]777;notify;{_field(title, _TITLE_CHARS)};{_field(body, _BODY_CHARS)}{BEL}"


def osc99(title: str, body: str, ident: str) -> str:
    """kitty's protocol: the title (d=0: more to come), then the body (d=1: done)."""
    ident = re.sub(r"[^A-Za-z0-9_-]", "", ident) or "dswatch"
    return (
        f"{ESC}]99;i={ident}:d=0:p=title;{_field(title, _TITLE_CHARS)}{ST}"
        f"{ESC}]99;i={ident}:d=1:p=body;{_field(body, _BODY_CHARS)}{ST}"
    )


def tmux_wrap(sequence: str) -> str:
    """Pass a sequence through tmux to the outer terminal (needs `allow-passthrough on`)."""
    return f"{ESC}Ptmux;{sequence.replace(ESC, ESC + ESC)}{ST}"


# Set by iTerm2, WezTerm and Ghostty in their shells (and so inside a tmux started there).
_OSC9_TERMINAL_VARIABLES = ("ITERM_SESSION_ID", "WEZTERM_PANE", "GHOSTTY_RESOURCES_DIR")


def detect_form(environ: Mapping[str, str]) -> NotifyForm | None:
    """The notification sequence this terminal understands, or None when unknown."""
    term = environ.get("TERM", "")
    program = environ.get("TERM_PROGRAM", "")
    # kitty first: its variable survives inside tmux, where TERM_PROGRAM says "tmux".
    if term == "xterm-kitty" or environ.get("KITTY_WINDOW_ID"):
        return "osc99"
    if program in ("iTerm.app", "WezTerm", "ghostty") or term == "xterm-ghostty":
        return "osc9"
    # Inside tmux TERM_PROGRAM says "tmux": these variables of the terminal survive.
    if environ.get("LC_TERMINAL") == "iTerm2" or environ.get("WT_SESSION"):
        return "osc9"
    if any(environ.get(name) for name in _OSC9_TERMINAL_VARIABLES):
        return "osc9"
    if term.startswith("foot") or environ.get("VTE_VERSION") or "rxvt" in term:
        return "osc777"
    return None


def pick_form(setting: str, environ: Mapping[str, str]) -> NotifyForm | None:
    """`desktop_notify` resolved: auto detects, off (or an unknown terminal) is None."""
    if setting == "off":
        return None
    if setting == "auto":
        return detect_form(environ)
    return setting  # type: ignore[return-value]  # config allows only the three forms


def notification(
    form: NotifyForm, title: str, body: str, *, ident: str = "dswatch", tmux: bool = False
) -> bytes:
    """The bytes to write to the terminal for one notification."""
    if form == "osc9":
        sequence = osc9(title, body)
    elif form == "osc777":
        sequence = osc777(title, body)
    else:
        sequence = osc99(title, body, ident)
    return (tmux_wrap(sequence) if tmux else sequence).encode("utf-8")


# ------------------------------------------------------------------ the rules


class NotifyRules:
    """Which news the person hears of: notify_on, overridable per backend."""

    def __init__(self, settings: Settings, backends: Sequence[BackendConfig]) -> None:
        self.settings = settings
        self._default = frozenset(settings.notify_on)
        self._by_backend = {
            b.name: frozenset(b.notify_on) for b in backends if b.notify_on is not None
        }

    def wanted(self, news: NewsLike) -> bool:
        return self.wants(news.state.backend, news.event)

    def wants(self, backend: str, event: str) -> bool:
        return event in self._by_backend.get(backend, self._default)

    def toasts(self, news: Iterable[NewsLike]) -> list[NewsLike]:
        """The news that becomes toasts under `notifications = all | problems | off`."""
        mode = self.settings.notifications
        if mode == "off":
            return []
        return [n for n in news if self.wanted(n) and (mode == "all" or n.event in PROBLEM_EVENTS)]


def describe(news: NewsLike) -> str:
    """One news as a sentence (plain text; sanitized again where it is written)."""
    label = sanitize(news.state.label, max_len=60)
    if news.event == "stuck":
        return f"{label} seems stuck ({news.state.state.value})"
    return f"{label} is now {news.event}"


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return sanitize(value, max_len=1000)
    if isinstance(value, dict):
        return {sanitize(str(k), max_len=100): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    return value


def news_record(news: NewsLike, url: str | None = None) -> dict[str, Any]:
    """One news as JSON: the dataset's summary() (sanitized) and the change.

    The webhook body and `dswatch watch --json` lines; never the raw server body.
    """
    return {
        **_clean_json(news.state.summary()),
        "old_state": news.old.value,
        "event": news.event,
        "at": news.at.isoformat(),
        "url": url,
    }


def burst_text(news: Sequence[NewsLike]) -> tuple[str, str]:
    """Title and body of one notification telling a burst of news."""
    if len(news) == 1:
        return f"dswatch: {news[0].state.backend}", describe(news[0])
    if len(news) <= MAX_NAMED:
        return "dswatch", ", ".join(describe(n) for n in news)
    by_event = Counter(n.event for n in news)
    counts = ", ".join(f"{count} {event}" for event, count in by_event.most_common())
    return "dswatch", f"{len(news)} datasets changed: {counts}"


# --------------------------------------------------------------- the notifier


class TextOut:
    """A BinaryOut over a function that writes text (Textual's `driver.write`)."""

    def __init__(self, write: Callable[[str], Any]) -> None:
        self._write = write

    def write(self, data: bytes, /) -> None:
        self._write(data.decode("utf-8"))

    def flush(self) -> None:
        pass  # the driver flushes its own buffer


def _call_later(delay: float, callback: Callable[[], None]) -> Any:
    import asyncio  # only when scheduling: the module stays cheap to import

    return asyncio.get_running_loop().call_later(delay, callback)


class DesktopNotifier:
    """Writes one desktop notification per burst of news to the terminal.

    `add` is called with each batch's news on the event loop and returns at
    once. The first news after a quiet spell is told at once; news within
    QUIET_SECONDS of the last notification waits and is told together when the
    spell ends. `lookup` (the watch model's `states.get`) drops news that is no
    longer true when its turn comes.
    """

    def __init__(
        self,
        rules: NotifyRules,
        out: BinaryOut,
        *,
        environ: Mapping[str, str],
        lookup: Callable[[Key], DatasetState | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        call_later: Callable[[float, Callable[[], None]], Any] = _call_later,
    ) -> None:
        self.rules = rules
        self.form = pick_form(rules.settings.desktop_notify, environ)
        self.tmux = bool(environ.get("TMUX"))
        self._out = out
        self._lookup = lookup
        self._clock = clock
        self._call_later = call_later
        self._pending: dict[Key, NewsLike] = {}
        self._quiet_until = float("-inf")
        self._timer: Any = None
        self._ids = itertools.count(1)
        self.sent = 0
        self._write_failed = False

    @property
    def enabled(self) -> bool:
        return self.form is not None

    def update_rules(self, rules: NotifyRules, environ: Mapping[str, str]) -> None:
        """A reloaded config: its notify_on and desktop_notify apply to the next news."""
        self.rules = rules
        self.form = pick_form(rules.settings.desktop_notify, environ)

    def add(self, news: Iterable[NewsLike]) -> None:
        if self.form is None:
            return
        for item in news:
            if self.rules.wanted(item):
                self._pending[item.state.key] = item  # the latest news of a dataset wins
        if not self._pending or self._timer is not None:
            return
        now = self._clock()
        if now >= self._quiet_until:
            self._tell(now)
        else:
            self._timer = self._call_later(self._quiet_until - now, self._quiet_over)

    def _quiet_over(self) -> None:
        self._timer = None
        if self._pending:
            self._tell(self._clock())

    def _tell(self, now: float) -> None:
        news = list(self._pending.values())
        self._pending.clear()
        if self._lookup is not None:
            news = [n for n in news if self._still_true(n)]
        if news:
            self._write(*burst_text(news), now)

    def backend_down(self, backend: str, event: str, reason: str) -> None:
        """A backend refusing the credentials (`unauthorized`) or not answering
        (`unreachable`): one notification, at once, when its notify_on names the event.
        Its datasets never make news of it (tui.watch)."""
        if self.form is not None and self.rules.wants(backend, event):
            self._write(f"dswatch: {backend}", f"{backend} is down: {reason}", self._clock())

    def _write(self, title: str, body: str, now: float) -> None:
        if self.form is None:
            return
        data = notification(
            self.form, title, body, ident=f"dswatch{next(self._ids)}", tmux=self.tmux
        )
        try:
            self._out.write(data)
            self._out.flush()
        except (OSError, ValueError) as exc:  # the terminal went away: say so once
            if not self._write_failed:
                log.warning("desktop notification not written: %s", sanitize(str(exc)))
            self._write_failed = True
            return
        self.sent += 1
        self._quiet_until = now + QUIET_SECONDS

    def _still_true(self, news: NewsLike) -> bool:
        assert self._lookup is not None
        current = self._lookup(news.state.key)
        return current is not None and current.state is news.state.state

    def close(self) -> None:
        """Cancel a waiting notification (on exit)."""
        if self._timer is not None and hasattr(self._timer, "cancel"):
            self._timer.cancel()
        self._timer = None
        self._pending.clear()
