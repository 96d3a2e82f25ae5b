"""The normalized vocabulary every backend's answers are translated into.

Backends turn HTTP responses into `DatasetState`s (no timestamps); the poller
stamps them and carries the last good data over a failed poll with `merge`.
Nothing here knows about HTTP or Textual.

Why ~530 lines: `DatasetState`, the value checks its fields go through, the
field lists `merge` and `same_reading` work on, and the way states are built
without validation (their slots, their fields' dict layout) must agree field
by field; kept together, adding a field is one edit read in one place. The
dataset-ID checks at the bottom are the one piece that could move out (beside
tui.refs, with their importers) if this grows.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .text import sanitize, sanitize_lines


class State(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PARTIAL = "partial"
    READY = "ready"
    ERROR = "error"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


# Datasets in these states change rarely: poll them at settled_interval.
SETTLED_STATES = frozenset(
    {State.READY, State.ERROR, State.PARTIAL, State.NOT_FOUND, State.UNAUTHORIZED}
)
# What "problems only" shows (stale rows too, whatever their state).
PROBLEM_STATES = frozenset({State.ERROR, State.NOT_FOUND, State.UNAUTHORIZED, State.UNREACHABLE})
# The poll could not read the dataset: keep the last good data, marked stale.
FAILED_STATES = frozenset({State.UNREACHABLE, State.UNAUTHORIZED})


# Server values are checked here, once, whichever backend sent them: a count above
# this (a quadrillion items) or a progress outside 0..100 is a broken server, shown
# as unknown rather than trusted (a 400-digit integer must never reach a formatter).
MAX_COUNT = 10**15
# Server text kept in a state is cut to these lengths (characters): enough for any
# real name, status or error, and a megabyte of junk costs nothing downstream.
MAX_NAME_CHARS = 200
MAX_STATUS_CHARS = 200
MAX_ERROR_CHARS = 4_000


def valid_count(value: Any) -> int | None:
    """A count a server sent, or None when it is not a plausible one (negative,
    absurdly large, fractional, a string, a boolean...)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT:
        return value
    return None


