"""The simulator speaks both APIs as documented, misbehaves on demand, and scales.

In-process (httpx.ASGITransport); the tests over a real socket (huge, cut and
trickled bodies, the control API) are tests/integration/test_sim_socket.py.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import jwt
import pytest

from tests.support.clock import FakeClock
from tui.config import Config
from tui.sim import FAULT_STATUSES, Simulator
from tui.sim.auth import COGNEE_UNAUTHORIZED
from tui.sim.cognee import PERMISSION_DENIED
from tui.sim.cognee_world import (
    COMPLETED,
    ERRORED,
    INITIATED,
    STARTED,
)
from tui.sim.demo import demo_config, demo_simulator
from tui.sim.faults import UNREQUESTED_ID
from tui.sim.vl_world import VL_STATUSES, VlLifecycle

ADD, COGNIFY = "add_pipeline", "cognify_pipeline"
FORBIDDEN = PERMISSION_DENIED.format(action="read")
REAL_401 = COGNEE_UNAUTHORIZED.format(posture="default (no env vars set)")
UNKNOWN_ID = "5b0f54a4-3f0e-4b8e-9d0c-7e6f2b1a9c3d"
START = 1000.0  # the simulator's clock at a test's start
VL_KEY, VL_SECRET = "vl-key-123", "vl-secret-0123456789abcdef0123456789abcdef"


@asynccontextmanager
async def client_for(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        yield client


def vl_token(
    key: str = VL_KEY,
    secret: str = VL_SECRET,
    *,
    kid: str | None = None,
    lifetime: float = 600,
    iss: str | None = "sdk",
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": key, "iat": now, "exp": now + lifetime}
    if iss is not None:
        claims["iss"] = iss
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid or key})


def status_url(ids: list[str], pipelines: list[str] | None = None) -> httpx.URL:
    params: list[tuple[str, str]] = [("dataset", i) for i in ids]
    params += [("pipeline", p) for p in pipelines or []]
    return httpx.URL("/cognee/api/v1/datasets/status", params=params)


# -- Visual Layer ---------------------------------------------------------------


async def test_vl_dataset_document_has_the_documented_fields() -> None:
    sim = Simulator(seed=3)
    async with client_for(sim) as client:
        for dataset_id in sim.vl_ids:
            response = await client.get(f"/vl/api/v1/dataset/{dataset_id}")
            assert response.status_code == 200
            doc = response.json()
            documented = {
                "id", "display_name", "description", "source_type", "owned_by", "created_at",
                "status_new", "status", "progress", "n_images", "n_videos", "n_objects",
                "fatal_error_msg", "source_dataset_id",
            }  # fmt: skip
            assert documented <= doc.keys()
            assert {"created_by", "updated_at", "preview_uri", "source_uri"} <= doc.keys()
            assert doc["id"] == dataset_id
            assert doc["status_new"] in VL_STATUSES
            assert isinstance(doc["progress"], int) and 0 <= doc["progress"] <= 100
            assert (doc["fatal_error_msg"] is not None) == (doc["status_new"] == "ERROR")
            assert doc["status"] in {
                "NEW", "PRE_PROCESSING", "INITIALIZING", "UPLOADING", "SAVING", "INDEXING",
                "ENRICHING", "UPDATING", "READY", "FATAL_ERROR",
            }  # fmt: skip


async def test_vl_errors_are_fastapi_shaped() -> None:
    sim = Simulator(seed=1, vl_datasets=1)
    async with client_for(sim) as client:
        missing = await client.get(f"/vl/api/v1/dataset/{UNKNOWN_ID}")
        assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)
        missing = await client.get(f"/vl/api/v1/datasets/{UNKNOWN_ID}/creation-status")
        assert missing.status_code == 404
        malformed = await client.get("/vl/api/v1/dataset/not-a-uuid")
        assert malformed.status_code == 422
        [error] = malformed.json()["detail"]
        assert error["loc"] == ["path", "dataset_id"] and error["type"] == "uuid_parsing"
        assert {"msg", "input"} <= error.keys()
        no_route = await client.get("/vl/api/v1/nothing-here")
        assert no_route.status_code == 404 and no_route.json() == {"detail": "Not Found"}


async def test_vl_list_creation_status_and_health() -> None:
    sim = Simulator(seed=2, vl_datasets=5)
    async with client_for(sim) as client:
        listing = (await client.get("/vl/api/v1/datasets")).json()
        assert isinstance(listing, list)
        assert sorted(d["id"] for d in listing) == sorted(sim.vl_ids)
        creation = (await client.get(f"/vl/api/v1/datasets/{sim.vl_ids[0]}/creation-status")).json()
        assert set(creation) == {"status", "progress"}
        health = (await client.get("/vl/api/v1/healthcheck")).json()
        assert health["status"] == "Green" and health["service-health-message"] == "none"
        assert "version" in health


async def test_vl_tasks_shape_paging_and_failed_task() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=4, vl_datasets=0, clock=clock)
    failing = sim.add_vl_dataset(name="doomed")
    lifecycle = sim.vl.datasets[failing].lifecycle
    assert lifecycle is not None
    lifecycle.error_at, lifecycle.media_first = 0.5, None
    clock.advance(lifecycle.draft_s + lifecycle.index_s)
    async with client_for(sim) as client:
        doc = (await client.get(f"/vl/api/v1/dataset/{failing}")).json()
        assert doc["status_new"] == "ERROR" and doc["status"] == "FATAL_ERROR"
        body = (await client.get("/vl/api/v1/tasks", params={"dataset_id": failing})).json()
        assert set(body) == {"tasks", "total", "page", "page_size"}
        assert body["page"] == 1 and body["page_size"] == 20 and body["total"] == 2
        for task in body["tasks"]:
            expected = {"task_type", "status", "progress_percentage", "error_message"}
            assert expected | {"start_time", "end_time"} <= task.keys()
        failed = [t for t in body["tasks"] if t["status"] == "FAILED"]
        assert len(failed) == 1 and failed[0]["error_message"] == doc["fatal_error_msg"]
        only_failed = await client.get(
            "/vl/api/v1/tasks", params={"dataset_id": failing, "task_status": "FAILED"}
        )
        assert only_failed.json()["total"] == 1
        for page_size in (4, 51):
            bad = await client.get("/vl/api/v1/tasks", params={"page_size": page_size})
            assert bad.status_code == 422 and isinstance(bad.json()["detail"], list)
        unknown = await client.get("/vl/api/v1/tasks", params={"dataset_id": UNKNOWN_ID})
        assert unknown.status_code == 404


def _walk_vl(sim: Simulator, clock: FakeClock, dataset_id: str, seconds: int) -> list[str]:
    """Distinct consecutive statuses seen sampling every half second."""
    seen: list[str] = []
    progress_in_phase: list[int] = []
    for _ in range(seconds * 2):
        doc = sim.vl.document(sim.vl.datasets[dataset_id])
        status = doc["status_new"]
        if not seen or seen[-1] != status:
            seen.append(status)
            progress_in_phase = []
        progress_in_phase.append(doc["progress"])
        assert progress_in_phase == sorted(progress_in_phase), "progress never goes back"
        clock.advance(0.5)
    return seen


def test_vl_new_dataset_lifecycle_with_a_fake_clock() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=5, vl_datasets=0, clock=clock)
    ok = sim.add_vl_dataset()
    failing = sim.add_vl_dataset()
    for dataset_id, error_at in ((ok, None), (failing, 0.4)):
        lifecycle = sim.vl.datasets[dataset_id].lifecycle
        assert lifecycle is not None
        lifecycle.error_at, lifecycle.media_first = error_at, None
    assert _walk_vl(sim, clock, ok, 120) == ["DRAFT", "INDEXING", "READY"]
    clock.now = START
    assert _walk_vl(sim, clock, failing, 120) == ["DRAFT", "INDEXING", "ERROR"]


def test_vl_add_media_flow_and_datasets_that_stay_partial() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=6, vl_datasets=0, clock=clock)
    plan = dict(
        start=0.0, draft_s=2.0, index_s=4.0, error_at=None, error_msg="", n_images=10,
        media_first=3.0, media_period=40.0, read_only_s=4.0, partial_s=4.0, reindex_s=4.0,
        media_added=5,
    )  # fmt: skip
    cycling = sim.vl.add(lifecycle=VlLifecycle(stays_partial=False, **plan))  # type: ignore[arg-type]
    partial = sim.vl.add(lifecycle=VlLifecycle(stays_partial=True, **plan))  # type: ignore[arg-type]
    assert _walk_vl(sim, clock, cycling.id, 56) == [
        "DRAFT", "INDEXING", "READY", "READ ONLY", "PARTIAL INDEX", "INDEXING", "READY",
        "READ ONLY", "PARTIAL INDEX",
    ]  # fmt: skip
    assert sim.vl.document(cycling)["n_images"] == 20  # two add-media cycles of 5
    clock.now = START
    assert _walk_vl(sim, clock, partial.id, 200) == [
        "DRAFT", "INDEXING", "READY", "READ ONLY", "PARTIAL INDEX",
    ]  # fmt: skip


async def test_vl_spelling_and_schema_knobs() -> None:
    sim = Simulator(seed=7, vl_datasets=0)
    read_only = sim.add_vl_dataset(status="READ ONLY", progress=30)
    async with client_for(sim) as client:
        url = f"/vl/api/v1/dataset/{read_only}"
        sim.configure(vl_status_style="underscore")
        assert (await client.get(url)).json()["status_new"] == "READ_ONLY"
        sim.configure(vl_status_style="space", vl_unknown_status_rate=1.0)
        assert (await client.get(url)).json()["status_new"] == "ARCHIVING"
        sim.configure(vl_unknown_status_rate=0.0, vl_status_fields="legacy")
        legacy = (await client.get(url)).json()
        assert "status_new" not in legacy and legacy["status"] == "UPDATING"
        sim.configure(vl_status_fields="future")
        future = (await client.get(url)).json()
        assert "status_new" not in future and future["status"] == "READ ONLY"
        assert future["progress"] == 30
    with pytest.raises(ValueError):
        sim.configure(vl_status_style="dashes")  # type: ignore[arg-type]


async def test_vl_mixed_style_varies_by_dataset() -> None:
    sim = Simulator(seed=8, vl_datasets=0)
    ids = [sim.add_vl_dataset(status="PARTIAL INDEX") for _ in range(30)]
    sim.configure(vl_status_style="mixed")
    spellings = {sim.vl.document(sim.vl.datasets[i])["status_new"] for i in ids}
    assert spellings == {"PARTIAL INDEX", "PARTIAL_INDEX", "partial index"}


async def test_vl_pinned_status_and_fields() -> None:
    sim = Simulator(seed=9, vl_datasets=1)
    dataset_id = sim.vl_ids[0]
    sim.set_vl_status(dataset_id, "ERROR", fatal_error_msg="disk full", n_images=7)
    async with client_for(sim) as client:
        doc = (await client.get(f"/vl/api/v1/dataset/{dataset_id}")).json()
        assert doc["status_new"] == "ERROR" and doc["fatal_error_msg"] == "disk full"
        assert doc["n_images"] == 7
        tasks = (await client.get("/vl/api/v1/tasks", params={"dataset_id": dataset_id})).json()
        assert tasks["tasks"][0]["status"] == "FAILED"
        assert tasks["tasks"][0]["error_message"] == "disk full"
        sim.set_vl_status(dataset_id, "SOMETHING_NEW")
        assert (await client.get(f"/vl/api/v1/dataset/{dataset_id}")).json()["status_new"] == (
            "SOMETHING_NEW"
        )


async def test_vl_auth_verifies_client_signed_jwts() -> None:
    sim = Simulator(seed=10, vl_datasets=1, vl_credentials=(VL_KEY, VL_SECRET))
    url = f"/vl/api/v1/dataset/{sim.vl_ids[0]}"
    async with client_for(sim) as client:
        bad_tokens = {
            "missing": None,
            "wrong secret": vl_token(secret="another-secret-0123456789abcdef0123456789"),
            "wrong kid": vl_token(kid="another-key"),
            "expired": vl_token(lifetime=-5),
            "no iss": vl_token(iss=None),
            "garbage": "not.a.jwt",
        }
        for reason, token in bad_tokens.items():
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            response = await client.get(url, headers=headers)
            assert response.status_code == 401, reason
            assert isinstance(response.json()["detail"], str), reason
        good = await client.get(url, headers={"Authorization": f"Bearer {vl_token()}"})
        assert good.status_code == 200
    open_sim = Simulator(seed=10, vl_datasets=1)  # on-prem: no credentials configured
    async with client_for(open_sim) as client:
        assert (await client.get(f"/vl/api/v1/dataset/{open_sim.vl_ids[0]}")).status_code == 200


# -- Cognee ---------------------------------------------------------------------


@pytest.fixture
def pinned_cognee() -> tuple[Simulator, dict[str, str]]:
    sim = Simulator(seed=11, vl_datasets=0, cognee_datasets=0)
    ids = {
        "running": sim.add_cognee_dataset(pipelines={ADD: COMPLETED, COGNIFY: STARTED}),
        "empty": sim.add_cognee_dataset(pipelines={}),
        "failed": sim.add_cognee_dataset(pipelines={ADD: COMPLETED, COGNIFY: ERRORED}),
        "added": sim.add_cognee_dataset(pipelines={ADD: STARTED}),
        "old": sim.add_cognee_dataset(pipelines={ADD: COMPLETED, COGNIFY: INITIATED}),
    }
    return sim, ids


async def test_cognee_flat_shape_omits_datasets_without_runs(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    everyone = list(ids.values())
    async with client_for(sim) as client:
        default = (await client.get(status_url(everyone))).json()
        assert default == {ids["running"]: STARTED, ids["failed"]: ERRORED, ids["old"]: INITIATED}
        adds = (await client.get(status_url(everyone, [ADD]))).json()
        assert set(adds) == {ids["running"], ids["failed"], ids["added"], ids["old"]}
        assert adds[ids["added"]] == STARTED
        repeated = (await client.get(status_url(everyone, [ADD, ADD]))).json()
        assert repeated == adds  # one *distinct* pipeline: still flat
        only_empty = (await client.get(status_url([ids["empty"]]))).json()
        assert only_empty == {}


async def test_cognee_nested_shape_has_empty_maps_for_no_runs(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    async with client_for(sim) as client:
        url = status_url([ids["running"], ids["empty"], ids["added"]], [ADD, COGNIFY])
        nested = (await client.get(url)).json()
        assert nested == {
            ids["running"]: {ADD: COMPLETED, COGNIFY: STARTED},
            ids["empty"]: {},
            ids["added"]: {ADD: STARTED},
        }
        three = (
            await client.get(status_url([ids["running"]], [ADD, COGNIFY, "code_graph_pipeline"]))
        ).json()
        assert three == {ids["running"]: {ADD: COMPLETED, COGNIFY: STARTED}}


async def test_cognee_the_same_id_twice_fails_the_whole_batch(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    """The real server compares counts: a duplicate is refused like an unknown ID."""
    sim, ids = pinned_cognee
    twice = [ids["running"], ids["added"], ids["running"]]
    async with client_for(sim) as client:
        for pipelines in (None, [ADD], [ADD, COGNIFY]):
            response = await client.get(status_url(twice, pipelines))
            assert response.status_code == 403
            assert response.json() == {"detail": FORBIDDEN}
        progress = await client.get(
            "/cognee/api/v1/datasets/status/progress", params={"dataset": twice}
        )
        assert progress.status_code == 403 and progress.json() == {"detail": FORBIDDEN}
        cognify = await client.post(
            "/cognee/api/v1/cognify", json={"datasetIds": [ids["empty"], ids["empty"]]}
        )
        assert cognify.status_code == 403
        assert cognify.json() == {"detail": PERMISSION_DENIED.format(action="write")}
        # Deduplicated, the same batch is fine.
        once = await client.get(status_url(list(dict.fromkeys(twice)), [ADD]))
        assert once.status_code == 200


async def test_cognee_unknown_pipeline_names_give_no_entries(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    async with client_for(sim) as client:
        unknown = await client.get(status_url(list(ids.values()), ["no_such_pipeline"]))
        assert unknown.status_code == 200 and unknown.json() == {}


async def test_cognee_per_dataset_routes_answer_403_for_unknown_ids(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    """/data/count, /processing-status, /status/progress, activity: 403, never 404/409."""
    sim, ids = pinned_cognee
    async with client_for(sim) as client:
        for path in (
            f"/cognee/api/v1/datasets/{UNKNOWN_ID}/data/count",
            f"/cognee/api/v1/datasets/{UNKNOWN_ID}/processing-status",
            f"/cognee/api/v1/activity/pipeline-runs?dataset_id={UNKNOWN_ID}",
            f"/cognee/api/v1/datasets/status/progress?dataset={ids['running']}&dataset={UNKNOWN_ID}",
        ):
            response = await client.get(path)
            assert response.status_code == 403, path
            assert response.json() == {"detail": FORBIDDEN}
        cognify = await client.post("/cognee/api/v1/cognify", json={"datasetIds": [UNKNOWN_ID]})
        assert cognify.status_code == 403
        assert cognify.json() == {"detail": PERMISSION_DENIED.format(action="write")}
        deleted = await client.delete(f"/cognee/api/v1/datasets/{ids['empty']}")
        assert deleted.status_code == 200 and deleted.json() is None
        after = await client.get(status_url([ids["running"], ids["empty"]]))
        assert after.status_code == 403


async def test_cognee_validation_errors_are_400_with_a_body_member(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    async with client_for(sim) as client:
        empty = await client.get("/cognee/api/v1/datasets/status?dataset=")
        assert empty.status_code == 400 and empty.json()["body"] is None
        assert empty.json()["detail"][0]["type"] == "uuid_parsing"
        joined = await client.get(
            "/cognee/api/v1/datasets/status", params={"dataset": f"{ids['running']},{ids['old']}"}
        )
        assert joined.status_code == 400
        assert joined.json()["detail"][0]["loc"] == ["query", "dataset", 0]
        limit = await client.get("/cognee/api/v1/activity/pipeline-runs", params={"limit": 0})
        assert limit.status_code == 400
        assert limit.json() == {
            "detail": [
                {
                    "type": "greater_than_equal",
                    "loc": ["query", "limit"],
                    "msg": "Input should be greater than or equal to 1",
                    "input": "0",
                    "ctx": {"ge": 1},
                }
            ],
            "body": None,
        }
        assert (
            await client.get("/cognee/api/v1/activity/pipeline-runs", params={"limit": 501})
        ).status_code == 400
        no_name = await client.post("/cognee/api/v1/datasets", json={})
        assert no_name.status_code == 400
        assert no_name.json() == {
            "detail": [
                {"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": {}}
            ],
            "body": {},
        }


async def test_cognee_trailing_slash_redirects_and_head_is_not_allowed(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, _ = pinned_cognee
    async with client_for(sim) as client:
        slash = await client.get("/cognee/api/v1/datasets/status/")
        assert slash.status_code == 307
        assert slash.headers["location"] == "http://sim/cognee/api/v1/datasets/status"
        head = await client.head("/cognee/health")
        assert head.status_code == 405
        unknown = await client.get("/cognee/api/v1/nope")
        assert unknown.status_code == 404 and unknown.json() == {"detail": "Not Found"}


async def test_cognee_timestamps_and_ids_as_a_real_server_writes_them() -> None:
    """Naive UTC everywhere but createdAt of a POST /datasets that created the dataset;
    ids are UUIDv5 of name + owner."""
    clock = FakeClock(START)
    sim = Simulator(seed=21, vl_datasets=0, cognee_datasets=5, clock=clock)
    async with client_for(sim) as client:
        created = (await client.post("/cognee/api/v1/datasets", json={"name": "notes"})).json()
        assert created["createdAt"].endswith("Z") and created["updatedAt"] is None
        expected_id = uuid.uuid5(uuid.NAMESPACE_OID, f"notes{sim.cognee.owner_id}None")
        assert created["id"] == str(expected_id)
        again = (await client.post("/cognee/api/v1/datasets", json={"name": "notes"})).json()
        assert again["id"] == created["id"]
        assert again["createdAt"] == created["createdAt"].removesuffix("Z")
        listing = (await client.get("/cognee/api/v1/datasets")).json()
        stamps = [d["createdAt"] for d in listing] + [
            d["updatedAt"] for d in listing if d["updatedAt"]
        ]
        for stamp in stamps:
            assert not stamp.endswith("Z") and "+" not in stamp
            assert datetime.fromisoformat(stamp).tzinfo is None
        clock.advance(300)
        rows = (await client.get("/cognee/api/v1/activity/pipeline-runs")).json()
        assert rows
        for row in rows:
            for key in ("created_at", "started_at", "ended_at"):
                if row[key] is not None:
                    assert datetime.fromisoformat(row[key]).tzinfo is None


async def test_cognee_errored_cognify_leaves_items_pending(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    async with client_for(sim) as client:
        body = (
            await client.get(f"/cognee/api/v1/datasets/{ids['failed']}/processing-status")
        ).json()
        assert body["completed"] == 0 and body["pending"] == body["total"] == 3
        adds = (
            await client.get(
                f"/cognee/api/v1/datasets/{ids['failed']}/processing-status",
                params={"pipeline": ADD},
            )
        ).json()
        assert adds["completed"] == 3 and adds["pending"] == 0


async def test_cognee_one_unknown_or_foreign_id_fails_the_whole_batch(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    foreign = sim.add_cognee_dataset(pipelines={COGNIFY: COMPLETED}, foreign=True)
    deleted = ids["failed"]
    sim.remove_dataset("cognee", deleted)
    async with client_for(sim) as client:
        for culprit in (UNKNOWN_ID, foreign, deleted):
            for pipelines in (None, [ADD, COGNIFY]):
                response = await client.get(status_url([ids["running"], culprit], pipelines))
                assert response.status_code == 403
                assert response.json() == {"detail": FORBIDDEN}
        progress = await client.get(
            "/cognee/api/v1/datasets/status/progress", params={"dataset": [UNKNOWN_ID]}
        )
        assert progress.status_code == 403
        count = await client.get(f"/cognee/api/v1/datasets/{foreign}/data/count")
        assert count.status_code == 403
        listing = (await client.get("/cognee/api/v1/datasets")).json()
        assert foreign not in {d["id"] for d in listing}


async def test_cognee_malformed_uuid_is_a_400_validation_list(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    async with client_for(sim) as client:
        response = await client.get(status_url([ids["running"], "not-a-uuid", "1234"]))
        assert response.status_code == 400
        body = response.json()
        assert body["body"] is None
        assert [e["loc"] for e in body["detail"]] == [
            ["query", "dataset", 1],
            ["query", "dataset", 2],
        ]
        assert all(e["type"] == "uuid_parsing" and "msg" in e for e in body["detail"])
        # Pydantic's lax UUIDs: upper case and no hyphens are fine.
        loose = ids["running"].upper().replace("-", "")
        assert (await client.get(status_url([loose]))).json() == {ids["running"]: STARTED}
        path = await client.get("/cognee/api/v1/datasets/nope/data/count")
        assert path.status_code == 400 and path.json()["detail"][0]["loc"] == ["path", "dataset_id"]


async def test_cognee_without_dataset_param_answers_for_all_readable(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    sim.add_cognee_dataset(pipelines={COGNIFY: COMPLETED}, foreign=True)
    async with client_for(sim) as client:
        nested = (await client.get(status_url([], [ADD, COGNIFY]))).json()
        assert set(nested) == set(ids.values())


async def test_cognee_docs_vocabulary_knob(
    pinned_cognee: tuple[Simulator, dict[str, str]],
) -> None:
    sim, ids = pinned_cognee
    sim.configure(cognee_vocabulary="docs")
    async with client_for(sim) as client:
        flat = (await client.get(status_url(list(ids.values())))).json()
        assert flat == {ids["running"]: "running", ids["failed"]: "failed", ids["old"]: "pending"}
        sim.set_cognee_status(ids["running"], COGNIFY, COMPLETED)
        assert (await client.get(status_url([ids["running"]]))).json() == {
            ids["running"]: "completed"
        }
    docs_sim = Simulator(seed=1, cognee_vocabulary="docs", vl_datasets=0)
    async with client_for(docs_sim) as client:
        values = set((await client.get(status_url(docs_sim.cognee_ids))).json().values())
        assert values <= {"pending", "running", "completed", "failed"}


async def test_cognee_progress_route(pinned_cognee: tuple[Simulator, dict[str, str]]) -> None:
    sim, ids = pinned_cognee
    async with client_for(sim) as client:
        url = httpx.URL(
            "/cognee/api/v1/datasets/status/progress",
            params=[("dataset", ids["running"]), ("dataset", ids["empty"])],
        )
        flat = (await client.get(url)).json()
        assert list(flat) == [ids["running"]]
        # Like a real 1.6.5: progress stays null even while a run is going.
        assert flat[ids["running"]] == {"status": STARTED, "progress": None}
        nested_url = url.copy_merge_params({"pipeline": [ADD, COGNIFY]})
        nested = (await client.get(nested_url)).json()
        assert nested[ids["empty"]] == {}
        assert nested[ids["running"]][ADD] == {"status": COMPLETED, "progress": None}
        # The docs page's vocabulary and progress object, for clients that read them.
        sim.configure(cognee_vocabulary="docs")
        flat = (await client.get(url)).json()
        assert flat[ids["running"]]["status"] == "running"
        progress = flat[ids["running"]]["progress"]
        assert set(progress) == {"completed_items", "total_items", "current_stage"}


async def test_cognee_other_routes(pinned_cognee: tuple[Simulator, dict[str, str]]) -> None:
    sim, ids = pinned_cognee
    async with client_for(sim) as client:
        listing = (await client.get("/cognee/api/v1/datasets")).json()
        assert {d["id"] for d in listing} == set(ids.values())
        assert all(set(d) == {"id", "name", "createdAt", "updatedAt", "ownerId"} for d in listing)
        count = (await client.get(f"/cognee/api/v1/datasets/{ids['running']}/data/count")).json()
        assert count == {"count": 3}
        status = await client.get(
            f"/cognee/api/v1/datasets/{ids['failed']}/processing-status",
            params={"pipeline": COGNIFY},
        )
        body = status.json()
        assert set(body) == {"total", "completed", "pending", "items"}
        assert body["total"] == body["completed"] + body["pending"] == len(body["items"])
        assert set(body["items"][0]) == {"id", "name", "completed"}
        runs = (
            await client.get(
                "/cognee/api/v1/activity/pipeline-runs",
                params={"dataset_id": ids["failed"], "pipeline_name": COGNIFY, "limit": 5},
            )
        ).json()
        assert runs and runs[0]["status"] == ERRORED and runs[0]["error_class"]
        assert runs[0]["outcome"] == "failed" and runs[0]["pipeline_name"] == COGNIFY
        assert {"started_at", "ended_at"} <= runs[0].keys()
        health = await client.get("/cognee/health")
        assert health.json() == {"status": "ready", "health": "healthy", "version": "1.6.5"}
        assert (await client.get("/cognee/")).status_code == 200


async def test_cognee_auth_bearer_cookie_api_key_and_expiry() -> None:
    clock = FakeClock(START)
    sim = Simulator(
        seed=12,
        vl_datasets=0,
        cognee_datasets=2,
        clock=clock,
        cognee_auth=True,
        cognee_user=("me@example.com", "s3cret"),
        cognee_jwt_lifetime=60.0,
    )
    url = status_url(sim.cognee_ids)
    async with client_for(sim) as client:
        anonymous = await client.get(url)
        assert anonymous.status_code == 401 and anonymous.json()["detail"]
        assert (await client.get("/cognee/health")).status_code == 200  # no auth there
        wrong = await client.post(
            "/cognee/api/v1/auth/login", data={"username": "me@example.com", "password": "x"}
        )
        assert wrong.status_code == 400 and wrong.json() == {"detail": "LOGIN_BAD_CREDENTIALS"}
        login = await client.post(
            "/cognee/api/v1/auth/login", data={"username": "me@example.com", "password": "s3cret"}
        )
        assert login.status_code == 200 and login.json()["token_type"] == "bearer"
        token = login.json()["access_token"]
        # A real server also sets the token as an HttpOnly cookie.
        assert client.cookies["auth_token"] == token
        set_cookie = login.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "path=/" in set_cookie and "samesite=lax" in set_cookie
        client.cookies.clear()  # test each transport alone
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await client.get(url, headers=bearer)).status_code == 200
        cookie = await client.get(url, headers={"Cookie": f"auth_token={token}"})
        assert cookie.status_code == 200
        key = (
            await client.post("/cognee/api/v1/auth/api-keys", json={"name": "dash"}, headers=bearer)
        ).json()["key"]
        assert (await client.get(url, headers={"X-Api-Key": key})).status_code == 200
        assert (await client.get(url, headers={"X-Api-Key": "bogus"})).status_code == 401
        assert (await client.get(url, headers={"Authorization": "Bearer junk"})).status_code == 401
        # Keys only work in X-Api-Key.
        key_as_bearer = await client.get(url, headers={"Authorization": f"Bearer {key}"})
        assert key_as_bearer.status_code == 401
        # Logout revokes nothing: tokens are stateless.
        logout = await client.post("/cognee/api/v1/auth/logout", headers=bearer)
        assert logout.status_code == 200 and logout.json() == {}
        assert (await client.get(url, headers=bearer)).status_code == 200
        clock.advance(61)  # the JWT expires on the simulator's clock; API keys do not
        assert (await client.get(url, headers=bearer)).status_code == 401
        assert (await client.get(url, headers={"X-Api-Key": key})).status_code == 200
        # A bad credential beside a good one is fine.
        both = await client.get(url, headers={**bearer, "X-Api-Key": key})
        assert both.status_code == 200
        python_key = sim.create_cognee_api_key()
        assert (await client.get(url, headers={"X-Api-Key": python_key})).status_code == 200


async def test_cognee_every_refusal_is_the_real_401() -> None:
    """No credentials, garbage, expired, a wrong key, a key as Bearer: one body, no
    WWW-Authenticate (docs/cognee-real-server.md, difference 4)."""
    clock = FakeClock(START)
    sim = Simulator(
        seed=12, vl_datasets=0, cognee_datasets=1, clock=clock, cognee_auth=True,
        cognee_jwt_lifetime=5.0,
    )  # fmt: skip
    key = sim.create_cognee_api_key()
    async with client_for(sim) as client:
        login = await client.post(
            "/cognee/api/v1/auth/login",
            data={"username": "default_user@example.com", "password": "password"},
        )
        client.cookies.clear()
        token = login.json()["access_token"]
        clock.advance(6)
        refusals = [
            {},
            {"Authorization": "Bearer not-a-jwt"},
            {"Authorization": f"Bearer {token}"},  # expired
            {"Cookie": f"auth_token={token}"},  # expired
            {"X-Api-Key": "wrong-key"},
            {"Authorization": f"Bearer {key}"},
        ]
        for headers in refusals:
            for path in ("/cognee/api/v1/datasets", "/cognee/api/v1/datasets/status"):
                response = await client.get(path, headers=headers)
                assert response.status_code == 401, headers
                assert response.json() == {"detail": REAL_401}
                assert "www-authenticate" not in response.headers
        assert REAL_401.startswith("Authentication required (auth posture: default")


async def test_cognee_login_failures_are_400_and_email_is_case_insensitive() -> None:
    sim = Simulator(
        seed=12, vl_datasets=0, cognee_datasets=0, cognee_auth=True,
        cognee_user=("me@example.com", "s3cret"),
    )  # fmt: skip
    login_url = "/cognee/api/v1/auth/login"
    refused = {"detail": "LOGIN_BAD_CREDENTIALS"}
    async with client_for(sim) as client:
        missing = await client.post(login_url, data={"username": "me@example.com"})
        assert missing.status_code == 400 and missing.json() == refused
        as_json = await client.post(
            login_url, json={"username": "me@example.com", "password": "s3cret"}
        )
        assert as_json.status_code == 400 and as_json.json() == refused
        nothing = await client.post(login_url)
        assert nothing.status_code == 400 and nothing.json() == refused
        shouting = await client.post(
            login_url, data={"username": "Me@Example.COM", "password": "s3cret"}
        )
        assert shouting.status_code == 200
    assert sim.cognee_login.logins == 1


async def test_cognee_api_keys_shape_and_body_rules() -> None:
    sim = Simulator(seed=12, vl_datasets=0, cognee_datasets=1, cognee_auth=True)
    url = "/cognee/api/v1/auth/api-keys"
    async with client_for(sim) as client:
        login = await client.post(
            "/cognee/api/v1/auth/login",
            data={"username": "default_user@example.com", "password": "password"},
        )
        client.cookies.clear()
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        named = await client.post(url, json={"name": "dswatch"}, headers=bearer)
        assert named.status_code == 200
        body = named.json()
        assert set(body) == {"key", "label", "name", "id"}
        assert len(body["key"]) == 64 and int(body["key"], 16) >= 0
        assert body["label"] == body["key"][:8] + "****"
        assert body["name"] == "dswatch"
        assert str(uuid.UUID(body["id"])) == body["id"]
        unnamed = await client.post(url, json={}, headers=bearer)
        assert unnamed.status_code == 200 and unnamed.json()["name"] is None
        no_body = await client.post(url, headers=bearer)
        assert no_body.status_code == 400
        assert no_body.json() == {
            "detail": [
                {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}
            ],
            "body": None,
        }
        listed = await client.get(url, headers=bearer)
        assert listed.json() == [body, unnamed.json()]
        by_key = await client.get(status_url(sim.cognee_ids), headers={"X-Api-Key": body["key"]})
        assert by_key.status_code == 200
        me = (await client.get("/cognee/api/v1/users/me", headers=bearer)).json()
        assert me["email"] == "default_user@example.com" and me["id"] == sim.cognee.owner_id


async def test_cognee_add_and_cognify_drive_a_lifecycle() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=13, vl_datasets=0, cognee_datasets=0, clock=clock)
    sim.configure(cognify_seconds=30.0, cognify_error_rate=0.0)
    async with client_for(sim) as client:
        created = (await client.post("/cognee/api/v1/datasets", json={"name": "notes"})).json()
        dataset_id = created["id"]
        assert set(created) == {"id", "name", "createdAt", "updatedAt", "ownerId"}
        both = [ADD, COGNIFY]
        assert (await client.get(status_url([dataset_id], both))).json() == {dataset_id: {}}
        added = await client.post(
            "/cognee/api/v1/add",
            data={"datasetName": "notes"},
            files={"data": ("a.txt", b"hello world", "text/plain")},
        )
        assert added.status_code == 200 and added.json()["dataset_id"] == dataset_id
        assert (await client.get(status_url([dataset_id], both))).json() == {
            dataset_id: {ADD: COMPLETED}
        }
        assert (await client.get(f"/cognee/api/v1/datasets/{dataset_id}/data/count")).json() == {
            "count": 1
        }
        started = await client.post(
            "/cognee/api/v1/cognify", json={"datasetIds": [dataset_id], "runInBackground": True}
        )
        assert started.json()[dataset_id]["status"] == "PipelineRunStarted"
        assert (await client.get(status_url([dataset_id]))).json() == {dataset_id: STARTED}
        clock.advance(31)
        assert (await client.get(status_url([dataset_id]))).json() == {dataset_id: COMPLETED}
        sim.configure(cognify_error_rate=1.0)
        await client.post(
            "/cognee/api/v1/cognify", json={"datasetIds": [dataset_id], "runInBackground": True}
        )
        clock.advance(31)
        assert (await client.get(status_url([dataset_id]))).json() == {dataset_id: ERRORED}
        runs = (
            await client.get(
                "/cognee/api/v1/activity/pipeline-runs", params={"dataset_id": dataset_id}
            )
        ).json()
        # Each run wrote a STARTED row and a terminal row, newest first.
        assert [(r["pipeline_name"], r["status"]) for r in runs] == [
            (COGNIFY, ERRORED), (COGNIFY, STARTED), (COGNIFY, COMPLETED), (COGNIFY, STARTED),
            (ADD, COMPLETED), (ADD, STARTED),
        ]  # fmt: skip
        assert runs[0]["pipeline_run_id"] == runs[1]["pipeline_run_id"]
        assert runs[0]["started_at"] == runs[1]["started_at"]
        # The real server's failed cognify (no LLM): InternalServerError, tokens 0.
        assert runs[0]["outcome"] == "failed" and runs[0]["error_class"] == "InternalServerError"
        assert (runs[0]["tokens_in"], runs[0]["tokens_out"], runs[0]["embedding_tokens"]) == (
            0, 0, 0,
        )  # fmt: skip
        assert runs[1]["outcome"] is None and runs[1]["ended_at"] is None
        assert runs[1]["tokens_in"] is None and runs[1]["error_class"] is None
        assert runs[2]["outcome"] == "succeeded" and runs[2]["error_class"] is None
        missing = await client.post("/cognee/api/v1/add", data={})
        assert missing.status_code == 400


async def test_cognee_cognify_of_an_empty_dataset_completes_at_once() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=13, vl_datasets=0, cognee_datasets=0, clock=clock)
    sim.configure(cognify_seconds=300.0, cognify_error_rate=1.0)
    async with client_for(sim) as client:
        created = (await client.post("/cognee/api/v1/datasets", json={"name": "empty"})).json()
        started = await client.post(
            "/cognee/api/v1/cognify", json={"datasetIds": [created["id"]], "runInBackground": True}
        )
        answer = started.json()[created["id"]]
        assert answer["status"] == "PipelineRunStarted"
        assert answer["payload"] == [] and answer["data_ingestion_info"] is None
        both = (await client.get(status_url([created["id"]], [ADD, COGNIFY]))).json()
        assert both == {created["id"]: {COGNIFY: COMPLETED}}


async def test_cognee_add_answers_like_a_real_server() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=13, vl_datasets=0, cognee_datasets=0, clock=clock)
    async with client_for(sim) as client:
        blocking = await client.post(
            "/cognee/api/v1/add",
            data={"datasetName": "alpha"},
            files=[
                ("data", ("a.txt", b"a", "text/plain")),
                ("data", ("b.txt", b"b", "text/plain")),
            ],
        )
        body = blocking.json()
        assert body["status"] == "PipelineRunCompleted" and body["payload"] is None
        assert len(body["data_ingestion_info"]) == 2
        assert (
            body["data_ingestion_info"][0]["run_info"]["pipeline_run_id"] == body["pipeline_run_id"]
        )
        assert set(body["data_ingestion_info"][0]) == {"run_info", "data_id"}
        background = await client.post(
            "/cognee/api/v1/add",
            data={"datasetName": "alpha", "run_in_background": "true"},
            files={"data": ("c.txt", b"c", "text/plain")},
        )
        body = background.json()
        assert body["status"] == "PipelineRunStarted"
        assert body["payload"] == [] and body["data_ingestion_info"] is None
        alpha = body["dataset_id"]
        assert (await client.get(status_url([alpha], [ADD]))).json() == {alpha: STARTED}
        clock.advance(0.5)
        assert (await client.get(status_url([alpha], [ADD]))).json() == {alpha: COMPLETED}
        count = await client.get(f"/cognee/api/v1/datasets/{alpha}/data/count")
        assert count.json() == {"count": 3}


def test_cognee_seeded_lifecycles_progress_and_never_go_back() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=14, vl_datasets=0, cognee_datasets=60, clock=clock)
    order = {None: 0, STARTED: 1, COMPLETED: 2, ERRORED: 2, INITIATED: 1}
    seen: set[str | None] = set()
    never_ran = 0
    for dataset in sim.cognee.datasets.values():
        if not dataset.runs:
            never_ran += 1
        if dataset.rerun is not None:
            dataset.rerun = None  # reruns restart cognify by design; judge the first run
        previous = {ADD: -1, COGNIFY: -1}
        clock.now = START
        for _ in range(120):
            for pipeline in (ADD, COGNIFY):
                status = sim.cognee.status(dataset, pipeline, sim.now())
                seen.add(status)
                assert order[status] >= previous[pipeline]
                previous[pipeline] = order[status]
            if previous[COGNIFY] >= 0 and sim.cognee.status(dataset, COGNIFY, sim.now()):
                assert sim.cognee.status(dataset, ADD, sim.now()) == COMPLETED
            clock.advance(1.0)
    assert never_ran > 0
    assert {None, STARTED, COMPLETED, ERRORED, INITIATED} <= seen


def test_same_seed_same_world() -> None:
    clock_a, clock_b = FakeClock(START), FakeClock(START)
    a = Simulator(seed=42, clock=clock_a)
    b = Simulator(seed=42, clock=clock_b)
    assert a.vl_ids == b.vl_ids and a.cognee_ids == b.cognee_ids
    for _ in range(5):
        statuses_a = [a.vl.snapshot(d, a.now()).status for d in a.vl.datasets.values()]
        statuses_b = [b.vl.snapshot(d, b.now()).status for d in b.vl.datasets.values()]
        assert statuses_a == statuses_b
        cognee_a = [a.cognee.status(d, COGNIFY, a.now()) for d in a.cognee.datasets.values()]
        cognee_b = [b.cognee.status(d, COGNIFY, b.now()) for d in b.cognee.datasets.values()]
        assert cognee_a == cognee_b
        clock_a.advance(13)
        clock_b.advance(13)
    assert Simulator(seed=43).vl_ids != a.vl_ids


# -- faults -----------------------------------------------------------------------


async def test_forced_statuses_with_retry_after() -> None:
    sim = Simulator(seed=15, vl_datasets=1, cognee_datasets=1)
    vl_url = f"/vl/api/v1/dataset/{sim.vl_ids[0]}"
    cognee_url = status_url(sim.cognee_ids)
    async with client_for(sim) as client:
        for code in sorted(FAULT_STATUSES):
            sim.set_faults("*", status=code, retry_after=7)
            for url in (vl_url, cognee_url):
                response = await client.get(url)
                assert response.status_code == code
                has_retry = response.headers.get("retry-after") == "7"
                assert has_retry == (code in (429, 503))
        sim.set_faults("cognee", status=409)
        conflict = await client.get(cognee_url)
        assert conflict.json() == {"error": "Unable to retrieve dataset statuses."}
        sim.set_faults("vl", status=404)
        assert "detail" in (await client.get(vl_url)).json()
        date = "Wed, 21 Oct 2025 07:28:00 GMT"
        sim.set_faults("vl", status=503, retry_after=date)
        assert (await client.get(vl_url)).headers["retry-after"] == date
        sim.clear_faults()
        assert (await client.get(vl_url)).status_code == 200
        assert (await client.get(cognee_url)).status_code == 200


async def test_error_rate_is_seeded_and_picks_configured_statuses() -> None:
    async def run(seed: int) -> list[int]:
        sim = Simulator(seed=seed, vl_datasets=1, cognee_datasets=0)
        sim.set_faults("vl", error_rate=0.5, error_statuses=[429, 502])
        async with client_for(sim) as client:
            url = f"/vl/api/v1/dataset/{sim.vl_ids[0]}"
            return [(await client.get(url)).status_code for _ in range(40)]

    first, again = await run(16), await run(16)
    assert first == again
    assert set(first) == {200, 429, 502}


async def test_latency_and_redirect() -> None:
    sim = Simulator(seed=17, vl_datasets=1, cognee_datasets=0)
    url = f"/vl/api/v1/dataset/{sim.vl_ids[0]}?x=1"
    async with client_for(sim) as client:
        sim.set_faults("vl", latency=0.2)
        began = time.perf_counter()
        assert (await client.get(url)).status_code == 200
        assert time.perf_counter() - began >= 0.2
        sim.set_faults("vl", latency=0.0, redirect_to="http://other.example:9000/vl/")
        moved = await client.get(url)
        assert moved.status_code == 307
        assert moved.headers["location"] == (
            f"http://other.example:9000/vl/api/v1/dataset/{sim.vl_ids[0]}?x=1"
        )


def _must_not_decode(content: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        content.decode("utf-8")


def _must_not_parse(content: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(content)


async def test_body_faults() -> None:
    sim = Simulator(seed=18, vl_datasets=1, cognee_datasets=0)
    pinned = sim.add_cognee_dataset(pipelines={COGNIFY: COMPLETED})
    vl_url = f"/vl/api/v1/dataset/{sim.vl_ids[0]}"
    async with client_for(sim) as client:
        clean = (await client.get(vl_url)).content
        cases: dict[str, Any] = {
            "not_json": _must_not_parse,
            "truncated_json": lambda c: (_must_not_parse(c), clean.startswith(c)),
            "non_utf8": _must_not_decode,
            "array": lambda c: isinstance(json.loads(c), list) or pytest.fail("not an array"),
            "string": lambda c: isinstance(json.loads(c), str) or pytest.fail("not a string"),
            "null": lambda c: json.loads(c) is None or pytest.fail("not null"),
        }
        for kind, check in cases.items():
            sim.set_faults("vl", body=kind)
            response = await client.get(vl_url)
            assert response.status_code == 200
            assert int(response.headers["content-length"]) == len(response.content)
            check(response.content)
        sim.set_faults("vl", body="wrong_types")
        wrong = (await client.get(vl_url)).json()
        assert wrong["progress"] == str(json.loads(clean)["progress"]) and wrong["n_images"] == -1
        assert wrong["status_new"] in (None, 42) and wrong["status"] in (None, 42)
        sim.set_faults("vl", body="extra_fields")
        extra = (await client.get(vl_url)).json()
        assert extra.keys() > json.loads(clean).keys()
        sim.set_faults("cognee", body="extra_fields")
        cognee = (await client.get(status_url([pinned]))).json()
        assert cognee == {pinned: COMPLETED, UNREQUESTED_ID: COMPLETED}
        sim.set_faults("cognee", body="wrong_types")
        assert (await client.get(status_url([pinned]))).json()[pinned] in (None, 42)
        sim.set_faults("vl", body="huge", huge_bytes=300_000)
        huge = await client.get(vl_url)
        assert len(huge.content) == 300_000 and "content-length" not in huge.headers
        assert json.loads(huge.content)["padding"].startswith("xxx")
    with pytest.raises(ValueError):
        sim.set_faults("vl", body="haunted")
    with pytest.raises(ValueError):
        sim.set_faults("vl", status=418)
    with pytest.raises(ValueError):
        sim.set_faults("vl", jitter=1)


async def test_close_mid_body_and_trickle_in_process() -> None:
    sim = Simulator(seed=19, vl_datasets=1, cognee_datasets=0)
    url = f"/vl/api/v1/dataset/{sim.vl_ids[0]}"
    async with client_for(sim) as client:
        clean = (await client.get(url)).content
        sim.set_faults("vl", close_mid_body=True)
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(url)
        sim.set_faults("vl", close_mid_body=False, trickle=0.002, trickle_bytes=64)
        began = time.perf_counter()
        slow = await client.get(url)
        assert slow.content == clean
        assert time.perf_counter() - began >= 0.002 * (len(clean) // 64)


async def test_stats_count_routes_and_statuses() -> None:
    sim = Simulator(seed=20, vl_datasets=1, cognee_datasets=1)
    async with client_for(sim) as client:
        await client.get(f"/vl/api/v1/dataset/{sim.vl_ids[0]}")
        await client.get(f"/vl/api/v1/dataset/{UNKNOWN_ID}")
        await client.get(status_url(sim.cognee_ids))
        sim.set_faults("cognee", status=503)
        await client.get(status_url(sim.cognee_ids))
        stats = (await client.get("/_sim/stats")).json()
    assert sim.stats["vl"].total == 2
    assert sim.stats["vl"].by_route["GET /api/v1/dataset/{dataset_id}"] == 2
    assert sim.stats["vl"].by_status == {200: 1, 404: 1}
    assert sim.stats["cognee"].by_status == {200: 1, 503: 1}
    assert stats["cognee"]["by_route"] == {"GET /api/v1/datasets/status": 2}
    sim.reset_stats()
    assert sim.stats["vl"].total == 0


# -- scale ------------------------------------------------------------------------


async def test_ten_thousand_datasets_in_one_status_call_and_churn() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=21, vl_datasets=0, cognee_datasets=0, clock=clock)
    ids = sim.add_cognee_datasets(10_000)
    async with client_for(sim) as client:
        # No `dataset` parameter: every readable dataset (10,000 IDs do not fit in a URL).
        body = (await client.get(status_url([], [ADD, COGNIFY]))).json()
        assert len(body) == 10_000
        assert body[ids[-1]] == {ADD: COMPLETED, COGNIFY: COMPLETED}
        chunk = (await client.get(status_url(ids[:1000]))).json()
        assert len(chunk) == 1000
        sim.set_churn("cognee")
        first = (await client.get(status_url([]))).json()
        clock.advance(1.0)
        second = (await client.get(status_url([]))).json()
        assert set(first.values()) == {STARTED, COMPLETED}
        assert all(first[i] != second[i] for i in ids)  # every dataset changed
        sim.set_churn("cognee", settles=False)  # busy: never seen done
        first = (await client.get(status_url([]))).json()
        clock.advance(1.0)
        second = (await client.get(status_url([]))).json()
        assert set(first.values()) == {STARTED, INITIATED}
        assert all(first[i] != second[i] for i in ids)


async def test_vl_bulk_and_churn() -> None:
    clock = FakeClock(START)
    sim = Simulator(seed=22, vl_datasets=0, cognee_datasets=0, clock=clock)
    ids = sim.add_vl_datasets(2_000)
    assert all(sim.vl.snapshot(sim.vl.datasets[i], sim.now()).status == "READY" for i in ids)
    sim.set_churn("vl")
    before = [sim.vl.snapshot(sim.vl.datasets[i], sim.now()).status for i in ids]
    clock.advance(1.0)
    after = [sim.vl.snapshot(sim.vl.datasets[i], sim.now()).status for i in ids]
    assert all(b != a for b, a in zip(before, after, strict=True))
    sim.set_churn("vl", settles=False)  # busy: always INDEXING, a new progress each second
    before = [sim.vl.snapshot(sim.vl.datasets[i], sim.now()) for i in ids]
    clock.advance(1.0)
    after = [sim.vl.snapshot(sim.vl.datasets[i], sim.now()) for i in ids]
    assert {s.status for s in before + after} == {"INDEXING"}
    assert all(b.progress != a.progress for b, a in zip(before, after, strict=True))


# -- demo ---------------------------------------------------------------------------


async def test_demo_simulator_and_config() -> None:
    sim = demo_simulator(seed=7)
    config = demo_config(sim)
    assert isinstance(config, Config)
    assert 35 <= len(sim.vl_ids) + len(sim.cognee_ids) <= 45
    vl, cognee = config.backend("visual-layer"), config.backend("cognee")
    assert vl is not None and cognee is not None
    assert vl.type == "visual_layer" and vl.url == "http://demo.sim/vl"
    assert cognee.type == "cognee" and cognee.url == "http://demo.sim/cognee"
    assert vl.api_key_env is None and cognee.username_env is None
    [unknown_vl] = set(vl.datasets) - set(sim.vl_ids)
    [unknown_cognee] = set(cognee.datasets) - set(sim.cognee_ids)
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://demo.sim") as client:
        assert (await client.get(f"{vl.url}/api/v1/dataset/{unknown_vl}")).status_code == 404
        response = await client.get(
            f"{cognee.url}/api/v1/datasets/status", params={"dataset": unknown_cognee}
        )
        assert response.status_code == 403
        statuses = (await client.get(status_url(sim.cognee_ids, [ADD, COGNIFY]))).json()
        assert {} in statuses.values()  # some datasets never ran
        listing = (await client.get(f"{vl.url}/api/v1/datasets")).json()
        assert len({d["status_new"] for d in listing}) >= 3  # a lively mix from the start
    assert demo_simulator(seed=7).vl_ids == sim.vl_ids
    assert demo_simulator().vl_ids != sim.vl_ids
