"""The core imports without Textual, and loading a config without tomlkit (edits only)."""

from __future__ import annotations

import importlib.util
import os
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def core_modules() -> list[str]:
    """Every module under the import-linter contract's source modules (one list, in
    pyproject.toml), packages walked, minus `__main__` (importing it runs the CLI)."""
    with open(REPO / "pyproject.toml", "rb") as file:
        (contract,) = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    names: list[str] = []
    for name in contract["source_modules"]:
        names.append(name)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            walked = pkgutil.walk_packages(spec.submodule_search_locations, f"{name}.")
            names += [m.name for m in walked if not m.name.endswith(".__main__")]
    return names


CORE = core_modules()


def fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True
    )


def test_the_core_never_imports_textual() -> None:
    present = [name for name in CORE if importlib.util.find_spec(name) is not None]
    assert "tui.engine" in present and "tui.config" in present
    assert "tui.watch" in present and "tui.cli.status" in present
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
