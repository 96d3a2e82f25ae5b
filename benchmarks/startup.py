"""Start-up: one-shot commands and the demo's first screen, wall time, vs bare Python.

    .venv/bin/python benchmarks/startup.py [--runs 5] [--quick]

Each command runs as a fresh process (`python -m tui.cli ...`, this checkout
first on PYTHONPATH), the way a CI step or a shell calls it, K times; the
median wall time from spawn to exit is reported:
- `status` for 1 READY Visual Layer dataset on the simulator (own process,
  127.0.0.1, latency per --latency);
- `wait` for the same dataset (already ready: one read, exit 0);
- `add BACKEND ID` on a fresh copy of a 1-dataset config each run;
- `--demo` in a detached tmux 160x45 until the first full screen: the
  summary line says "polled" and every demo dataset has a row.
Baselines, same run: `python -c pass`, `python -c "import httpx"`, the
floor of a one-shot command built on the same libraries (asyncio, one httpx
GET of the same dataset from the simulator, one pydantic model validating the
answer, with httpx's command-line tool kept out as dswatch keeps it out; once
as written, once leaving with `os._exit` as dswatch does, see tui/launch.py),
and for the demo a Textual app of one Static until its text shows, in the
same tmux setup. Then `python -X importtime` of `status` says what is
left: the modules that cost most (cumulative, one run, so noisy: a
breakdown, not a figure).

Bytecode: an installed dswatch runs from cached bytecode (pip compiles it;
an editable checkout writes __pycache__ on its first run). Every child gets
a bytecode cache in the run's temp directory (PYTHONPYCACHEPREFIX, so the
checkout is left alone) and an untimed warm-up run, even where
PYTHONDONTWRITEBYTECODE is set (as on the shared agents' machine). One more
row times `status` under PYTHONDONTWRITEBYTECODE=1 with no cache prefix: a
checkout without __pycache__ compiles every dswatch module on every run
(the condition of the earlier start-up figures in benchmarks/README.md).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    HERE,
    PYTHON,
    Row,
    SimProcess,
    header_line,
    median,
    missed,
    ms,
    parser,
    print_table,
    times,
)

ROOT = HERE.parent
COMMAND_TARGET = 0.2  # s wall, status / wait / add for one dataset
DEMO_TARGET = 0.5  # s wall to the first full screen
DEMO_SIZE = (160, 45)
DEMO_ROWS = 35  # rows that must show (the demo has 35-42 datasets: tui/sim/demo.py)
ROW_RE = re.compile(r"^ (visual-layer|visual…|cognee) ", re.MULTILINE)
TEXTUAL_BASELINE = (
    "from textual.app import App\n"
    "from textual.widgets import Static\n"
    "class One(App):\n"
    "    def compose(self):\n"
    "        yield Static('baseline-ready')\n"
    "One().run()\n"
)


FLOOR = (
    # httpx's own command-line tool is kept out as dswatch keeps it out (tui/cli): with
    # it, the floor imported rich, click and pygments (~30 ms) that dswatch never pays.
    "import sys\n"
    "sys.modules['httpx._main'] = None\n"
    "import asyncio, ssl, httpx, pydantic\n"
    "class Dataset(pydantic.BaseModel):\n"
    "    id: str\n"
    "    status_new: str | None = None\n"
    "async def main():\n"
    "    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # as dswatch does for http://\n"
    "    async with httpx.AsyncClient(verify=tls) as client:\n"
    "        answer = await client.get(sys.argv[1])\n"
    "        print(Dataset.model_validate(answer.json()).status_new)\n"
    "asyncio.run(main())\n"
)
# The same, leaving as `dswatch` does (tui/launch.py): output flushed, no teardown.
FLOOR_NO_TEARDOWN = FLOOR + "sys.stdout.flush()\nimport os\nos._exit(0)\n"


def env(pycache: Path | None) -> dict[str, str]:
    """The children's environment; with `pycache`, a bytecode cache there (see above)."""
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    if pycache is not None:
        out.pop("PYTHONDONTWRITEBYTECODE", None)
        out["PYTHONPYCACHEPREFIX"] = str(pycache)
    return out


def wall_of(command: list[str], environ: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=environ, cwd=cwd, capture_output=True, timeout=60)
    wall = time.perf_counter() - start
    if done.returncode not in (0,):
        raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return wall


