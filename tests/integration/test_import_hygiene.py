"""The core imports without Textual, and loading a config without tomlkit (edits only)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE = [
    "tui.config",
    "tui.models",
    "tui.backends",
    "tui.poller",
    "tui.scheduler",
    "tui.health_watch",
    "tui.engine",
    "tui.credentials",
    "tui.secrets",
    "tui.watch",
    "tui.health",
    "tui.store",
    "tui.store_reads",
    "tui.store_schema",
    "tui.store_paths",
    "tui.history_link",
    "tui.follow",
    "tui.eta",
    "tui.notify",
    "tui.hooks",
    "tui.outreach",
    "tui.refs",
    "tui.palette",
    "tui.cli.status",
    "tui.cli.wait",
    "tui.cli.watch",
]


def fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True
    )


def test_the_core_never_imports_textual() -> None:
    present = [name for name in CORE if importlib.util.find_spec(name) is not None]
    assert "tui.engine" in present and "tui.config" in present
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in present)
        + "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        + "assert not leaked, leaked\n"
        + "print('ok')\n"
    )
    result = fresh_python(code)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")


def test_loading_a_config_never_imports_tomlkit(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[backends]]\nname = "c"\ntype = "cognee"\nurl = "http://h"\n')
    code = (
        "import sys\n"
        "from tui.config import load_config, add_datasets\n"
        f"load_config({str(path)!r})\n"
        "assert 'tomlkit' not in sys.modules, 'loaded by load_config'\n"
        f"add_datasets({str(path)!r}, 'c', ['11111111-2222-4333-8444-555555555555'])\n"
        "assert 'tomlkit' in sys.modules\n"
        "print('ok')\n"
    )
    result = fresh_python(code)
    assert (result.returncode, result.stdout, result.stderr) == (0, "ok\n", "")
