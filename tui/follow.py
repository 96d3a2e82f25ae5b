"""Follow a whole backend: watch what its own dataset list says, not only listed IDs.

`follow = "all"` on a backend watches every dataset its list endpoint
returns; `follow = ["prod-*", "nightly-?"]` only those whose name (or ID)
matches one of the patterns (`fnmatch`, case-sensitive). The backend's
explicit `datasets` are watched beside them, always.

The `Follower` lists each following backend once at start and then every
settled_interval (sooner, every poll_interval, after a failed list), and
reconciles the poller with the answer: new datasets are added at once (their
rows appear, the next sweep reads them), datasets that are no longer listed
are removed (their rows leave the grid) and said so: one `FollowChange` per
backend and list, to listeners (the dashboard toasts it) and to the log.
Only a successful list changes anything: a backend that is down or refuses
us keeps every dataset it had.

Neither API pages its list (docs/api-visual-layer.md, docs/api-cognee.md):
one request per backend per settled_interval is the whole cost
(benchmarks/batching.py measures it). No Textual here.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .backends.base import Backend, BackendError, RemoteDataset
from .config import BackendConfig, Settings
from .models import utcnow
from .text import sanitize

if TYPE_CHECKING:
    from .poller import Poller

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
MAX_NAMES_LOGGED = 10  # a removal of thousands is one line, not thousands


@dataclass(frozen=True, slots=True)
class FollowChange:
    """What one list changed for one backend."""

    backend: str
    added: list[str]  # dataset IDs now watched
    removed: list[tuple[str, str]]  # (ID, what the grid called it) no longer listed
    at: datetime

    def describe(self) -> str:
        """One line for a toast or the log (names are server text: sanitized)."""
        parts = []
        if self.added:
            parts.append(f"{len(self.added)} new dataset{_s(self.added)} now watched")
        if self.removed:
            names = ", ".join(sanitize(label, max_len=60) for _, label in self.removed[:3])
            more = f" and {len(self.removed) - 3} more" if len(self.removed) > 3 else ""
            parts.append(
                f"{len(self.removed)} dataset{_s(self.removed)} no longer listed, "
                f"no longer watched: {names}{more}"
            )
        return f"{self.backend}: " + "; ".join(parts)


def follows(follow: str | list[str] | None, dataset: RemoteDataset) -> bool:
    """Does a backend's `follow` setting take this listed dataset?"""
    if follow is None:
        return False
    if follow == "all":
        return True
    return any(
        fnmatch.fnmatchcase(dataset.name or "", pattern) or fnmatch.fnmatchcase(dataset.id, pattern)
        for pattern in follow
    )


@dataclass
class _Followed:
    cfg: BackendConfig
    backend: Backend
    explicit: frozenset[str]
    followed: set[str] = field(default_factory=set)  # IDs watched because the list had them
    listed_once: bool = False


class Follower:
    """Keeps each following backend's watched datasets equal to its list plus `datasets`."""

    def __init__(
        self,
        poller: Poller,
        configs: Iterable[BackendConfig],
        backends: Mapping[str, Backend],
        settings: Settings,
        *,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.poller = poller
        self.settings = settings
        self.sleep = sleep
        self.now = now
        self.backends = {
            cfg.name: _Followed(cfg, backends[cfg.name], frozenset(cfg.datasets))
            for cfg in configs
            if cfg.follow is not None and cfg.name in backends
        }
        self._listeners: list[Callable[[FollowChange], object]] = []

    def __bool__(self) -> bool:
        return bool(self.backends)

    def subscribe(self, listener: Callable[[FollowChange], object]) -> None:
        """Hear every list that changed something (called on the event loop)."""
        self._listeners.append(listener)

    def following_rule(self, backend: str, dataset_id: str) -> str | None:
        """The `follow` setting that watches this dataset, when its list does
        (removing it elsewhere would not stop that: the next list brings it back)."""
        entry = self.backends.get(backend)
        if entry is None or dataset_id not in entry.followed:
            return None
        follow = entry.cfg.follow
        shown = (
            '"all"' if follow == "all" else "[" + ", ".join(f'"{p}"' for p in follow or []) + "]"
        )
        return f"follow = {shown}"

    # -- the poller's companion interface -------------------------------------

    async def prepare(self) -> None:
        """One list of every following backend (before a one-shot sweep: `status`)."""
        await asyncio.gather(*(self.sync(name) for name in self.backends))

    async def run(self) -> None:
        """List every following backend forever; never raises (the poller awaits it)."""
        await asyncio.gather(*(self._loop(name) for name in self.backends))

    async def _loop(self, name: str) -> None:
        while True:
            ok = await self.sync(name)
            await self.sleep(self.settings.settled_interval if ok else self.settings.poll_interval)

    # -- one list --------------------------------------------------------------

    async def sync(self, name: str) -> bool:
        """List one backend and reconcile; False when the list failed (nothing changes)."""
        entry = self.backends[name]
        try:
            listed = await entry.backend.list_datasets()
        except asyncio.CancelledError:
            raise
        except BackendError as exc:
            log.info("backend %s: dataset list failed: %s", name, sanitize(str(exc), max_len=200))
            return False
        except Exception:  # a backend bug must not stop the watch
            log.exception("backend %s: dataset list failed", name)
            return False
        change = self.reconcile(name, listed)
        if change is not None:
            self._tell(change)
        return True

    def reconcile(self, name: str, listed: Iterable[RemoteDataset]) -> FollowChange | None:
        """Add what the list has and we do not watch; remove what we followed and it lost."""
        entry = self.backends[name]
        wanted = {d.id for d in listed if follows(entry.cfg.follow, d)}
        if name not in self.poller.backends:
            return None
        watched = {dataset_id for _, dataset_id in self.poller.watched(name)}
        new = [i for i in wanted if i not in watched]
        gone = sorted(entry.followed - wanted - entry.explicit)
        first = not entry.listed_once
        entry.listed_once = True
        entry.followed = (entry.followed | wanted) - set(gone)
        if new:
            self.poller.add(name, new)
        if gone:
            states = self.poller.model.states
            labels = [
                (i, state.label if (state := states.get((name, i))) is not None else i)
                for i in gone
            ]
            self.poller.remove(name, gone)
        else:
            labels = []
        if not new and not gone:
            return None
        if first:
            # Starting up is not news: one log line, no toast.
            log.info("backend %s: following %d listed datasets", name, len(entry.followed))
            return None
        return FollowChange(name, new, labels, self.now())

    def _tell(self, change: FollowChange) -> None:
        if change.removed:
            shown = ", ".join(
                sanitize(label, max_len=60) for _, label in change.removed[:MAX_NAMES_LOGGED]
            )
            log.info(
                "backend %s: %d dataset(s) no longer listed, no longer watched: %s",
                change.backend,
                len(change.removed),
                shown,
            )
        if change.added:
            added = len(change.added)
            log.info("backend %s: %d new listed dataset(s) watched", change.backend, added)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # one broken listener must not stop the others
                log.exception("follow listener failed")


def _s(items: list[object] | list[str] | list[tuple[str, str]]) -> str:
    return "" if len(items) == 1 else "s"
