"""Datasets named on the command line by ID, web address or name.

`wait` and `remove` take `[BACKEND:]ID`, a dataset's web address, or its name.
A name is looked up in the backends' own dataset lists (one request per
backend, only when a name was given) and must match exactly one dataset;
`remove` considers only the watched ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..backends.base import BackendError
from ..engine import Engine
from ..models import InvalidDatasetId
from ..refs import AmbiguousName, Named, dataset_id_from, is_web_address, pick_by_name
from ..text import sanitize
from .common import UsageError


def split_spec(spec: str, backends: Sequence[str]) -> tuple[str | None, str]:
    """`vl:abc` -> ("vl", "abc") when `vl` is a backend or `abc` an ID; else (None, spec)."""
    if not is_web_address(spec):
        name, sep, rest = spec.partition(":")
        if sep and (name in backends or _is_id(rest)):
            return name, rest
    return None, spec


def _is_id(text: str) -> bool:
    try:
        dataset_id_from(text)
    except InvalidDatasetId:
        return False
    return True


async def resolve_names(
    engine: Engine, specs: Sequence[str], *, command: str, watched_only: bool = False
) -> list[str]:
    """Each spec as `BACKEND:ID`, or as given when it is an ID (wait.resolve_targets
    then finds its backend). Raises UsageError naming the spec."""
    backends = [b.name for b in engine.config.backends]
    listed: dict[str, list[Named]] = {}
    resolved: list[str] = []
    for spec in specs:
        backend, rest = split_spec(spec, backends)
        try:
            dataset_id = dataset_id_from(rest)
        except InvalidDatasetId as exc:
            if is_web_address(rest):
                raise UsageError(f"{command}: {exc}") from None
        else:
            resolved.append(f"{backend}:{dataset_id}" if backend else dataset_id)
            continue
        shown = sanitize(rest, max_len=60)
        if not backends:
            raise UsageError(f"{command}: {shown!r} is not a dataset ID (expected a UUID)")
        where = [backend] if backend else backends
        candidates = []
        for name in where:
            if name not in listed:
                listed[name] = await _list(engine, name, f"{command}: {shown!r}")
            candidates += listed[name]
        if watched_only:
            watched = {(b.name, i) for b in engine.config.backends for i in b.datasets}
            candidates = [c for c in candidates if (c.backend, c.id) in watched]
        try:
            found = pick_by_name(rest, candidates)
        except AmbiguousName as exc:
            scope = f" on {backend}" if backend else ""
            which = "watched dataset" if watched_only else "dataset"
            if str(exc).startswith("no dataset"):
                raise UsageError(
                    f"{command}: {shown!r} is not a dataset ID, nor the name of a {which}{scope}"
                ) from None
            raise UsageError(f"{command}: {exc}{scope}") from None
        resolved.append(f"{found.backend}:{found.id}")
    return resolved


async def _list(engine: Engine, backend: str, what: str) -> list[Named]:
    try:
        remote = await engine.backends[backend].list_datasets()
    except BackendError as exc:
        reason = sanitize(str(exc), max_len=200)
        raise UsageError(
            f"{what} is not a dataset ID, and names cannot be looked up on {backend}: {reason}"
        ) from None
    return [Named(backend, d.id, d.name or "") for d in remote]
