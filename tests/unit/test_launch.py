"""The console script (`tui.launch`): collection off while starting, on for the command;
no interpreter teardown after it (the subprocess tests below)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tui.cli.status
from tests.support.cli import run_process
from tui import launch
from tui.engine import Engine

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_runs_with_garbage_collection_on(monkeypatch: pytest.MonkeyPatch) -> None:
    during: list[bool] = []
    real_status = tui.cli.status.status

    async def status(engine: Engine, **options: object) -> int:
        during.append(gc.isenabled())  # a long `wait` or `watch` must collect its cycles
        return await real_status(engine, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(tui.cli.status, "status", status)
    monkeypatch.setattr(sys, "argv", ["dswatch", "status", "--demo", "--json"])
    assert launch.run() in (0, 1)  # the demo has datasets that are not found
    assert during == [True]
    assert gc.isenabled()


def test_a_refused_config_leaves_collection_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[[backends]\n")
    monkeypatch.setattr(sys, "argv", ["dswatch", "status", "--config", str(path)])
    assert launch.run() == 2
    assert f"{path}:1" in capsys.readouterr().err
    assert gc.isenabled()


def dswatch(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_process(*args, XDG_STATE_HOME=str(tmp_path / "state"))


def test_leaving_without_a_teardown_keeps_all_output_and_the_exit_code(tmp_path: Path) -> None:
    result = dswatch("status", "--demo", "--json", tmp_path=tmp_path)
    rows = json.loads(result.stdout)  # every buffered byte reached the pipe
    assert len(rows) >= 35 and result.returncode == 1  # the demo's two unknown IDs
    missing = dswatch("status", "--config", str(tmp_path / "nope.toml"), tmp_path=tmp_path)
    assert missing.returncode == 2 and "nope.toml" in missing.stderr


def test_leaving_runs_the_atexit_handlers_and_waits_for_working_threads(tmp_path: Path) -> None:
    # A stand-in for a library that registers an exit handler, and a non-daemon thread
    # still writing when the command returns: both must finish, as with sys.exit.
    script = (
        "import atexit, sys, threading, time\n"
        "from tui import launch\n"
        "atexit.register(lambda: print('handler ran'))\n"
        "def late():\n"
        "    time.sleep(0.2)\n"
        "    print('thread done', flush=True)\n"
        "launch.run = lambda: (threading.Thread(target=late).start(), 3)[1]\n"
        "sys.exit(launch.main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.stdout.splitlines() == ["thread done", "handler ran"]
    assert result.returncode == 3
    script = script.replace("threading.Thread(target=late).start()", "None")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.stdout.splitlines() == ["handler ran"] and result.returncode == 3
