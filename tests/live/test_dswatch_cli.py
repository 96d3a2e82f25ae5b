"""`dswatch status --json`, run as a user runs it, against a real Cognee 1.6.5 server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.live.cognee import (
    ADD_PIPELINE,
    COMPLETED,
    LiveWorld,
    auth_environ,
    write_config,
)

pytestmark = pytest.mark.cognee_live

EXIT_OK, EXIT_PROBLEM = 0, 1


def run_status(tmp_path: Path, config: Path, extra_env: dict[str, str]) -> tuple[int, Any, str]:
    """`python -m tui.cli status --config PATH --json` in a clean environment.

    (`--config` goes after `status`: given before it, it is ignored for now, as the
    subcommand's own `--config` default overwrites it.)
    """
    home = tmp_path / "home"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "LANG": "C.UTF-8",
        **extra_env,
    }
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "status", "--config", str(config), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        rows = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"not JSON (exit {result.returncode}): {result.stdout!r} {result.stderr!r}")
    return result.returncode, rows, result.stderr


@pytest.mark.parametrize("auth", ["api_key", "bearer", "password"])
def test_status_json_with_every_login(live_world: LiveWorld, tmp_path: Path, auth: str) -> None:
    world = live_world
    config = write_config(
        tmp_path / "config.toml",
        world.server.url,
        [world.added_id, world.empty_id, world.unknown_id],
        auth=auth,
        pipelines=[ADD_PIPELINE],
    )
    code, rows, stderr = run_status(tmp_path, config, auth_environ(world, auth))
    by_id = {row["id"]: row for row in rows}
    assert set(by_id) == {world.added_id, world.empty_id, world.unknown_id}
    added, empty, unknown = (by_id[i] for i in (world.added_id, world.empty_id, world.unknown_id))
    assert added == {
        **added,
        "backend": "cognee",
        "name": world.added_name,
        "state": "ready",
        "status": COMPLETED,
        "pipelines": {ADD_PIPELINE: COMPLETED},
        "error": None,
    }
    assert (empty["name"], empty["state"], empty["pipelines"]) == (world.empty_name, "pending", {})
    assert unknown["state"] == "not_found" and "403" in unknown["error"]
    assert code == EXIT_PROBLEM  # the unknown id is a problem worth an exit code
    secret = next(iter(auth_environ(world, auth).values()))
    assert secret not in json.dumps(rows) + stderr


def test_status_json_all_good_exits_zero(live_world: LiveWorld, tmp_path: Path) -> None:
    world = live_world
    config = write_config(
        tmp_path / "config.toml", world.server.url, [world.added_id, world.empty_id], auth="api_key"
    )
    code, rows, _ = run_status(tmp_path, config, auth_environ(world, "api_key"))
    # Both pipelines: the /add dataset waits for a cognify that never ran.
    assert {row["id"]: row["state"] for row in rows} == {
        world.added_id: "pending",
        world.empty_id: "pending",
    }
    assert code == EXIT_OK


def test_status_json_without_credentials_is_unauthorized(
    live_world: LiveWorld, tmp_path: Path
) -> None:
    world = live_world
    config = write_config(
        tmp_path / "config.toml", world.server.url, [world.added_id, world.empty_id], auth="none"
    )
    code, rows, _ = run_status(tmp_path, config, {})
    assert code == EXIT_PROBLEM
    assert {row["state"] for row in rows} == {"unauthorized"}
    assert all(row["error"].startswith("HTTP 401 Unauthorized") for row in rows)
