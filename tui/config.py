"""The config file: pydantic models, strict TOML loading, safe edits, platformdirs paths.

Loading turns every problem into one `ConfigError` that names the file, the
line and the key (`backends[1].datasets[0]`), never a traceback. Editing goes
through tomlkit so the user's comments and layout survive, touches only
`datasets` (or appends a new `[[backends]]` table), re-reads the file right
before changing it, and replaces it atomically: a crash leaves the old file,
and an edit made meanwhile by someone else is never overwritten.

Credentials are always the *names* of environment variables; no function here
ever puts a credential's value into a message.
"""

from __future__ import annotations

import difflib
import glob
import hashlib
import ipaddress
import logging
import math
import os
import re
import stat
import tempfile
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import platformdirs
import tomlkit
import tomlkit.exceptions
import tomlkit.items
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from .models import InvalidDatasetId, normalize_dataset_id, split_ids

log = logging.getLogger(__name__)

BackendType = Literal["visual_layer", "cognee"]
COGNEE_PIPELINES = ("add_pipeline", "cognify_pipeline", "code_graph_pipeline")

# A key path into the config: ("backends", 1, "datasets", 0).
Loc = tuple[str | int, ...]

# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


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


class _LocatedValueError(ValueError):
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


# --------------------------------------------------------------------------
# Secrets: recognizing them without ever showing them
# --------------------------------------------------------------------------

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


def _env_var_name(value: str) -> str:
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


EnvVarName = Annotated[str, AfterValidator(_env_var_name)]
# Each item is checked on its own, so a bad ID is reported at its index.
DatasetId = Annotated[str, AfterValidator(normalize_dataset_id)]

# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------


# What `notify_on` and hooks' `on` may name: the states worth telling, and `stuck`.
NotifyEvent = Literal[
    "pending",
    "running",
    "partial",
    "ready",
    "error",
    "not_found",
    "unauthorized",
    "unreachable",
    "unknown",
    "stuck",
]
DEFAULT_NOTIFY_ON: tuple[NotifyEvent, ...] = (
    "ready",
    "partial",
    "error",
    "not_found",
    "unauthorized",
    "stuck",
)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    poll_interval: float = Field(5.0, gt=0)  # s between polls of a dataset still processing
    settled_interval: float = Field(60.0, gt=0)  # s between polls of a READY / ERROR dataset
    timeout: float = Field(10.0, gt=0)  # s per HTTP request
    max_concurrency: int = Field(12, ge=1, le=64)  # requests in flight per backend
    bell: bool = False  # ring the terminal bell with the notifications
    # Toasts in the dashboard: every notify_on event, only problems, or none.
    notifications: Literal["all", "problems", "off"] = "all"
    # Desktop notifications through the terminal's OSC sequences (auto: by $TERM_PROGRAM).
    desktop_notify: Literal["auto", "osc9", "osc777", "osc99", "off"] = "auto"
    # Which new states are news (toasts, desktop notifications); per backend overridable.
    notify_on: list[NotifyEvent] = Field(default_factory=lambda: list(DEFAULT_NOTIFY_ON))
    history_days: float = Field(30.0, gt=0)  # days of history kept in the local store
    history_max_mb: float = Field(100.0, gt=0)  # size cap of the store; oldest pruned first
    # s without a state or progress change before a running dataset is `stuck?`
    # (unset: 3x its median run, or 1 h without history)
    stuck_after: float | None = Field(None, gt=0)
    max_hooks_running: int = Field(4, ge=1, le=64)  # hook commands / webhooks at once


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must start with http:// or https:// and name a host")
    return value


