"""`dswatch add` / `remove`: edit the config file in place."""

from __future__ import annotations

import argparse

from ..config import add_datasets, remove_datasets
from ..models import InvalidDatasetId
from ..refs import dataset_id_from
from .common import EXIT_OK, UsageError, config_path


def edit_config(args: argparse.Namespace) -> int:
    path = config_path(args)
    command = args.command
    ids: list[str] = []
    names: list[str] = []
    for spec in args.ids:
        try:
            ids.append(dataset_id_from(spec))  # an ID or the dataset's web address
        except InvalidDatasetId as exc:
            if command == "add":
                # The argument is wrong, not the config file: say so before opening it.
                raise UsageError(f"add: {exc}") from None
            names.append(spec)
    if names:
        ids += _ids_of_names(args, names)
    if command == "add":
        changed = add_datasets(path, args.backend, ids)
        verb, none = "added", "already watched"
    else:
        changed = remove_datasets(path, args.backend, ids)
        verb, none = "removed", "none of them were watched"
    if changed:
        print(f"{verb} {len(changed)} dataset(s) on {args.backend} in {path}")
    else:
        print(f"nothing to do: {none}")
    return EXIT_OK


def _ids_of_names(args: argparse.Namespace, names: list[str]) -> list[str]:
    """`remove vl docs-receipts-17`: the watched dataset of that name on the backend."""
    # Only a removal by name polls: `add` never pays for asyncio, httpx or the poller.
    import asyncio

    from ..engine import load_engine
    from .resolve import resolve_names

    engine = load_engine(config_path(args))
    if engine.config.backend(args.backend) is None:
        known = ", ".join(b.name for b in engine.config.backends) or "none configured"
        raise UsageError(f"remove: unknown backend {args.backend!r} (known: {known})")

    async def lookup() -> list[str]:
        try:
            specs = [f"{args.backend}:{name}" for name in names]
            found = await resolve_names(engine, specs, command="remove", watched_only=True)
        finally:
            await engine.aclose()
        return [spec.partition(":")[2] for spec in found]

    return asyncio.run(lookup())
