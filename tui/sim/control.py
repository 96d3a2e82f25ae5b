"""The /_sim control API: the Simulator's Python API over JSON, for other processes.

Benchmarks and socket tests that run the simulator elsewhere (`dswatch sim`)
drive it through these routes, or through `SimControl`, a small client.
Every route answers JSON; a bad request is 400 {"detail": "..."}.

    GET  /_sim/ping                  {"ok": true}
    GET  /_sim/state                 now, seed, vl_ids, cognee_ids, faults, config
    GET  /_sim/stats                 {"vl": {total, by_route, by_status}, "cognee": {...}}
    POST /_sim/stats/reset
    POST /_sim/faults                {"backend": "vl"|"cognee"|"*", <knob>: value, ...}
    POST /_sim/faults/clear          {"backend": ...}
    POST /_sim/config                {<Simulator.configure knob>: value, ...}
    POST /_sim/churn                 {"backend": ..., "on": true, "settles": true}
    POST /_sim/vl/datasets           {"name", "status", "progress", "fields": {}} -> {"id"}
                                     or {"count": N, "status": "READY"} -> {"ids"}
    POST /_sim/vl/status             {"id", "status", "fields": {}}
    POST /_sim/cognee/datasets       {"name", "pipelines", "foreign"} -> {"id"}
                                     or {"count": N, "pipelines": {...}} -> {"ids"}
    POST /_sim/cognee/status         {"id", "pipeline", "status"}
    POST /_sim/cognee/api-keys       -> {"key"}
    POST /_sim/remove                {"backend", "id"}
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .responses import fastapi_like_app

if TYPE_CHECKING:
    from .simulator import Simulator

Action = Callable[[dict[str, Any]], Any]


def control_app(sim: Simulator) -> Starlette:
    def state(_: dict[str, Any]) -> Any:
        return {
            "now": sim.now(),
            "seed": sim.seed,
            "vl_ids": sim.vl_ids,
            "cognee_ids": sim.cognee_ids,
            "faults": {backend: faults.as_json() for backend, faults in sim.faults.items()},
            "config": sim.config_json(),
        }

    def set_faults(body: dict[str, Any]) -> Any:
        backend = body.pop("backend", "*")
        sim.set_faults(backend, **body)
        return {name: faults.as_json() for name, faults in sim.faults.items()}

    def clear_faults(body: dict[str, Any]) -> Any:
        sim.clear_faults(body.get("backend", "*"))
        return {"ok": True}

    def configure(body: dict[str, Any]) -> Any:
        sim.configure(**body)
        return sim.config_json()

    def churn(body: dict[str, Any]) -> Any:
        settles = bool(body.get("settles", True))
        sim.set_churn(body.get("backend", "cognee"), bool(body.get("on", True)), settles=settles)
        return sim.config_json()

    def vl_datasets(body: dict[str, Any]) -> Any:
        if "count" in body:
            return {
                "ids": sim.add_vl_datasets(int(body["count"]), status=body.get("status", "READY"))
            }
        fields = body.get("fields") or {}
        dataset_id = sim.add_vl_dataset(
            name=body.get("name"),
            status=body.get("status"),
            progress=body.get("progress"),
            **fields,
        )
        return {"id": dataset_id}

    def vl_status(body: dict[str, Any]) -> Any:
        sim.set_vl_status(body["id"], body["status"], **(body.get("fields") or {}))
        return {"ok": True}

    def cognee_datasets(body: dict[str, Any]) -> Any:
        if "count" in body:
            return {
                "ids": sim.add_cognee_datasets(int(body["count"]), pipelines=body.get("pipelines"))
            }
        dataset_id = sim.add_cognee_dataset(
            name=body.get("name"),
            pipelines=body.get("pipelines"),
            foreign=bool(body.get("foreign", False)),
            data_count=body.get("data_count"),
        )
        return {"id": dataset_id}

    def cognee_status(body: dict[str, Any]) -> Any:
        sim.set_cognee_status(body["id"], body["pipeline"], body.get("status"))
        return {"ok": True}

    def remove(body: dict[str, Any]) -> Any:
        sim.remove_dataset(body["backend"], body["id"])
        return {"ok": True}

    def reset_stats(_: dict[str, Any]) -> Any:
        sim.reset_stats()
        return {"ok": True}

    routes = [
        Route("/ping", _endpoint(lambda _: {"ok": True}), methods=["GET"]),
        Route("/state", _endpoint(state), methods=["GET"]),
        Route("/stats", _endpoint(lambda _: sim.stats_json()), methods=["GET"]),
        Route("/stats/reset", _endpoint(reset_stats), methods=["POST"]),
        Route("/faults", _endpoint(set_faults), methods=["POST"]),
        Route("/faults/clear", _endpoint(clear_faults), methods=["POST"]),
        Route("/config", _endpoint(configure), methods=["POST"]),
        Route("/churn", _endpoint(churn), methods=["POST"]),
        Route("/vl/datasets", _endpoint(vl_datasets), methods=["POST"]),
        Route("/vl/status", _endpoint(vl_status), methods=["POST"]),
        Route("/cognee/datasets", _endpoint(cognee_datasets), methods=["POST"]),
        Route("/cognee/status", _endpoint(cognee_status), methods=["POST"]),
        Route(
            "/cognee/api-keys",
            _endpoint(lambda _: {"key": sim.create_cognee_api_key()}),
            methods=["POST"],
        ),
        Route("/remove", _endpoint(remove), methods=["POST"]),
    ]
    return fastapi_like_app(routes)


def _endpoint(action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            return JSONResponse(action(body))
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"detail": f"{type(exc).__name__}: {exc}"}, status_code=400)

    return endpoint


class SimControl:
    """A synchronous client of /_sim for a simulator in another process."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/") + "/_sim", timeout=timeout)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._client.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    def state(self) -> dict[str, Any]:
        response = self._client.get("/state")
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        response = self._client.get("/stats")
        response.raise_for_status()
        return response.json()

    def reset_stats(self) -> None:
        self._post("/stats/reset")

    def set_faults(self, backend: str, **knobs: Any) -> None:
        self._post("/faults", {"backend": backend, **knobs})

    def clear_faults(self, backend: str = "*") -> None:
        self._post("/faults/clear", {"backend": backend})

    def configure(self, **knobs: Any) -> None:
        self._post("/config", knobs)

    def set_churn(self, backend: str, on: bool = True, *, settles: bool = True) -> None:
        self._post("/churn", {"backend": backend, "on": on, "settles": settles})

    def add_vl_datasets(self, count: int, *, status: str | None = "READY") -> list[str]:
        return list(self._post("/vl/datasets", {"count": count, "status": status})["ids"])

    def add_cognee_datasets(
        self, count: int, *, pipelines: dict[str, str | None] | None = None
    ) -> list[str]:
        return list(self._post("/cognee/datasets", {"count": count, "pipelines": pipelines})["ids"])

    def add_vl_dataset(self, *, name: str | None = None, status: str | None = "READY") -> str:
        return str(self._post("/vl/datasets", {"name": name, "status": status})["id"])

    def add_cognee_dataset(
        self, *, name: str | None = None, pipelines: dict[str, str | None] | None = None
    ) -> str:
        return str(self._post("/cognee/datasets", {"name": name, "pipelines": pipelines})["id"])

    def remove(self, backend: str, dataset_id: str) -> None:
        """Delete a dataset ("vl" or "cognee"): it leaves the lists and reads as unknown."""
        self._post("/remove", {"backend": backend, "id": dataset_id})

    def set_vl_status(self, dataset_id: str, status: str, **fields: Any) -> None:
        self._post("/vl/status", {"id": dataset_id, "status": status, "fields": fields})

    def set_cognee_status(self, dataset_id: str, pipeline: str, status: str | None) -> None:
        self._post("/cognee/status", {"id": dataset_id, "pipeline": pipeline, "status": status})

    def create_cognee_api_key(self) -> str:
        return str(self._post("/cognee/api-keys")["key"])

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SimControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