def valid_progress(value: Any) -> float | None:
    """A percentage in 0..100 from a number or numeric string; anything else
    (NaN, infinities, -5, 250, a 400-digit integer) -> None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if len(value) > 40:  # no real percentage is written this long
            return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and 0.0 <= number <= 100.0 else None


def status_text(value: Any) -> str | None:
    """A server's status value as text: strings as they are, anything else as the
    JSON it was (`true`, `{"a": 1}`), never a Python repr; None stays None."""
    if value is None or isinstance(value, str):
        return value
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON data at all: say what it is, not its repr
        text = f"<{type(value).__name__}>"
    return text[: MAX_STATUS_CHARS * 2]


def _clean(value: str | None, max_len: int) -> str | None:
    return None if value is None else sanitize(value, max_len=max_len)


def clean_name(value: Any) -> str | None:
    """A dataset name as DatasetState keeps it (one safe line, bounded)."""
    if type(value) is str and len(value) <= MAX_NAME_CHARS and value.isprintable():
        return value  # the usual name, on every read: sanitize would return it as it is
    return _clean(status_text(value), MAX_NAME_CHARS)


# Memory (benchmarks/memory.py): each read parses fresh strings and dicts, and a
# state keeps them until the next read. 50,000 datasets share a handful of status
# strings and pipeline maps, so states keep one shared copy of each instead of
# their own (~0.5 KiB per dataset). Shared maps are never mutated: states are
# frozen and every reader copies (`summary`) or only reads them.
# Bounded, as a server decides what it holds: real maps have a few pipelines and a
# few hundred combinations; anything bigger is kept by its state alone (at most
# 1,024 x 8 x 2 strings of <= 200 characters stay here: ~6 MB).
_SHARED_PIPELINES_MAX = 1024  # distinct {pipeline: status} maps kept; more: not shared
_SHARED_PIPELINES_SIZE = 8  # pipelines in a map that is shared; more: not shared
_shared_pipelines: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}


def shared_pipelines(pipelines: dict[str, str]) -> dict[str, str]:
    """One shared dict per distinct {pipeline: status} map (interned strings)."""
    if len(pipelines) > _SHARED_PIPELINES_SIZE:
        return pipelines
    key = tuple(pipelines.items())
    shared = _shared_pipelines.get(key)
    if shared is None:
        shared = {_interned(name): _interned(status) for name, status in key}
        if len(_shared_pipelines) < _SHARED_PIPELINES_MAX:
            _shared_pipelines[tuple(shared.items())] = shared
    return shared


def shared_text(value: str | None) -> str | None:
    """A status string kept once however many states hold it."""
    return None if value is None else _interned(value)


def _interned(value: Any) -> Any:
    return sys.intern(value) if type(value) is str else value  # a str subclass: as it is


class Failure(BaseModel):
    """The last thing that went wrong talking to the backend, for the details screen."""

    model_config = ConfigDict(frozen=True)

    kind: str  # http, timeout, connect, dns, tls, protocol, body, too_large, redirect
    message: str
    http_status: int | None = None
    body: str | None = None  # decoded, truncated; never interpreted
    at: datetime | None = None

    @field_validator("message")
    @classmethod
    def _one_safe_line(cls, value: str) -> str:
        return sanitize(value, max_len=MAX_ERROR_CHARS)

    @field_validator("body")
    @classmethod
    def _safe_lines(cls, value: str | None) -> str | None:
        return None if value is None else sanitize_lines(value)


class DatasetState(BaseModel):
    """Everything known about one watched dataset after its last poll."""

    model_config = ConfigDict(frozen=True)

    backend: str
    id: str
    name: str | None = None
    state: State = State.UNKNOWN
    status: str | None = None  # the backend's own status string, unchanged
    progress: float | None = None  # 0..100
    n_images: int | None = None
    n_videos: int | None = None
    n_objects: int | None = None
    pipelines: dict[str, str] = Field(default_factory=dict)  # pipeline -> backend status
    error: str | None = None
    raw: Any = None  # last response body (parsed JSON, or text when not JSON)
    failure: Failure | None = None  # set when this poll failed
    fetched_at: datetime | None = None  # when the backend last answered with data
    changed_at: datetime | None = None  # when `state`/`status`/`progress`... last changed
    polled_at: datetime | None = None  # when the last poll (good or bad) finished
    stale: bool = False  # the last poll failed; data below is from fetched_at
    stale_since: datetime | None = None

    # Every state is built through these: server text is made safe to show (one
    # line, no escapes) and numbers plausible before anything reads them. The
    # grid, details, status, wait, logs and hooks all read these fields.
    # (`model_copy(update=...)` skips validation: callers pass clean values.)
    @field_validator("name", mode="before")
    @classmethod
    def _clean_name(cls, value: Any) -> str | None:
        return clean_name(value)

    @field_validator("status", mode="before")
    @classmethod
    def _clean_status(cls, value: Any) -> str | None:
        return shared_text(_clean(status_text(value), MAX_STATUS_CHARS))

    @field_validator("error", mode="before")
    @classmethod
    def _clean_error(cls, value: Any) -> str | None:
        # Line breaks kept: the details screen shows a server's multi-line error.
        text = status_text(value)
        return None if text is None else sanitize_lines(text, max_len=MAX_ERROR_CHARS)

    @field_validator("pipelines", mode="before")
    @classmethod
    def _clean_pipelines(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            sanitize(str(name), max_len=MAX_NAME_CHARS): (
                _clean(status_text(status), MAX_STATUS_CHARS) or ""
            )
            for name, status in value.items()
        }

    @field_validator("pipelines", mode="after")
    @classmethod
    def _share_pipelines(cls, value: dict[str, str]) -> dict[str, str]:
        return shared_pipelines(value)

    @field_validator("progress", mode="before")
    @classmethod
    def _plausible_progress(cls, value: Any) -> float | None:
        return valid_progress(value)

    @field_validator("n_images", "n_videos", "n_objects", mode="before")
    @classmethod
    def _plausible_count(cls, value: Any) -> int | None:
        return valid_count(value)

    @property
    def key(self) -> tuple[str, str]:
        return (self.backend, self.id)

    @property
    def label(self) -> str:
        return self.name or self.id

    @property
    def is_problem(self) -> bool:
        return self.stale or self.state in PROBLEM_STATES

    def summary(self) -> dict[str, Any]:
        """The stable public shape of `dswatch status --json`."""
        return {
            "backend": self.backend,
            "id": self.id,
            "name": self.name,
            "state": self.state.value,
            "status": self.status,
            "progress": self.progress,
            "n_images": self.n_images,
            "n_videos": self.n_videos,
            "n_objects": self.n_objects,
            "pipelines": dict(self.pipelines),
            "error": self.error,
        }


# Fields whose change is a change a user wants to see (highlight, changed_at).
VISIBLE_FIELDS = (
    "name",
    "state",
    "status",
    "progress",
    "n_images",
    "n_videos",
    "n_objects",
    "pipelines",
    "error",
    "stale",
)
# Data a failed poll must not wipe out.
_CARRIED_OVER = ("name", "status", "progress", "n_images", "n_videos", "n_objects", "pipelines")


_ALL_VISIBLE = frozenset(VISIBLE_FIELDS)
# The "fields set" of every merged state: one set for all of them, not each
# observation's own (~0.7 KiB a state). Never mutated: pydantic copies it first
# (`model_copy`), and frozen states take no assignment.
_EVERY_FIELD = set(DatasetState.model_fields)
_STALE_ONLY = frozenset({"stale"})


def merge(
    previous: DatasetState | None, observed: DatasetState, now: datetime
) -> tuple[DatasetState, frozenset[str]]:
    """Stamp a backend observation with times and carry good data over a failure.

    Returns the new state and the visible fields that changed (computed once
    here: the poller needs them too, for highlights and notifications).

    A failed poll (unreachable, unauthorized) keeps the last good status, progress and
    counts, marks the row stale and remembers since when. Any other answer is
    fresh data, even a 404: the backend did answer.
    """
    # What the merged state will hold, as a field dict: the observation's (already
    # validated) with the times put in, compared with the previous state's and turned
    # into the new state without validation or a second copy. This runs for every
    # changed dataset on every poll: benchmarks/README.md has the figures.
    fields = _copy_fields(observed.__dict__)
    fields["polled_at"] = now
    if observed.state in FAILED_STATES:
        fields["stale"] = True
        if previous is not None:
            fields["stale_since"] = previous.stale_since if previous.stale else now
            fields["fetched_at"] = previous.fetched_at
            for field in _CARRIED_OVER:
                if fields[field] in (None, {}):
                    fields[field] = getattr(previous, field)
            if previous.raw is not None and observed.raw is None:
                fields["raw"] = previous.raw
        else:
            fields["stale_since"] = now
    else:
        fields["stale"] = False
        fields["stale_since"] = None
        fields["fetched_at"] = now
        if previous is not None and fields["name"] is None:
            fields["name"] = previous.name
    if previous is None:
        changed = _ALL_VISIBLE
    else:
        before = previous.__dict__
        changed = frozenset([f for f in VISIBLE_FIELDS if before[f] != fields[f]])
    same_data = previous is not None and changed <= _STALE_ONLY
    fields["changed_at"] = previous.changed_at if same_data else now  # type: ignore[union-attr]
    return _from_fields(fields, _EVERY_FIELD), changed


@functools.cache
def _placeholder_template() -> DatasetState:
    return DatasetState(backend="", id="")


def placeholder(backend: str, dataset_id: str) -> DatasetState:
    """The row of a dataset not read yet, without validation (~0.5 µs, not ~5 µs):
    50,000 of them are built at start."""
    template = _placeholder_template()
    fields = _key_sharing(template).copy()
    fields["backend"], fields["id"], fields["pipelines"] = backend, dataset_id, {}
    return _from_fields(fields, template.__pydantic_fields_set__)


def from_trusted_fields(fields: dict[str, Any]) -> DatasetState:
    """A DatasetState of every field in `fields`, already valid (our own stored or
    validated values), without validation: the store's warm start builds thousands."""
    return _from_fields(_copy_fields(fields), _EVERY_FIELD)


