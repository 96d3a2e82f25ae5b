"""The config file: one package, a module per job. `from tui.config import X` is the API.

- `errors`: ConfigError, which names the file, the line and the key;
- `toml_text`: size, BOM and nesting bounds before tomllib, the line index;
- `model`: the pydantic models (credentials are env var NAMES, never values);
- `load`: reading and validating, every problem one located ConfigError;
- `checks`: `check_credentials`, the rules of tui.credentials at file lines;
- `secret_values`: secrets pasted where a name belongs, or readable by others;
- `save` / `edit`: locked, atomic, comment-keeping edits (tomlkit, lazily);
- `watch`: ConfigWatcher, one stat() per check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .checks import check_credentials
from .errors import ConfigError, Loc, format_key
from .load import load_config
from .model import (
    COGNEE_PIPELINES,
    DEFAULT_NOTIFY_ON,
    BackendConfig,
    BackendType,
    Config,
    HookConfig,
    NotifyEvent,
    Settings,
    default_config_path,
)
from .secret_values import ENV_VAR_NAME_RE, looks_like_secret, secret_warnings

if TYPE_CHECKING:
    from .edit import add_backend, add_datasets, remove_datasets
    from .watch import ConfigWatcher

# Editing (and its locked saves) and watching the file are imported when first used:
# `status` and `wait` only load. (PEP 562: `from tui.config import add_datasets` works.)
_LAZY = {
    "add_backend": "edit",
    "add_datasets": "edit",
    "remove_datasets": "edit",
    "ConfigWatcher": "watch",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "COGNEE_PIPELINES",
    "DEFAULT_NOTIFY_ON",
    "ENV_VAR_NAME_RE",
    "BackendConfig",
    "BackendType",
    "Config",
    "ConfigError",
    "ConfigWatcher",
    "HookConfig",
    "Loc",
    "NotifyEvent",
    "Settings",
    "add_backend",
    "add_datasets",
    "check_credentials",
    "default_config_path",
    "format_key",
    "load_config",
    "looks_like_secret",
    "remove_datasets",
    "secret_warnings",
]
