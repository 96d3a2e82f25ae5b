"""Editing the config: dataset IDs in and out, a new backend table, comments kept.

Edits go through tomlkit so the user's comments and layout survive, touch
only `datasets` (or append a new `[[backends]]` table), and are saved by
`save.edit_file` (locked, compare-and-swap, atomic). tomlkit is imported
only when an edit runs: loading and the one-shot commands never pay for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..models import InvalidDatasetId, normalize_dataset_id, split_ids
from .errors import ConfigError, Loc, format_key
from .load import validate_text
from .model import BackendConfig, Config
from .save import edit_file

if TYPE_CHECKING:
    import tomlkit
    import tomlkit.items

log = logging.getLogger("tui.config")

_WRAP_ARRAY_AT = 100  # characters: longer `datasets = [...]` lines become one ID per line
_NEW_FILE_HEADER = """\
# dswatch configuration. Every key is described in config.example.toml.
# Credentials are the NAMES of environment variables, never their values.
"""


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
    import tomlkit.exceptions

    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ConfigError(path, f"cannot edit this file: {exc}") from None


def _datasets_array(document: tomlkit.TOMLDocument, index: int) -> tomlkit.items.Array:
    import tomlkit

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
    import tomlkit

    wanted = _canonical_ids(path, ids)

    def edit(text: str, shown: Path) -> tuple[str, list[str]]:
        config = validate_text(text, shown)
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

    added = edit_file(path, edit)
    if added:
        log.info("%s: added %s to backend %s", path, ", ".join(added), backend)
    return added


def remove_datasets(path: Path, backend: str, ids: Iterable[str]) -> list[str]:
    """Remove dataset IDs from a backend's `datasets`; return the canonical IDs removed."""
    import tomlkit

    unwanted = _canonical_ids(path, ids)

    def edit(text: str, shown: Path) -> tuple[str, list[str]]:
        config = validate_text(text, shown)
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

    gone = edit_file(path, edit)
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

    edit_file(path, edit, create=True)


def _refuse_existing_backend(text: str, path: Path, name: str) -> None:
    import tomlkit.items

    config = validate_text(text, path)
    names = [b.name for b in config.backends]
    if name in names:
        loc: Loc = ("backends", names.index(name), "name")
        raise ConfigError(
            path,
            f"a backend named {name!r} already exists",
            line=config.line_of(loc),
            key=format_key(loc),
        )
    existing = _parse_for_edit(text, path).get("backends")
    if existing is not None and not isinstance(existing, tomlkit.items.AoT):
        raise ConfigError(
            path,
            "backends is written as an inline array; dswatch can only append [[backends]] tables",
            line=config.line_of(("backends",)),
            key="backends",
        )


def _append_backend_table(text: str, backend: BackendConfig) -> str:
    """The old text, byte for byte, then a blank line and the new table."""
    import tomlkit

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
