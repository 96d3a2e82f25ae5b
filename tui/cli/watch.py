"""`dswatch watch`: no UI, one line per real change, until interrupted.

For a server, a CI log or systemd: it prints each real transition (never an
outage's; a backend going down or coming back is one line), fires desktop
notifications (to the controlling terminal, never into stdout) and hooks, and
never exits on network trouble. SIGINT and SIGTERM end it with exit 0, after
giving running hooks a few seconds to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from typing import IO, Any

from ..engine import Engine
from ..history_link import STUCK_CHECK_SECONDS, HistoryLink
from ..notify import news_record
from ..outreach import Outreach
from ..text import sanitize
from ..watch import BackendEvent, News, PollUpdate
from .common import EXIT_OK, warn
from .pipes import ReaderGone, write_out

HOOK_DRAIN_SECONDS = 10.0  # on exit, running hooks get this long to finish


def news_line(news: News) -> str:
    state = news.state
    line = (
        f"{news.at:%Y-%m-%dT%H:%M:%SZ} {state.backend}:{sanitize(state.label, max_len=80)}"
        f" {news.old.value} -> {news.event}"
    )
    if state.status:
        line += f" ({sanitize(state.status, max_len=60)})"
    if state.error and news.event in ("error", "partial", "not_found", "unauthorized"):
        line += f" - {sanitize(state.error, max_len=300)}"
    return line


def backend_line(event: BackendEvent) -> str:
    what = f"down: {event.reason}" if event.kind == "down" else "answering again"
    return f"{event.at:%Y-%m-%dT%H:%M:%SZ} {event.backend} {what}"


def backend_record(event: BackendEvent) -> dict[str, Any]:
    return {
        "type": "backend",
        "backend": event.backend,
        "event": event.kind,
        "reason": event.reason,
        "at": event.at.isoformat(),
    }


def _terminal() -> IO[bytes] | None:
    """The controlling terminal, for desktop notifications; None without one."""
    try:
        return open("/dev/tty", "wb", buffering=0)
    except OSError:
        return None


async def check_stuck_every(history: HistoryLink, seconds: float) -> None:
    """Flag runs that stopped moving; the model tells each once, as a "stuck" News."""
    while True:
        await asyncio.sleep(seconds)
        history.check_stuck()


async def watch(
    engine: Engine,
    targets: set[tuple[str, str]] | None,
    *,
    as_json: bool,
    history: HistoryLink | None = None,
) -> int:
    if targets:
        engine.poller.watch_only(targets)
    tty = _terminal()
    outreach = Outreach(engine, tty)
    outreach.hooks.on_failure = warn  # on stderr too: a CI log or the journal shows it
    stop = asyncio.Event()

    def on_update(update: PollUpdate) -> None:
        lines: list[str] = []
        for event in update.backend_events:
            lines.append(json.dumps(backend_record(event)) if as_json else backend_line(event))
        for news in update.news:
            if as_json:
                record = {"type": "dataset", **news_record(news, outreach.url_for(*news.state.key))}
                lines.append(json.dumps(record))
            else:
                lines.append(news_line(news))
        if lines:
            try:
                write_out("\n".join(lines) + "\n", stream=sys.stdout)
            except ReaderGone:  # `dswatch watch | head`: the reader left, we stop
                stop.set()
        outreach(update)

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    for warning in outreach.hook_warnings():  # once a signal ends it with exit 0
        warn(warning)
    runner = asyncio.create_task(engine.poller.run(on_update))
    checker = (
        asyncio.create_task(check_stuck_every(history, STUCK_CHECK_SECONDS))
        if history is not None
        else None
    )
    try:
        waiting = asyncio.create_task(stop.wait())
        await asyncio.wait({runner, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if runner.done():
            runner.result()  # the poller never ends by itself: show why it did
        return EXIT_OK
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        runner.cancel()
        if checker is not None:
            checker.cancel()
        await asyncio.gather(runner, *([checker] if checker else []), return_exceptions=True)
        await outreach.aclose(drain_seconds=HOOK_DRAIN_SECONDS)
        await engine.aclose()
        if tty is not None:
            with contextlib.suppress(OSError):
                tty.close()
