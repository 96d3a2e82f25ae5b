"""Config saves are durable: the one thing tests/unit/test_config.py does not pin down.

test_config.py already covers comments and permissions kept and outside edits
merged rather than overwritten; tests/integration/test_config_edits.py a writer
killed before the rename leaving the old file. What they do not check is the
order of the durable steps: the temp file is complete *and fsynced* before it
replaces the config, and the directory is fsynced after the rename (else a power
cut can leave an empty file or lose the rename).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui.config import add_datasets, load_config

ID_OLD = "ad48d250-1232-11f1-bfca-fa39f6ed1f22"
ID_NEW = "11111111-2222-4333-8444-555555555555"
TEXT = f"""\
# keep this comment
[[backends]]
name = "vl"
type = "visual_layer"
url = "https://app.visual-layer.com"
api_key_env = "VL_API_KEY"
api_secret_env = "VL_API_SECRET"
datasets = ["{ID_OLD}"]  # and this one
"""

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="reads open files' paths from /proc"
)


def test_a_save_is_synced_before_the_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(TEXT)
    path.chmod(0o600)
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        # Right before the rename the temp file already holds the whole new config.
        assert ID_NEW in Path(source).read_text()
        assert path.read_text() == TEXT
        events.append(("replace", f"{os.fspath(source)} -> {os.fspath(target)}"))
        real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    add_datasets(path, "vl", [ID_NEW])

    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"], events
    temp = events[0][1]
    assert Path(temp).parent == tmp_path and temp != str(path)  # a sibling: same filesystem
    assert events[1][1] == f"{temp} -> {path}"
    assert events[2][1] == str(tmp_path)  # the directory, so the rename itself survives
    assert load_config(path).backends[0].datasets == [ID_OLD, ID_NEW]
    assert "# keep this comment" in path.read_text() and "# and this one" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # no temp left
