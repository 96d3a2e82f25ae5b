"""Running the one-shot commands in-process, against a config pointing at a served simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.cli import main


def config_file(tmp_path: Path, url: str, vl: list[str], cognee: list[str] = ()) -> Path:
    def ids(values: list[str] | tuple[str, ...]) -> str:
        return ", ".join(f'"{v}"' for v in values)

    path = tmp_path / "config.toml"
    path.write_text(
        "[settings]\npoll_interval = 0.1\nsettled_interval = 1\ntimeout = 2\n\n"
        "# the image datasets\n"
        f'[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "{url}/vl"\n'
        f"datasets = [{ids(vl)}]\n\n"
        f'[[backends]]\nname = "cg"\ntype = "cognee"\nurl = "{url}/cognee"\n'
        f"datasets = [{ids(cognee)}]\n",
        encoding="utf-8",
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
