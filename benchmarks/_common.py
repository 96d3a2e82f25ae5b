"""What every benchmark shares: the simulator in its own process, CPU clocks, the table.

The simulator runs in a separate process (`_simserver.py`) so its CPU never
counts as the client's: `time.process_time()` in a benchmark measures the
client alone. Everything listens on 127.0.0.1 only, and every helper here
has a deadline.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tui.sim import SimControl

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
DEFAULT_LATENCY = 0.020  # seconds added by the simulator to every request
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- arguments


def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--quick", action="store_true", help="tiny sizes and short durations (the smoke test)"
    )
    p.add_argument(
        "--latency",
        type=float,
        default=DEFAULT_LATENCY,
        metavar="S",
        help=f"simulated latency per request, seconds (default {DEFAULT_LATENCY})",
    )
    p.add_argument("--runs", type=int, default=1, metavar="K", help="report the median of K runs")
    p.add_argument("--strict", action="store_true", help="exit 1 when any target is missed")
    return p


# ---------------------------------------------------------------- the simulator


class SimProcess:
    """`_simserver.py` in a subprocess on a free port of 127.0.0.1.

    with SimProcess(latency=0.02) as sim:
        ids = sim.control.add_vl_datasets(1000)
        ... f"{sim.url}/vl" ...
    """

    def __init__(self, *, latency: float = 0.0, seed: int = 0, startup_timeout: float = 20.0):
        self.latency = latency
        self.seed = seed
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self._control: SimControl | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def control(self) -> SimControl:
        if self._control is None:
            self._control = SimControl(self.url, timeout=60.0)
        return self._control

    def start(self) -> SimProcess:
        command = [PYTHON, str(HERE / "_simserver.py"), "--seed", str(self.seed)]
        command += ["--latency", str(self.latency)]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        deadline = time.monotonic() + self.startup_timeout
        line = ""
        while time.monotonic() < deadline and self.proc.poll() is None:
            line += self.proc.stdout.readline()
            if line.endswith("\n"):
                break
            time.sleep(0.02)
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the simulator did not start (said {line!r})")
        self.port = int(line.split()[1])
        return self

    def reset_stats(self) -> None:
        self.control.reset_stats()

    def requests(self, backend: str, route: str | None = None) -> int:
        """Requests the simulator received for `backend` (one route: "GET /api/v1/...")."""
        stats = self.control.stats()[backend]
        return int(stats["total"] if route is None else stats["by_route"].get(route, 0))

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ---------------------------------------------------------------- clocks


@dataclass
class Timing:
    wall: float  # seconds
    cpu: float  # seconds of this process's CPU (all threads)


@contextmanager
def timed() -> Iterator[Timing]:
    """Wall and process CPU time of the block: `with timed() as t: ...; t.wall`."""
    result = Timing(0.0, 0.0)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result.wall = time.perf_counter() - wall
        result.cpu = time.process_time() - cpu


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of another process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name (field 2) may hold spaces: split after its closing paren.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15


def proc_rss_kib(pid: int, key: str = "VmHWM") -> int:
    """Peak (VmHWM) or current (VmRSS) resident set size of a process, KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def exit_with_parent(max_seconds: float) -> None:
    """For helper processes: exit when the benchmark that started them is gone, or late.

    A benchmark killed mid-run must not leave a simulator or a poller behind.
    """
    parent = os.getppid()
    deadline = time.monotonic() + max_seconds

    def watch() -> None:
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def floor_seconds(n: int, concurrency: int, latency: float) -> float:
    """The best any client can do: ceil(N / concurrency) rounds of one latency each."""
    return math.ceil(n / concurrency) * latency


# ---------------------------------------------------------------- the table


@dataclass
class Row:
    metric: str
    measured: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    ok: bool | None = None  # None: no target for this row

    @property
    def result(self) -> str:
        return "-" if self.ok is None else ("PASS" if self.ok else "MISS")


HEADER = ("metric", "measured", "baseline", "ratio", "target", "result")


def print_table(
    title: str, rows: Sequence[Row], *, intro: Sequence[str] = (), notes: Sequence[str] = ()
) -> None:
    """A markdown table (also readable as plain text), with lines before and after."""
    cells = [HEADER] + [
        (r.metric, r.measured, r.baseline, r.ratio, r.target, r.result) for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(f"\n### {title}\n")
    for text in intro:
        print(text + "  ")  # two spaces: a markdown line break
    if intro:
        print()
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    if notes:
        print()
    for text in notes:
        print(text + "  ")
    sys.stdout.flush()


def missed(rows: Sequence[Row]) -> bool:
    return any(r.ok is False for r in rows)


def ms(seconds: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:,.{digits}f} ms"


def secs(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds:,.2f} s"


def pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}%"


def times(ratio: float) -> str:
    """A ratio as `12.3×` (how many times better the measured value is)."""
    return "n/a" if math.isnan(ratio) or math.isinf(ratio) else f"{ratio:,.1f}×"


def ratio_of(baseline: float, measured: float) -> float:
    return baseline / measured if measured > 0 else math.inf


def header_line(what: str, args: argparse.Namespace) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M")
    runs = f"median of {args.runs} runs" if args.runs > 1 else "1 run"
    quick = ", --quick (sizes too small for the targets to mean much)" if args.quick else ""
    return (
        f"{what}: {stamp}, {os.cpu_count()} CPUs, latency {args.latency * 1000:g} ms, {runs}{quick}"
    )


@dataclass
class EngineSweep:
    wall: float
    cpu: float
    requests: int  # as counted by the client (FetchResult.requests)
    ready: int


async def engine_sweep(
    url: str, backend_type: str, ids: list[str], concurrency: int
) -> EngineSweep:
    """One full poll of `ids` through dswatch's own engine, timed, requests counted."""
    from tui.backends.base import FetchResult
    from tui.config import BackendConfig, Config, Settings
    from tui.engine import build_engine
    from tui.models import State

    config = Config(
        settings=Settings(max_concurrency=concurrency, timeout=30.0),
        backends=[BackendConfig(name="b", type=backend_type, url=url, datasets=ids)],  # type: ignore[arg-type]
    )
    engine = build_engine(config, None, environ={})
    backend = engine.backends["b"]
    fetch = backend.fetch
    made = 0

    async def counting_fetch(*args: object, **kwargs: object) -> FetchResult:
        nonlocal made
        result = await fetch(*args, **kwargs)  # type: ignore[arg-type]
        made += result.requests
        return result

    backend.fetch = counting_fetch  # type: ignore[method-assign]
    try:
        with timed() as t:
            states = await engine.poller.poll_all_once()
    finally:
        await engine.aclose()
    ready = sum(1 for s in states.values() if s.state is State.READY)
    return EngineSweep(t.wall, t.cpu, made, ready)