class BackendConfig(BaseModel):
    # hide_input_in_errors: a ValidationError printed by anyone must not show a pasted secret.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    type: BackendType
    url: str
    # Credentials: the *names* of environment variables, never the values.
    api_key_env: EnvVarName | None = None
    api_secret_env: EnvVarName | None = None  # Visual Layer: sign JWTs with key + secret
    token_env: EnvVarName | None = None  # a ready bearer token
    token_command: str | None = None  # a command that prints a bearer token
    username_env: EnvVarName | None = None  # Cognee: form login, again on 401
    password_env: EnvVarName | None = None
    pipelines: list[str] = Field(default_factory=lambda: ["add_pipeline", "cognify_pipeline"])
    datasets: list[DatasetId] = Field(default_factory=list)
    allow_insecure: bool = False  # allow credentials over plain http to a non-loopback host
    ca_bundle: str | None = None  # PEM file of a private CA
    web_url: str | None = None  # dataset page template with {id}; Cognee has none by default
    notify_on: list[NotifyEvent] | None = None  # overrides settings.notify_on for this backend
    # Watch every dataset the backend lists ("all") or those whose name matches a
    # pattern (fnmatch: "prod-*"), besides `datasets`.
    follow: Literal["all"] | list[str] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_http_url(value).rstrip("/")

    @field_validator("web_url")
    @classmethod
    def _web_url(cls, value: str | None) -> str | None:
        if value is not None:
            _check_http_url(value)
            if "{id}" not in value:
                raise ValueError("must contain {id} where the dataset ID goes")
        return value

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, values: list[str]) -> list[str]:
        first_index: dict[str, int] = {}
        for index, value in enumerate(values):
            if value in first_index:
                raise _LocatedValueError(
                    f"dataset {value} is listed twice (first at datasets[{first_index[value]}])",
                    (index,),
                )
            first_index[value] = index
        return values

    @field_validator("pipelines")
    @classmethod
    def _pipelines(cls, values: list[str]) -> list[str]:
        for index, value in enumerate(values):
            if value not in COGNEE_PIPELINES:
                known = ", ".join(COGNEE_PIPELINES)
                raise _LocatedValueError(f"unknown pipeline {value!r} (one of {known})", (index,))
        if not values:
            raise ValueError("name at least one pipeline")
        return list(dict.fromkeys(values))


class HookConfig(BaseModel):
    """A command or a webhook run on a dataset's real state change."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    on: list[NotifyEvent] | None = None  # None: any change ("any" in the file)
    backends: list[str] | None = None  # only these backends' datasets (all when unset)
    # An argument list run without a shell; the change is in DSWATCH_* variables.
    command: list[str] | None = Field(None, min_length=1)
    url_env: EnvVarName | None = None  # a variable holding a webhook URL (https or loopback)
    timeout: float = Field(10.0, gt=0, le=600)

    @field_validator("on", mode="before")
    @classmethod
    def _on(cls, value: Any) -> Any:
        if value == "any":
            return None
        if isinstance(value, str):
            raise ValueError('use "any" or a list of states, e.g. ["error", "ready"]')
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and not values[0]:
            raise _LocatedValueError("the program to run cannot be empty", (0,))
        return values

    def model_post_init(self, __context: Any) -> None:
        if (self.command is None) == (self.url_env is None):
            raise ValueError("set exactly one of command or url_env")


@dataclass(frozen=True)
class _Source:
    """Where a Config came from, to point later messages at the right line."""

    path: Path
    # Not compared: two loads of the same file make equal Configs.
    lines: _LineIndex = field(compare=False)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    settings: Settings = Field(default_factory=Settings)
    backends: list[BackendConfig] = Field(default_factory=list)
    hooks: list[HookConfig] = Field(default_factory=list)

    # Not a field: set by load_config, so it never meets the extra="forbid" rule.
    _source: _Source | None = PrivateAttr(default=None)

    @field_validator("backends")
    @classmethod
    def _unique_names(cls, backends: list[BackendConfig]) -> list[BackendConfig]:
        first_index: dict[str, int] = {}
        for index, backend in enumerate(backends):
            if backend.name in first_index:
                raise _LocatedValueError(
                    f"backend name {backend.name!r} is already used by"
                    f" backends[{first_index[backend.name]}]",
                    (index, "name"),
                )
            first_index[backend.name] = index
        return backends

    @model_validator(mode="after")
    def _hooks_name_backends(self) -> Config:
        names = {b.name for b in self.backends}
        for index, hook in enumerate(self.hooks):
            for position, name in enumerate(hook.backends or ()):
                if name not in names:
                    raise _LocatedValueError(
                        f"no backend is named {name!r}", ("hooks", index, "backends", position)
                    )
        return self

    @property
    def path(self) -> Path | None:
        """The file this config was loaded from (None when built in code)."""
        return self._source.path if self._source else None

    def backend(self, name: str) -> BackendConfig | None:
        return next((b for b in self.backends if b.name == name), None)

    def _line_of(self, loc: Loc) -> int | None:
        return self._source.lines.line_of(loc) if self._source else None


def default_config_path() -> Path:
    """`--config` beats `DSWATCH_CONFIG` beats the platform's user config dir."""
    env = os.environ.get("DSWATCH_CONFIG")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_config_path("dswatch") / "config.toml"


