"""Cognee: one status request per chunk of up to 100 datasets.

The status vocabulary is in cognee_status.py, the activity feed's rows in
cognee_activity.py; this module is the HTTP side.

See docs/api-cognee.md. The server's answer depends on how many distinct
pipelines were asked for (flat `{id: status}` for one, nested
`{id: {pipeline: status}}` for more) and omits or empties datasets with no
runs. One unknown or foreign ID makes the whole batch answer 403: the batch
is split until the refusing IDs are found, and those are polled alone from
then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from ..config import BackendConfig, Settings
from ..eta import PastRun
from ..models import (
    MAX_NAME_CHARS,
    DatasetState,
    Failure,
    InvalidDatasetId,
    State,
    normalize_dataset_id,
    valid_count,
)
from ..secrets import Redactor
from ..text import sanitize
from .base import Backend, BackendError, FetchResult, RemoteDataset
from .cognee_activity import (
    PAST_RUNS_LIMIT,
    _latest_error_classes,
    _one_row_per_run,
    _past_run,
)
from .cognee_status import EntryStates, _entries_by_id, combine, dataset_state, run_state

# The translation rules, importable from here as before the split.
__all__ = ["CogneeBackend", "combine", "dataset_state", "run_state"]
from .http import (
    LIST_MAX_BYTES,
    JsonAnswer,
    JsonApi,
    RequestFailure,
    counting_requests,
    json_kind,
    make_client,
    shape_failure,
)

RUNS_LIMIT = 20  # pipeline runs shown on the details screen
# A real server writes two activity rows per run (STARTED, then the outcome), so twice as
# many rows are asked for as runs are shown.
ROWS_PER_RUN = 2
# Datasets newly in error whose cause (error_class) one poll looks up; more wait a poll.
ERROR_LOOKUPS = 20
# Status URLs kept (see _status_url): 1,000 chunks of 100 cover 100,000 datasets.
_CACHED_URLS = 1024


@dataclass(slots=True)
class _Outcome:
    """What polling one chunk (and its halves, after a 403) produced."""

    states: dict[str, DatasetState] = field(default_factory=dict)
    retry_after: float | None = None
    unauthorized: bool = False
    answered: bool = False  # the server answered a status request with JSON

    def absorb(self, other: _Outcome) -> None:
        self.states.update(other.states)
        self.answered = self.answered or other.answered
        if other.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, other.retry_after)
        self.unauthorized = self.unauthorized or other.unauthorized


class CogneeBackend(Backend):
    batch_size: ClassVar[int] = 100  # ~4 KB of query string

    def __init__(
        self,
        cfg: BackendConfig,
        settings: Settings,
        *,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.auth = auth
        self.pipelines = list(dict.fromkeys(cfg.pipelines))
        self.redactor = redactor or Redactor()
        client = make_client(cfg, settings, auth=auth, transport=transport)
        self.api = JsonApi(client, settings, self.redactor)
        self._clock = clock
        self._names_interval = settings.settled_interval
        self._names: dict[str, str] = {}
        self._names_checked_at: float | None = None
        self._status_urls: dict[tuple[str, ...], httpx.URL] = {}
        self._entry_states = EntryStates(self.name, self.pipelines)
        # IDs that made a batch answer 403: polled alone, so they cannot blind a batch.
        self.suspects: set[str] = set()

    def __repr__(self) -> str:
        return f"CogneeBackend({self.name!r}, {self.cfg.url!r}, auth={self.auth!r})"

    # ------------------------------------------------------------ polling

    async def fetch(self, ids: Sequence[str], previous: Mapping[str, DatasetState]) -> FetchResult:
        result = _Outcome()
        valid: list[str] = []
        keys: list[str] = []  # each ID as the answers are keyed: canonical, or as given
        for dataset_id in ids:
            try:
                key = normalize_dataset_id(dataset_id)
            except InvalidDatasetId as exc:
                key = dataset_id
                result.states[dataset_id] = DatasetState(
                    backend=self.name, id=dataset_id, state=State.NOT_FOUND, error=str(exc)
                )
            else:
                valid.append(key)
            keys.append(key)
        valid = list(dict.fromkeys(valid))  # the same dataset twice is asked once
        batched = [i for i in valid if i not in self.suspects]
        chunks = [batched[k : k + self.batch_size] for k in range(0, len(batched), self.batch_size)]
        chunks += [[i] for i in valid if i in self.suspects]
        with counting_requests() as counter:
            outcomes = await asyncio.gather(*(self._poll(chunk) for chunk in chunks))
            # Names after the statuses, not beside them: a server takes a while to list
            # 50,000 datasets, and the first sweep's statuses would queue behind it.
            # Only from a server that answers: not one more refused login (lockouts) or
            # timeout; they are asked again at the next poll.
            if any(outcome.answered for outcome in outcomes):
                await self._refresh_names_if_due(valid)
        for outcome in outcomes:
            result.absorb(outcome)
        states = []
        found, names = result.states, self._names
        for dataset_id, key in zip(ids, keys, strict=True):
            # The poller keys by the ID it asked with, which may be spelled differently.
            state = found.get(key) or found[dataset_id]
            name = names.get(key) or state.name
            if state.id != dataset_id or state.name != name:
                state = state.model_copy(update={"id": dataset_id, "name": name})
            states.append(state)
        with counting_requests() as lookups:
            states = await self._with_error_classes(states, previous)
        return FetchResult(
            states=states,
            retry_after=result.retry_after,
            unauthorized=result.unauthorized,
            requests=counter.count + lookups.count,
        )

    async def _with_error_classes(
        self, states: list[DatasetState], previous: Mapping[str, DatasetState]
    ) -> list[DatasetState]:
        """`cognify_pipeline errored` -> `cognify_pipeline errored: LLMAPIKeyNotSetError`.

        The status route only says that a run errored; the activity feed has the
        run's error_class, the one cause Cognee exposes. Asked once per new
        error (at most ERROR_LOOKUPS per poll), then carried over while it lasts.
        """
        todo: list[int] = []
        for index, state in enumerate(states):
            if state.state is not State.ERROR or not state.error:
                continue
            old = previous.get(state.id)
            if (
                old is not None
                and old.state is State.ERROR
                and old.pipelines == state.pipelines
                and old.error
                and old.error.startswith(state.error)
            ):
                states[index] = state.model_copy(update={"error": old.error})
            elif len(todo) < ERROR_LOOKUPS:
                todo.append(index)
        found = await asyncio.gather(*(self._error_classes(states[i].id) for i in todo))
        for index, classes in zip(todo, found, strict=True):
            if classes:
                state = states[index]
                error = "; ".join(
                    f"{p} errored: {classes[p]}" if p in classes else f"{p} errored"
                    for p in self.pipelines
                    if state.pipelines.get(p) and run_state(state.pipelines[p]) is State.ERROR
                )
                states[index] = state.model_copy(update={"error": error or state.error})
        return states

    async def _error_classes(self, dataset_id: str) -> dict[str, str]:
        """{pipeline: error_class} of the dataset's latest failed runs; {} when unknown."""
        try:
            runs = await self._activity(normalize_dataset_id(dataset_id))
        except (BackendError, InvalidDatasetId):
            return {}
        return {p: sanitize(c, max_len=120) for p, c in _latest_error_classes(runs or []).items()}

    async def _activity(self, canonical: str) -> list[dict[str, Any]] | None:
        """The activity feed's rows for one dataset (None: this server has no feed)."""
        answer = await self.api.get(
            f"{self.cfg.url}/api/v1/activity/pipeline-runs",
            {"dataset_id": canonical, "limit": RUNS_LIMIT * ROWS_PER_RUN},
        )
        runs = _optional(answer)
        if isinstance(runs, dict):  # tolerate a wrapped list
            runs = runs.get("runs", runs.get("items", runs.get("data")))
        if not isinstance(runs, list):
            return None
        return [self.redactor.json(run) for run in runs if isinstance(run, dict)]

    def _status_url(self, chunk: Sequence[str]) -> httpx.URL:
        """The status URL of a chunk, built once: httpx takes ~0.3 ms to check a 4 KB
        query string, and the scheduler hands over the same chunks poll after poll."""
        key = tuple(chunk)
        url = self._status_urls.get(key)
        if url is None:
            if len(self._status_urls) >= _CACHED_URLS:
                self._status_urls.clear()  # the watch list changed a lot: start over
            params = [("dataset", i) for i in chunk] + [("pipeline", p) for p in self.pipelines]
            url = httpx.URL(f"{self.cfg.url}/api/v1/datasets/status", params=params)
            self._status_urls[key] = url
        return url

    async def _poll(self, chunk: list[str]) -> _Outcome:
        answer = await self.api.get(self._status_url(chunk))
        if isinstance(answer, JsonAnswer):
            return self._read_statuses(chunk, answer)
        if answer.http_status == 403 and not answer.unauthorized:
            return await self._isolate(chunk, answer)
        state = State.UNAUTHORIZED if answer.unauthorized else State.UNREACHABLE
        return _Outcome(
            states={i: answer.state(self.name, i, state) for i in chunk},
            retry_after=answer.retry_after,
            unauthorized=answer.unauthorized,
        )

    async def _isolate(self, chunk: list[str], refused: RequestFailure) -> _Outcome:
        """A 403 for a batch: halve until the refusing IDs stand alone (2 requests per level)."""
        if len(chunk) == 1:
            dataset_id = chunk[0]
            self.suspects.add(dataset_id)
            state = refused.state(self.name, dataset_id, State.NOT_FOUND).model_copy(
                update={"error": "no such dataset, or no access to it (HTTP 403)"}  # our text
            )
            return _Outcome(states={dataset_id: state})
        middle = len(chunk) // 2
        left, right = await asyncio.gather(self._poll(chunk[:middle]), self._poll(chunk[middle:]))
        left.absorb(right)
        return left

    def _read_statuses(self, chunk: list[str], answer: JsonAnswer) -> _Outcome:
        if not isinstance(answer.data, dict):
            message = f"expected a JSON object, got {json_kind(answer.data)}"
            failed = shape_failure(message, answer, self.redactor)
            return _Outcome(
                states={i: failed.state(self.name, i, State.UNREACHABLE) for i in chunk}
            )
        # Redacted first: statuses and pipeline names shown come from what is kept.
        entries = _entries_by_id(self.redactor.json(answer.data))
        outcome = _Outcome(answered=True)
        states, names = outcome.states, self._names
        for dataset_id in chunk:
            if dataset_id in entries:
                state = self._entry_states.state(
                    dataset_id, entries[dataset_id], names.get(dataset_id)
                )
            else:
                state = dataset_state(
                    self.name, dataset_id, None, self.pipelines, {}, names.get(dataset_id)
                )
            states[dataset_id] = state
        if len(chunk) == 1:
            self.suspects.discard(chunk[0])  # readable again: back into batches
        return outcome

    # ------------------------------------------------------------ names

    async def _refresh_names_if_due(self, ids: Sequence[str]) -> None:
        """Names come from the list endpoint: fetched when an unnamed ID shows up, at
        most once per settled interval. Its failure never fails the poll."""
        if all(i in self._names for i in ids):
            return
        now = self._clock()
        last = self._names_checked_at
        if last is not None and now - last < self._names_interval:
            return
        self._names_checked_at = now
        with contextlib.suppress(BackendError):  # no names this time; statuses still count
            await self.list_datasets()

    # ------------------------------------------------------------ on demand

    async def list_datasets(self) -> list[RemoteDataset]:
        answer = await self.api.get(f"{self.cfg.url}/api/v1/datasets", max_bytes=LIST_MAX_BYTES)
        if isinstance(answer, RequestFailure):
            raise answer.as_error()
        if not isinstance(answer.data, list):
            raise BackendError(f"dataset list is a JSON {json_kind(answer.data)}, not an array")
        found: list[RemoteDataset] = []
        for item in self.redactor.json(answer.data):
            if not isinstance(item, dict):
                continue
            try:
                dataset_id = normalize_dataset_id(str(item.get("id")))
            except InvalidDatasetId:
                continue
            name = item.get("name")
            name = sanitize(name, max_len=MAX_NAME_CHARS) if isinstance(name, str) else None
            name = name if name and name.strip() else None
            if name:
                self._names[dataset_id] = name
            found.append(RemoteDataset(id=dataset_id, name=name))
        return found

    async def details(self, dataset_id: str) -> dict[str, Any]:
        """Pipeline runs (with error_class, the only error detail Cognee exposes) and the
        item count; either is left out when this server has no such route (404)."""
        try:
            canonical = normalize_dataset_id(dataset_id)
        except InvalidDatasetId as exc:
            raise BackendError(str(exc)) from None
        runs, count_answer = await asyncio.gather(
            self._activity(canonical),
            self.api.get(f"{self.cfg.url}/api/v1/datasets/{canonical}/data/count"),
        )
        details: dict[str, Any] = {}
        if runs is not None:
            details["pipeline_runs"] = _one_row_per_run(runs)[:RUNS_LIMIT]
            details["error_classes"] = _latest_error_classes(runs)
        count = _optional(count_answer)
        if isinstance(count, dict) and "count" in count:
            details["item_count"] = valid_count(count["count"])  # None: shown as unknown
        return details

    async def past_runs(self, dataset_id: str, pipeline: str | None = None) -> list[PastRun]:
        """Finished runs from the activity feed (`started_at`/`ended_at`), for the store's
        durations and ETAs. Empty when this server has no such route (404)."""
        try:
            canonical = normalize_dataset_id(dataset_id)
        except InvalidDatasetId as exc:
            raise BackendError(str(exc)) from None
        params: dict[str, Any] = {"dataset_id": canonical, "limit": PAST_RUNS_LIMIT}
        if pipeline:
            params["pipeline_name"] = pipeline
        answer = await self.api.get(f"{self.cfg.url}/api/v1/activity/pipeline-runs", params)
        rows = _optional(answer)
        if isinstance(rows, dict):  # tolerate a wrapped list
            rows = rows.get("runs", rows.get("items", rows.get("data")))
        if not isinstance(rows, list):
            return []
        return [run for row in rows if (run := _past_run(row)) is not None]

    def web_url(self, dataset_id: str) -> str | None:
        return self.cfg.web_url.replace("{id}", dataset_id) if self.cfg.web_url else None

    has_probe = True

    async def probe(self) -> Failure | None:
        return await self.api.probe(f"{self.cfg.url}/health")

    async def aclose(self) -> None:
        await self.api.aclose()


def _optional(answer: JsonAnswer | RequestFailure) -> Any:
    """The body of an answer, None for a 404 (route or data absent); other failures raise."""
    if isinstance(answer, JsonAnswer):
        return answer.data
    if answer.http_status == 404:
        return None
    raise answer.as_error()
