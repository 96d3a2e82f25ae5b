"""Both backends over a real socket on 127.0.0.1: streaming faults, TLS, a closed port.

In-process against the same simulator: tests/unit/test_backends_sim.py.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from tests.support.world import ENVIRON, MISSING, VL_CONFIG, VL_KEY, VL_SECRET, backend_for
from tui.backends.base import Backend
from tui.models import State
from tui.sim import SimServer, Simulator

# conftest's `sim`, served by its `server`: real sockets, real streaming.
pytestmark = pytest.mark.sim(seed=3, vl_credentials=(VL_KEY, VL_SECRET))


@pytest.fixture
def served(sim: Simulator, server: SimServer) -> tuple[Simulator, str]:
    return sim, server.url


def socket_vl(url: str, timeout: float) -> Backend:
    cfg = VL_CONFIG.model_copy(update={"url": f"{url}/vl", "allow_insecure": False})
    return backend_for(cfg, environ=ENVIRON, timeout=timeout)


@pytest.mark.parametrize(
    ("faults", "kind"),
    [
        ({}, None),
        ({"trickle": 0.05, "trickle_bytes": 32}, "timeout"),
        ({"close_mid_body": True}, "protocol"),
        ({"body": "huge"}, "too_large"),  # 50 MB offered, 8 MiB read
    ],
)
async def test_vl_over_a_socket(
    served: tuple[Simulator, str], faults: dict[str, Any], kind: str | None
) -> None:
    sim, url = served
    dataset_id = sim.add_vl_dataset(status="READY")
    sim.clear_faults()
    sim.set_faults("vl", **faults)
    backend = socket_vl(url, timeout=0.5)
    started = time.monotonic()
    try:
        got = (await backend.fetch([dataset_id], {})).states[0]
    finally:
        sim.clear_faults()
        await backend.aclose()
    assert time.monotonic() - started < 1.5
    if kind is None:
        assert got.state is State.READY  # credentials over http to loopback are fine
    else:
        assert got.state is State.UNREACHABLE
        assert got.failure is not None and got.failure.kind == kind


async def test_tls_to_a_plain_http_port_fails_as_tls(served: tuple[Simulator, str]) -> None:
    _, url = served
    backend = socket_vl(url.replace("http://", "https://"), timeout=2)
    got = (await backend.fetch([MISSING], {})).states[0]
    await backend.aclose()
    assert got.state is State.UNREACHABLE
    assert got.failure is not None and got.failure.kind == "tls"


async def test_a_closed_port_is_connection_refused() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = socket_vl(f"http://127.0.0.1:{port}", timeout=2)
    got = (await backend.fetch([MISSING], {})).states[0]
    await backend.aclose()
    assert got.state is State.UNREACHABLE
    assert got.failure is not None
    assert (got.failure.kind, got.error) == ("connect", "connection refused")
