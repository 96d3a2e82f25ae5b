"""Every benchmark script runs with --quick and prints its table (no timing is checked).

The scripts run as subprocesses (sys.executable), all at once: they spend most
of their time waiting (latency, CPU windows), so together they take about as
long as the slowest one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = (
    "sweep", "batching", "adapt", "grid", "e2e", "store", "startup", "model", "memory",
    "poller_cpu",
)  # fmt: skip
TIMEOUT = 120  # seconds per script; they take 3-25 s
HEADER = "| metric "
RESULTS = {"PASS", "MISS", "-"}


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    started = {
        name: subprocess.Popen(
            [sys.executable, str(BENCHMARKS / f"{name}.py"), "--quick"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=BENCHMARKS.parent,
        )
        for name in SCRIPTS
        if name != "e2e" or shutil.which("tmux")
    }
    yield started
    for proc in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


@pytest.mark.parametrize("name", SCRIPTS)
def test_quick_run_prints_its_table(runs: dict[str, subprocess.Popen[str]], name: str) -> None:
    if name not in runs:
        pytest.skip("tmux is not installed")
    proc = runs[name]
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"{name}.py --quick did not finish in {TIMEOUT} s:\n{out}\n{err}")
    assert proc.returncode == 0, f"{name}.py --quick exited {proc.returncode}:\n{err[-3000:]}"
    lines = out.splitlines()
    assert any(line.startswith("### ") for line in lines), out
    header = [i for i, line in enumerate(lines) if line.startswith(HEADER)]
    assert header, f"no table header in:\n{out}"
    rows = [
        line
        for line in lines[header[0] + 2 :]
        if line.startswith("| ") and not line.startswith(HEADER)
    ]
    assert rows, f"no table rows in:\n{out}"
    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in rows]
    assert all(len(row) == 6 for row in cells), out  # metric ... result
    assert all(row[-1] in RESULTS for row in cells), out
