"""What a user may type for a dataset: its ID, its web address, or its name.

IDs go into URL paths, so everything ends in `normalize_dataset_id`. A web
address (the page `o` opens, `https://app.visual-layer.com/dataset/<id>/data`,
or any `web_url` template) gives the UUID in its path. Names are matched
exactly (case-insensitive) and must be unambiguous. No Textual here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .models import InvalidDatasetId, normalize_dataset_id
from .text import sanitize

_UUID_IN_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)


def is_web_address(text: str) -> bool:
    return text.strip().lower().startswith(("http://", "https://"))


def dataset_id_from(text: str) -> str:
    """The canonical ID in `text`: a UUID, or a web address holding one.

    Raises InvalidDatasetId otherwise. In an address with several UUIDs the
    one after a `dataset`/`datasets` path segment wins.
    """
    text = text.strip()
    if not is_web_address(text):
        return normalize_dataset_id(text)
    path = urlsplit(text).path
    segments = [s for s in path.split("/") if s]
    found = [s for s in segments if _UUID_IN_TEXT.fullmatch(s)]
    for before, segment in itertools.pairwise(segments):
        if before.lower() in ("dataset", "datasets") and _UUID_IN_TEXT.fullmatch(segment):
            return normalize_dataset_id(segment)
    if len({normalize_dataset_id(s) for s in found}) == 1:
        return normalize_dataset_id(found[0])
    shown = sanitize(text, max_len=60)
    raise InvalidDatasetId(f"{shown!r} is a web address without one dataset ID in its path")


@dataclass(frozen=True, slots=True)
class Named:
    backend: str
    id: str
    name: str


class AmbiguousName(ValueError):
    """A name that matches several datasets (or none)."""


def pick_by_name(name: str, candidates: Iterable[Named]) -> Named:
    """The one candidate called `name` (case-insensitive); else AmbiguousName listing matches."""
    wanted = name.strip().casefold()
    matches = list(
        {(c.backend, c.id): c for c in candidates if c.name.casefold() == wanted}.values()
    )
    if len(matches) == 1:
        return matches[0]
    shown = sanitize(name, max_len=60)
    if not matches:
        raise AmbiguousName(f"no dataset is named {shown!r}")
    listed = "; ".join(f"{m.backend}:{m.id} ({sanitize(m.name, max_len=40)})" for m in matches[:10])
    more = f"; and {len(matches) - 10} more" if len(matches) > 10 else ""
    raise AmbiguousName(
        f"{len(matches)} datasets are named {shown!r}: {listed}{more}; use BACKEND:ID"
    )
