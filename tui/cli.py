"""`dswatch`: the dashboard, and one-shot commands for scripts and CI.

Exit codes: 0 fine, 1 a dataset could not be read or failed (see each
command), 2 usage or config errors, 124 `wait` timed out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.handlers
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import platformdirs

from . import __version__
from .config import (
    ConfigError,
    add_datasets,
    default_config_path,
    remove_datasets,
    secret_warnings,
)
from .engine import Engine, demo_engine, load_engine
from .models import DatasetState, InvalidDatasetId, State, normalize_dataset_id
from .poller import PollUpdate
from .text import sanitize

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 124
UNREADABLE = frozenset({State.NOT_FOUND, State.UNAUTHORIZED, State.UNREACHABLE})
WAIT_FAILS = frozenset({State.ERROR, State.NOT_FOUND, State.UNAUTHORIZED})

log = logging.getLogger("tui")


class UsageError(Exception):
    """Bad arguments: printed with the command's name, exit 2."""


# -- argument parsing ---------------------------------------------------------


def shared_options(*, in_subcommand: bool) -> tuple[argparse.ArgumentParser, ...]:
    """--config/--debug/--demo, accepted before and after the command.

    In a subcommand they default to SUPPRESS, so `dswatch --config X status`
    keeps X instead of the subcommand resetting it to its own default.
    """

    def default(value: object) -> object:
        return argparse.SUPPRESS if in_subcommand else value

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        default=default(None),
        help=f"config file (default: $DSWATCH_CONFIG or {default_config_path()})",
    )
    common.add_argument(
        "--debug", action="store_true", default=default(False), help="verbose log file"
    )
    demo = argparse.ArgumentParser(add_help=False)
    demo.add_argument(
        "--demo",
        action="store_true",
        default=default(False),
        help="use the built-in simulator (no account, no network)",
    )
    return common, demo


