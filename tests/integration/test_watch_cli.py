"""`dswatch watch`: a real process, a real server, a scripted sequence of changes.

The server is stopped and started again in the middle: the outage makes one
line per backend going down and coming back, and no line for its datasets.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.world import new_sim, write_config
from tui.sim import SimServer

REACH = 15.0  # generous; every wait ends as soon as its line arrives


def start_watch(
    tmp_path: Path, *args: str, environ: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`dswatch watch ARGS` as a real process, its output piped, its history in tmp_path."""
    env = {**os.environ, **(environ or {}), "XDG_STATE_HOME": str(tmp_path / "state")}
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "watch", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
    )


SETTINGS = {"poll_interval": 0.2, "settled_interval": 1, "timeout": 0.5}


class Lines:
    """Reads a process's stdout in a thread; `wait_for` returns when a line matches."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def wait_for(self, what: str, match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + REACH
        with self._changed:
            while True:
                for record in self.records():
                    if match(record):
                        return record
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line for {what}: {self.lines}")
                self._changed.wait(left)


def test_watch_prints_real_changes_and_one_line_per_backend_down_and_up(tmp_path: Path) -> None:
    sim = new_sim(4)
    first = sim.add_vl_dataset(name="first", status="INDEXING", progress=10)
    second = sim.add_vl_dataset(name="second", status="READY", progress=100)
    with SimServer(sim) as server:
        config = write_config(tmp_path, server.url, [first, second], None, settings=SETTINGS)
        process = start_watch(tmp_path, "--json", "--config", str(config))
        lines = Lines(process)
        try:
            time.sleep(1.0)  # both read once: a first read is no news
            sim.set_vl_status(first, "READY", progress=100)
            lines.wait_for("first ready", lambda r: r.get("id") == first and r["event"] == "ready")

            server.stop()
            lines.wait_for("vl down", lambda r: r["type"] == "backend" and r["event"] == "down")
            server.start()
            lines.wait_for("vl back", lambda r: r["type"] == "backend" and r["event"] == "back")

            sim.set_vl_status(second, "ERROR", fatal_error_msg="disk \x1b[2J full")
            error = lines.wait_for(
                "second error", lambda r: r.get("id") == second and r["event"] == "error"
            )
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    records = lines.records()
    kinds = [(r["type"], r.get("backend"), r["event"], r.get("id")) for r in records]
    assert kinds == [
        ("dataset", "vl", "ready", first),
        ("backend", "vl", "down", None),
        ("backend", "vl", "back", None),
        ("dataset", "vl", "error", second),
    ]
    assert records[0]["old_state"] == "running" and records[0]["name"] == "first"
    assert records[1]["reason"] == "network unreachable"
    assert error["old_state"] == "ready"
    assert "disk" in error["error"] and "full" in error["error"]  # server text, as text:
    assert "\x1b" not in error["error"] and "[2J" not in error["error"]  # no escape left


def test_watch_refuses_a_broken_config_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[[backends]]\nname = 'vl'\ntype = 'visual_layer'\nurl = 'http://127.0.0.1:9'\nnope = 1\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "watch", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert str(config) in result.stderr and "nope" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_watch_exits_0_on_sigint_and_sigterm(signum: int, tmp_path: Path) -> None:
    process = start_watch(tmp_path, "--demo")
    lines = Lines(process)
    deadline = time.monotonic() + REACH
    while not lines.lines and time.monotonic() < deadline:  # the demo makes news quickly
        time.sleep(0.1)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert lines.lines and all(" -> " in line for line in lines.lines)


def test_watch_runs_the_hooks_for_the_named_datasets_and_tells_a_failed_one_on_stderr(
    tmp_path: Path,
) -> None:
    """`watch vl:ID` watches that dataset only; its hooks run (a good one gets the
    change and no credential); a failing hook is told on stderr for the CI log."""
    sim = new_sim(5)
    named = sim.add_vl_dataset(name="named", status="INDEXING", progress=10)
    other = sim.add_vl_dataset(name="other", status="INDEXING", progress=10)
    seen = tmp_path / "seen.txt"
    script = (
        "import os, sys; open(sys.argv[1], 'a').write(' '.join(os.environ.get(k, '-') for k in "
        "('DSWATCH_NAME', 'DSWATCH_OLD_STATE', 'DSWATCH_STATE', 'VL_API_KEY')) + '\\n')"
    )
    good = json.dumps([sys.executable, "-c", script, str(seen)])
    bad = json.dumps(["sh", "-c", "echo 'chat is down' >&2; exit 3"])
    with SimServer(sim) as server:
        config = write_config(
            tmp_path,
            server.url,
            [named, other],
            None,
            settings=SETTINGS,
            vl_extra='api_key_env = "VL_API_KEY"\napi_secret_env = "VL_API_SECRET"\n',
            tail=f'[[hooks]]\non = ["ready"]\ncommand = {good}\n'
            f'[[hooks]]\non = ["ready"]\ncommand = {bad}\n',
        )
        only = f"vl:{named}"
        env = {
            **os.environ,
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "VL_API_KEY": "vl-key-0123456789abcdef",
            "VL_API_SECRET": "vl-secret-fedcba9876543210",
        }
        process = start_watch(tmp_path, "--json", "--config", str(config), only, environ=env)
        lines = Lines(process)
        try:
            time.sleep(1.0)  # read once: a first read is no news
            sim.set_vl_status(other, "READY", progress=100)
            sim.set_vl_status(named, "READY", progress=100)
            lines.wait_for("named ready", lambda r: r.get("id") == named and r["event"] == "ready")
            deadline = time.monotonic() + REACH
            while not seen.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert [r.get("id") for r in lines.records()] == [named]  # never the other one
    assert seen.read_text() == "named running ready -\n"  # no credential in its environment
    assert stderr == "dswatch: warning: hook 2 (sh): exited with status 3: chat is down\n"


@pytest.mark.parametrize(
    ("config_text", "args", "message"),
    [
        ("[settings]\n", [], "watch: No backend in "),
        (
            '[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "http://127.0.0.1:9"\n',
            [],
            "watch: No datasets are watched. Add one with: dswatch add BACKEND ID  (backends: vl)",
        ),
        (
            '[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "http://127.0.0.1:9"\n',
            ["nope:0b6ad7b4-0000-4000-8000-000000000001"],
            "watch: unknown backend 'nope' (known: vl)",
        ),
    ],
)
def test_watch_with_nothing_to_watch_says_so_and_exits_2(
    config_text: str, args: list[str], message: str, tmp_path: Path
) -> None:
    """Not a silent exit 0, nor a silent wait forever: systemd's log must say why."""
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "watch", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        stdin=subprocess.DEVNULL,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("dswatch: ") and message in result.stderr


