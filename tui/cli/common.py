"""What every command shares: exit codes, usage errors, opening the engine."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import default_config_path, secret_warnings
from ..models import State

if TYPE_CHECKING:
    from ..engine import Engine
    from ..history_link import HistoryLink

# Exit codes: 0 fine, 1 a dataset could not be read or failed (see each
# command), 2 usage or config errors, 124 `wait` timed out.
EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 124
UNREADABLE = frozenset({State.NOT_FOUND, State.UNAUTHORIZED, State.UNREACHABLE})
WAIT_FAILS = frozenset({State.ERROR, State.NOT_FOUND, State.UNAUTHORIZED})


class UsageError(Exception):
    """Bad arguments: printed with the command's name, exit 2."""


def config_path(args: argparse.Namespace) -> Path:
    return args.config.expanduser() if args.config else default_config_path()


def open_history(
    args: argparse.Namespace, engine: Engine, keys: Iterable[tuple[str, str]] | None = None
) -> HistoryLink | None:
    """The history store joined to the engine's model, seeded with the last known
    state of `keys` (all watched datasets when None); None for the demo. A store
    that cannot be used, at start or later, is one stderr line (and a log line);
    the command runs on."""
    from ..history_link import HistoryLink, history_off

    if args.demo or history_off():
        return None

    if keys is None:
        keys = [(b.name, i) for b in engine.config.backends for i in b.datasets]
    history = HistoryLink.for_settings(engine.model, keys, engine.config.settings)
    history.on_warning = warn  # a write that fails mid-run or at close: once too
    if history.warning:
        warn(history.warning)
    return history


def warn(warning: str) -> None:
    print(f"dswatch: warning: {warning}", file=sys.stderr, flush=True)


def open_engine(args: argparse.Namespace, **poller_options: object) -> Engine:
    # httpx and the poller: imported by the commands that poll, never by `add` or --help.
    from ..engine import demo_engine, load_engine

    if args.demo:
        return demo_engine(**poller_options)
    path = config_path(args)
    for warning in secret_warnings(path):
        print(f"dswatch: warning: {warning}", file=sys.stderr)
    return load_engine(path, **poller_options)
