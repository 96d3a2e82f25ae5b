"""The one-shot commands, over real HTTP to the simulator on 127.0.0.1.

Each test reads what a script would: stdout, stderr and the exit code.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run
from tests.support.world import engine_for, new_sim, write_config
from tui.sim import SimServer, Simulator

ERROR_MESSAGE = "Out of disk space while writing thumbnails"


pytestmark = [
    pytest.mark.usefixtures("quiet_home"),  # tests/conftest.py
    pytest.mark.sim(seed=5),  # conftest's `sim`, served by its `server`
]


# -- status -------------------------------------------------------------------


def test_status_prints_a_table_and_exits_0_when_everything_was_read(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ready = sim.add_vl_dataset(name="cats", status="READY", progress=100, n_images=1234)
    failed = sim.add_vl_dataset(name="dogs", status="ERROR", fatal_error_msg=ERROR_MESSAGE)
    notes = sim.add_cognee_dataset(
        name="notes",
        pipelines={
            "add_pipeline": "DATASET_PROCESSING_COMPLETED",
            "cognify_pipeline": "DATASET_PROCESSING_STARTED",
        },
    )
    path = write_config(tmp_path, server.url, [ready, failed], [notes])
    code, out, _ = run(capsys, "status", "--config", str(path))
    assert code == 0  # an errored dataset was still read
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["BACKEND", "NAME", "STATE"]
    cats = next(line for line in lines if "cats" in line)
    assert "ready" in cats and "1,234" in cats and "100%" in cats
    assert ERROR_MESSAGE in next(line for line in lines if "dogs" in line)
    assert "running" in next(line for line in lines if "notes" in line)


def test_status_json_has_the_documented_keys(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ready = sim.add_vl_dataset(name="birds", status="READ_ONLY", progress=50)
    path = write_config(tmp_path, server.url, [ready])
    code, out, _ = run(capsys, "status", "--json", "--config", str(path))
    assert code == 0
    [row] = json.loads(out)
    assert set(row) == {
        "backend",
        "id",
        "name",
        "state",
        "status",
        "progress",
        "n_images",
        "n_videos",
        "n_objects",
        "pipelines",
        "error",
        "since",  # from the history store
        "eta_seconds",
        "stuck",
    }
    assert (row["backend"], row["id"], row["name"]) == ("vl", ready, "birds")
    assert row["stuck"] is False and row["eta_seconds"] is None  # first sight: no history
    assert (row["state"], row["status"], row["progress"]) == ("running", "READ_ONLY", 50)


def test_status_exits_1_when_a_dataset_cannot_be_read(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ready = sim.add_vl_dataset(name="fish", status="READY", progress=100)
    missing = "0b6ad7b4-0000-4000-8000-000000000404"
    path = write_config(tmp_path, server.url, [ready, missing])
    code, out, _ = run(capsys, "status", "--json", "--config", str(path))
    assert code == 1
    states = {row["id"]: row["state"] for row in json.loads(out)}
    assert states == {ready: "ready", missing: "not_found"}


def test_status_exits_1_when_the_backend_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = write_config(
        tmp_path, f"http://127.0.0.1:{port}", ["0b6ad7b4-0000-4000-8000-000000000001"]
    )
    code, out, _ = run(capsys, "status", "--config", str(path))
    assert code == 1
    assert "unreachable" in out and "refused" in out


def test_a_broken_config_exits_2_naming_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "http://x"\n'
        'datasets = ["not-a-uuid"]\n'
    )
    code, out, err = run(capsys, "status", "--config", str(path))
    assert code == 2 and out == ""
    assert f"{path}:5" in err and "backends[0].datasets[0]" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[settings]\npoll_intervall = 5\n", ":2: settings.poll_intervall: unknown key"),
        ("[settings\npoll_interval = 5\n", ":1:10: invalid TOML"),
    ],
    ids=["unknown-key", "syntax-error"],
)
@pytest.mark.parametrize("command", ["status", "wait"])
def test_unknown_keys_and_syntax_errors_still_refuse_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str, command: str
) -> None:
    """A partial config runs, a broken one does not (issue 11): exit 2, with the line."""
    path = tmp_path / "config.toml"
    path.write_text(text)
    code, out, err = run(capsys, command, "--config", str(path))
    assert code == 2 and out == ""
    assert f"{path}{said}" in err and "Traceback" not in err


def test_an_unset_credential_variable_stops_only_its_backend(
    sim: Simulator,
    server: SimServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A partial config runs: the other backend is read, the broken one says the fix."""
    monkeypatch.delenv("DSWATCH_TEST_KEY", raising=False)
    ready = sim.add_vl_dataset(name="fine-one", status="READY", progress=100)
    locked = sim.add_cognee_dataset(name="locked-one")
    path = write_config(tmp_path, server.url, [ready], [locked])
    text = path.read_text().replace(
        'type = "cognee"\n', 'type = "cognee"\napi_key_env = "DSWATCH_TEST_KEY"\n'
    )
    path.write_text(text)
    code, out, err = run(capsys, "status", "--config", str(path), "--json")
    rows = {r["backend"]: r for r in json.loads(out)}
    assert code == 1  # a dataset could not be read: not a config error (2)
    assert rows["vl"]["state"] == "ready" and rows["vl"]["name"] == "fine-one"
    assert rows["cg"]["state"] == "unauthorized"
    assert "export DSWATCH_TEST_KEY=" in rows["cg"]["error"]
    code, _, err = run(capsys, "wait", "--config", str(path), "--timeout", "20", f"vl:{ready}")
    assert code == 0, err
    # Waiting on the broken one ends at once (exit 1) with the fix, not "still waiting".
    code, _, err = run(capsys, "wait", "--config", str(path), "--timeout", "20", f"cg:{locked}")
    assert code == 1, err
    assert "dswatch: cg is down: unusable config\n" in err and "still waiting" not in err
    assert "export DSWATCH_TEST_KEY=..., then restart dswatch" in err


