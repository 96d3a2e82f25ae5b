"""What every command shares: exit codes, usage errors, opening the engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import default_config_path, secret_warnings
from ..engine import Engine, demo_engine, load_engine
from ..models import State

# Exit codes: 0 fine, 1 a dataset could not be read or failed (see each
# command), 2 usage or config errors, 124 `wait` timed out.
EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 124
UNREADABLE = frozenset({State.NOT_FOUND, State.UNAUTHORIZED, State.UNREACHABLE})
WAIT_FAILS = frozenset({State.ERROR, State.NOT_FOUND, State.UNAUTHORIZED})


class UsageError(Exception):
    """Bad arguments: printed with the command's name, exit 2."""


def config_path(args: argparse.Namespace) -> Path:
    return args.config.expanduser() if args.config else default_config_path()


def open_engine(args: argparse.Namespace, **poller_options: object) -> Engine:
    if args.demo:
        return demo_engine(**poller_options)
    path = config_path(args)
    for warning in secret_warnings(path):
        print(f"dswatch: warning: {warning}", file=sys.stderr)
    return load_engine(path, **poller_options)
