"""Cognee's status answers -> DatasetState: the run vocabulary and how runs combine.

See docs/api-cognee.md. A dataset's state comes from the statuses of the
pipelines asked for; both vocabularies (the docs' and the real server's) are
read. Pure functions, cached where thousands of datasets share an answer.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..models import (
    DatasetState,
    InvalidDatasetId,
    State,
    clean_name,
    from_template,
    normalize_dataset_id,
    shared_pipelines,
    shared_text,
)

# One pipeline run's status, in either vocabulary (the docs' and the server's).
_RUN_STATES: dict[str, State] = {
    "INITIATED": State.PENDING,  # queued, not picked up yet (older servers)
    "PENDING": State.PENDING,
    "STARTED": State.RUNNING,
    "RUNNING": State.RUNNING,
    "COMPLETED": State.READY,
    "ERRORED": State.ERROR,
    "FAILED": State.ERROR,
}


def run_state(status: str) -> State:
    """DATASET_PROCESSING_STARTED / running / ... -> a State; anything else -> UNKNOWN."""
    key = status.strip().upper().removeprefix("DATASET_PROCESSING_")
    return _RUN_STATES.get(key, State.UNKNOWN)


@dataclass(frozen=True, slots=True)
class Verdict:
    state: State
    status: str | None  # the raw status that decided, None when nothing ran yet
    error: str | None = None


def combine(runs: Mapping[str, str], pipelines: Sequence[str]) -> Verdict:
    """The dataset's state from its requested pipelines' statuses.

    Any errored -> error; else any unrecognized -> unknown; else any running
    -> running; all completed -> ready; otherwise (queued, or a pipeline not
    run yet) -> pending.
    """
    return _combine(tuple(runs.items()), tuple(pipelines))


@functools.lru_cache(maxsize=1024)  # thousands of datasets share a handful of combinations
def _combine(items: tuple[tuple[str, str], ...], pipelines: tuple[str, ...]) -> Verdict:
    runs = dict(items)
    states = {p: run_state(runs[p]) for p in pipelines if p in runs}
    errored = [p for p in pipelines if states.get(p) is State.ERROR]
    if errored:
        error = "; ".join(f"{p} errored" for p in errored)
        return Verdict(State.ERROR, runs[errored[0]], error)
    for wanted in (State.UNKNOWN, State.RUNNING):
        found = next((p for p in pipelines if states.get(p) is wanted), None)
        if found is not None:
            return Verdict(wanted, runs[found])
    if pipelines and all(states.get(p) is State.READY for p in pipelines):
        return Verdict(State.READY, runs[pipelines[-1]])
    queued = next((p for p in pipelines if states.get(p) is State.PENDING), None)
    return Verdict(State.PENDING, runs[queued] if queued else None)


def _runs_of(value: Any, pipelines: Sequence[str]) -> dict[str, str] | None:
    """{pipeline: status} from one dataset's entry; None when the shape is not understood."""
    if value is None:
        return {}  # flat shape: no runs, key left out
    if isinstance(value, str):
        # Flat shape: only unambiguous with one pipeline asked for.
        return {pipelines[0]: value} if len(pipelines) == 1 else None
    if not isinstance(value, dict):
        return None
    runs: dict[str, str] = {}
    for pipeline, status in value.items():
        if isinstance(status, dict):  # the /status/progress shape: {"status": ..., "progress"}
            status = status.get("status")
        if isinstance(pipeline, str) and isinstance(status, str):
            runs[pipeline] = status
    return runs


def dataset_state(
    backend: str,
    dataset_id: str,
    value: Any,
    pipelines: Sequence[str],
    raw: Any,
    name: str | None = None,
) -> DatasetState:
    """Translate one dataset's entry of a status answer."""
    runs = _runs_of(value, pipelines)
    if runs is None:
        shown = value if isinstance(value, str) else json.dumps(value)[:200]
        return DatasetState(
            backend=backend, id=dataset_id, name=name, state=State.UNKNOWN, status=shown, raw=raw
        )
    if type(raw) is dict and len(raw) == 1 and raw.get(dataset_id) is value:
        # The usual entry ({pipeline: status}, or a flat status) is kept as the
        # same shared objects the state's pipelines use, not as this answer's own
        # copies: the raw body shown in details is unchanged (tui.models: memory).
        if value == runs:
            raw = {dataset_id: shared_pipelines(runs)}
        elif type(value) is str:
            raw = {dataset_id: shared_text(value)}
    # Validated once per distinct {pipeline: status}, not once per dataset read:
    # the rest (config backend and ID, a cleaned name, the raw body) needs none.
    template = _validated(tuple(runs.items()), tuple(pipelines))
    return from_template(template, backend=backend, id=dataset_id, name=clean_name(name), raw=raw)


# Distinct entries an EntryStates keeps; a server's few pipelines and statuses make a
# few dozen, so more means a strange server: start over rather than grow.
_ENTRIES_KEPT = 1024


class EntryStates:
    """`dataset_state` for one backend's reads, each distinct entry translated once.

    Under churn thousands of datasets a second answer with one of a few entries
    (a `{pipeline: status}` map of strings, or a flat status): what `dataset_state`
    builds from one (the validated state, the shared raw value) is kept by the
    entry's contents and reused, so a read costs a lookup and one new state.
    Anything else (other shapes, absent entries) goes through `dataset_state`.
    """

    def __init__(self, backend: str, pipelines: Sequence[str]) -> None:
        self.backend = backend
        self.pipelines = tuple(pipelines)
        self._kept: dict[Any, tuple[DatasetState, Any]] = {}

    def state(self, dataset_id: str, value: Any, name: str | None) -> DatasetState:
        """What `dataset_state(backend, dataset_id, value, pipelines, {dataset_id:
        value}, name)` returns, for an entry the answer holds."""
        kind = type(value)
        key = value if kind is str else tuple(value.items()) if kind is dict else None
        try:
            kept = self._kept.get(key) if key is not None else None
        except TypeError:  # a status that is not a string (a dict): not keyed
            kept = None
        if kept is None:
            state = dataset_state(
                self.backend, dataset_id, value, self.pipelines, {dataset_id: value}, name
            )
            if key is not None and _plain_entry(key):
                if len(self._kept) >= _ENTRIES_KEPT:
                    self._kept.clear()
                template = from_template(state, id="", name=None, raw=None)
                self._kept[key] = (template, state.raw[dataset_id])
            return state
        template, shared = kept
        raw = {dataset_id: shared}
        return from_template(template, id=dataset_id, name=clean_name(name), raw=raw)


def _plain_entry(key: Any) -> bool:
    """Is `key` a flat status or a {pipeline: status} map's items, all strings?"""
    if type(key) is str:
        return True
    return all(type(p) is str and type(s) is str for p, s in key)


@functools.lru_cache(maxsize=1024)
def _validated(items: tuple[tuple[str, str], ...], pipelines: tuple[str, ...]) -> DatasetState:
    """A validated state (no dataset) of these runs: state, status, pipelines, error."""
    verdict = _combine(items, pipelines)
    return DatasetState(
        backend="",
        id="",
        state=verdict.state,
        status=verdict.status,
        pipelines=dict(items),
        error=verdict.error,
    )


def _entries_by_id(data: dict[Any, Any]) -> dict[str, Any]:
    """The answer's entries keyed by canonical ID (the server's spelling may differ)."""
    entries: dict[str, Any] = {}
    for key, value in data.items():
        try:
            entries[normalize_dataset_id(str(key))] = value
        except InvalidDatasetId:
            continue
    return entries
