"""Running the one-shot commands in-process (the config: `tests.support.world.write_config`)."""

from __future__ import annotations

import pytest

from tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