def test_status_and_wait_say_why_a_cognee_dataset_errored(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cause from Cognee's activity feed (its run's error_class), not only
    `cognify_pipeline errored`, in the table, the JSON and `wait`'s last line."""
    broken = sim.add_cognee_dataset(
        name="broken-notes",
        pipelines={
            "add_pipeline": "DATASET_PROCESSING_COMPLETED",
            "cognify_pipeline": "DATASET_PROCESSING_ERRORED",
        },
    )
    path = write_config(tmp_path, server.url, [], [broken])
    cause = "cognify_pipeline errored: LLMAPIKeyNotSetError"
    code, out, _ = run(capsys, "status", "--config", str(path), "--wide")
    assert code == 0 and cause in out  # read, in error: 0 (README's exit codes)
    code, out, _ = run(capsys, "status", "--config", str(path), "--json")
    assert json.loads(out)[0]["error"] == cause
    code, _, err = run(capsys, "wait", "--config", str(path), "--timeout", "20", f"cg:{broken}")
    assert code == 1
    assert f"cg:broken-notes error DATASET_PROCESSING_ERRORED - {cause}" in err


def test_status_on_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--demo", "--json")
    rows = json.loads(out)
    assert len(rows) > 30
    assert {r["backend"] for r in rows} == {"visual-layer", "cognee"}
    assert code == 1  # the demo watches two IDs the backends do not know
    assert sum(r["state"] == "not_found" for r in rows) == 2


# -- wait ---------------------------------------------------------------------


def test_wait_exits_0_once_ready_and_reports_progress_on_stderr(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    growing = sim.add_vl_dataset(name="growing")  # a fresh lifecycle: DRAFT -> ... -> READY
    sim.set_vl_status(growing, "INDEXING", progress=90)
    path = write_config(tmp_path, server.url, [growing])

    def finish_soon() -> None:
        time.sleep(0.5)
        sim.set_vl_status(growing, "READY", progress=100)

    import threading

    threading.Thread(target=finish_soon, daemon=True).start()
    code, out, err = run(capsys, "wait", "--config", str(path), "--timeout", "20", growing)
    assert code == 0 and out == ""
    lines = err.splitlines()
    assert "vl:growing running INDEXING 90%" in lines[0]
    assert "vl:growing ready READY 100%" in lines[-1]


def test_wait_exits_1_on_error_and_124_on_timeout(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = sim.add_vl_dataset(name="broken", status="ERROR", fatal_error_msg=ERROR_MESSAGE)
    stuck = sim.add_vl_dataset(name="stuck", status="INDEXING", progress=10)
    path = write_config(tmp_path, server.url, [failed, stuck])
    code, _, err = run(capsys, "wait", "--config", str(path), f"vl:{failed}", stuck)
    assert code == 1 and ERROR_MESSAGE in err
    code, _, err = run(capsys, "wait", "--config", str(path), "--timeout", "0.6", stuck)
    assert code == 124 and "timed out" in err and "stuck" in err


def test_wait_partial_ok(
    sim: Simulator, server: SimServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partial = sim.add_vl_dataset(name="half", status="PARTIAL INDEX", progress=100)
    path = write_config(tmp_path, server.url, [partial])
    code, _, _ = run(capsys, "wait", "--config", str(path), "--timeout", "0.6", partial)
    assert code == 124
    code, _, _ = run(capsys, "wait", "--config", str(path), "--partial-ok", partial)
    assert code == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nope:0b6ad7b4-0000-4000-8000-000000000001", "unknown backend 'nope'"),
        ("0b6ad7b4-0000-4000-8000-000000000001", "say which backend"),
    ],
)
def test_wait_usage_errors_exit_2_before_any_request(
    spec: str,
    message: str,
    sim: Simulator,
    server: SimServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config(tmp_path, server.url, [])
    before = sim.stats["vl"].total + sim.stats["cognee"].total
    code, _, err = run(capsys, "wait", "--config", str(path), spec)
    assert code == 2 and message in err
    assert sim.stats["vl"].total + sim.stats["cognee"].total == before


# -- add / remove ---------------------------------------------------------------


def test_add_and_remove_edit_the_config_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9", [])
    first, second = "0b6ad7b4-0000-4000-8000-000000000001", "0B6AD7B4000040008000000000000002"
    code, out, _ = run(capsys, "add", "vl", first, second, "--config", str(path))
    assert code == 0 and "added 2" in out
    text = path.read_text()
    assert first in text and "0b6ad7b4-0000-4000-8000-000000000002" in text
    assert "# the image datasets" in text
    code, out, _ = run(capsys, "add", "vl", first, "--config", str(path))
    assert code == 0 and "already watched" in out
    assert path.read_text().count(first) == 1
    code, out, _ = run(capsys, "remove", "vl", first, "--config", str(path))
    assert code == 0 and first not in path.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "vl", "not-a-uuid"], "not a dataset ID"),
        (["add", "nope", "0b6ad7b4-0000-4000-8000-000000000001"], "nope"),
        (["remove", "vl", "12345"], "not a dataset ID"),
    ],
)
def test_add_and_remove_refuse_bad_input_and_leave_the_file_untouched(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path, "http://127.0.0.1:9", [])
    before = path.read_bytes(), path.stat().st_mtime_ns
    code, _, err = run(capsys, *args, "--config", str(path))
    assert code == 2 and message in err
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


