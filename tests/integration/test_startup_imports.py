"""Each command imports only what it runs (issue 17's start-up; benchmarks/startup.py).

Fresh interpreters, as a shell starts `dswatch`: what a module list says is
deterministic, unlike a timing.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_import_hygiene import fresh_python

POLLING = ("asyncio", "httpx", "tui.engine", "tui.poller")
STORE = ("tui.store", "sqlite3")


def loaded(code: str, names: tuple[str, ...]) -> list[str]:
    probe = f"{code}\nimport sys\nprint(sorted(n for n in {names!r} if n in sys.modules))\n"
    result = fresh_python(probe)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])  # a list of module names we printed


def test_help_needs_neither_the_poller_nor_the_history_store() -> None:
    code = "from tui.cli.main import build_parser\nbuild_parser().format_help()"
    assert loaded(code, POLLING + STORE + ("tui.config.edit",)) == []


def test_add_never_loads_httpx_asyncio_or_the_store(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "http://h/vl"\n')
    config.chmod(0o600)
    code = (
        "from tui.cli import main\n"
        f"assert main(['add', '--config', {str(config)!r}, 'vl',"
        " '11111111-2222-4333-8444-555555555555']) == 0"
    )
    assert loaded(code, POLLING + STORE) == []
    assert "11111111-2222-4333-8444-555555555555" in config.read_text()


def test_loading_the_config_leaves_editing_and_watching_it_for_later() -> None:
    code = "from tui.config import load_config, default_config_path"
    assert loaded(code, ("tui.config.edit", "tui.config.save", "tui.config.watch")) == []
    code = "from tui.config import add_datasets, ConfigWatcher"
    assert loaded(code, ("tui.config.edit", "tui.config.watch")) == [
        "tui.config.edit",
        "tui.config.watch",
    ]


def test_the_dashboard_imports_each_screen_when_it_is_first_pushed() -> None:
    screens = tuple(
        f"tui.screens.{name}" for name in ("add", "backend", "confirm", "details", "help")
    )
    assert loaded("import tui.app", screens) == []


def test_jwt_is_loaded_only_to_sign_a_visual_layer_token(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "http://h/vl"\n')
    config.chmod(0o600)
    code = f"from tui.cli import main\nmain(['status', '--config', {str(config)!r}])\n"
    assert loaded(code, ("jwt",)) == []
    code = (
        "from tui.backends.auth import VisualLayerJwtAuth\n"
        "from tui.secrets import Redactor, Secret\n"
        "VisualLayerJwtAuth(Secret('key-0001'), Secret('secret-0001'), Redactor()).mint()\n"
    )
    assert loaded(code, ("jwt",)) == ["jwt"]
