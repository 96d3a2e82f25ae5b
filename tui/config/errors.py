"""Config errors: one `ConfigError` that names the file, the line and the key."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

# A key path into the config: ("backends", 1, "datasets", 0).
Loc = tuple[str | int, ...]


class ConfigError(Exception):
    """A problem with the config file, located as precisely as we can.

    `str()` reads `/path/config.toml:12: backends[1].datasets[0]: message`;
    the parts that are unknown are left out. `others` holds the further
    problems found in the same pass (the first one is this error).
    """

    def __init__(
        self,
        path: Path | None,
        message: str,
        *,
        line: int | None = None,
        key: str | None = None,
        column: int | None = None,
        others: Sequence[ConfigError] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.line = line
        self.key = key
        self.column = column
        self.others = list(others)

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.path, self.line, self.column) if part)
        text = ": ".join(part for part in (where, self.key, self.message) if part)
        if self.others:
            count = len(self.others)
            text += f" (and {count} more {'problem' if count == 1 else 'problems'})"
        return text


class LocatedValueError(ValueError):
    """A validator error about one part of the value (a list item, a key of an item).

    Pydantic locates an error at the field being validated; `suffix` carries
    the rest of the way, so a duplicate ID is reported at `datasets[3]`.
    """

    def __init__(self, message: str, suffix: Loc) -> None:
        super().__init__(message)
        self.suffix = suffix


def format_key(loc: Loc) -> str:
    """("backends", 1, "datasets", 0) -> "backends[1].datasets[0]"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def first_of(problems: list[ConfigError]) -> ConfigError:
    """The first problem in file order, carrying the others."""
    ordered = sorted(problems, key=lambda p: p.line if p.line is not None else math.inf)
    first = ordered[0]
    first.others = ordered[1:]
    return first
