"""Backends: turn each service's HTTP API into DatasetStates. No Textual here."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from ..config import BackendConfig, Settings
from ..credentials import sends_credentials
from ..secrets import Redactor
from .auth import backend_auth
from .base import Backend, BackendError, FetchResult, RemoteDataset
from .cognee import CogneeBackend
from .http import BackendConfigError, InsecureTransportError, check_transport_security
from .visual_layer import VisualLayerBackend

__all__ = [
    "Backend",
    "BackendConfigError",
    "BackendError",
    "CogneeBackend",
    "FetchResult",
    "InsecureTransportError",
    "RemoteDataset",
    "VisualLayerBackend",
    "make_backend",
]


def make_backend(
    cfg: BackendConfig,
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Backend:
    """Build the backend a config entry describes.

    Raises BackendConfigError (InsecureTransportError: credentials over plain
    http to another host; an unreadable ca_bundle). Missing credential
    variables do not raise: every poll then reports unauthorized with the
    variable's name, so the dashboard says what to fix.
    """
    check_transport_security(cfg, sends_credentials(cfg))
    redactor = Redactor()
    auth = backend_auth(cfg, environ, redactor)
    if cfg.type == "visual_layer":
        return VisualLayerBackend(cfg, settings, auth=auth, transport=transport, redactor=redactor)
    if cfg.type == "cognee":
        return CogneeBackend(cfg, settings, auth=auth, transport=transport, redactor=redactor)
    raise BackendConfigError(f"backend {cfg.name!r}: unknown type {cfg.type!r}")
