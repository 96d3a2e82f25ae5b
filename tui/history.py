"""State changes seen this run, per dataset, for the details screen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import FAILED_STATES, DatasetState, State

MAX_ENTRIES = 200  # per dataset: a dashboard open for days must not grow without bound


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime
    state: State
    status: str | None


# A Transition built through its slots: a frozen dataclass's __init__ sets each
# field with object.__setattr__ (twice the cost), and one is built per change of
# any dataset (benchmarks/model.py).
_new_object = object.__new__
_set_at = Transition.at.__set__  # type: ignore[attr-defined]
_set_state = Transition.state.__set__  # type: ignore[attr-defined]
_set_status = Transition.status.__set__  # type: ignore[attr-defined]


def _transition(at: datetime, state: State, status: str | None) -> Transition:
    entry = _new_object(Transition)
    _set_at(entry, at)
    _set_state(entry, state)
    _set_status(entry, status)
    return entry


class History:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        # Per dataset. With the history store (tui.history_link) the store holds the
        # history and this only the newest few, not yet written (issue 17: memory).
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str], list[Transition]] = {}

    def record(self, state: DatasetState, key: tuple[str, str] | None = None) -> bool:
        """Append when state or status differs from the last entry; True if appended.
        `key`: the state's, when the caller has it already."""
        at, now = state.polled_at, state.state
        if at is None or now in FAILED_STATES:
            # A placeholder, or a poll that read nothing: the dataset's own history
            # is what it was when read (an outage is the backend's, told once).
            return False
        if key is None:
            key = (state.backend, state.id)
        entries = self._entries.get(key)
        if entries is None:
            entries = self._entries[key] = []
        else:
            last = entries[-1]
            if last.state is now and last.status == state.status:
                return False  # the common case: polled again, nothing new
        entries.append(_transition(at, now, state.status))
        if len(entries) > self.max_entries:
            del entries[: -self.max_entries]
        return True

    def of(self, key: tuple[str, str]) -> list[Transition]:
        return list(self._entries.get(key, ()))

    def forget(self, key: tuple[str, str]) -> None:
        self._entries.pop(key, None)


def format_duration(seconds: float) -> str:
    """4m12s, 2h05m, 3d04h: two units, the way people read durations."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def durations(entries: list[Transition], now: datetime) -> list[tuple[Transition, float]]:
    """Each transition with how long it lasted (the last one: until now)."""
    out = []
    for index, entry in enumerate(entries):
        end = entries[index + 1].at if index + 1 < len(entries) else now
        out.append((entry, (end - entry.at).total_seconds()))
    return out
