"""Loading: the file read once, checked strictly, every problem one located ConfigError.

`load_config` turns every problem into a `ConfigError` that names the file,
the line and the key (`backends[1].datasets[0]`), never a traceback.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ConfigError, Loc, first_of, format_key
from .model import BackendConfig, Config, HookConfig, Settings, Source
from .toml_text import MAX_CONFIG_BYTES, LineIndex, decode, parse_toml, too_large

NEW_FILE_MODE = 0o600


@dataclass(frozen=True)
class Snapshot:
    """The file as read: its text, and what tells a later change (and its owner) apart."""

    exists: bool
    text: str = ""
    mtime_ns: int = 0
    size: int = 0
    digest: bytes = b""
    mode: int = NEW_FILE_MODE
    uid: int = -1
    gid: int = -1
    links: int = 1
    bom: bool = False  # the file starts with a UTF-8 byte order mark (kept on save)

    def same_file_as(self, other: Snapshot) -> bool:
        mine = (self.exists, self.mtime_ns, self.size, self.digest)
        return mine == (other.exists, other.mtime_ns, other.size, other.digest)


def read_snapshot(path: Path, *, missing_ok: bool) -> Snapshot:
    try:
        with path.open("rb") as file:
            st = os.fstat(file.fileno())
            if st.st_size > MAX_CONFIG_BYTES:  # say how big without reading it all
                raise too_large(path, st.st_size)
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        if missing_ok:
            return Snapshot(exists=False)
        raise ConfigError(path, "no such file") from None
    except OSError as exc:
        raise _os_error(path, exc) from None
    text, bom = decode(data, path)
    return Snapshot(
        exists=True,
        text=text,
        mtime_ns=st.st_mtime_ns,
        size=st.st_size,
        digest=hashlib.sha256(data).digest(),
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        links=st.st_nlink,
        bom=bom,
    )


def load_config(path: Path, *, missing_ok: bool = True) -> Config:
    """Read and validate the config file; raise ConfigError on any problem.

    A missing file gives an empty Config when `missing_ok` (first run).
    """
    path = Path(path).expanduser()
    snapshot = read_snapshot(path, missing_ok=missing_ok)
    if not snapshot.exists:
        config = Config()
        config._source = Source(path, LineIndex(""))
        return config
    return validate_text(snapshot.text, path)


def _os_error(path: Path, exc: OSError) -> ConfigError:
    if isinstance(exc, IsADirectoryError):
        return ConfigError(path, "is a directory, not a config file")
    return ConfigError(path, f"cannot read: {exc.strerror or exc}")


def validate_text(text: str, path: Path) -> Config:
    data = parse_toml(text, path)
    lines = LineIndex(text)
    try:
        config = Config.model_validate(data, strict=True)  # TOML has types: no "10" -> 10.0
    except ValidationError as exc:
        problems = [_problem_from(error, path, lines) for error in exc.errors()]
        raise first_of(problems) from None
    config._source = Source(path, lines)
    return config


# Known keys per table, for "did you mean" on a typo.
def _known_keys(loc: Loc) -> Iterable[str]:
    if loc[:1] == ("settings",):
        return Settings.model_fields
    if loc[:1] == ("backends",):
        return BackendConfig.model_fields
    if loc[:1] == ("hooks",):
        return HookConfig.model_fields
    return Config.model_fields


def _problem_from(error: Any, path: Path, lines: LineIndex) -> ConfigError:
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
