"""What `status` and `wait` print, for pipes and terminals: a reader that leaves
early (`| head -1`), wide and zero-width characters, odd --timeout values."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from tui.backends.http import MAX_RETRY_AFTER, parse_retry_after
from tui.cli import main
from tui.cli.status import format_table
from tui.cli.wait import timeout_line
from tui.models import DatasetState, Failure, State

ROOT = Path(__file__).resolve().parents[2]


def dswatch_into_closed_pipe(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run dswatch with stdout a real pipe whose reader is already gone: its first
    write meets EPIPE, deterministically (no race with a `head` that exits)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}
    try:
        return subprocess.run(
            [sys.executable, "-m", "tui.cli", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=env,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [["status", "--demo"], ["status", "--demo", "--json"]])
def test_status_into_a_closed_pipe_exits_quietly_with_its_usual_code(
    args: list[str], tmp_path: Path
) -> None:
    result = dswatch_into_closed_pipe(*args, tmp_path=tmp_path)
    assert result.stderr == ""  # no traceback, no "Exception ignored"
    assert result.returncode == 1  # the demo's usual code: two IDs it does not know


def test_status_piped_into_head_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_STATE_HOME": str(tmp_path / "state")}
    for args in ("status --demo", "status --demo --json"):
        result = subprocess.run(
            f"{sys.executable} -m tui.cli {args} | head -1",
            shell=True,
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert result.returncode == 0 and result.stderr == ""
        assert len(result.stdout.splitlines()) == 1


def state(name: str, status: str = "READY", **extra: object) -> DatasetState:
    return DatasetState(backend="vl", id="x", name=name, state=State.READY, status=status, **extra)


def test_the_status_table_pads_by_terminal_cells() -> None:
    names = ["plain", "数据集名称", "🐱🐶 pets", "cafe\u0301 e\u0301te\u0301", "ｆｕｌｌ"]
    statuses = ["READY", "就绪", "✅ ok", "e\u0301", "R"]
    rows = [state(n, status=s, n_images=1234) for n, s in zip(names, statuses, strict=True)]
    header, *lines = format_table(rows).splitlines()

    def cells_before(line: str, text: str, *, end: bool = False) -> int:
        index = line.index(text) + (len(text) if end else 0)
        return cell_len(line[:index])

    # Left-aligned STATE after the names, right-aligned IMAGES after the statuses:
    # each starts (or ends) at the same terminal cell on every line.
    assert {cells_before(line, "ready") for line in lines} == {cells_before(header, "STATE")}
    images_end = cells_before(header, "IMAGES", end=True)
    assert {cells_before(line, "1,234", end=True) for line in lines} == {images_end}


def test_the_status_table_cuts_wide_names_by_cells() -> None:
    wide = "数" * 60  # 120 cells
    line = format_table([state(wide)]).splitlines()[1]
    name = re.split(r" {2,}", line)[1]
    assert cell_len(name) <= 40 and name.endswith("…")


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "-inf", "soon", "1e400"])
def test_wait_refuses_a_timeout_that_is_not_seconds(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["wait", f"--timeout={value}", "--demo"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --timeout: expected a number of seconds, 0 or more; got '{value}'" in err


def test_wait_timeout_zero_says_zero_and_names_datasets_never_seen(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    code = main(["wait", "--demo", "--timeout", "0"])
    err = capsys.readouterr().err
    assert code == 124
    assert "timed out after 0s waiting for " in err and "after 1s" not in err
    assert err.strip().split("waiting for ")[1]  # names what it waited for, even unseen


def test_the_timeout_line_is_sanitized_and_bounded() -> None:
    hostile = state("\x1b]0;title\x07\x1b[2Jcats")
    pending = [(("vl", "id-1"), hostile), (("vl", "id-2"), None)]
    assert (
        timeout_line(2.5, pending) == "dswatch: timed out after 2.5s waiting for vl:cats, vl:id-2"
    )
    many = [(("vl", f"id-{i:02d}"), None) for i in range(25)]
    assert timeout_line(30, many).endswith("vl:id-19 and 5 more")


@pytest.mark.parametrize(
    "header",
    ["315360000", "1e300", "Fri, 31 Dec 9999 23:59:59 GMT"],
)
def test_retry_after_is_capped_where_it_is_parsed(header: str) -> None:
    assert parse_retry_after(header) == MAX_RETRY_AFTER == 3600


@pytest.mark.parametrize(
    ("failure", "word"),
    [
        (Failure(kind="http", message="HTTP 500", http_status=500), "HTTP 500"),
        (Failure(kind="timeout", message="timed out"), "timed out"),
        (Failure(kind="connect", message="connection refused"), "unreachable"),
    ],
)
def test_an_unread_row_says_why_in_the_table_and_unreachable_in_json(
    failure: Failure, word: str
) -> None:
    """A server error is not a network fault: the table's STATE names it; `--json`
    keeps the state vocabulary scripts match on."""
    row = DatasetState(
        backend="vl", id="x", name="n", state=State.UNREACHABLE, failure=failure, stale=True
    )
    line = format_table([row], width=200).splitlines()[1]
    assert re.search(rf" {word}( |$)", line), line
    assert row.summary()["state"] == "unreachable"


def test_a_narrow_table_drops_the_counts_before_the_error() -> None:
    """At 80 columns the counts and pipelines go whole: ERROR stays on screen."""
    rows = [
        state("cats-ready", n_images=1200, n_videos=3, n_objects=4000),
        state("dogs-failed", "ERROR", error="disk full on the indexer", n_images=5),
    ]
    rows[1] = rows[1].model_copy(update={"state": State.ERROR})
    wide, narrow = format_table(rows, width=200), format_table(rows, width=80)
    assert "IMAGES" in wide.splitlines()[0] and "VIDEOS" in wide.splitlines()[0]
    header = narrow.splitlines()[0].split()
    assert header == ["BACKEND", "NAME", "STATE", "STATUS", "PROGRESS", "ERROR"]
    assert "disk full on the indexer" in narrow.splitlines()[2]
    assert all(cell_len(line) <= 80 for line in narrow.splitlines())
