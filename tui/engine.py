"""Assemble what is being watched: config -> backends -> poller -> watch model.

Shared by the one-shot commands, the dashboard and the benchmarks; no Textual.
A backend whose credentials or settings cannot work is still built, as one
that answers `unauthorized` with the fix: one broken backend never stops the
others.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from . import credentials
from .backends import BackendConfigError, make_backend
from .backends.base import Backend, FetchResult, RemoteDataset
from .config import BackendConfig, Config, load_config
from .follow import Follower
from .models import DatasetState, Failure, State, unreadable
from .poller import Poller
from .watch import WatchModel

if TYPE_CHECKING:
    from .sim import Simulator

log = logging.getLogger(__name__)


@dataclass
class Engine:
    config: Config
    config_path: Path | None  # None when nothing is saved (the demo)
    backends: dict[str, Backend]
    poller: Poller
    simulator: Simulator | None = None
    follower: Follower | None = None  # backends with `follow`: their lists add datasets

    @property
    def model(self) -> WatchModel:
        return self.poller.model

    @property
    def is_demo(self) -> bool:
        return self.simulator is not None

    async def aclose(self) -> None:
        await self.poller.aclose()


def credential_hint(cfg: BackendConfig, environ: Mapping[str, str] = os.environ) -> str:
    """What to fix when a backend refuses us: env var names, never values."""
    return credentials.credential_hint(cfg, environ)


class UnusableBackend(Backend):
    """A backend whose config cannot be used (e.g. credentials over plain http).

    Never sends a request: every dataset reads `unauthorized` with the reason,
    so the grid says what to fix while every other backend runs.
    """

    batch_size: ClassVar[int] = 1000

    def __init__(self, cfg: BackendConfig, reason: str) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.reason = reason

    def __repr__(self) -> str:
        return f"UnusableBackend({self.name!r})"

    async def fetch(self, ids: Sequence[str], previous: Mapping[str, DatasetState]) -> FetchResult:
        failure = Failure(kind="config", message=self.reason)
        states = unreadable(self.name, ids, State.UNAUTHORIZED, failure)
        return FetchResult(states=states, unauthorized=True)

    async def list_datasets(self) -> list[RemoteDataset]:
        from .backends.base import BackendError

        raise BackendError(self.reason)

    async def details(self, dataset_id: str) -> dict[str, Any]:
        return {}

    async def aclose(self) -> None:
        return None


def build_engine(
    config: Config,
    config_path: Path | None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    simulator: Simulator | None = None,
    environ: Mapping[str, str] = os.environ,
    model: WatchModel | None = None,
    **poller_options: object,
) -> Engine:
    backends: dict[str, Backend] = {}
    hints: dict[str, str] = {}
    for cfg in config.backends:
        try:
            backends[cfg.name] = make_backend(
                cfg, config.settings, transport=transport, environ=environ
            )
            hints[cfg.name] = credential_hint(cfg, environ)
        except BackendConfigError as exc:  # credentials over plain http, an unreadable ca_bundle
            log.warning("backend %s cannot be used: %s", cfg.name, exc)
            backends[cfg.name] = UnusableBackend(cfg, str(exc))
            hints[cfg.name] = "fix this backend in the config file (dswatch reloads it)"
    poller = Poller.from_config(
        config, backends, credential_hints=hints, model=model, **poller_options
    )
    follower = Follower(poller, config.backends, backends, config.settings)
    if follower:
        poller.add_companion(follower)
    log.info(
        "watching %d datasets on %d backends (%s)",
        sum(len(b.datasets) for b in config.backends),
        len(backends),
        "demo" if simulator is not None else config_path,
    )
    return Engine(config, config_path, backends, poller, simulator, follower or None)


def load_engine(
    config_path: Path,
    environ: Mapping[str, str] = os.environ,
    *,
    model: WatchModel | None = None,
    **poller_options: object,
) -> Engine:
    """Read the config file and build. Raises ConfigError for a file that cannot be read.

    Credentials that cannot be resolved (an unset variable) are not an error
    here: that backend reads `unauthorized` with the fix, the others run.
    """
    config = load_config(config_path)
    return build_engine(config, config_path, environ=environ, model=model, **poller_options)


def demo_engine(seed: int | None = None, **poller_options: object) -> Engine:
    """The built-in demo: the simulator in-process, no account, no network."""
    from .sim.demo import demo_config, demo_simulator

    simulator = demo_simulator(seed=seed)
    config = demo_config(simulator)
    transport = httpx.ASGITransport(app=simulator.app)
    return build_engine(config, None, transport=transport, simulator=simulator, **poller_options)


# Container allocations between two young-generation collections (CPython's default: 700).
# 50,000: at 5,000 changing reads a second most states are replaced before a collection
# sees them; GC took 0.4-0.65% of a core instead of 1.3-1.6% at 10,000 (dashboard,
# 1 s / 1 s, 3 alternated runs; benchmarks/README.md).
GC_YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    """Garbage collection for a long watch: most objects die young, the rest never do.

    Each poll replaces thousands of states, so the young generation fills (and is
    collected) hundreds of times a second, and survivors trigger full collections
    that walk everything alive. Everything alive at start (modules, Textual, the
    config) is frozen out of those walks, and the young generation is collected
    less often. benchmarks/README.md has the figures. (Frozen objects are still
    freed when nothing refers to them; only a cycle among them, e.g. of an engine
    replaced after a config reload, is kept.)
    """
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
    gc.enable()  # `dswatch` starts with collection off (tui.launch)
