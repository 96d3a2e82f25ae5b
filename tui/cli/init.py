"""`dswatch init`: write a commented config file to start from.

The text is config.example.toml (tui/config.example.toml is a symlink to the
repository's, so the two cannot drift; a wheel gets a copy as package data),
with every `[[backends]]` table commented out: the new file loads as it is,
watches nothing, and documents every key.
"""

from __future__ import annotations

import argparse
import os
from importlib import resources

from .common import EXIT_OK, UsageError, config_path

HEADER = """\
# Written by `dswatch init`. To watch datasets: uncomment one [[backends]]
# table below, export the environment variables it names, then run
#   dswatch add NAME ID-or-web-address
#
"""


def template() -> str:
    """The example config with its backend tables commented out."""
    text = resources.files("tui").joinpath("config.example.toml").read_text(encoding="utf-8")
    lines, in_backends = [], False
    for line in text.splitlines():
        in_backends = in_backends or line.strip() == "[[backends]]"
        if in_backends and line.strip() and not line.lstrip().startswith("#"):
            line = "# " + line
        lines.append(line)
    return HEADER + "\n".join(lines) + "\n"


def init(args: argparse.Namespace) -> int:
    path = config_path(args)
    if path.exists():
        raise UsageError(f"init: {path} already exists; nothing written (edit it, or remove it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # "x": refuse to overwrite even a file created since the check above.
        with open(path, "x", encoding="utf-8", opener=_private) as file:
            file.write(template())
    except FileExistsError:
        raise UsageError(f"init: {path} already exists; nothing written") from None
    except OSError as exc:
        raise UsageError(f"init: cannot write {path}: {exc.strerror or exc}") from None
    print(f"wrote {path}")
    print("next: uncomment a [[backends]] table in it, then: dswatch add NAME ID")
    return EXIT_OK


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)  # it will name credential variables: keep it private