# -- the installed command --------------------------------------------------------


def dswatch(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_version_and_help_everywhere() -> None:
    from tui import __version__

    assert dswatch("--version").stdout.strip() == f"dswatch {__version__}"
    for command in ([], ["status"], ["wait"], ["add"], ["remove"], ["sim"]):
        result = dswatch(*command, "--help")
        assert result.returncode == 0 and "usage: dswatch" in result.stdout
    assert dswatch("frobnicate").returncode == 2


def test_sim_serves_both_apis_on_loopback(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "sim", "--port", str(port), "--vl", "3", "--cognee", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                datasets = httpx.get(f"{base}/vl/api/v1/datasets", timeout=1).json()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert len(datasets) == 3
        cognee = httpx.get(f"{base}/cognee/api/v1/datasets", timeout=2).json()
        assert len(cognee) == 2
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_readable_config_with_an_inline_secret_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    path = tmp_path / "config.toml"
    path.write_text(
        f'[[backends]]\nname = "cg"\ntype = "cognee"\nurl = "http://127.0.0.1:9"\n'
        f'api_key_env = "{secret}"\n'
    )
    path.chmod(0o644)
    code, out, err = run(capsys, "status", "--config", str(path))
    assert code == 2
    assert "readable by other users" in err and "chmod 600" in err
    assert secret not in out + err


@pytest.mark.parametrize("order", ["before", "after"])
def test_options_work_before_and_after_the_command(
    order: str,
    sim: Simulator,
    server: SimServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ready = sim.add_vl_dataset(name="either-way", status="READY", progress=100)
    path = write_config(tmp_path, server.url, [ready])
    options = ["--config", str(path)]
    args = [*options, "status", "--json"] if order == "before" else ["status", "--json", *options]
    code, out, _ = run(capsys, *args)
    assert code == 0 and json.loads(out)[0]["name"] == "either-way"


async def test_wait_reports_a_down_backend_while_it_waits(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    serve_sim: Callable[[Simulator], SimServer],
) -> None:
    """Silence looks like a hang: while a backend is down, `wait` says so on stderr
    (every 30 s; here shortened), then finishes when the dataset is ready."""
    import asyncio

    import tui.cli.wait as wait_module

    monkeypatch.setattr(wait_module, "OUTAGE_REPORT_SECONDS", 0.3)
    sim = new_sim(8)  # its own: this test stops its server
    target = sim.add_vl_dataset(name="slowpoke", status="INDEXING", progress=10)
    server = serve_sim(sim)
    path = write_config(tmp_path, server.url, [target])
    engine = engine_for(path)
    waiting = asyncio.create_task(
        wait_module.wait(engine, {("vl", target)}, timeout=30, partial_ok=False)
    )
    # Real time: the outage is a real stopped server, and reports come every 0.3 s.
    await asyncio.sleep(0.5)
    server.stop()
    await asyncio.sleep(2.0)
    server.start()
    await asyncio.sleep(0.5)
    sim.set_vl_status(target, "READY", progress=100)
    code = await asyncio.wait_for(waiting, 30)
    err = capsys.readouterr().err
    assert code == 0, err
    assert "dswatch: vl is down: network unreachable; still waiting" in err
    reports = [line for line in err.splitlines() if "still waiting for 1 dataset" in line]
    assert len(reports) >= 2, err  # repeated while it lasts
    assert "dswatch: vl: network unreachable for" in reports[0]
    assert "dswatch: vl is answering again" in err
