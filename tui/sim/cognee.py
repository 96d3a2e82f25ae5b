"""The Cognee API as a real 1.6.5 server answers it.

Sources: docs/api-cognee.md and, where they differ, what a real server did
(docs/cognee-real-server.md). Mounted under /cognee. The status route's
rules are the point: repeatable `dataset` and `pipeline`; no pipeline means
cognify_pipeline; one distinct pipeline gives a flat {id: status} that omits
IDs without a run; two or more give {id: {pipeline: status}} listing only the
pipelines that have a run ({} for none); one unknown or foreign ID, or the
same ID twice, fails the whole batch with 403; a malformed UUID is a 400
validation list with "body": null. No HEAD on any route (405), and a trailing
slash is a 307 to the slash-less URL.

One module at a little over 400 lines: it is the one Cognee API surface, and
its routes share the error helpers at its top; split, a route's answer would be read
in two places.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import COGNEE_POSTURE_DEFAULT, COGNEE_UNAUTHORIZED, CogneeAuth
from .cognee_world import (
    ADD_PIPELINE,
    BACKGROUND_ADD_SECONDS,
    DEFAULT_PIPELINE,
    CogneeDataset,
    CogneeWorld,
)
from .responses import (
    PROXY_PAGES,
    ApiError,
    Handler,
    detail,
    fastapi_like_app,
    guarded,
    int_query,
    parse_uuid,
    path_uuid,
    read_form,
    read_json,
    validation_error,
)
from .world import derived_uuid

COGNEE_VERSION = "1.6.5"
PERMISSION_DENIED = (
    "Request owner does not have necessary permission: [{action}] for all datasets "
    "requested. [PermissionDeniedError]"
)
STATUS_UNAVAILABLE = {"error": "Unable to retrieve dataset statuses."}


def permission_denied(action: str = "read") -> ApiError:
    return detail(403, PERMISSION_DENIED.format(action=action))


def cognee_error_body(status: int) -> tuple[bytes, str]:
    """What a forced error status looks like on Cognee."""
    if status in PROXY_PAGES:
        return PROXY_PAGES[status], "text/html"
    if status == 500:
        # An unhandled exception in FastAPI: Starlette's plain-text page.
        return b"Internal Server Error", "text/plain; charset=utf-8"
    bodies: dict[int, Any] = {
        401: {"detail": COGNEE_UNAUTHORIZED.format(posture=COGNEE_POSTURE_DEFAULT)},
        403: {"detail": PERMISSION_DENIED.format(action="read")},
        404: {"detail": "Not Found"},
        409: STATUS_UNAVAILABLE,
        422: {
            "detail": [{"type": "missing", "loc": ["query", "dataset"], "msg": "Field required"}]
        },
        429: {"detail": "Too Many Requests"},
        503: {"detail": "Service Unavailable"},
    }
    return json.dumps(bodies.get(status, {"detail": "Error"})).encode(), "application/json"


class CogneeApi:
    """Routes over a CogneeWorld, behind CogneeAuth."""

    def __init__(self, world: CogneeWorld, auth: CogneeAuth) -> None:
        self.world = world
        self.auth = auth
        open_, closed = False, True
        self.routes = [
            Route("/", self._guard(self.root, open_)),
            Route("/health", self._guard(self.health, open_)),
            Route("/api/v1/auth/login", self._guard(self.login, open_), methods=["POST"]),
            Route("/api/v1/auth/logout", self._guard(self.logout, closed), methods=["POST"]),
            Route("/api/v1/users/me", self._guard(self.me, closed)),
            Route(
                "/api/v1/auth/api-keys", self._guard(self.create_api_key, closed), methods=["POST"]
            ),
            Route("/api/v1/auth/api-keys", self._guard(self.list_api_keys, closed)),
            Route("/api/v1/datasets", self._guard(self.list_datasets, closed), methods=["GET"]),
            Route("/api/v1/datasets", self._guard(self.create_dataset, closed), methods=["POST"]),
            Route("/api/v1/datasets/status", self._guard(self.status, closed)),
            Route("/api/v1/datasets/status/progress", self._guard(self.progress, closed)),
            Route("/api/v1/datasets/{dataset_id}/data/count", self._guard(self.data_count, closed)),
            Route(
                "/api/v1/datasets/{dataset_id}/processing-status",
                self._guard(self.processing_status, closed),
            ),
            Route("/api/v1/activity/pipeline-runs", self._guard(self.pipeline_runs, closed)),
            Route(
                "/api/v1/datasets/{dataset_id}",
                self._guard(self.delete_dataset, closed),
                methods=["DELETE"],
            ),
            Route("/api/v1/add", self._guard(self.add, closed), methods=["POST"]),
            Route("/api/v1/cognify", self._guard(self.cognify, closed), methods=["POST"]),
        ]
        for route in self.routes:
            # FastAPI, unlike Starlette, does not answer HEAD for a GET route: 405.
            if isinstance(route, Route) and route.methods:
                route.methods.discard("HEAD")
        self.app = fastapi_like_app(self.routes)

    def _guard(self, handler: Handler, needs_auth: bool) -> Handler:
        return guarded(handler, self.auth.check if needs_auth else None)

    # -- helpers ------------------------------------------------------------

    def _authorized(self, ids: list[str], action: str = "read") -> list[CogneeDataset]:
        """The datasets asked for; none asked means all readable. Any refusal: 403 for all.

        The real check compares how many datasets it found with how many IDs were
        asked for, so the same ID twice is refused like an unknown one.
        """
        world = self.world
        if not ids:
            return [d for d in list(world.datasets.values()) if not d.foreign]
        datasets: list[CogneeDataset] = []
        for dataset_id in ids:
            dataset = world.readable(dataset_id)
            if dataset is None:
                raise permission_denied(action)
            datasets.append(dataset)
        if len({d.id for d in datasets}) != len(ids):
            raise permission_denied(action)
        return datasets

    def _query_ids(self, request: Request) -> list[str]:
        ids: list[str] = []
        errors: list[dict[str, Any]] = []
        for index, raw in enumerate(request.query_params.getlist("dataset")):
            canonical, error = parse_uuid(raw, ("query", "dataset", index))
            if error is not None:
                errors.append(error)
            elif canonical is not None:
                ids.append(canonical)
        if errors:
            raise validation_error(400, errors)
        return ids

    def _dataset(self, request: Request, action: str = "read") -> CogneeDataset:
        """The path's dataset: 400 when malformed, 403 (never 404) when unknown."""
        dataset_id = path_uuid(request, "dataset_id", 400)
        return self._authorized([dataset_id], action)[0]

    def _batch(self, request: Request, value: Callable[[CogneeDataset, str], Any]) -> Any:
        """The flat-or-nested shape shared by /status and /status/progress."""
        ids = self._query_ids(request)
        pipelines = list(dict.fromkeys(request.query_params.getlist("pipeline")))
        datasets = self._authorized(ids)
        if len(pipelines) <= 1:
            pipeline = pipelines[0] if pipelines else DEFAULT_PIPELINE
            flat: dict[str, Any] = {}
            for dataset in datasets:
                answer = value(dataset, pipeline)
                if answer is not None:  # no run: the key is left out
                    flat[dataset.id] = answer
            return flat
        nested: dict[str, dict[str, Any]] = {}
        for dataset in datasets:
            per_pipeline: dict[str, Any] = {}
            for pipeline in pipelines:
                answer = value(dataset, pipeline)
                if answer is not None:
                    per_pipeline[pipeline] = answer
            nested[dataset.id] = per_pipeline
        return nested

    # -- routes -------------------------------------------------------------

    async def root(self, request: Request) -> Response:
        return JSONResponse({"message": "Hello, World, I am alive!"})

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ready", "health": "healthy", "version": COGNEE_VERSION})

    async def login(self, request: Request) -> Response:
        form = await read_form(request)
        username = (form.get("username") or [None])[0]
        password = (form.get("password") or [None])[0]
        token = self.auth.login(username, password)
        # Also the auth_token cookie, as a real server sets it.
        response = JSONResponse({"access_token": token, "token_type": "bearer"})
        response.set_cookie(
            "auth_token", token, httponly=True, path="/", samesite="lax", max_age=None
        )
        return response

    async def logout(self, request: Request) -> Response:
        # Tokens are stateless: logging out revokes nothing.
        return JSONResponse({})

    async def me(self, request: Request) -> Response:
        return JSONResponse(
            {
                "id": self.auth.user_id,
                "email": self.auth.email,
                "is_active": True,
                "is_superuser": True,
                "is_verified": True,
                "tenant_id": None,
                "parent_user_id": None,
            }
        )

    async def create_api_key(self, request: Request) -> Response:
        if not await request.body():
            error = {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}
            raise ApiError(400, {"detail": [error], "body": None})
        payload = await read_json(request, 400)
        if not isinstance(payload, dict):
            error = {
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": payload,
            }
            raise ApiError(400, {"detail": [error], "body": payload})
        name = payload.get("name")
        if name is not None and not isinstance(name, str):
            error = {
                "type": "string_type",
                "loc": ["body", "name"],
                "msg": "Input should be a valid string",
                "input": name,
            }
            raise ApiError(400, {"detail": [error], "body": payload})
        return JSONResponse(self.auth.create_api_key(name).as_json())

    async def list_api_keys(self, request: Request) -> Response:
        return JSONResponse([key.as_json() for key in self.auth.api_keys.values()])

    async def list_datasets(self, request: Request) -> Response:
        readable = [d for d in list(self.world.datasets.values()) if not d.foreign]
        return JSONResponse([self.world.listing(dataset) for dataset in readable])

    async def create_dataset(self, request: Request) -> Response:
        payload = await read_json(request, 400)
        name = payload.get("name") if isinstance(payload, dict) else None
        if not isinstance(name, str):
            error = {
                "type": "missing",
                "loc": ["body", "name"],
                "msg": "Field required",
                "input": payload,
            }
            raise ApiError(400, {"detail": [error], "body": payload})
        existing = self._by_name(name)
        dataset = existing or self.world.add_named(name)
        return JSONResponse(self.world.listing(dataset, just_created=existing is None))

    async def delete_dataset(self, request: Request) -> Response:
        dataset = self._dataset(request, "delete")
        self.world.datasets.pop(dataset.id, None)
        return JSONResponse(None)

    def _by_name(self, name: str) -> CogneeDataset | None:
        for dataset in list(self.world.datasets.values()):
            if dataset.name == name and not dataset.foreign:
                return dataset
        return None

    def _by_name_or_new(self, name: str) -> CogneeDataset:
        found = self._by_name(name)
        return found or self.world.add_named(name)

    async def status(self, request: Request) -> Response:
        now = self.world.clock.now()
        body = self._batch(request, lambda d, p: self.world.status(d, p, now))
        return JSONResponse(body)

    async def progress(self, request: Request) -> Response:
        world = self.world
        now = world.clock.now()

        def value(dataset: CogneeDataset, pipeline: str) -> dict[str, Any] | None:
            status = world.status(dataset, pipeline, now)
            if status is None:
                return None
            return {"status": status, "progress": world.progress(dataset, pipeline, now)}

        return JSONResponse(self._batch(request, value))

    async def data_count(self, request: Request) -> Response:
        return JSONResponse({"count": self._dataset(request).data_count})

    async def processing_status(self, request: Request) -> Response:
        dataset = self._dataset(request)
        pipeline = request.query_params.get("pipeline") or DEFAULT_PIPELINE
        done = self.world.completed_items(dataset, pipeline, self.world.clock.now())
        items = [
            {
                "id": derived_uuid(dataset.id, f"data:{index}"),
                "name": f"document_{index + 1:03d}.txt",
                "completed": index < done,
            }
            for index in range(dataset.data_count)
        ]
        total = dataset.data_count
        return JSONResponse(
            {"total": total, "completed": done, "pending": total - done, "items": items}
        )

    async def pipeline_runs(self, request: Request) -> Response:
        limit = int_query(request, "limit", 50, 400, ge=1, le=500)
        pipeline_name = request.query_params.get("pipeline_name")
        raw_id = request.query_params.get("dataset_id")
        ids: list[str] = []
        if raw_id:
            canonical, error = parse_uuid(raw_id, ("query", "dataset_id"))
            if error is not None:
                raise validation_error(400, [error])
            ids = [canonical or ""]
        world = self.world
        now = world.clock.now()
        records: list[dict[str, Any]] = []
        for dataset in self._authorized(ids):
            for run in world.runs_of(dataset, now, limit):
                if pipeline_name and run.pipeline != pipeline_name:
                    continue
                records.extend(world.run_records(dataset, run, now))
        # Newest row first (a run's terminal row before its STARTED row).
        records.sort(key=lambda record: record["created_at"], reverse=True)
        return JSONResponse(records[:limit])

    async def add(self, request: Request) -> Response:
        form = await read_form(request)
        name = (form.get("datasetName") or [""])[0]
        raw_id = (form.get("datasetId") or [""])[0]
        background = (form.get("run_in_background") or ["false"])[0].lower() == "true"
        if not name and not raw_id:
            raise ApiError(400, {"error": "Either datasetId or datasetName must be provided."})
        if raw_id:
            canonical, error = parse_uuid(raw_id, ("body", "datasetId"))
            if error is not None:
                raise validation_error(400, [error])
            dataset = self._authorized([canonical or ""], "write")[0]
        else:
            dataset = self._by_name_or_new(name)
        files = max(1, len(form.get("data", [])))
        dataset.data_count += files
        # Blocking add (the default) has finished when the answer comes.
        duration = BACKGROUND_ADD_SECONDS if background else 0.0
        run = self.world.start_run(dataset, ADD_PIPELINE, duration)
        info = {
            "status": "PipelineRunStarted" if background else "PipelineRunCompleted",
            "pipeline_run_id": run.run_id,
            "dataset_id": dataset.id,
            "dataset_name": dataset.name,
        }
        if background:
            return JSONResponse({**info, "payload": [], "data_ingestion_info": None})
        ingested = [
            {
                "run_info": {**info, "payload": None, "data_ingestion_info": None},
                "data_id": derived_uuid(dataset.id, f"data:{dataset.data_count - 1 - index}"),
            }
            for index in range(files)
        ]
        return JSONResponse({**info, "payload": None, "data_ingestion_info": ingested})

    async def cognify(self, request: Request) -> Response:
        payload = await read_json(request, 400)
        if not isinstance(payload, dict):
            payload = {}
        raw_ids = payload.get("datasetIds") or payload.get("dataset_ids") or []
        names = payload.get("datasets") or []
        background = bool(payload.get("runInBackground", payload.get("run_in_background", False)))
        if not raw_ids and not names:
            raise ApiError(400, {"error": "No datasets or dataset_ids provided."})
        ids: list[str] = []
        for index, raw in enumerate(raw_ids):
            canonical, error = parse_uuid(str(raw), ("body", "datasetIds", index))
            if error is not None:
                raise validation_error(400, [error])
            ids.append(canonical or "")
        datasets = self._authorized(ids, "write") if ids else []
        by_name = {d.name: d for d in list(self.world.datasets.values()) if not d.foreign}
        for name in names:
            if name not in by_name:
                raise ApiError(500, {"error": f"No datasets found with name {name!r}."})
            datasets.append(by_name[name])
        answer: dict[str, Any] = {}
        for dataset in datasets:
            run = self.world.start_cognify(dataset, background=background)
            if background:
                outcome = "PipelineRunStarted"
            else:
                outcome = "PipelineRunErrored" if run.error_class else "PipelineRunCompleted"
            answer[dataset.id] = {
                "status": outcome,
                "pipeline_run_id": run.run_id,
                "dataset_id": dataset.id,
                "dataset_name": dataset.name,
                "payload": [] if background else None,
                "data_ingestion_info": None,
            }
        return JSONResponse(answer)