# --------------------------------------------------------------------------
# Where things are written: a line index of the TOML text
# --------------------------------------------------------------------------


class _LineIndex:
    """The line (1-based) of every table header, key and array item of a TOML text.

    tomllib gives no positions, so this scans the text once. It understands
    just enough TOML to stay in step: strings (also multi-line), comments,
    nested brackets, dotted and quoted keys, `[[array.of.tables]]` counting.
    It only runs on text tomllib has already accepted.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[Loc, int] = {}
        self._table: Loc = ()
        self._aot_counts: dict[Loc, int] = {}
        self._value_stack: list[_ValueScan] = []  # arrays/inline tables being read
        self._in_multiline: str | None = None  # closing quotes of an open multi-line string
        for number, line in enumerate(text.splitlines(), start=1):
            self._scan_line(line, number)

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest written parent (a missing key: its table)."""
        for end in range(len(loc), 0, -1):
            line = self._lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def _record(self, loc: Loc, number: int) -> None:
        self._lines.setdefault(loc, number)

    def _scan_line(self, line: str, number: int) -> None:
        if self._in_multiline or self._value_stack:
            self._scan_value(line, 0, number)
            return
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            return
        if stripped.startswith("["):
            self._enter_table(stripped, number)
            return
        parts, after_equals = _parse_key(stripped, 0, "=")
        loc = self._table + tuple(parts)
        self._record(loc, number)
        self._scan_value(stripped, after_equals, number, loc)

    def _enter_table(self, header: str, number: int) -> None:
        is_array = header.startswith("[[")
        parts, _ = _parse_key(header, 2 if is_array else 1, "]")
        resolved: Loc = ()
        for position, part in enumerate(parts):
            resolved += (part,)
            names_new_element = is_array and position == len(parts) - 1
            if resolved in self._aot_counts and not names_new_element:
                # `[backends.x]` belongs to the last `[[backends]]` element so far.
                resolved += (self._aot_counts[resolved] - 1,)
        if is_array:
            count = self._aot_counts.get(resolved, 0)
            self._aot_counts[resolved] = count + 1
            self._record(resolved, number)
            resolved += (count,)
        self._table = resolved
        self._record(resolved, number)

    def _scan_value(self, line: str, start: int, number: int, loc: Loc | None = None) -> None:
        i = start
        while i < len(line):
            if self._in_multiline:
                i = self._skip_multiline(line, i)
                continue
            char = line[i]
            if char == "#":
                return
            if char in "\"'":
                self._note_item(number)
                if line.startswith(char * 3, i):
                    self._in_multiline = char * 3
                    i += 3
                else:
                    i = _skip_string(line, i)
                continue
            if char in "[{":
                self._note_item(number)
                item_loc = self._current_item_loc(loc)
                self._value_stack.append(_ValueScan(item_loc, is_array=char == "["))
            elif char in "]}":
                self._value_stack.pop()
            elif char == "," and self._value_stack:
                self._value_stack[-1].next_item()
            elif not char.isspace():
                self._note_item(number)  # a number, boolean or date
            i += 1

    def _skip_multiline(self, line: str, i: int) -> int:
        delimiter = self._in_multiline or ""
        while i < len(line):
            if delimiter == '"""' and line[i] == "\\":
                i += 2
                continue
            if line.startswith(delimiter, i):
                # Up to two quotes may end the content right before the delimiter.
                while line.startswith(delimiter, i + 1):
                    i += 1
                self._in_multiline = None
                return i + len(delimiter)
            i += 1
        return i

    def _note_item(self, number: int) -> None:
        """Record the line where the current array item starts."""
        if self._value_stack:
            scan = self._value_stack[-1]
            if scan.is_array and scan.awaiting_item and scan.loc is not None:
                self._record((*scan.loc, scan.index), number)
                scan.awaiting_item = False

    def _current_item_loc(self, loc: Loc | None) -> Loc | None:
        if not self._value_stack:
            return loc  # the value of the key on this line
        outer = self._value_stack[-1]
        if outer.is_array and outer.loc is not None:
            return (*outer.loc, outer.index)
        return None  # keys of inline tables are not indexed: their parent line is close enough