def from_template(template: DatasetState, **fields: Any) -> DatasetState:
    """`template` (one validated state) with `fields` put in, without validation:
    for values that are clean already (config names and IDs, `clean_name`, raw
    bodies). Thousands of Cognee datasets a second share a few status templates."""
    new = _key_sharing(template).copy()
    new.update(fields)
    return _from_fields(new, _EVERY_FIELD)


def observation_like(template: DatasetState, backend: str, dataset_id: str) -> DatasetState:
    """`template` (one validated observation) for another dataset: a whole backend's
    rows marked down at once share one failure."""
    fields = _key_sharing(template).copy()
    fields["backend"], fields["id"] = backend, dataset_id
    return _from_fields(fields, template.__pydantic_fields_set__)


# A state's four slots, set through their descriptors: what `object.__setattr__`
# does (a frozen model refuses plain assignment) at half its cost, per changed read.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__pydantic_fields_set__.__set__  # type: ignore[attr-defined]
_set_extra = BaseModel.__pydantic_extra__.__set__  # type: ignore[attr-defined]
_set_private = BaseModel.__pydantic_private__.__set__  # type: ignore[attr-defined]
_new_state = DatasetState.__new__


# Memory (issue 17): each state holds its fields in a dict of 18 keys, 50,000 of them.
# CPython's instance dicts share one key table between dicts copied from one another
# and hold only their values (~140 B less a state: benchmarks/memory.py). States are
# built by copying a dict of that layout (`_key_sharing`) and setting fields that are
# all among its keys, which keeps the layout. Only the layout differs: the dict is an
# ordinary dict with the same keys, values and order (elsewhere, a plain copy).
class _FieldNames:
    """Its one instance's __dict__ is the key-sharing dict of DatasetState's fields."""


def _field_names_dict() -> dict[str, Any]:
    holder = _FieldNames()
    for name in DatasetState.model_fields:
        setattr(holder, name, None)
    return holder.__dict__


