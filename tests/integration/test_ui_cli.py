"""Issue 15's CLI habits: names and web addresses for IDs, `status --wide` and
the terminal's width, `dswatch init`, and config paths that must exist.

Over real HTTP to the simulator on 127.0.0.1, as tests/integration/test_cli.py.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.world import write_config
from tui.cli.init import template
from tui.config import load_config
from tui.refs import AmbiguousName, Named, dataset_id_from, pick_by_name
from tui.sim import SimServer, Simulator

pytestmark = [
    pytest.mark.usefixtures("quiet_home"),  # tests/conftest.py
    pytest.mark.sim(seed=15),  # conftest's `sim`, served by its `server`
]

ID = "0b6ad7b4-0000-4000-8000-000000000001"


# -- IDs from web addresses and names -------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        ID,
        ID.upper().replace("-", ""),
        f"https://app.visual-layer.com/dataset/{ID}/data",
        f"https://app.visual-layer.com/dataset/{ID}",
        f"https://app.visual-layer.com/dataset/{ID}/data?page=2#top",
        f"https://cognee.example.com/datasets/{ID}",
        f"http://10.0.0.5:2080/org/7c0e1e4e-0000-4000-8000-00000000000f/dataset/{ID}/data",
    ],
)
def test_an_id_is_taken_from_a_web_address(text: str) -> None:
    assert dataset_id_from(text) == ID


@pytest.mark.parametrize(
    "text", ["https://app.visual-layer.com/datasets", "https://x/a/1/b/2", "cats", ""]
)
def test_no_id_no_guess(text: str) -> None:
    with pytest.raises(ValueError, match="dataset ID"):
        dataset_id_from(text)


def test_a_name_must_match_exactly_one_dataset() -> None:
    a, b = Named("vl", "1", "Cats"), Named("cg", "2", "cats")
    assert pick_by_name("CATS", [a, Named("vl", "3", "dogs")]) == a
    with pytest.raises(AmbiguousName, match=r"2 datasets are named 'cats': vl:1 \(Cats\); cg:2"):
        pick_by_name("cats", [a, b])
    with pytest.raises(AmbiguousName, match="no dataset"):
        pick_by_name("bird", [a, b])


def test_wait_takes_a_name_and_lists_the_matches_when_ambiguous(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ready = sim.add_vl_dataset(name="docs-receipts-17", status="READY", progress=100)
    twin_a = sim.add_vl_dataset(name="twin", status="READY", progress=100)
    twin_b = sim.add_vl_dataset(name="twin", status="READY", progress=100)
    path = write_config(tmp_path, server.url, [ready])
    for spec in ("vl:docs-receipts-17", "docs-receipts-17"):
        code, _, err = run(capsys, "wait", "--config", str(path), "--timeout", "20", spec)
        assert code == 0 and "vl:docs-receipts-17 ready" in err
    code, _, err = run(capsys, "wait", "--config", str(path), "vl:twin")
    assert code == 2 and "2 datasets are named 'twin'" in err
    assert twin_a in err and twin_b in err
    code, _, err = run(capsys, "wait", "--config", str(path), "no-such-thing")
    assert code == 2
    assert "'no-such-thing' is not a dataset ID, nor the name of a dataset" in err


def test_remove_takes_the_name_of_a_watched_dataset(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = sim.add_vl_dataset(name="old-run", status="READY")
    unwatched = sim.add_vl_dataset(name="other-run", status="READY")
    path = write_config(tmp_path, server.url, [gone])
    code, _, err = run(capsys, "remove", "vl", "other-run", "--config", str(path))
    assert code == 2 and "nor the name of a watched dataset on vl" in err
    assert unwatched not in path.read_text()
    code, out, _ = run(capsys, "remove", "vl", "old-run", "--config", str(path))
    assert code == 0 and "removed 1" in out and gone not in path.read_text()


def test_add_takes_the_dataset_web_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9", [])
    url = f"https://app.visual-layer.com/dataset/{ID}/data"
    code, out, _ = run(capsys, "add", "vl", url, "--config", str(path))
    assert code == 0 and "added 1" in out
    assert load_config(path).backend("vl").datasets == [ID]  # type: ignore[union-attr]


def test_a_bad_id_blames_the_argument_not_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9", [])
    code, _, err = run(capsys, "add", "vl", "nope", "--config", str(path))
    assert code == 2
    assert err.startswith("dswatch: add: 'nope' is not a dataset ID") and str(path) not in err


# -- status ---------------------------------------------------------------------


def test_status_wide_adds_an_id_column_and_json_always_has_it(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = sim.add_vl_dataset(name="wide-one", status="READY", progress=100)
    path = write_config(tmp_path, server.url, [dataset])
    code, out, _ = run(capsys, "status", "--config", str(path))
    assert code == 0 and dataset not in out and " ID " not in out.splitlines()[0]
    code, out, _ = run(capsys, "status", "--wide", "--config", str(path))
    header, row = out.splitlines()
    assert header.split()[:3] == ["BACKEND", "NAME", "ID"]
    assert row.index(dataset) == header.index("ID")
    code, out, _ = run(capsys, "status", "--json", "--config", str(path))
    assert json.loads(out)[0]["id"] == dataset


@pytest.mark.parametrize("columns", [60, 100, 250])
def test_status_keeps_each_line_within_the_terminal(
    columns: int,
    sim: Simulator,
    server: SimServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    error = "The archive is corrupted and could not be extracted: " * 3
    failed = sim.add_vl_dataset(name="x" * 30, status="ERROR", fatal_error_msg=error)
    path = write_config(tmp_path, server.url, [failed])
    monkeypatch.setenv("COLUMNS", str(columns))
    _, out, _ = run(capsys, "status", "--config", str(path))
    lines = out.splitlines()
    assert all(len(line) <= columns for line in lines)
    assert "error" in lines[1] and lines[0].startswith("BACKEND")
    if columns == 250:  # room: the width cuts nothing
        assert len(lines[1]) < columns
    else:
        assert lines[1].endswith("…")  # cut at the edge, not wrapped


# -- init and config paths ---------------------------------------------------------


def test_init_writes_a_commented_config_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "new" / "config.toml"
    code, out, _ = run(capsys, "init", "--config", str(path))
    assert code == 0 and str(path) in out
    text = path.read_text()
    assert "# [[backends]]" in text and "api_key_env" in text
    assert load_config(path).backends == []  # loads as it is, watches nothing
    assert path.stat().st_mode & 0o077 == 0
    path.write_text("# mine\n")
    code, _, err = run(capsys, "init", "--config", str(path))
    assert code == 2 and "already exists" in err and path.read_text() == "# mine\n"


def test_init_template_is_the_repository_example() -> None:
    repo = Path(__file__).resolve().parents[2]
    packaged = repo / "tui" / "config.example.toml"
    assert packaged.read_bytes() == (repo / "config.example.toml").read_bytes()
    uncommented = "\n".join(
        line.removeprefix("# ") for line in template().splitlines() if line.startswith("# ")
    )
    assert "[[backends]]" in uncommented
    tomllib.loads(template())


def test_no_config_at_the_default_path_points_at_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    for args in (("status",), ("status", "--json")):
        code, out, err = run(capsys, *args)
        assert code == 0 and "dswatch init" in out + err
        assert "dswatch add" not in out + err  # that would fail: there is no file
    code, _, _ = run(capsys, "init")
    assert code == 0
    code, out, _ = run(capsys, "status")
    assert code == 0 and "[[backends]]" in out


def test_a_named_config_that_does_not_exist_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "typo.toml"
    code, out, err = run(capsys, "status", "--json", "--config", str(missing))
    assert code == 2 and out == "" and f"{missing}: no such file" in err and "init" in err
    monkeypatch.setenv("DSWATCH_CONFIG", str(missing))
    code, out, err = run(capsys, "status")
    assert code == 2 and "DSWATCH_CONFIG" in err
    code, _, err = run(capsys, "wait")
    assert code == 2 and "no such file" in err
