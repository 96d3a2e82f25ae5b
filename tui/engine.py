"""Assemble what is being watched: config -> backends -> poller.

Shared by the one-shot commands, the dashboard and the benchmarks; no Textual.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from . import credentials
from .backends import BackendConfigError, make_backend
from .backends.base import Backend
from .config import BackendConfig, Config, ConfigError, check_credentials, load_config
from .poller import Poller

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

    @property
    def is_demo(self) -> bool:
        return self.simulator is not None

    async def aclose(self) -> None:
        await self.poller.aclose()


def credential_hint(cfg: BackendConfig, environ: Mapping[str, str] = os.environ) -> str:
    """What to fix when a backend refuses us: env var names, never values."""
    return credentials.credential_hint(cfg, environ)


def build_engine(
    config: Config,
    config_path: Path | None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    simulator: Simulator | None = None,
    environ: Mapping[str, str] = os.environ,
    **poller_options: object,
) -> Engine:
    backends: dict[str, Backend] = {}
    for index, cfg in enumerate(config.backends):
        try:
            backends[cfg.name] = make_backend(
                cfg, config.settings, transport=transport, environ=environ
            )
        except BackendConfigError as exc:  # e.g. an unreadable ca_bundle
            raise ConfigError(config_path, str(exc), key=f"backends[{index}]") from None
    hints = {b.name: credential_hint(b, environ) for b in config.backends}
    poller = Poller.from_config(config, backends, credential_hints=hints, **poller_options)
    log.info(
        "watching %d datasets on %d backends (%s)",
        sum(len(b.datasets) for b in config.backends),
        len(backends),
        "demo" if simulator is not None else config_path,
    )
    return Engine(config, config_path, backends, poller, simulator)


def load_engine(config_path: Path, environ: Mapping[str, str] = os.environ) -> Engine:
    """Read and check the config file, then build. Raises ConfigError."""
    config = load_config(config_path)
    check_credentials(config, environ)
    return build_engine(config, config_path, environ=environ)


def demo_engine(seed: int | None = None, **poller_options: object) -> Engine:
    """The built-in demo: the simulator in-process, no account, no network."""
    from .sim.demo import demo_config, demo_simulator

    simulator = demo_simulator(seed=seed)
    config = demo_config(simulator)
    transport = httpx.ASGITransport(app=simulator.app)
    return build_engine(config, None, transport=transport, simulator=simulator, **poller_options)


# Container allocations between two young-generation collections (CPython's default: 700).
GC_YOUNG_THRESHOLD = 10_000


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
