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


# Up to this many entries a dataset's are one exact-size tuple, rebuilt on each
# append; beyond, a list (the 200 of a run without the store).
_TUPLE_MAX = 4


class History:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        # Per dataset. With the history store (tui.history_link) the store holds the
        # history and this only the newest few, not yet written (issue 17: memory).
        self.max_entries = max_entries
        # backend -> dataset ID -> entries, oldest first: keyed by the ID strings the
        # config and the states share (a (backend, id) key would be one more tuple
        # per dataset, hashed again on each lookup).
        self._entries: dict[str, dict[str, tuple[Transition, ...] | list[Transition]]] = {}

    def record(self, state: DatasetState) -> bool:
        """Append when state or status differs from the last entry; True if appended."""
        at, now = state.polled_at, state.state
        if at is None or now in FAILED_STATES:
            # A placeholder, or a poll that read nothing: the dataset's own history
            # is what it was when read (an outage is the backend's, told once).
            return False
        of_backend = self._entries.get(state.backend)
        if of_backend is None:
            of_backend = self._entries[state.backend] = {}
        dataset_id = state.id
        entries = of_backend.get(dataset_id)
        if entries is not None:
            last = entries[-1]
            if last.state is now and last.status == state.status:
                return False  # the common case: polled again, nothing new
        entry = _transition(at, now, state.status)
        keep = self.max_entries
        if keep <= _TUPLE_MAX:
            if entries is None:
                of_backend[dataset_id] = (entry,)
            else:
                of_backend[dataset_id] = (*entries[max(0, len(entries) + 1 - keep) :], entry)
        elif entries is None:
            of_backend[dataset_id] = [entry]
        else:
            if type(entries) is tuple:  # the limit was raised
                entries = of_backend[dataset_id] = list(entries)
            entries.append(entry)  # type: ignore[union-attr]
            if len(entries) > keep:
                del entries[:-keep]  # type: ignore[union-attr]
        return True

    def of(self, key: tuple[str, str]) -> list[Transition]:
        return list(self._entries.get(key[0], {}).get(key[1], ()))

    def forget(self, key: tuple[str, str]) -> None:
        of_backend = self._entries.get(key[0])
        if of_backend is not None:
            of_backend.pop(key[1], None)
            if not of_backend:
                del self._entries[key[0]]


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
