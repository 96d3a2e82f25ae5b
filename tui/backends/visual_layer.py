"""Visual Layer: one GET per dataset, translated into DatasetState.

See docs/api-visual-layer.md. `status_new` is read first and `status` is
the fallback (the API is renaming one into the other); spellings differ in
case, spaces and underscores across the docs, so those are ignored.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from ..config import BackendConfig, Settings
from ..models import (
    MAX_STATUS_CHARS,
    DatasetState,
    Failure,
    InvalidDatasetId,
    State,
    normalize_dataset_id,
    status_text,
    valid_count,
    valid_progress,
)
from ..secrets import Redactor
from ..text import sanitize
from .base import Backend, BackendError, FetchResult, RemoteDataset
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

CLOUD_HOST = "app.visual-layer.com"
TASKS_PAGE_SIZE = 50  # the API's maximum

_STATES: dict[str, State] = {
    # new dataset being set up
    "DRAFT": State.PENDING,
    "NEW": State.PENDING,
    "UPLOADING": State.PENDING,
    "INITIALIZING": State.PENDING,
    # work under way (READ ONLY: media being added or enriched; browsing works)
    "INDEXING": State.RUNNING,
    "READONLY": State.RUNNING,
    "UPDATING": State.RUNNING,
    "ENRICHING": State.RUNNING,
    "SAVING": State.RUNNING,
    "PREPROCESSING": State.RUNNING,
    # new media added, not re-clustered: usable, needs a reindex for READY
    "PARTIALINDEX": State.PARTIAL,
    "READY": State.READY,
    "ERROR": State.ERROR,
    "FATALERROR": State.ERROR,
}
# Previous states after which the creation-status endpoint is worth a request.
_CREATING = frozenset({State.PENDING, State.RUNNING})


def state_of(status: str) -> State:
    """The normalized state of a Visual Layer status string; unknown strings -> UNKNOWN."""
    key = "".join(status.split()).replace("_", "").upper()
    return _STATES.get(key, State.UNKNOWN)


# One check for every backend's numbers lives in tui.models (DatasetState runs it
# too); these names are what this module has always called them.
progress_of = valid_progress  # 0..100 from a number or numeric string; else None
count_of = valid_count  # a plausible non-negative integer; else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


# Body strings up to this long are kept once for every dataset (field names, status
# words, "VL"): IDs, dates and URLs are longer and unique anyway.
_SHARED_VALUE_CHARS = 24


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    """The body as kept in `raw`: equal, but its field names and short words shared
    with every other dataset's instead of each answer's own (~1 KiB per dataset)."""
    return {
        (sys.intern(key) if type(key) is str else key): (
            sys.intern(value) if type(value) is str and len(value) <= _SHARED_VALUE_CHARS else value
        )
        for key, value in body.items()
    }


def dataset_state(backend: str, dataset_id: str, body: dict[str, Any]) -> DatasetState:
    """Translate one `GET /api/v1/dataset/{id}` body (an object, already redacted: it is
    kept as `raw`, and every string shown comes from it)."""
    body = _compact(body)
    status_value = body.get("status_new")
    if status_value is None:
        status_value = body.get("status")
    # Missing, or not a string: show what came (as JSON text), never guess.
    status = status_text(status_value)
    state = state_of(status_value) if isinstance(status_value, str) else State.UNKNOWN
    return DatasetState(
        backend=backend,
        id=dataset_id,
        name=_text(body.get("display_name")),
        state=state,
        status=status,
        progress=progress_of(body.get("progress")),
        n_images=count_of(body.get("n_images")),
        n_videos=count_of(body.get("n_videos")),
        n_objects=count_of(body.get("n_objects")),
        error=_text(body.get("fatal_error_msg")) if state is State.ERROR else None,
        raw=body,
    )


class VisualLayerBackend(Backend):
    batch_size: ClassVar[int] = 1

    def __init__(
        self,
        cfg: BackendConfig,
        settings: Settings,
        *,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.auth = auth
        self.redactor = redactor or Redactor()
        client = make_client(cfg, settings, auth=auth, transport=transport)
        self.api = JsonApi(client, settings, self.redactor)

    def __repr__(self) -> str:
        return f"VisualLayerBackend({self.name!r}, {self.cfg.url!r}, auth={self.auth!r})"

    # ------------------------------------------------------------ polling

    async def fetch(self, ids: Sequence[str], previous: Mapping[str, DatasetState]) -> FetchResult:
        with counting_requests() as counter:
            outcomes = await asyncio.gather(*(self._fetch_one(i, previous.get(i)) for i in ids))
        retry_afters = [r.retry_after for _, r in outcomes if r and r.retry_after is not None]
        return FetchResult(
            states=[state for state, _ in outcomes],
            retry_after=max(retry_afters) if retry_afters else None,
            unauthorized=any(r is not None and r.unauthorized for _, r in outcomes),
            requests=counter.count,
        )

    async def _fetch_one(
        self, dataset_id: str, previous: DatasetState | None
    ) -> tuple[DatasetState, RequestFailure | None]:
        try:
            canonical = normalize_dataset_id(dataset_id)
        except InvalidDatasetId as exc:
            return self._not_a_dataset(dataset_id, str(exc)), None
        url = f"{self.cfg.url}/api/v1/dataset/{canonical}"
        if _being_created(previous):
            # Still being created last time: ask for the creation status too, in
            # parallel. Settled datasets cost exactly one request per poll.
            creation_url = f"{self.cfg.url}/api/v1/datasets/{canonical}/creation-status"
            answer, creation = await asyncio.gather(self.api.get(url), self.api.get(creation_url))
        else:
            answer, creation = await self.api.get(url), None
        if isinstance(answer, RequestFailure):
            return self._failed(dataset_id, answer), answer
        if not isinstance(answer.data, dict):
            message = f"expected a JSON object, got {json_kind(answer.data)}"
            failed = shape_failure(message, answer, self.redactor)
            return failed.state(self.name, dataset_id, State.UNREACHABLE), None
        state = dataset_state(self.name, dataset_id, self.redactor.json(answer.data))
        creation_status = _creation_status(creation)
        if _unreadable(creation) and previous is not None:
            # The side request failed this time: keep the last creation status known
            # rather than dropping it from the row until the next poll.
            creation_status = previous.pipelines.get("creation")
        if creation_status is not None and state.state is not State.READY:
            # model_copy does not validate: made safe here, as the model would.
            creation_status = sanitize(
                self.redactor.text(creation_status), max_len=MAX_STATUS_CHARS
            )
            state = state.model_copy(update={"pipelines": {"creation": creation_status}})
        return state, None

    def _failed(self, dataset_id: str, failed: RequestFailure) -> DatasetState:
        if failed.unauthorized or failed.http_status == 403:
            # 403 is this dataset's access; only `unauthorized` (401 after a fresh
            # token, or unusable credentials) pauses the whole backend.
            return failed.state(self.name, dataset_id, State.UNAUTHORIZED)
        if failed.http_status == 404:
            # The API says 404 for "no such dataset" and for "no access to it".
            return failed.state(self.name, dataset_id, State.NOT_FOUND)
        return failed.state(self.name, dataset_id, State.UNREACHABLE)

    def _not_a_dataset(self, dataset_id: str, reason: str) -> DatasetState:
        return DatasetState(backend=self.name, id=dataset_id, state=State.NOT_FOUND, error=reason)

    # ------------------------------------------------------------ on demand

    async def list_datasets(self) -> list[RemoteDataset]:
        answer = await self.api.get(f"{self.cfg.url}/api/v1/datasets", max_bytes=LIST_MAX_BYTES)
        if isinstance(answer, RequestFailure):
            raise answer.as_error()
        items = answer.data
        if isinstance(items, dict):  # tolerate a wrapped list, should the API add paging
            items = items.get("datasets", items.get("items"))
        if not isinstance(items, list):
            raise BackendError(f"dataset list is a JSON {json_kind(items)}, not an array")
        found: list[RemoteDataset] = []
        for item in self.redactor.json(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                continue
            try:
                dataset_id = normalize_dataset_id(item["id"])
            except InvalidDatasetId:
                continue
            status = item.get("status_new") or item.get("status")
            name = _text(item.get("display_name"))
            found.append(
                RemoteDataset(
                    id=dataset_id,
                    name=None if name is None else sanitize(name, max_len=200),
                    status=sanitize(status, max_len=200) if isinstance(status, str) else None,
                )
            )
        return found

    async def details(self, dataset_id: str) -> dict[str, Any]:
        try:
            canonical = normalize_dataset_id(dataset_id)
        except InvalidDatasetId as exc:
            raise BackendError(str(exc)) from None
        params = {"dataset_id": canonical, "page_size": TASKS_PAGE_SIZE}
        answer = await self.api.get(f"{self.cfg.url}/api/v1/tasks", params)
        if isinstance(answer, RequestFailure):
            raise answer.as_error()
        data = answer.data
        tasks = data.get("tasks") if isinstance(data, dict) else None
        if not isinstance(tasks, list):
            raise BackendError("task list answer has no `tasks` array")
        return {"tasks": [self.redactor.json(t) for t in tasks if isinstance(t, dict)]}

    def web_url(self, dataset_id: str) -> str | None:
        if self.cfg.web_url:
            return self.cfg.web_url.replace("{id}", dataset_id)
        if httpx.URL(self.cfg.url).host == CLOUD_HOST:
            return f"https://{CLOUD_HOST}/dataset/{dataset_id}/data"
        return f"{self.cfg.url}/dataset/{dataset_id}/data"

    has_probe = True

    async def probe(self) -> Failure | None:
        return await self.api.probe(f"{self.cfg.url}/api/v1/healthcheck")

    async def aclose(self) -> None:
        await self.api.aclose()


def _being_created(previous: DatasetState | None) -> bool:
    """Was the dataset being created when last seen? A stale row (the last poll
    failed) is judged by the status it kept, so recovering asks as before."""
    if previous is None:
        return False
    if previous.stale and previous.status is not None:
        return state_of(previous.status) in _CREATING
    return previous.state in _CREATING


def _unreadable(answer: JsonAnswer | RequestFailure | None) -> bool:
    """A creation-status request that gave no answer (a 404 is one: nothing to show)."""
    if isinstance(answer, RequestFailure):
        return answer.http_status != 404
    return isinstance(answer, JsonAnswer) and not isinstance(answer.data, dict)


def _creation_status(answer: JsonAnswer | RequestFailure | None) -> str | None:
    """The creation-status string, or None: its failure must not fail the dataset."""
    if not isinstance(answer, JsonAnswer) or not isinstance(answer.data, dict):
        return None
    status = answer.data.get("status")
    return status if isinstance(status, str) and status else None
