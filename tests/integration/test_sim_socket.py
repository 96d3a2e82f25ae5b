"""The simulator over a real socket on 127.0.0.1: both APIs, cut, huge and trickled
bodies, the control API. Its in-process tests are tests/unit/test_sim.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.unit.test_sim import ADD, COGNIFY, VL_KEY, VL_SECRET, vl_token
from tui.sim import SimControl, SimServer, Simulator
from tui.sim.cognee_world import ERRORED, SERVER_STATUSES

# conftest's `sim`, served by its `server`.
pytestmark = pytest.mark.sim(seed=23, vl=3, cognee=3, vl_credentials=(VL_KEY, VL_SECRET))


@pytest.fixture
def socket_sim(sim: Simulator, server: SimServer) -> Iterator[tuple[Simulator, str]]:
    yield sim, server.url
    sim.clear_faults()


def test_sim_server_serves_both_backends(socket_sim: tuple[Simulator, str]) -> None:
    sim, url = socket_sim
    assert url.startswith("http://127.0.0.1:")
    headers = {"Authorization": f"Bearer {vl_token()}"}
    with httpx.Client(base_url=url) as client:
        vl = client.get(f"/vl/api/v1/dataset/{sim.vl_ids[0]}", headers=headers)
        assert vl.status_code == 200 and vl.json()["id"] == sim.vl_ids[0]
        assert client.get(f"/vl/api/v1/dataset/{sim.vl_ids[0]}").status_code == 401
        cognee = client.get("/cognee/api/v1/datasets/status", params={"dataset": sim.cognee_ids})
        assert cognee.status_code == 200
        assert set(cognee.json().values()) <= set(SERVER_STATUSES)


def test_socket_close_mid_body_huge_and_trickle(socket_sim: tuple[Simulator, str]) -> None:
    sim, url = socket_sim
    target = f"{url}/cognee/api/v1/datasets/status"
    with httpx.Client() as client:
        sim.set_faults("cognee", close_mid_body=True)
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(target)
        sim.set_faults("cognee", close_mid_body=False, body="huge")
        received = 0
        with client.stream("GET", target) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > 5_000_000:
                    break  # a careful client stops here; the sim never built 50 MB
        assert received > 5_000_000
        sim.set_faults("cognee", body=None, trickle=0.01, trickle_bytes=16)
        params = {"dataset": sim.cognee_ids[0], "pipeline": [ADD, COGNIFY]}
        with client.stream("GET", target, params=params) as response:
            chunks = list(response.iter_raw())
        assert len(chunks) > 1
        assert sim.cognee_ids[0] in json.loads(b"".join(chunks))


def test_control_api_over_http(socket_sim: tuple[Simulator, str]) -> None:
    sim, url = socket_sim
    with SimControl(url) as control:
        control.reset_stats()
        ids = control.add_cognee_datasets(3)
        assert set(ids) <= set(sim.cognee_ids)
        control.set_cognee_status(ids[0], COGNIFY, ERRORED)
        vl_ids = control.add_vl_datasets(2, status="INDEXING")
        control.set_vl_status(vl_ids[0], "READY", n_images=5)
        key = control.create_cognee_api_key()
        control.set_faults("vl", latency=0.01, status=429, retry_after=3)
        control.configure(cognee_vocabulary="docs")
        state = control.state()
        assert (
            state["faults"]["vl"]["status"] == 429
            and state["config"]["cognee_vocabulary"] == "docs"
        )
        with httpx.Client(base_url=url) as client:
            limited = client.get(f"/vl/api/v1/dataset/{vl_ids[0]}")
            assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
            status = client.get(
                "/cognee/api/v1/datasets/status",
                params={"dataset": ids},
                headers={"X-Api-Key": key},
            )
            assert status.json()[ids[0]] == "failed"
            bad = client.post("/_sim/faults", json={"backend": "vl", "nonsense": 1})
            assert bad.status_code == 400
        control.clear_faults()
        control.configure(cognee_vocabulary="server")
        assert control.stats()["vl"]["by_status"] == {"429": 1}
    assert sim.vl.datasets[vl_ids[0]].overrides == {"n_images": 5}