@dataclass
class _ValueScan:
    loc: Loc | None  # the key path of this array / inline table
    is_array: bool
    index: int = 0
    awaiting_item: bool = True

    def next_item(self) -> None:
        self.index += 1
        self.awaiting_item = True


def _skip_string(line: str, i: int) -> int:
    """Index just past the one-line string starting at line[i]."""
    quote = line[i]
    i += 1
    while i < len(line):
        if quote == '"' and line[i] == "\\":
            i += 2
            continue
        if line[i] == quote:
            return i + 1
        i += 1
    return i


def _parse_key(text: str, i: int, stop: str) -> tuple[list[str], int]:
    """Parse a (dotted, maybe quoted) key from text[i:] up to `stop`; return parts, end."""
    parts: list[str] = []
    while i < len(text):
        char = text[i]
        if char in " \t.":
            i += 1
        elif char == stop:
            return parts, i + 1
        elif char in "\"'":
            end = _skip_string(text, i)
            parts.append(text[i + 1 : end - 1])
            i = end
        else:
            end = i
            while end < len(text) and (text[end].isalnum() or text[end] in "_-"):
                end += 1
            if end == i:  # not a key character: step over it
                end += 1
            else:
                parts.append(text[i:end])
            i = end
    return parts, i


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

# A config file is a few KiB; refuse to slurp something that clearly is not one.
_MAX_CONFIG_BYTES = 1 << 20


def load_config(path: Path, *, missing_ok: bool = True) -> Config:
    """Read and validate the config file; raise ConfigError on any problem.

    A missing file gives an empty Config when `missing_ok` (first run).
    """
    path = Path(path).expanduser()
    snapshot = _read_snapshot(path, missing_ok=missing_ok)
    if not snapshot.exists:
        config = Config()
        config._source = _Source(path, _LineIndex(""))
        return config
    return _validate_text(snapshot.text, path)


def _os_error(path: Path, exc: OSError) -> ConfigError:
    if isinstance(exc, IsADirectoryError):
        return ConfigError(path, "is a directory, not a config file")
    return ConfigError(path, f"cannot read: {exc.strerror or exc}")


def _decode(data: bytes, path: Path) -> str:
    if len(data) > _MAX_CONFIG_BYTES:
        raise ConfigError(path, f"is {len(data)} bytes: too large for a config file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(path, "is not UTF-8 text", line=line) from None


def _validate_text(text: str, path: Path) -> Config:
    data = _parse_toml(text, path)
    lines = _LineIndex(text)
    try:
        config = Config.model_validate(data, strict=True)  # TOML has types: no "10" -> 10.0
    except ValidationError as exc:
        problems = [_problem_from(error, path, lines) for error in exc.errors()]
        raise _first_of(problems) from None
    config._source = _Source(path, lines)
    return config


_POSITION_RE = re.compile(r" \(at line (\d+), column (\d+)\)$")
_AT_END = " (at end of document)"


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, path) from None


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, path: Path) -> ConfigError:
    # Python 3.14 has lineno/colno attributes; 3.11-3.13 put the position in the text.
    message = getattr(exc, "msg", None) or str(exc)
    line: int | None = getattr(exc, "lineno", None)
    column: int | None = getattr(exc, "colno", None)
    if match := _POSITION_RE.search(message):
        line, column = int(match[1]), int(match[2])
        message = message[: match.start()]
    elif message.endswith(_AT_END):
        line = len(text.splitlines()) or 1
        message = message[: -len(_AT_END)] + " at the end of the file"
    return ConfigError(path, f"invalid TOML: {message}", line=line, column=column)


