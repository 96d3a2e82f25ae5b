"""`dswatch add` / `remove`: edit the config file in place."""

from __future__ import annotations

import argparse

from ..config import add_datasets, remove_datasets
from .common import EXIT_OK, config_path


def edit_config(args: argparse.Namespace) -> int:
    path = config_path(args)
    if args.command == "add":
        changed = add_datasets(path, args.backend, args.ids)
        verb, none = "added", "already watched"
    else:
        changed = remove_datasets(path, args.backend, args.ids)
        verb, none = "removed", "none of them were watched"
    if changed:
        print(f"{verb} {len(changed)} dataset(s) on {args.backend} in {path}")
    else:
        print(f"nothing to do: {none}")
    return EXIT_OK