_FIELD_NAMES = _field_names_dict()
_KEY_SHARING_SIZE = sys.getsizeof(_FIELD_NAMES)


def _copy_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A copy of a state's field dict, in the key-sharing layout."""
    if sys.getsizeof(fields) == _KEY_SHARING_SIZE:  # the layout already: a copy keeps it
        return fields.copy()
    shared = _FIELD_NAMES.copy()
    shared.update(fields)
    return shared


def _key_sharing(template: DatasetState) -> dict[str, Any]:
    """`template`'s field dict, put in the key-sharing layout once (the same fields),
    so that the copies made from it share the key table too."""
    fields = template.__dict__
    if sys.getsizeof(fields) != _KEY_SHARING_SIZE:
        fields = _copy_fields(fields)
        _set_dict(template, fields)
    return fields


def _from_fields(fields: dict[str, Any], fields_set: set[str]) -> DatasetState:
    """A DatasetState holding `fields`: what `model_copy(update=...)` does, minus its copies."""
    new = _new_state(DatasetState)
    _set_dict(new, fields)
    _set_fields_set(new, fields_set)
    _set_extra(new, None)
    _set_private(new, None)
    return new


# What a reading must match, besides the fields a user sees, to be the same answer again.
_SAME_READING_FIELDS = (*VISIBLE_FIELDS, "raw")
_SAME_READING_BUT_NAME = tuple(f for f in _SAME_READING_FIELDS if f != "name")


def same_reading(previous: DatasetState, observed: DatasetState) -> bool:
    """Is `observed` the answer `previous` was made from, again (timestamps aside)?

    True only for a fresh (not stale) state without a failure, read again with
    exactly the same data, raw body included: merging it would build an identical state with
    newer read times. About 80% of reads in a dashboard are such repeats.
    """
    if previous.failure is not None or observed.failure is not None:
        return False  # a failure's time is recorded each time (WatchModel.last_failures)
    if observed is previous:
        return not previous.stale
    before, now = previous.__dict__, observed.__dict__
    # The usual difference first: most changed readings fail here, cheaply.
    if before["state"] is not now["state"] or before["status"] != now["status"]:
        return False
    if previous.stale or now["state"] in FAILED_STATES:
        return False
    # merge() carries the name over a reading without one: compare what it would keep.
    fields = _SAME_READING_BUT_NAME if now["name"] is None else _SAME_READING_FIELDS
    return all(before[f] == now[f] for f in fields)


def touch_read(state: DatasetState, at: datetime) -> None:
    """Move a state's read times to `at` in place: the one mutation a state ever sees.

    For a repeated reading (`same_reading`): the state keeps its identity, so
    nothing downstream is rebuilt or redrawn; only "last poll" / "updated"
    ages move (readers take them from the state when they draw). Frozen
    pydantic models keep fields in `__dict__`; nothing hashes a state.
    """
    fields = state.__dict__
    fields["polled_at"] = at
    fields["fetched_at"] = at


def utcnow() -> datetime:
    return datetime.now(UTC)


_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)


class InvalidDatasetId(ValueError):
    """A dataset ID that must not go into a URL."""


@functools.lru_cache(maxsize=65_536)  # called on every poll with the same few IDs
def normalize_dataset_id(raw: str) -> str:
    """Return the canonical (lower-case, hyphenated) UUID, or raise InvalidDatasetId.

    IDs go into URL paths, so anything that is not a UUID is refused before any
    request is made.
    """
    text = raw.strip()
    if not _UUID_RE.match(text):
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise InvalidDatasetId(f"{shown!r} is not a dataset ID (expected a UUID)")
    canonical = str(uuid.UUID(text))
    # Already canonical (the usual case): the same string, not an equal copy that the
    # config, this cache and every state would each hold (85 bytes a dataset).
    return text if text == canonical else canonical


def split_ids(text: str) -> list[str]:
    """Split pasted IDs on commas, whitespace and newlines, dropping empties."""
    return [part for part in re.split(r"[\s,;]+", text) if part]


def parse_dataset_ids(values: Iterable[str]) -> tuple[list[str], list[str]]:
    """Normalize many IDs: (valid IDs without duplicates, error messages)."""
    good: list[str] = []
    errors: list[str] = []
    for value in values:
        try:
            canonical = normalize_dataset_id(value)
        except InvalidDatasetId as exc:
            errors.append(str(exc))
            continue
        if canonical not in good:
            good.append(canonical)
    return good, errors


def unreadable(
    backend: str, ids: Iterable[str], state: State, failure: Failure
) -> list[DatasetState]:
    """The states of datasets a request could not read (unreachable / unauthorized)."""
    return [
        DatasetState(backend=backend, id=i, state=state, error=failure.message, failure=failure)
        for i in ids
    ]
