"""The config file: pydantic models, TOML load/save, platformdirs paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .models import normalize_dataset_id

BackendType = Literal["visual_layer", "cognee"]
COGNEE_PIPELINES = ("add_pipeline", "cognify_pipeline", "code_graph_pipeline")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    poll_interval: float = Field(5.0, gt=0)  # s between polls of a dataset still processing
    settled_interval: float = Field(60.0, gt=0)  # s between polls of a READY / ERROR dataset
    timeout: float = Field(10.0, gt=0)  # s per HTTP request
    max_concurrency: int = Field(12, ge=1, le=64)  # requests in flight per backend
    bell: bool = False  # ring the terminal bell with the notifications


class BackendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    type: BackendType
    url: str
    # Credentials: the *names* of environment variables, never the values.
    api_key_env: str | None = None
    api_secret_env: str | None = None  # Visual Layer: sign JWTs with key + secret
    token_env: str | None = None  # a ready bearer token
    token_command: str | None = None  # a command that prints a bearer token
    username_env: str | None = None  # Cognee: form login, again on 401
    password_env: str | None = None
    pipelines: list[str] = Field(default_factory=lambda: ["add_pipeline", "cognify_pipeline"])
    datasets: list[str] = Field(default_factory=list)
    allow_insecure: bool = False  # allow credentials over plain http to a non-loopback host
    ca_bundle: str | None = None  # PEM file of a private CA
    web_url: str | None = None  # dataset page template with {id}; Cognee has none by default

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("datasets")
    @classmethod
    def _datasets(cls, values: list[str]) -> list[str]:
        out: list[str] = []
        for value in values:
            canonical = normalize_dataset_id(value)  # raises with a clear message
            if canonical in out:
                raise ValueError(f"dataset {canonical} is listed twice")
            out.append(canonical)
        return out

    @field_validator("pipelines")
    @classmethod
    def _pipelines(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in COGNEE_PIPELINES:
                known = ", ".join(COGNEE_PIPELINES)
                raise ValueError(f"unknown pipeline {value!r} (one of {known})")
        if not values:
            raise ValueError("name at least one pipeline")
        return list(dict.fromkeys(values))


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: Settings = Field(default_factory=Settings)
    backends: list[BackendConfig] = Field(default_factory=list)

    def backend(self, name: str) -> BackendConfig | None:
        return next((b for b in self.backends if b.name == name), None)


def default_config_path() -> Path:
    """`--config` beats `DSWATCH_CONFIG` beats the platform's user config dir."""
    env = os.environ.get("DSWATCH_CONFIG")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_config_path("dswatch") / "config.toml"
