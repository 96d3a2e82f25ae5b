"""Argument parsing, logging set-up and dispatch to one command module."""

from __future__ import annotations

import argparse
import gc
import logging
import logging.handlers
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

if TYPE_CHECKING:
    from ..engine import Engine

from .. import __version__
from ..config import ConfigError, default_config_path
from ..store_paths import STATE_DIR_ENV
from ..store_paths import default_path as default_store_path
from .common import EXIT_OK, EXIT_USAGE, UsageError, config_path, open_engine, open_history
from .history import add_parser as add_history_parser
from .pipes import ReaderGone, silence

# What a shell reports for a writer stopped by a closed pipe (128 + SIGPIPE).
EXIT_PIPE_CLOSED = 141

log = logging.getLogger("tui")


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
        epilog="Run without a command to open the dashboard. "
        f"History is kept in {default_store_path()} (${STATE_DIR_ENV} moves it).",
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
    status.add_argument("--json", action="store_true", help="print one JSON array (with ids)")
    status.add_argument("--wide", action="store_true", help="add an ID column to the table")

    wait = commands.add_parser(
        "wait",
        parents=[common, demo],
        help="wait until datasets are ready",
        description="Poll until every named dataset is ready (all watched ones when none are "
        "named). Exit 0 when all are ready, 1 as soon as one is error, not_found or "
        "unauthorized, 124 on timeout, 2 on usage errors. Progress goes to stderr.",
    )
    wait.add_argument(
        "--timeout", type=seconds, metavar="S", help="give up after S seconds (0 or more)"
    )
    wait.add_argument("--partial-ok", action="store_true", help="PARTIAL INDEX counts as ready")
    wait.add_argument("ids", nargs="*", metavar="[BACKEND:]ID|NAME|URL")

    watch = commands.add_parser(
        "watch",
        parents=[common, demo],
        help="no UI: print each real change until interrupted; run notifications and hooks",
        description="Watch without a UI (a server, a CI log, systemd): one line per real "
        "state change (JSON lines with --json), one per backend going down or coming back; "
        "desktop notifications and hooks fire as in the dashboard. Runs until SIGINT or "
        "SIGTERM (exit 0); never exits on network trouble; 2 on config errors.",
    )
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.add_argument("ids", nargs="*", metavar="[BACKEND:]ID", help="only these datasets")

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
        edit.add_argument(
            "ids",
            nargs="+",
            metavar="ID|URL" if verb == "add" else "ID|URL|NAME",
            help="a dataset ID or its web address"
            + (" (or, to remove, its name)" if verb == "remove" else ""),
        )

    commands.add_parser(
        "init",
        parents=[common],
        help="write a commented config file to start from",
        description="Write a commented config file (from config.example.toml) at --config, "
        "$DSWATCH_CONFIG or the default path. Refused with exit 2 if the file exists.",
    )

    add_history_parser(commands, [common])

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