def write_config(path: Path, url: str, dataset_id: str) -> None:
    path.write_text(
        f'[[backends]]\nname = "vl"\ntype = "visual_layer"\nurl = "{url}/vl"\n'
        f'datasets = ["{dataset_id}"]\n',
        encoding="utf-8",
    )
    path.chmod(0o600)


def terminal_env() -> dict[str, str]:
    """The environment of a user's terminal: run from pytest (the smoke test), Textual
    sees PYTEST_* and draws 80x24 whatever the pane's size."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TEXTUAL_"))}


def first_screen(command: str, done: re.Pattern[str] | None, home: Path, timeout: float) -> float:
    """Seconds from starting `command` in tmux until its screen is complete."""
    socket = f"dswatch-startup-{os.getpid()}-{time.monotonic_ns()}"  # a server per run
    tmux = ["tmux", "-L", socket]
    # An empty PYTHONDONTWRITEBYTECODE counts as unset: the cache of env() is used.
    exports = (
        f"PYTHONPATH={ROOT} XDG_STATE_HOME={home} XDG_CONFIG_HOME={home} "
        f"PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX={home / 'pycache'}"
    )
    start = time.perf_counter()
    width, height = str(DEMO_SIZE[0]), str(DEMO_SIZE[1])
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", "s", "-x", width, "-y", height,
         f"cd {ROOT} && exec env {exports} timeout --foreground 60 {command}", ";",
         "set-option", "-t", "s", "window-size", "manual", ";",
         "resize-window", "-t", "s", "-x", width, "-y", height],
        check=True, timeout=30, capture_output=True, env=terminal_env(),
    )  # fmt: skip
    screen = ""
    try:
        # Every row that fits: a loaded machine has been seen to give a pane of 80x24.
        size = subprocess.run(
            [*tmux, "display-message", "-p", "-t", "s", "#{pane_width} #{pane_height}"],
            capture_output=True, text=True, timeout=30,
        ).stdout.split()  # fmt: skip
        width, height = (int(v) for v in size) if len(size) == 2 else DEMO_SIZE
        rows = min(DEMO_ROWS, height - 4)  # summary, header, a spare line, footer
        while time.perf_counter() - start < timeout:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-t", "s"], capture_output=True, text=True
            ).stdout
            if done is None and "baseline-ready" in screen:
                return time.perf_counter() - start
            # Drawn narrower than the pane (seen under pytest), the summary's "polled"
            # is cut off: no unread ("unknown") row left says the same.
            # Toasts may then cover the start of some rows: a few rows are enough there.
            shown = len(ROW_RE.findall(screen))
            if done is not None and done.search(screen) is not None and shown >= rows:
                return time.perf_counter() - start
            if done is not None and "unknown" not in screen and shown >= 5 and "│" in screen:
                return time.perf_counter() - start
            time.sleep(0.005)
        raise TimeoutError(f"{command}: no full screen after {timeout:.0f} s:\n{screen}")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, timeout=30)


def importtime(command: list[str], environ: dict[str, str]) -> list[tuple[str, int]]:
    """(module, cumulative µs) of the heaviest imports, one run."""
    done = subprocess.run(
        [PYTHON, "-X", "importtime", *command], env=environ, cwd=ROOT, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    rows: list[tuple[str, int]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((name.strip(), int(cumulative)))
    # A package's first import counts everything it pulls in: top-level packages
    # and tui's own modules (tui.x) are the units worth naming.
    named = [
        (n, c) for n, c in rows if "." not in n or (n.count(".") == 1 and n.startswith("tui."))
    ]
    return sorted(named, key=lambda r: -r[1])


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(runs=5)
    args = p.parse_args()
    if args.quick:
        args.runs = 2
    runs = args.runs
    cli = [PYTHON, "-m", "tui.cli"]
    samples: dict[str, list[float]] = {
        k: []
        for k in (
            "pass",
            "httpx",
            "floor",
            "floor_fast",
            "status",
            "uncached",
            "wait",
            "add",
            "textual",
            "demo",
        )
    }
    has_tmux = shutil.which("tmux") is not None
    with (
        tempfile.TemporaryDirectory(prefix="dswatch-startup-") as tmp,
        SimProcess(latency=args.latency) as sim,
    ):
        home = Path(tmp)
        environ = env(home / "pycache")
        uncached = env(None)
        uncached["PYTHONDONTWRITEBYTECODE"] = "1"  # as the agents' machine runs everything
        for e in (environ, uncached):
            e["XDG_STATE_HOME"] = e["XDG_CONFIG_HOME"] = str(home)
        (dataset,) = sim.control.add_vl_datasets(1)
        (new_id,) = sim.control.add_vl_datasets(1)
        config = home / "config.toml"
        write_config(config, sim.url, dataset)
        with_config = ["--config", str(config)]
        fresh = home / "fresh.toml"
        floor = [PYTHON, "-c", FLOOR, f"{sim.url}/vl/api/v1/dataset/{dataset}"]
        floor_fast = [PYTHON, "-c", FLOOR_NO_TEARDOWN, *floor[3:]]
        polled = re.compile(r"polled \d")
        textual = f"{PYTHON} -c {shlex_quote(TEXTUAL_BASELINE)}"
        demo = f"{PYTHON} -m tui.cli --demo"
        for warm_up in [True] + [False] * runs:  # the first round fills the bytecode cache

            def sample(key: str, seconds: float, warm_up: bool = warm_up) -> None:
                if not warm_up:
                    samples[key].append(seconds)

            sample("pass", wall_of([PYTHON, "-c", "pass"], environ, ROOT))
            sample("httpx", wall_of([PYTHON, "-c", "import httpx"], environ, ROOT))
            sample("floor", wall_of(floor, environ, ROOT))
            sample("floor_fast", wall_of(floor_fast, environ, ROOT))
            sample("status", wall_of([*cli, "status", *with_config], environ, ROOT))
            sample("uncached", wall_of([*cli, "status", *with_config], uncached, ROOT))
            sample("wait", wall_of([*cli, "wait", *with_config, dataset], environ, ROOT))
            write_config(fresh, sim.url, dataset)
            add = [*cli, "add", "--config", str(fresh), "vl", new_id]
            sample("add", wall_of(add, environ, ROOT))
            if has_tmux:
                sample("textual", first_screen(textual, None, home, 30))
                sample("demo", first_screen(demo, polled, home, 30))
        breakdown = importtime(["-m", "tui.cli", "status", *with_config], environ)

    med = {k: median(v) for k, v in samples.items()}
    rows = [
        Row("python -c pass", ms(med["pass"], 0)),
        Row('python -c "import httpx"', ms(med["httpx"], 0)),
        Row("floor: asyncio + one httpx GET + one pydantic model", ms(med["floor"], 0)),
        Row("the floor, leaving without a teardown as dswatch does", ms(med["floor_fast"], 0)),
    ]
    for name in ("status", "wait", "add"):
        rows.append(
            Row(
                f"dswatch {name}, 1 dataset (vs import httpx)",
                ms(med[name], 0),
                ms(med["httpx"], 0),
                times(med[name] / med["httpx"]),
                f"≤ {COMMAND_TARGET * 1000:.0f} ms",
                med[name] <= COMMAND_TARGET,
            )
        )
    rows.append(
        Row(
            "dswatch status, PYTHONDONTWRITEBYTECODE=1 (vs import httpx)",
            ms(med["uncached"], 0),
            ms(med["httpx"], 0),
            times(med["uncached"] / med["httpx"]),
        )
    )
    if has_tmux:
        rows.append(
            Row(
                "dswatch --demo, first full screen (vs one-Static Textual app)",
                ms(med["demo"], 0),
                ms(med["textual"], 0),
                times(med["demo"] / med["textual"]),
                f"≤ {DEMO_TARGET * 1000:.0f} ms",
                med["demo"] <= DEMO_TARGET,
            )
        )
    tui = [(n, c) for n, c in breakdown if n.startswith("tui.")][:8]
    other = [(n, c) for n, c in breakdown if not n.startswith("tui")][:10]
    notes = [
        "What `status` still imports (python -X importtime, cumulative, one run; "
        "nested imports counted once, under the first importer):",
        "dswatch: " + ", ".join(f"{n} {c / 1000:.0f} ms" for n, c in tui),
        "others: " + ", ".join(f"{n} {c / 1000:.0f} ms" for n, c in other),
    ]
    intro = [
        header_line("Start-up", args),
        "Fresh processes, wall time from spawn to exit (the demo: to its first full screen "
        f"in tmux {DEMO_SIZE[0]}x{DEMO_SIZE[1]}). Ratio: dswatch / baseline (lower is better).",
    ]
    print_table("Start-up: one-shot commands and the demo", rows, intro=intro, notes=notes)
    return 1 if args.strict and missed(rows) else 0


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


if __name__ == "__main__":
    sys.exit(main())
