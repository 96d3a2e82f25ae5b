"""The console script (`tui.launch`): collection off while starting, on for the command."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

import tui.cli.status
from tui import launch
from tui.engine import Engine


def test_the_command_runs_with_garbage_collection_on(monkeypatch: pytest.MonkeyPatch) -> None:
    during: list[bool] = []
    real_status = tui.cli.status.status

    async def status(engine: Engine, **options: object) -> int:
        during.append(gc.isenabled())  # a long `wait` or `watch` must collect its cycles
        return await real_status(engine, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(tui.cli.status, "status", status)
    monkeypatch.setattr(sys, "argv", ["dswatch", "status", "--demo", "--json"])
    assert launch.main() in (0, 1)  # the demo has datasets that are not found
    assert during == [True]
    assert gc.isenabled()


def test_a_refused_config_leaves_collection_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[[backends]\n")
    monkeypatch.setattr(sys, "argv", ["dswatch", "status", "--config", str(path)])
    assert launch.main() == 2
    assert f"{path}:1" in capsys.readouterr().err
    assert gc.isenabled()