def seconds(text: str) -> float:
    """A `--timeout` value: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more; got {text!r}")
    return value


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
    except (BrokenPipeError, ReaderGone):
        # The reader left (`| head`): stop quietly, as Unix tools do.
        silence(sys.stdout)
        silence(sys.stderr)
        return EXIT_PIPE_CLOSED


def dispatch(args: argparse.Namespace) -> int:
    # Each command is imported when it runs: `status` never loads Textual.
    command = args.command
    if command not in (None, "status", "wait", "watch"):
        gc.enable()  # off while `dswatch` starts (tui.launch); nothing big is built here
    if command == "sim":
        from .sim import run_sim

        return run_sim(args)
    if command == "init":
        from .init import init

        return init(args)
    check_named_config(args)
    if command in ("add", "remove"):
        from .edit import edit_config

        return edit_config(args)
    if command == "history":
        from .history import history

        return history(args)
    if command is None:
        from ..app import run_dashboard

        return run_dashboard(config_path=config_path(args), demo=args.demo)
    import asyncio  # the polling commands: `add`, `init` and --help never load it

    # `wait` hears answers in batches; a one-shot command needs no 0.1 s coalescing
    # (it would add 0.1 s to every call), only a little for many datasets.
    engine = open_engine(args, flush_interval=0.02) if command == "wait" else open_engine(args)
    # The config and the engine are built: collect from here on, but not among what
    # start-up built and keeps (as the dashboard does, engine.tune_gc): a long `wait`
    # or `watch` would walk the modules and pydantic's schemas in every full collection.
    gc.freeze()
    gc.enable()
    if command == "status":
        from .status import status

        if not watches_something(engine):
            return nothing_watched(args, engine, as_json=args.json)
        history = open_history(args, engine)
        try:
            return asyncio.run(status(engine, as_json=args.json, wide=args.wide, history=history))
        finally:
            if history is not None:
                history.close()
    if command == "watch":
        if not args.ids and not watches_something(engine):
            # It would wait forever for nothing (it does not reload the config): say so.
            raise UsageError(f"watch: {nothing_watched_hint(args, engine)}")
        from .resolve import resolve_names
        from .wait import resolve_targets
        from .watch import watch

        async def run_watch() -> int:
            try:
                specs = await resolve_names(engine, args.ids, command="watch")
                targets = resolve_targets(engine, specs, command="watch") if specs else None
            except BaseException:
                await engine.aclose()
                raise
            history = open_history(args, engine, targets)
            try:
                return await watch(engine, targets, as_json=args.json, history=history)
            finally:
                if history is not None:
                    history.close()

        return asyncio.run(run_watch())
    from .resolve import resolve_names
    from .wait import prepare_follow, resolve_targets, wait

    async def run_wait() -> int:
        try:
            specs = await resolve_names(engine, args.ids, command="wait")
            if not specs:
                await prepare_follow(engine)
            targets = resolve_targets(engine, specs)
        except BaseException:
            await engine.aclose()
            raise
        history = open_history(args, engine, targets)
        try:
            return await wait(engine, targets, timeout=args.timeout, partial_ok=args.partial_ok)
        finally:
            if history is not None:
                history.close()

    return asyncio.run(run_wait())


def check_named_config(args: argparse.Namespace) -> None:
    """A config file named by --config or $DSWATCH_CONFIG must exist (a typo must not
    pass as "nothing watched"); only the default path may be missing (first run)."""
    if getattr(args, "demo", False):
        return
    named = args.config is not None or bool(os.environ.get("DSWATCH_CONFIG"))
    path = config_path(args)
    if named and not path.exists():
        how = "--config" if args.config is not None else "$DSWATCH_CONFIG"
        raise UsageError(
            f"{path}: no such file (named by {how}); create it with: dswatch init --config {path}"
            if how == "--config"
            else f"{path}: no such file (named by {how}); create it with: dswatch init"
        )


def watches_something(engine: Engine) -> bool:
    return any(b.datasets or b.follow is not None for b in engine.config.backends)


def nothing_watched(args: argparse.Namespace, engine: Engine, *, as_json: bool) -> int:
    """`status` with nothing to poll: say what to run next, a command that works."""
    hint = nothing_watched_hint(args, engine)
    if as_json:
        print("[]")
        print(f"dswatch: {hint}", file=sys.stderr)
    else:
        print(hint)
    return EXIT_OK


def nothing_watched_hint(args: argparse.Namespace, engine: Engine) -> str:
    path = config_path(args)
    if not path.exists():
        hint = f"No config file at {path}: nothing is watched. Create one with: dswatch init"
    elif not engine.config.backends:
        hint = (
            f"No backend in {path}: uncomment or add a [[backends]] table, "
            "then: dswatch add NAME ID"
        )
    else:
        names = ", ".join(b.name for b in engine.config.backends)
        hint = f"No datasets are watched. Add one with: dswatch add BACKEND ID  (backends: {names})"
    return hint


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