def _first_of(problems: list[ConfigError]) -> ConfigError:
    """The first problem in file order, carrying the others."""
    ordered = sorted(problems, key=lambda p: p.line if p.line is not None else math.inf)
    first = ordered[0]
    first.others = ordered[1:]
    return first


# Known keys per table, for "did you mean" on a typo.
def _known_keys(loc: Loc) -> Iterable[str]:
    if loc[:1] == ("settings",):
        return Settings.model_fields
    if loc[:1] == ("backends",):
        return BackendConfig.model_fields
    if loc[:1] == ("hooks",):
        return HookConfig.model_fields
    return Config.model_fields


def _problem_from(error: Any, path: Path, lines: _LineIndex) -> ConfigError:
    loc: Loc = tuple(error["loc"])
    kind: str = error["type"]
    message: str = error["msg"]
    if kind == "missing":
        message = f"missing required key {loc[-1]!r}"
    elif kind == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
        close = difflib.get_close_matches(str(loc[-1]), _known_keys(loc), n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    elif kind == "value_error":
        cause = error.get("ctx", {}).get("error", message)
        loc += getattr(cause, "suffix", ())
        message = str(cause)
    elif kind == "string_pattern_mismatch" and loc[-1] == "name":
        message = "use letters, digits, '.', '_' and '-' only"
    elif kind.endswith(("_type", "_parsing")):
        # Name the type found, never the value: it could be a misplaced secret.
        message += f" (got {_toml_type_name(error.get('input'))})"
    return ConfigError(path, message, line=lines.line_of(loc), key=format_key(loc))


def _toml_type_name(value: Any) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "an array"),
        (dict, "a table"),
        ((datetime, date, time), "a date/time"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "something else")


# --------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------

# Each way to authenticate (API key, bearer token, token command, login), by
# the keys that make it up. A backend uses one.
_CREDENTIAL_METHODS: tuple[tuple[str, ...], ...] = (
    ("api_key_env", "api_secret_env"),
    ("token_env",),
    ("token_command",),
    ("username_env", "password_env"),
)
_ENV_FIELDS = ("api_key_env", "api_secret_env", "token_env", "username_env", "password_env")


def check_credentials(config: Config, environ: Mapping[str, str] = os.environ) -> None:
    """Raise ConfigError when a backend's credentials cannot work as written.

    Checks that each named environment variable is set and non-empty, that
    the keys make one coherent method, and that credentials never travel
    over plain http to another host unless `allow_insecure`. Messages name
    the variable, never its value.
    """
    problems: list[ConfigError] = []
    for index, backend in enumerate(config.backends):
        where = _BackendKeys(config, index)
        problems += _incoherent_keys(backend, where)
        problems += _unset_variables(backend, environ, where)
        problems += _insecure_transport(backend, where)
    if problems:
        raise _first_of(problems)


@dataclass(frozen=True)
class _BackendKeys:
    """Locates the keys of one backend table, for credential messages."""

    config: Config
    index: int

    def line(self, key: str) -> int | None:
        return self.config._line_of(("backends", self.index, key))

    def line_or_zero(self, key: str) -> int:
        return self.line(key) or 0

    def problem(self, key: str, message: str) -> ConfigError:
        name = self.config.backends[self.index].name
        return ConfigError(
            self.config.path,
            f"backend {name!r}: {message}",
            line=self.line(key),
            key=format_key(("backends", self.index, key)),
        )


def _incoherent_keys(backend: BackendConfig, where: _BackendKeys) -> Iterator[ConfigError]:
    key_pair = _half_of_pair(backend, "api_key_env", "api_secret_env")
    if backend.type == "visual_layer" and key_pair:
        present, absent = key_pair
        yield where.problem(
            present,
            f"Visual Layer tokens are signed with an API key and its secret: set {absent} too",
        )
    if backend.type == "cognee" and backend.api_secret_env:
        yield where.problem(
            "api_secret_env", "Cognee takes api_key_env alone (sent as X-Api-Key): drop this key"
        )
    if login_pair := _half_of_pair(backend, "username_env", "password_env"):
        present, absent = login_pair
        yield where.problem(present, f"a login needs username_env and password_env: set {absent}")
    elif backend.username_env and backend.type != "cognee":
        yield where.problem("username_env", "only Cognee logs in with a username and password")
    methods = [keys for keys in _CREDENTIAL_METHODS if _set_keys(backend, keys)]
    if len(methods) > 1:
        # Name each method by its first key, in file order; point at the later one.
        named = sorted((_set_keys(backend, keys)[0] for keys in methods), key=where.line_or_zero)
        yield where.problem(
            named[-1], f"{' and '.join(named)} are different ways to authenticate: keep one"
        )


