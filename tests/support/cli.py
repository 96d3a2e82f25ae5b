"""Running the commands: in-process (`run`), or as the real process a shell starts
(`run_process`). The config: `tests.support.world.write_config`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """`python -m tui.cli ARGS` (what the console script runs), this checkout first on
    PYTHONPATH, `environ` added to this process's environment."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **environ}
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
