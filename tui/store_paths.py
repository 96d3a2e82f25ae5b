"""Where the history store's file lives, importable without the store itself.

`dswatch --help` names this path before any command runs, so the CLI reads it
here instead of importing tui.store (sqlite3 and the store's modules); the
store re-exports these names.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["FILE_NAME", "STATE_DIR_ENV", "default_path"]

FILE_NAME = "history.sqlite3"
STATE_DIR_ENV = "DSWATCH_STATE_DIR"


def default_path() -> Path:
    """$DSWATCH_STATE_DIR/history.sqlite3, else the platform's user state directory."""
    override = os.environ.get(STATE_DIR_ENV)
    base = Path(override) if override else platformdirs.user_state_path("dswatch")
    return base / FILE_NAME