def _set_keys(backend: BackendConfig, keys: Iterable[str]) -> list[str]:
    return [key for key in keys if getattr(backend, key)]


def _half_of_pair(backend: BackendConfig, first: str, second: str) -> tuple[str, str] | None:
    """(the key that is set, the one that is missing) when only one of a pair is set."""
    written = _set_keys(backend, [first, second])
    if written == [first]:
        return first, second
    if written == [second]:
        return second, first
    return None


def _unset_variables(
    backend: BackendConfig, environ: Mapping[str, str], where: _BackendKeys
) -> Iterator[ConfigError]:
    for key in _ENV_FIELDS:
        name = getattr(backend, key)
        if not name:
            continue
        value = environ.get(name)
        if value is None:
            yield where.problem(key, f"environment variable {name} is not set")
        elif not value.strip():
            yield where.problem(key, f"environment variable {name} is empty")


def _insecure_transport(backend: BackendConfig, where: _BackendKeys) -> Iterator[ConfigError]:
    has_credentials = any(_set_keys(backend, keys) for keys in _CREDENTIAL_METHODS)
    parts = urlsplit(backend.url)
    host = parts.hostname or ""
    if (
        has_credentials
        and parts.scheme == "http"
        and not _is_loopback(host)
        and not backend.allow_insecure
    ):
        yield where.problem(
            "url",
            f"credentials would travel in clear text to {host}: use https://,"
            " or set allow_insecure = true if this network is trusted",
        )


def _is_loopback(host: str) -> bool:
    # Same rule as the HTTP client's guard (backends/http.py), which config cannot import.
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a DNS name: it could resolve anywhere


# --------------------------------------------------------------------------
# Secrets written into the file
# --------------------------------------------------------------------------

_SECRET_KEY_RE = re.compile(r"(token|secret|passw|api_?key|credential|auth)", re.IGNORECASE)


def secret_warnings(path: Path) -> list[str]:
    """Warnings about secrets written into a file other users can read.

    Empty when the file is private (no group/other read bit), unreadable,
    not TOML, or holds nothing that looks like a secret. A warning names the
    key, never the value.
    """
    path = Path(path).expanduser()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return []
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
    return bool(_SECRET_KEY_RE.search(key) and value.strip())


# --------------------------------------------------------------------------
# Watching for edits made outside dswatch
# --------------------------------------------------------------------------


def _stat_signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    # The inode changes on an atomic replace; ctime catches same-size edits within one mtime tick.
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


