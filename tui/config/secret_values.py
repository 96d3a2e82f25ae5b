"""Secrets in the config file: recognizing them without ever showing them.

The config holds the NAMES of environment variables. These heuristics catch a
value pasted where a name belongs (refused by the model) and secrets written
into a file other users can read (`secret_warnings`). Which keys name a
credential is one rule for the whole program: `tui.secrets.is_secret_key`.
"""

from __future__ import annotations

import math
import re
import stat
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..secrets import is_secret_key
from .errors import ConfigError, Loc, format_key
from .toml_text import MAX_CONFIG_BYTES, decode, parse_toml

ENV_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # use with fullmatch
_UPPER_SNAKE_RE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+")
# Prefixes of well-known token formats: JWTs, OpenAI/Stripe, GitHub, Slack, AWS, GitLab.
_SECRET_PREFIXES = (
    "eyJ",
    "sk-",
    "sk_",
    "pk_",
    "rk_",
    "ghp_",
    "gho_",
    "github_pat_",
    "xox",
    "AKIA",
    "ASIA",
    "glpat-",
)
_MIN_SECRET_LENGTH = 16
# Random keys switch between letters and digits often; names (CogneeApiKey2) rarely do.
_SECRET_SWITCHES = 3
# Bits per character: random base64/hex strings score above, words and names below.
_SECRET_ENTROPY = 3.5


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _letter_digit_switches(text: str) -> int:
    return sum(
        (a.isalpha() and b.isdigit()) or (a.isdigit() and b.isalpha()) for a, b in pairwise(text)
    )


def looks_like_secret(value: str) -> bool:
    """A guess that `value` is a token, key or password rather than a name.

    Tuned to say no to environment variable names (VL_API_KEY_PROD_2,
    CogneeApiKey2024) and words, and yes to API keys, JWTs,
    base64 and hex strings.
    """
    text = value.strip()
    if len(text) < _MIN_SECRET_LENGTH:
        return False
    if _UPPER_SNAKE_RE.fullmatch(text):  # before the prefixes: ASIA_REGION_TOKEN is a name
        return False
    if text.startswith(_SECRET_PREFIXES):
        return True
    if _letter_digit_switches(text) >= _SECRET_SWITCHES:
        return True
    # Not even shaped like a name (base64 has + / =): judge by randomness.
    has_letter_and_digit = any(c.isalpha() for c in text) and any(c.isdigit() for c in text)
    return (
        not ENV_VAR_NAME_RE.fullmatch(text)
        and has_letter_and_digit
        and _entropy(text) >= _SECRET_ENTROPY
    )


def env_var_name(value: str) -> str:
    # Never echo the value: it may be the secret itself, pasted in the wrong place.
    if looks_like_secret(value):
        raise ValueError(
            "this looks like a secret pasted in place of an environment variable NAME;"
            " put the secret in an environment variable and write that variable's name"
            " here (for example VL_API_KEY)"
        )
    if not ENV_VAR_NAME_RE.fullmatch(value):
        raise ValueError(
            "not an environment variable name (letters, digits and _, not starting with a digit)"
        )
    return value


def secret_warnings(path: Path) -> list[str]:
    """Warnings about secrets written into a file other users can read.

    Empty when the file is private (no group/other read bit), unreadable,
    not TOML, or holds nothing that looks like a secret. A warning names the
    key, never the value.
    """
    path = Path(path).expanduser()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if not mode & (stat.S_IRGRP | stat.S_IROTH):
            return []
        with path.open("rb") as file:
            text, _ = decode(file.read(MAX_CONFIG_BYTES + 1), path)
        data = parse_toml(text, path)
    except (OSError, ConfigError):
        return []  # loading reports these, with the line
    return [
        f"{path} is readable by other users (mode {mode:o}) and {format_key(loc)} looks like"
        f" it holds a secret: move the secret into an environment variable, write the"
        f" variable's name here, and run chmod 600 {path}"
        for loc in _secret_locations(data)
    ]


def _secret_locations(value: Any, loc: Loc = ()) -> Iterator[Loc]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_locations(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secret_locations(item, (*loc, index))
    elif isinstance(value, str) and loc and _is_secret_value(str(loc[-1]), value):
        yield loc


def _is_secret_value(key: str, value: str) -> bool:
    if key.endswith("_env"):
        return looks_like_secret(value)
    if key == "token_command":  # e.g. `echo sk-...`: check each word, skip paths and flags
        words = [w for w in value.split() if not w.startswith(("/", "~", "-", "."))]
        return any(looks_like_secret(word) for word in words)
    if key in ("url", "web_url"):
        return urlsplit(value).password is not None  # https://user:password@host
    return is_secret_key(key) and bool(value.strip())
