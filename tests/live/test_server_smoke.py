"""Smoke tests of the live harness: plain httpx against a real Cognee 1.6.5 server."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.live.cognee import (
    ADD_PIPELINE,
    COGNIFY_PIPELINE,
    COMPLETED,
    CogneeServer,
    StartServer,
    unique_name,
)

pytestmark = pytest.mark.cognee_live


def test_health_and_root_need_no_auth(cognee_server: CogneeServer) -> None:
    with httpx.Client(base_url=cognee_server.url, timeout=30) as client:
        assert client.get("/").status_code == 200
        health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ready", "health": "healthy", "version": "1.6.5"}


def test_login_create_dataset_and_read_its_status(cognee_server: CogneeServer) -> None:
    with httpx.Client(base_url=cognee_server.url, timeout=30) as client:
        login = client.post(
            "/api/v1/auth/login",
            data={"username": cognee_server.username, "password": cognee_server.password},
        )
        assert login.status_code == 200, login.text
        assert login.json()["token_type"] == "bearer"
        client.cookies.clear()  # login also sets an auth_token cookie: test the header alone
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

        name = unique_name("smoke")
        created = client.post("/api/v1/datasets", json={"name": name}, headers=auth)
        assert created.status_code == 200, created.text
        dataset = created.json()
        assert dataset["name"] == name
        assert set(dataset) == {"id", "name", "createdAt", "updatedAt", "ownerId"}
        dataset_id = dataset["id"]

        listed = client.get("/api/v1/datasets", headers=auth)
        assert listed.status_code == 200
        assert dataset_id in {d["id"] for d in listed.json()}

        # No runs yet: the flat shape leaves the id out, the nested one maps it to {}.
        flat = client.get("/api/v1/datasets/status", params={"dataset": dataset_id}, headers=auth)
        assert flat.status_code == 200
        assert flat.json() == {}
        nested = client.get(
            "/api/v1/datasets/status",
            params=[
                ("dataset", dataset_id),
                ("pipeline", ADD_PIPELINE),
                ("pipeline", COGNIFY_PIPELINE),
            ],
            headers=auth,
        )
        assert nested.status_code == 200
        assert nested.json() == {dataset_id: {}}

        # No credentials at all: 401 with an explanatory detail.
        anonymous = client.get("/api/v1/datasets/status", params={"dataset": dataset_id})
        assert anonymous.status_code == 401
        assert anonymous.json()["detail"].startswith("Authentication required")


def test_added_dataset_has_add_pipeline_completed(cognee_server: CogneeServer) -> None:
    dataset_id = cognee_server.add_dataset()
    empty_id = cognee_server.create_dataset()
    response = cognee_server.status([dataset_id, empty_id], [ADD_PIPELINE])
    assert response.status_code == 200
    assert response.json() == {dataset_id: COMPLETED}

    key = cognee_server.create_api_key()
    by_key = cognee_server.status([dataset_id], [ADD_PIPELINE], headers={"X-Api-Key": key})
    assert by_key.json() == {dataset_id: COMPLETED}

    unknown = str(uuid.uuid4())
    forbidden = cognee_server.status([dataset_id, unknown], [ADD_PIPELINE])
    assert forbidden.status_code == 403
    assert forbidden.json() == {
        "detail": "Request owner does not have necessary permission: [read] for all "
        "datasets requested. [PermissionDeniedError]"
    }


def test_factory_gives_a_server_with_a_short_jwt(cognee_server_factory: StartServer) -> None:
    server = cognee_server_factory(jwt_lifetime_seconds=3)
    try:
        headers = server.auth_headers()
        assert server.request("GET", "/api/v1/datasets", headers=headers).status_code == 200
        time.sleep(4)
        expired = server.request("GET", "/api/v1/datasets", headers=headers)
        assert expired.status_code == 401
        assert expired.json()["detail"].startswith("Authentication required")
        renewed = server.request("GET", "/api/v1/datasets", headers=server.auth_headers(fresh=True))
        assert renewed.status_code == 200
    finally:
        server.stop()