class ConfigWatcher:
    """Tells the app, with one stat() call, when the config file changed on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self._seen = _stat_signature(self.path)

    def changed(self) -> bool:
        """True once per change (edit, replace, creation, deletion) since the last call."""
        current = _stat_signature(self.path)
        if current == self._seen:
            return False
        self._seen = current
        return True


# --------------------------------------------------------------------------
# Editing: read-modify-write on the current file, atomically
# --------------------------------------------------------------------------

_MAX_EDIT_ATTEMPTS = 5
_NEW_FILE_MODE = 0o600
_NEW_DIR_MODE = 0o700
_WRAP_ARRAY_AT = 100  # characters: longer `datasets = [...]` lines become one ID per line
_NEW_FILE_HEADER = """\
# dswatch configuration. Every key is described in config.example.toml.
# Credentials are the NAMES of environment variables, never their values.
"""

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Snapshot:
    """The file as read right before an edit, to detect a change before the rename."""

    exists: bool
    text: str = ""
    mtime_ns: int = 0
    size: int = 0
    digest: bytes = b""
    mode: int = _NEW_FILE_MODE

    def same_file_as(self, other: _Snapshot) -> bool:
        mine = (self.exists, self.mtime_ns, self.size, self.digest)
        return mine == (other.exists, other.mtime_ns, other.size, other.digest)


def _read_snapshot(path: Path, *, missing_ok: bool) -> _Snapshot:
    try:
        with path.open("rb") as file:
            st = os.fstat(file.fileno())
            data = file.read(_MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        if missing_ok:
            return _Snapshot(exists=False)
        raise ConfigError(path, "no such file") from None
    except OSError as exc:
        raise _os_error(path, exc) from None
    return _Snapshot(
        exists=True,
        text=_decode(data, path),
        mtime_ns=st.st_mtime_ns,
        size=st.st_size,
        digest=hashlib.sha256(data).digest(),
        mode=stat.S_IMODE(st.st_mode),
    )


def _edit_file(
    path: Path, edit: Callable[[str, Path], tuple[str, _T]], *, create: bool = False
) -> _T:
    """Apply `edit` (old text -> new text, result) to the file as it is now.

    The file is read right before the edit and checked right before the
    rename; if anyone changed it in between, the edit is redone on the new
    content, so their change is never lost.
    """
    shown = Path(path).expanduser()
    # Edit the file a symlink points to, not the link (dotfile managers use links).
    target = Path(os.path.realpath(shown))
    for _ in range(_MAX_EDIT_ATTEMPTS):
        before = _read_snapshot(target, missing_ok=create)
        new_text, result = edit(before.text, shown)  # raises ConfigError: nothing written
        if new_text == before.text:
            return result
        _validate_text(new_text, shown)  # never write a file dswatch could not load
        try:
            replaced = _replace_if_unchanged(target, new_text, before)
        except OSError as exc:
            raise ConfigError(shown, f"cannot save: {exc.strerror or exc}") from None
        if replaced:
            return result
    raise ConfigError(shown, "the file kept changing while dswatch was saving it; nothing saved")


def _replace_if_unchanged(target: Path, text: str, before: _Snapshot) -> bool:
    directory = target.parent
    if not before.exists:
        directory.mkdir(mode=_NEW_DIR_MODE, parents=True, exist_ok=True)
    temp = _write_temp(directory, target.name, text.encode("utf-8"), before.mode)
    try:
        if not _read_snapshot(target, missing_ok=True).same_file_as(before):
            temp.unlink()
            return False
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    _remove_stale_temps(directory, target.name)
    return True


# A temp file this old is a leftover of a killed save, not one being written now.
_STALE_TEMP_SECONDS = 600.0


def _remove_stale_temps(directory: Path, name: str) -> None:
    """Tidy up after a save that was killed between writing its temp file and the rename."""
    cutoff = datetime.now().timestamp() - _STALE_TEMP_SECONDS
    for leftover in directory.glob(f".{glob.escape(name)}.*.tmp"):
        try:
            if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except OSError:
            pass  # someone else's problem to keep; the save itself worked


def _write_temp(directory: Path, name: str, data: bytes, mode: int) -> Path:
    """A complete, synced copy of the new content next to the file it will replace."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; some filesystems cannot, and that is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _canonical_ids(path: Path, ids: Iterable[str]) -> list[str]:
    """Normalize IDs given by the user (before the file is touched), without duplicates."""
    if isinstance(ids, str):  # pasted text, not one ID per character
        ids = split_ids(ids)
    canonical: list[str] = []
    for raw in ids:
        try:
            value = normalize_dataset_id(raw)
        except InvalidDatasetId as exc:
            raise ConfigError(Path(path).expanduser(), str(exc)) from None
        if value not in canonical:
            canonical.append(value)
    return canonical


def _backend_index(config: Config, name: str) -> int:
    for index, backend in enumerate(config.backends):
        if backend.name == name:
            return index
    known = ", ".join(b.name for b in config.backends) or "none"
    raise ConfigError(config.path, f"no backend named {name!r} (configured: {known})")


def _parse_for_edit(text: str, path: Path) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ConfigError(path, f"cannot edit this file: {exc}") from None


def _datasets_array(document: tomlkit.TOMLDocument, index: int) -> tomlkit.items.Array:
    table = document["backends"][index]  # type: ignore[index]
    if "datasets" not in table:
        table["datasets"] = tomlkit.array()
    return table["datasets"]  # type: ignore[no-any-return]


