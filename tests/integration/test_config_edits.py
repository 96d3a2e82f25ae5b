"""Config edits under concurrency and odd files; hostile shapes refused before parsing.

Concurrent adds are real parallel `python -m tui.cli add` processes; the
nesting and size bounds are checked through `status`, `add` and the
dashboard's start path, as a user meets them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import tui.config.save as save_module
from tests.unit.test_config import temp_files
from tui.config import ConfigError, add_datasets, load_config, secret_warnings
from tui.config.toml_text import MAX_NESTING
from tui.engine import load_engine

REPO = Path(__file__).resolve().parents[2]
ID_OLD = "ad48d250-1232-11f1-bfca-fa39f6ed1f22"
ID_NEW = "11111111-2222-4333-8444-555555555555"
ID_NEW_2 = "66666666-7777-4888-9999-aaaaaaaaaaaa"
CONFIG = f"""\
# keep me
[[backends]]
name = "vl"
type = "visual_layer"
url = "http://127.0.0.1:9"
datasets = ["{ID_OLD}"]
"""


@pytest.fixture  # its own: CONFIG's exact text is what the concurrent edits must keep
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    path.chmod(0o600)
    return path


def dswatch(*args: str, config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DSWATCH_CONFIG": str(config)}
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_dswatch(*args: str, config: Path) -> tuple[int, str, str]:
    with dswatch(*args, config=config) as process:
        out, err = process.communicate(timeout=60)
    return process.returncode, out, err


# --------------------------------------------------------------------------
# Concurrency: the lock
# --------------------------------------------------------------------------


def test_ten_parallel_adds_keep_every_id(config_path: Path) -> None:
    ids = [str(uuid.uuid4()) for _ in range(10)]
    processes = [dswatch("add", "vl", dataset_id, config=config_path) for dataset_id in ids]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append((process.returncode, out, err))
    for code, out, err in results:
        assert (code, err) == (0, "")
        assert out == f"added 1 dataset(s) on vl in {config_path}\n"
    datasets = load_config(config_path).backends[0].datasets
    assert sorted(datasets) == sorted([ID_OLD, *ids])
    assert config_path.read_text().startswith("# keep me\n")
    assert sorted(p.name for p in config_path.parent.iterdir()) == ["config.toml"]


def test_a_lock_that_cannot_be_had_is_a_clear_error(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fcntl

    holder = os.open(save_module.lock_path(config_path), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another process's lock: flock locks are per open file
    monkeypatch.setattr(save_module, "LOCK_WAIT", 0.2)
    try:
        with pytest.raises(ConfigError) as caught:
            add_datasets(config_path, "vl", [ID_NEW])
    finally:
        os.close(holder)
    assert str(caught.value) == (
        f"{config_path}: another program has been saving this file for 0.2s"
        f" (it holds {save_module.lock_path(config_path)}); nothing saved: try again"
    )
    assert config_path.read_text() == CONFIG
    assert add_datasets(config_path, "vl", [ID_NEW]) == [ID_NEW]  # free again: it works


def test_a_save_waits_for_the_lock_holder_then_keeps_both_edits(config_path: Path) -> None:
    import fcntl

    holder = os.open(save_module.lock_path(config_path), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    done: list[list[str]] = []
    waiter = threading.Thread(target=lambda: done.append(add_datasets(config_path, "vl", [ID_NEW])))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and ID_NEW not in config_path.read_text()  # it waits
    config_path.write_text(CONFIG + "# the holder's edit\n")
    os.close(holder)
    waiter.join(10)
    assert done == [[ID_NEW]]
    text = config_path.read_text()
    assert ID_NEW in text and text.endswith("# the holder's edit\n")


# --------------------------------------------------------------------------
# Files a save cannot rewrite faithfully
# --------------------------------------------------------------------------


def test_a_read_only_file_is_refused_not_rewritten(config_path: Path) -> None:
    config_path.chmod(0o444)
    code, out, err = run_dswatch("add", "vl", ID_NEW, config=config_path)
    assert (code, out) == (2, "")
    assert err == (
        f"dswatch: {config_path}: is read-only (mode 444); nothing saved:"
        f" run chmod u+w {config_path} to let dswatch edit it\n"
    )
    assert config_path.read_text() == CONFIG
    assert config_path.stat().st_mode & 0o777 == 0o444


def test_a_hard_linked_file_is_refused_with_the_reason(config_path: Path) -> None:
    twin = config_path.parent / "twin.toml"
    os.link(config_path, twin)
    with pytest.raises(ConfigError, match="has 2 hard links") as caught:
        add_datasets(config_path, "vl", [ID_NEW])
    assert "nothing saved" in str(caught.value)
    assert config_path.read_text() == twin.read_text() == CONFIG
    assert config_path.stat().st_ino == twin.stat().st_ino


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_save_keeps_the_owner_and_group(config_path: Path) -> None:
    os.chown(config_path, 4321, 8765)
    add_datasets(config_path, "vl", [ID_NEW])
    st = config_path.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (4321, 8765, 0o600)
    assert ID_NEW in config_path.read_text()


def test_a_save_that_cannot_keep_the_owner_is_refused(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a user who may not give files away (every non-root user)."""

    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    st = config_path.stat()
    fake_owner = (st.st_uid + 1, st.st_gid)
    real_read = save_module.read_snapshot

    def owned_by_someone_else(path: Path, *, missing_ok: bool) -> save_module.Snapshot:
        snapshot = real_read(path, missing_ok=missing_ok)
        from dataclasses import replace

        return replace(snapshot, uid=fake_owner[0], gid=fake_owner[1])

    monkeypatch.setattr(save_module.os, "chown", refuse)
    monkeypatch.setattr(save_module, "read_snapshot", owned_by_someone_else)
    with pytest.raises(ConfigError) as caught:
        add_datasets(config_path, "vl", [ID_NEW])
    assert str(caught.value) == (
        f"{config_path}: belongs to user {fake_owner[0]}, group {fake_owner[1]};"
        " saving would make it yours; nothing saved: edit it as its owner"
    )
    assert config_path.read_text() == CONFIG
    assert [p.name for p in config_path.parent.iterdir()] == ["config.toml"]