def test_watch_warns_at_start_of_a_webhook_that_cannot_work(tmp_path: Path) -> None:
    """An unset webhook variable or a plain-http URL off this machine is told when
    watch starts, not at the first change hours later; watch still runs."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "http://127.0.0.1:9"\n'
        'datasets = ["0b6ad7b4-0000-4000-8000-000000000001"]\n'
        # `on = ["error"]`: the backend here is down, which hooks on "any" are told of.
        '[[hooks]]\non = ["error"]\nurl_env = "UNSET_WEBHOOK_URL"\n'
        '[[hooks]]\non = ["error"]\ncommand = ["true"]\n'
        '[[hooks]]\non = ["error"]\nurl_env = "PLAIN_WEBHOOK_URL"\n'
    )
    stderr_file = tmp_path / "stderr.txt"
    env = {
        **{k: v for k, v in os.environ.items() if k != "UNSET_WEBHOOK_URL"},
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PLAIN_WEBHOOK_URL": "http://hooks.example.com/services/secret-path",
    }
    with stderr_file.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "watch", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + REACH
            while stderr_file.read_text().count("\n") < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert process.poll() is None  # running on
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert process.returncode == 0
    assert stderr_file.read_text().splitlines() == [
        "dswatch: warning: hook 1 ($UNSET_WEBHOOK_URL): $UNSET_WEBHOOK_URL is not set",
        "dswatch: warning: hook 3 ($PLAIN_WEBHOOK_URL): $PLAIN_WEBHOOK_URL: refusing plain"
        " http to hooks.example.com; webhooks go over https, or to this machine",
    ]


def test_hooks_run_once_for_a_backend_refusing_credentials_or_down_and_once_when_back(
    tmp_path: Path,
) -> None:
    """`unauthorized` and `unreachable` are a backend's news, never its datasets':
    a hook that names them runs once when the backend goes down that way and once
    when it answers again (state `ok`), with empty DSWATCH_ID / DSWATCH_NAME."""
    sim = new_sim(4)
    datasets = [sim.add_vl_dataset(name=f"set-{n}", status="READY", progress=100) for n in (1, 2)]
    out = tmp_path / "hooks.txt"
    fields = ["BACKEND", "ID", "NAME", "OLD_STATE", "STATE", "ERROR"]
    line = 'echo "$1|' + "|".join(f"$DSWATCH_{f}" for f in fields) + '" >> "$0"'

    def hook(on: str, tag: str) -> str:
        command = json.dumps(["sh", "-c", line, str(out), tag])
        return f'[[hooks]]\non = ["{on}"]\ncommand = {command}\n'

    with SimServer(sim) as server:
        hooks = hook("unauthorized", "creds") + hook("unreachable", "down") + hook("ready", "ready")
        config = write_config(tmp_path, server.url, datasets, None, settings=SETTINGS, tail=hooks)
        process = start_watch(tmp_path, "--json", "--config", str(config))
        lines = Lines(process)

        def backend_lines(event: str) -> int:
            return sum(r["type"] == "backend" and r["event"] == event for r in lines.records())

        def hook_lines() -> list[str]:
            return out.read_text().splitlines() if out.exists() else []

        def until_hooks(count: int) -> None:
            deadline = time.monotonic() + REACH
            while len(hook_lines()) < count and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(hook_lines()) >= count, hook_lines()

        try:
            time.sleep(1.0)  # both read once
            sim.set_faults("vl", status=401)
            lines.wait_for("vl down", lambda r: r["type"] == "backend" and r["event"] == "down")
            until_hooks(1)
            sim.clear_faults("vl")
            lines.wait_for("vl back", lambda r: r["type"] == "backend" and r["event"] == "back")
            until_hooks(2)
            server.stop()
            lines.wait_for("vl down again", lambda r: backend_lines("down") == 2)
            until_hooks(3)
            server.start()
            lines.wait_for("vl back again", lambda r: backend_lines("back") == 2)
            until_hooks(4)
            time.sleep(0.5)  # a hook run too many would show by now
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "warning" not in stderr  # such hooks are no longer refused at start
    assert hook_lines() == [
        "creds|vl|||ok|unauthorized|refused credentials (HTTP 401)",
        "creds|vl|||unauthorized|ok|",
        "down|vl|||ok|unreachable|network unreachable",
        "down|vl|||unreachable|ok|",
    ]  # and never the `ready` hook: nothing changed for the datasets