def build_parser() -> argparse.ArgumentParser:
    top_common, top_demo = shared_options(in_subcommand=False)
    common, demo = shared_options(in_subcommand=True)
    parser = argparse.ArgumentParser(
        prog="dswatch",
        description="Watch dataset processing on Visual Layer and Cognee, live.",
        parents=[top_common, top_demo],
        epilog="Run without a command to open the dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"dswatch {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = commands.add_parser(
        "status",
        parents=[common, demo],
        help="poll every watched dataset once and print a table",
        description="Poll every watched dataset once. Exit 0 when every dataset was read, "
        "1 when any is not_found, unauthorized or unreachable, 2 on config errors.",
    )
    status.add_argument("--json", action="store_true", help="print one JSON array")

    wait = commands.add_parser(
        "wait",
        parents=[common, demo],
        help="wait until datasets are ready",
        description="Poll until every named dataset is ready (all watched ones when none are "
        "named). Exit 0 when all are ready, 1 as soon as one is error, not_found or "
        "unauthorized, 124 on timeout, 2 on usage errors. Progress goes to stderr.",
    )
    wait.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds")
    wait.add_argument("--partial-ok", action="store_true", help="PARTIAL INDEX counts as ready")
    wait.add_argument("ids", nargs="*", metavar="[BACKEND:]ID")

    for verb, text in (("add", "start watching"), ("remove", "stop watching")):
        edit = commands.add_parser(
            verb,
            parents=[common],
            help=f"{text} datasets (edits the config file in place)",
            description=f"{text.capitalize()} datasets: edits the config file in place, "
            "keeping its comments. Refused with exit 2, file untouched, on a bad ID or an "
            "unknown backend.",
        )
        edit.add_argument("backend")
        edit.add_argument("ids", nargs="+", metavar="ID")

    sim = commands.add_parser(
        "sim",
        help="serve the simulator on 127.0.0.1 (for tests and benchmarks)",
        description="Serve the simulator: Visual Layer under /vl, Cognee under /cognee.",
    )
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--vl", type=int, default=20, metavar="N", help="Visual Layer datasets")
    sim.add_argument("--cognee", type=int, default=20, metavar="N", help="Cognee datasets")
    sim.add_argument("--latency", type=float, default=0.0, metavar="S", help="per request")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(debug=args.debug if "debug" in args else False)
    try:
        return dispatch(args)
    except (ConfigError, UsageError) as exc:
        print(f"dswatch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "sim":
        return run_sim(args)
    if command in ("add", "remove"):
        return edit_config(args)
    if command is None:
        from .app import run_dashboard

        return run_dashboard(config_path=config_path(args), demo=args.demo)
    engine = open_engine(args)
    if command == "status":
        return asyncio.run(status(engine, as_json=args.json))
    targets = resolve_targets(engine, args.ids)
    return asyncio.run(wait(engine, targets, timeout=args.timeout, partial_ok=args.partial_ok))


def config_path(args: argparse.Namespace) -> Path:
    return args.config.expanduser() if args.config else default_config_path()


def open_engine(args: argparse.Namespace) -> Engine:
    if args.demo:
        return demo_engine()
    path = config_path(args)
    for warning in secret_warnings(path):
        print(f"dswatch: warning: {warning}", file=sys.stderr)
    return load_engine(path)


def setup_logging(*, debug: bool) -> None:
    """Log to a rotated file, never to the terminal (the TUI owns it)."""
    directory = platformdirs.user_log_path("dswatch")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            directory / "dswatch.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()  # an unwritable log dir must not stop the app
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if debug else logging.INFO)
    log.propagate = False


# -- status -------------------------------------------------------------------


async def status(engine: Engine, *, as_json: bool) -> int:
    try:
        states = await engine.poller.poll_all_once()
    finally:
        await engine.aclose()
    rows = sorted(states.values(), key=lambda s: (s.backend, s.label.lower(), s.id))
    if as_json:
        print(json.dumps([s.summary() for s in rows], indent=2))
    else:
        print(format_table(rows))
    return EXIT_PROBLEM if any(s.state in UNREADABLE for s in rows) else EXIT_OK


def format_table(rows: Sequence[DatasetState]) -> str:
    if not rows:
        return "No datasets are watched. Add one with: dswatch add BACKEND ID"
    header = (
        "BACKEND",
        "NAME",
        "STATE",
        "STATUS",
        "PROGRESS",
        "IMAGES",
        "VIDEOS",
        "OBJECTS",
        "PIPELINES",
        "ERROR",
    )
    body = [
        (
            s.backend,
            sanitize(s.label, max_len=40),
            s.state.value,
            sanitize(s.status or "", max_len=32),
            "" if s.progress is None else f"{s.progress:.0f}%",
            _count(s.n_images),
            _count(s.n_videos),
            _count(s.n_objects),
            " ".join(
                f"{p.removesuffix('_pipeline')}={sanitize(v, max_len=30)}"
                for p, v in s.pipelines.items()
            ),
            sanitize(s.error or "", max_len=80),
        )
        for s in rows
    ]
    widths = [max(len(r[i]) for r in (header, *body)) for i in range(len(header))]
    right = {4, 5, 6, 7}
    lines = [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in (header, *body)
    ]
    return "\n".join(lines)


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


# -- wait ---------------------------------------------------------------------


def resolve_targets(engine: Engine, specs: Sequence[str]) -> set[tuple[str, str]]:
    """`[BACKEND:]ID` -> keys; an ID alone must belong to exactly one backend."""
    backends = engine.config.backends
    if not specs:
        keys = {(b.name, i) for b in backends for i in b.datasets}
        if not keys:
            raise UsageError("wait: no datasets named and none in the config")
        return keys
    keys: set[tuple[str, str]] = set()
    for spec in specs:
        name, _, raw_id = spec.rpartition(":")
        try:
            dataset_id = normalize_dataset_id(raw_id)
        except InvalidDatasetId as exc:
            raise UsageError(f"wait: {exc}") from None
        if name:
            if engine.config.backend(name) is None:
                known = ", ".join(b.name for b in backends) or "none configured"
                raise UsageError(f"wait: unknown backend {name!r} (known: {known})")
        else:
            owners = [b.name for b in backends if dataset_id in b.datasets]
            if len(owners) == 1 or (not owners and len(backends) == 1):
                name = owners[0] if owners else backends[0].name
            else:
                raise UsageError(f"wait: say which backend watches {dataset_id}: BACKEND:ID")
        keys.add((name, dataset_id))
    return keys


async def wait(
    engine: Engine, targets: set[tuple[str, str]], *, timeout: float | None, partial_ok: bool
) -> int:
    poller = engine.poller
    for backend, dataset_id in targets:
        poller.add(backend, [dataset_id])
    # Only the named datasets are polled.
    for name, scheduler in poller.schedulers.items():
        poller.remove(name, [i for i in list(scheduler.due_at) if (name, i) not in targets])
    done_states = {State.READY, State.PARTIAL} if partial_ok else {State.READY}
    finished: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    last_line: dict[tuple[str, str], str] = {}

    def on_update(update: PollUpdate) -> None:
        for state in update.states:
            if state.key not in targets or state.polled_at is None:
                continue
            line = progress_line(state)
            if last_line.get(state.key) != line:
                last_line[state.key] = line
                print(line, file=sys.stderr, flush=True)
        current = [poller.states.get(k) for k in targets]
        if finished.done():
            return
        if any(s is not None and s.state in WAIT_FAILS for s in current):
            finished.set_result(EXIT_PROBLEM)
        elif all(s is not None and s.state in done_states for s in current):
            finished.set_result(EXIT_OK)

    started = time.monotonic()
    runner = asyncio.create_task(poller.run(on_update))
    try:
        return await asyncio.wait_for(asyncio.shield(finished), timeout=timeout)
    except TimeoutError:
        elapsed = math.ceil(time.monotonic() - started)
        pending = sorted(
            s.label for k in targets if (s := poller.states.get(k)) and s.state not in done_states
        )
        print(
            f"dswatch: timed out after {elapsed}s waiting for {', '.join(pending)}", file=sys.stderr
        )
        return EXIT_TIMEOUT
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await engine.aclose()


def progress_line(state: DatasetState) -> str:
    parts = [f"{state.backend}:{sanitize(state.label, max_len=60)}", state.state.value]
    if state.status:
        parts.append(sanitize(state.status, max_len=40))
    if state.progress is not None:
        parts.append(f"{state.progress:.0f}%")
    if state.error:
        parts.append(f"- {sanitize(state.error, max_len=200)}")
    return " ".join(parts)


# -- add / remove ---------------------------------------------------------------


def edit_config(args: argparse.Namespace) -> int:
    path = config_path(args)
    if args.command == "add":
        changed = add_datasets(path, args.backend, args.ids)
        verb, none = "added", "already watched"
    else:
        changed = remove_datasets(path, args.backend, args.ids)
        verb, none = "removed", "none of them were watched"
    if changed:
        print(f"{verb} {len(changed)} dataset(s) on {args.backend} in {path}")
    else:
        print(f"nothing to do: {none}")
    return EXIT_OK


# -- sim ------------------------------------------------------------------------


def run_sim(args: argparse.Namespace) -> int:
    from .sim import Simulator, serve

    simulator = Simulator(seed=args.seed, vl_datasets=args.vl, cognee_datasets=args.cognee)
    if args.latency:
        simulator.set_faults("*", latency=args.latency)
    print(
        f"dswatch sim on http://{args.host}:{args.port}  (Visual Layer: /vl, Cognee: /cognee)",
        file=sys.stderr,
    )
    serve(simulator, host=args.host, port=args.port)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