# --------------------------------------------------------------------------
# Shapes refused before parsing; BOM and size
# --------------------------------------------------------------------------

HOSTILE = {
    "nested arrays": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "nested inline tables": "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "40 KB of dotted keys": "a" + ".a" * 20_000 + " = 1\n",
    "a dotted table header": "[" + "a." * 20_000 + "a]\n",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_nesting_is_a_config_error_at_its_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# a comment\n\n" + text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}:3: nested too deeply: more than {MAX_NESTING} ")
    assert secret_warnings(path) == []  # the dashboard's start reads it too


@pytest.mark.parametrize("command", [["status"], ["add", "vl", ID_NEW]], ids=["status", "add"])
@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_nesting_exits_2_with_the_message(
    tmp_path: Path, command: list[str], text: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG + text)
    code, out, err = run_dswatch(*command, config=path)
    assert (code, out) == (2, ""), err
    assert err.startswith(f"dswatch: {path}:7: nested too deeply") and "Traceback" not in err


def test_hostile_nesting_at_dashboard_start_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG + HOSTILE["40 KB of dotted keys"])
    started = time.process_time()
    with pytest.raises(ConfigError, match=r":7: nested too deeply"):
        load_engine(path, environ={})
    # Refused before tomllib's quadratic walk (seconds of CPU): a generous bound, not a timing.
    assert time.process_time() - started < 2


LEGIT_DEEP = [
    'a = [[1, 2], [3, [4, 5]]]\nb = {c = {d = [1.5, 2.5, 3.5]}}\n"e.f".g = "x.y[z]{"\n',
    "h = '''\n[[[[[[[[[[[[[[[[[[[[[[[[[[\n'''\ni.j.k = 1.0\n",
    '[t."u.v".w]\nx = 2024-01-01T00:00:00.123Z\n',
]


@pytest.mark.parametrize("text", LEGIT_DEEP)
def test_ordinary_nesting_strings_and_dots_pass_the_bound(text: str) -> None:
    from tui.config.toml_text import parse_toml

    parse_toml(text, Path("x.toml"))  # no ConfigError


def test_a_utf8_bom_is_accepted_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + CONFIG.encode())
    path.chmod(0o600)
    assert load_config(path).backends[0].datasets == [ID_OLD]
    add_datasets(path, "vl", [ID_NEW])
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf# keep me\n") and data.count(b"\xef\xbb\xbf") == 1
    assert load_config(path).backends[0].datasets == [ID_OLD, ID_NEW]


def test_a_huge_config_says_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG + "# padding\n" * 1_000_000)
    code, out, err = run_dswatch("status", config=path)
    assert (code, out) == (2, "")
    assert err == f"dswatch: {path}: is 10.0 MB; the limit is 8 MiB for a config file\n"


# -- a save killed mid-write (a real process, SIGKILLed) ---------------------


# Runs add_datasets in a child whose os.replace announces itself and hangs:
# the temp file is complete and synced, the rename has not happened.
_HANG_BEFORE_RENAME = """
import os, sys, time
from pathlib import Path
import tui.config

def hang(source, destination):
    print("temp file written", flush=True)
    time.sleep(60)

os.replace = hang
tui.config.add_datasets(Path(sys.argv[1]), "vl", [sys.argv[2]])
"""


def kill_a_writer_before_the_rename(config_path: Path) -> int:
    """Start a save of ID_NEW in a child, SIGKILL it between temp file and rename; its pid."""
    command = [sys.executable, "-c", _HANG_BEFORE_RENAME, str(config_path), ID_NEW]
    with subprocess.Popen(command, stdout=subprocess.PIPE) as child:
        watchdog = threading.Timer(15, child.kill)  # never hang the test suite
        watchdog.start()
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == b"temp file written\n"
            os.kill(child.pid, signal.SIGKILL)
            assert child.wait(5) == -signal.SIGKILL
        finally:
            watchdog.cancel()
            child.kill()
    return child.pid


def test_a_writer_killed_before_the_rename_leaves_the_old_file(config_path: Path) -> None:
    original = config_path.read_bytes()
    kill_a_writer_before_the_rename(config_path)
    assert config_path.read_bytes() == original
    assert ID_NEW not in load_config(config_path).backends[0].datasets
    # The kill really came mid-write: the new content was complete, only unrenamed.
    [leftover] = temp_files(config_path.parent)
    assert ID_NEW in leftover.read_text()


def test_the_next_save_removes_the_temp_file_of_a_killed_save(config_path: Path) -> None:
    """Its writer held the lock and is gone: no need to wait ten minutes."""
    pid = kill_a_writer_before_the_rename(config_path)
    [leftover] = temp_files(config_path.parent)
    assert f".{pid}." in leftover.name
    assert add_datasets(config_path, "vl", [ID_NEW_2]) == [ID_NEW_2]
    assert temp_files(config_path.parent) == []
    assert ID_NEW not in config_path.read_text()
