"""The Visual Layer API, as documented (see docs/api-visual-layer.md).

Mounted under /vl: GET /api/v1/dataset/{id}, /datasets/{id}/creation-status,
/datasets, /tasks, /healthcheck. Errors are FastAPI's {"detail": ...}; a
malformed path ID is a 422 validation list; unknown IDs are 404.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import VlAuth
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
)
from .vl_world import VlDataset, VlWorld

VL_VERSION = "2.14.0-sim"

_ERROR_MESSAGES = {
    401: "Could not validate credentials",
    403: "Not enough permissions",
    404: "Dataset not found",
    409: "Dataset is not in READY state",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def vl_error_body(status: int) -> tuple[bytes, str]:
    """What a forced error status looks like on Visual Layer (502/504 come from its proxy)."""
    if status in PROXY_PAGES:
        return PROXY_PAGES[status], "text/html"
    if status == 422:
        error = {
            "type": "missing",
            "loc": ["query", "dataset_id"],
            "msg": "Field required",
            "input": None,
        }
        return json.dumps({"detail": [error]}).encode(), "application/json"
    message = _ERROR_MESSAGES.get(status, "Error")
    return json.dumps({"detail": message}).encode(), "application/json"


class VisualLayerApi:
    """Routes over a VlWorld, behind VlAuth."""

    def __init__(self, world: VlWorld, auth: VlAuth) -> None:
        self.world = world
        self.auth = auth
        self.routes = [
            Route("/api/v1/dataset/{dataset_id}", self._guard(self.get_dataset)),
            Route(
                "/api/v1/datasets/{dataset_id}/creation-status",
                self._guard(self.creation_status),
            ),
            Route("/api/v1/datasets", self._guard(self.list_datasets)),
            Route("/api/v1/tasks", self._guard(self.tasks)),
            Route("/api/v1/healthcheck", self._guard(self.healthcheck)),
        ]
        self.app = fastapi_like_app(self.routes)

    def _guard(self, handler: Handler) -> Handler:
        return guarded(handler, self.auth.check)

    def _dataset(self, request: Request) -> VlDataset:
        dataset_id = path_uuid(request, "dataset_id", 422)
        dataset = self.world.datasets.get(dataset_id)
        if dataset is None:
            raise detail(404, f"Dataset {dataset_id} not found")
        return dataset

    async def get_dataset(self, request: Request) -> Response:
        return JSONResponse(self.world.document(self._dataset(request)))

    async def creation_status(self, request: Request) -> Response:
        return JSONResponse(self.world.creation_status(self._dataset(request)))

    async def list_datasets(self, request: Request) -> Response:
        # sort_by=date (newest first) is the documented default; the simulator
        # has no hidden datasets, so include_hidden changes nothing.
        datasets = list(self.world.datasets.values())
        if request.query_params.get("sort_by", "date") == "name":
            datasets.sort(key=lambda dataset: dataset.name)
        else:
            datasets.sort(key=lambda dataset: dataset.created_wall, reverse=True)
        return JSONResponse([self.world.document(dataset) for dataset in datasets])

    async def tasks(self, request: Request) -> Response:
        page = int_query(request, "page", 1, 422, ge=1)
        page_size = int_query(request, "page_size", 20, 422, ge=5, le=50)
        wanted_status = request.query_params.get("task_status")
        raw_id = request.query_params.get("dataset_id")
        if raw_id is not None:
            dataset_id, error = parse_uuid(raw_id, ("query", "dataset_id"))
            if error is not None:
                raise ApiError(422, {"detail": [error]})
            dataset = self.world.datasets.get(dataset_id or "")
            if dataset is None:
                raise detail(404, f"Dataset {dataset_id} not found")
            tasks = self.world.tasks(dataset)
        else:
            tasks = [
                task
                for dataset in list(self.world.datasets.values())
                for task in self.world.tasks(dataset, limit=page * page_size)
            ]
            tasks.sort(key=lambda task: task["start_time"], reverse=True)
        if wanted_status:
            tasks = [task for task in tasks if task["status"] == wanted_status.upper()]
        start = (page - 1) * page_size
        body: dict[str, Any] = {
            "tasks": tasks[start : start + page_size],
            "total": len(tasks),
            "page": page,
            "page_size": page_size,
        }
        return JSONResponse(body)

    async def healthcheck(self, request: Request) -> Response:
        return JSONResponse(
            {"status": "Green", "service-health-message": "none", "version": VL_VERSION}
        )
