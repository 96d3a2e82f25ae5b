"""The config's shape: pydantic models for settings, backends and hooks, and where the file lives.

Credentials are always the *names* of environment variables; no model here
ever holds or shows a credential's value (hide_input_in_errors everywhere).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from ..models import normalize_dataset_id
from .errors import Loc, LocatedValueError
from .secret_values import env_var_name
from .toml_text import LineIndex

BackendType = Literal["visual_layer", "cognee"]
COGNEE_PIPELINES = ("add_pipeline", "cognify_pipeline", "code_graph_pipeline")

EnvVarName = Annotated[str, AfterValidator(env_var_name)]
# Each item is checked on its own, so a bad ID is reported at its index.
DatasetId = Annotated[str, AfterValidator(normalize_dataset_id)]


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
    # Requests in flight per backend. 20: 1,000 reads at 20 ms take 1.15 s (12: 1.9 s)
    # at less client CPU per request (benchmarks/README.md, issue 17); from 32 on,
    # httpx against our simulator needed 3x the CPU per request.
    max_concurrency: int = Field(20, ge=1, le=64)
    bell: bool = False  # ring the terminal bell with the notifications
    # Toasts in the dashboard: every notify_on event, only problems, or none.
    notifications: Literal["all", "problems", "off"] = "all"
    # Desktop notifications through the terminal's OSC sequences (auto: by $TERM_PROGRAM).
    desktop_notify: Literal["auto", "osc9", "osc777", "osc99", "off"] = "auto"
    # Which new states are news (toasts, desktop notifications); per backend overridable.
    notify_on: list[NotifyEvent] = Field(default_factory=lambda: list(DEFAULT_NOTIFY_ON))
    history_days: float = Field(30.0, gt=0)  # days of history kept in the local store
    history_max_mb: float = Field(50.0, gt=0)  # size cap of the store; oldest pruned first
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
                raise LocatedValueError(
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
                raise LocatedValueError(f"unknown pipeline {value!r} (one of {known})", (index,))
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

    @field_validator("command", mode="before")
    @classmethod
    def _command_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, str):  # a shell command line: say what to write instead
            raise ValueError(
                'an argument list, run without a shell: e.g. ["notify-send", "dswatch"];'
                ' for shell syntax, ["sh", "-c", "..."]'
            )
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, values: list[str] | None) -> list[str] | None:
        if values is not None and not values[0]:
            raise LocatedValueError("the program to run cannot be empty", (0,))
        return values

    def model_post_init(self, __context: Any) -> None:
        if (self.command is None) == (self.url_env is None):
            raise ValueError("set exactly one of command or url_env")


@dataclass(frozen=True)
class Source:
    """Where a Config came from, to point later messages at the right line."""

    path: Path
    # Not compared: two loads of the same file make equal Configs.
    lines: LineIndex = field(compare=False)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    settings: Settings = Field(default_factory=Settings)
    backends: list[BackendConfig] = Field(default_factory=list)
    hooks: list[HookConfig] = Field(default_factory=list)

    # Not a field: set by load_config, so it never meets the extra="forbid" rule.
    _source: Source | None = PrivateAttr(default=None)

    @field_validator("backends")
    @classmethod
    def _unique_names(cls, backends: list[BackendConfig]) -> list[BackendConfig]:
        first_index: dict[str, int] = {}
        for index, backend in enumerate(backends):
            if backend.name in first_index:
                raise LocatedValueError(
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
                    raise LocatedValueError(
                        f"no backend is named {name!r}", ("hooks", index, "backends", position)
                    )
        return self

    @property
    def path(self) -> Path | None:
        """The file this config was loaded from (None when built in code)."""
        return self._source.path if self._source else None

    def backend(self, name: str) -> BackendConfig | None:
        return next((b for b in self.backends if b.name == name), None)

    def line_of(self, loc: Loc) -> int | None:
        return self._source.lines.line_of(loc) if self._source else None


def default_config_path() -> Path:
    """`--config` beats `DSWATCH_CONFIG` beats the platform's user config dir."""
    env = os.environ.get("DSWATCH_CONFIG")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_config_path("dswatch") / "config.toml"
