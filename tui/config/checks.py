"""`check_credentials`: the rules of tui.credentials, reported at the config file's lines."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..credentials import KeyProblem, insecure_transport, key_problems, variable_problems
from .errors import ConfigError, first_of, format_key
from .model import Config


def check_credentials(config: Config, environ: Mapping[str, str] = os.environ) -> None:
    """Raise ConfigError when a backend's credentials cannot work as written.

    Checks that each named environment variable is set and non-empty, that
    the keys make one coherent method, and that credentials never travel
    over plain http to another host unless `allow_insecure`. Messages name
    the variable, never its value.
    """
    problems: list[ConfigError] = []
    for index, backend in enumerate(config.backends):

        def line(key: str, index: int = index) -> int | None:
            return config.line_of(("backends", index, key))

        found = [
            *key_problems(backend, lambda key: line(key) or 0),
            *variable_problems(backend, environ),
        ]
        if transport := insecure_transport(backend):
            found.append(transport)
        problems += [_located(config, index, line(p.key), p) for p in found]
    if problems:
        raise first_of(problems)


def _located(config: Config, index: int, line: int | None, problem: KeyProblem) -> ConfigError:
    name = config.backends[index].name
    return ConfigError(
        config.path,
        f"backend {name!r}: {problem.message}",
        line=line,
        key=format_key(("backends", index, problem.key)),
    )