def _wrap_if_long(array: tomlkit.items.Array) -> None:
    rendered = array.as_string()
    if "\n" not in rendered and len(f"datasets = {rendered}") > _WRAP_ARRAY_AT:
        array.multiline(True)


def add_datasets(path: Path, backend: str, ids: Iterable[str]) -> list[str]:
    """Add dataset IDs to a backend's `datasets`; return the canonical IDs added.

    IDs already listed (in any spelling) are skipped. A bad ID or an unknown
    backend raises ConfigError and leaves the file untouched.
    """
    wanted = _canonical_ids(path, ids)

    def edit(text: str, shown: Path) -> tuple[str, list[str]]:
        config = _validate_text(text, shown)
        index = _backend_index(config, backend)
        new = [i for i in wanted if i not in config.backends[index].datasets]
        if not new:
            return text, []
        document = _parse_for_edit(text, shown)
        array = _datasets_array(document, index)
        for dataset_id in new:
            array.append(dataset_id)
        _wrap_if_long(array)
        return tomlkit.dumps(document), new

    added = _edit_file(path, edit)
    if added:
        log.info("%s: added %s to backend %s", path, ", ".join(added), backend)
    return added


def remove_datasets(path: Path, backend: str, ids: Iterable[str]) -> list[str]:
    """Remove dataset IDs from a backend's `datasets`; return the canonical IDs removed."""
    unwanted = _canonical_ids(path, ids)

    def edit(text: str, shown: Path) -> tuple[str, list[str]]:
        config = _validate_text(text, shown)
        index = _backend_index(config, backend)
        listed = config.backends[index].datasets
        removed = [i for i in unwanted if i in listed]
        if not removed:
            return text, []
        document = _parse_for_edit(text, shown)
        array = _datasets_array(document, index)
        # The file may spell an ID differently (upper case, no hyphens): compare canonically.
        for position in reversed(range(len(array))):
            if normalize_dataset_id(str(array[position])) in removed:
                del array[position]
        return tomlkit.dumps(document), removed

    gone = _edit_file(path, edit)
    if gone:
        log.info("%s: removed %s from backend %s", path, ", ".join(gone), backend)
    return gone


def add_backend(path: Path, backend: BackendConfig) -> None:
    """Append a `[[backends]]` table (first-run wizard); create the file if needed.

    Only names of environment variables are written (the model refuses
    anything that looks like a secret in the *_env keys).
    """

    def edit(text: str, shown: Path) -> tuple[str, None]:
        if text.strip():
            _refuse_existing_backend(text, shown, backend.name)
        return _append_backend_table(text, backend), None

    _edit_file(path, edit, create=True)


def _refuse_existing_backend(text: str, path: Path, name: str) -> None:
    config = _validate_text(text, path)
    names = [b.name for b in config.backends]
    if name in names:
        loc: Loc = ("backends", names.index(name), "name")
        raise ConfigError(
            path,
            f"a backend named {name!r} already exists",
            line=config._line_of(loc),
            key=format_key(loc),
        )
    existing = _parse_for_edit(text, path).get("backends")
    if existing is not None and not isinstance(existing, tomlkit.items.AoT):
        raise ConfigError(
            path,
            "backends is written as an inline array; dswatch can only append [[backends]] tables",
            line=config._line_of(("backends",)),
            key="backends",
        )


def _append_backend_table(text: str, backend: BackendConfig) -> str:
    """The old text, byte for byte, then a blank line and the new table."""
    values = backend.model_dump(exclude_defaults=True)
    values.setdefault("datasets", [])  # show where the IDs go
    table = tomlkit.table()
    for key in BackendConfig.model_fields:
        if key in values:
            table[key] = values[key]
    tables = tomlkit.aot()
    tables.append(table)
    block = tomlkit.dumps(tomlkit.document().append("backends", tables))
    if not text.strip():
        return _NEW_FILE_HEADER + "\n" + block
    separator = "" if text.endswith("\n\n") else "\n" if text.endswith("\n") else "\n\n"
    return text + separator + block
