"""`dswatch wait`: poll until the named datasets are ready; progress on stderr."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from ..engine import Engine
from ..health import describe_failure
from ..history import format_duration
from ..models import DatasetState, InvalidDatasetId, State, normalize_dataset_id
from ..text import sanitize
from ..watch import PollUpdate, WatchModel
from .common import EXIT_OK, EXIT_PROBLEM, EXIT_TIMEOUT, WAIT_FAILS, UsageError


def resolve_targets(
    engine: Engine, specs: Sequence[str], *, command: str = "wait"
) -> set[tuple[str, str]]:
    """`[BACKEND:]ID` -> keys; an ID alone must belong to exactly one backend.

    `command` starts the messages: `watch` takes the same arguments."""
    backends = engine.config.backends
    if not specs:
        # Everything watched: the config's datasets and, once listed
        # (`prepare_follow`), what `follow` takes.
        keys = engine.poller.watched()
        if not keys:
            following = any(b.follow is not None for b in backends)
            raise UsageError(
                f"{command}: no datasets named, none in the config"
                + (" and none that `follow` takes" if following else "")
            )
        return keys
    keys: set[tuple[str, str]] = set()
    for spec in specs:
        name, _, raw_id = spec.rpartition(":")
        try:
            dataset_id = normalize_dataset_id(raw_id)
        except InvalidDatasetId as exc:
            raise UsageError(f"{command}: {exc}") from None
        if name:
            if engine.config.backend(name) is None:
                known = ", ".join(b.name for b in backends) or "none configured"
                raise UsageError(f"{command}: unknown backend {name!r} (known: {known})")
        else:
            owners = [b.name for b in backends if dataset_id in b.datasets]
            if len(owners) == 1 or (not owners and len(backends) == 1):
                name = owners[0] if owners else backends[0].name
            else:
                raise UsageError(f"{command}: say which backend watches {dataset_id}: BACKEND:ID")
        keys.add((name, dataset_id))
    return keys


async def prepare_follow(engine: Engine) -> None:
    """List the backends that `follow` once, so `wait` with no IDs waits for them too."""
    if engine.follower is not None:
        await engine.follower.prepare()


# While a backend is down, say so at least this often: silence looks like a hang.
OUTAGE_REPORT_SECONDS = 30.0


async def wait(
    engine: Engine, targets: set[tuple[str, str]], *, timeout: float | None, partial_ok: bool
) -> int:
    poller, model = engine.poller, engine.model
    poller.watch_only(targets)  # only the named datasets are polled
    done_states = {State.READY, State.PARTIAL} if partial_ok else {State.READY}
    finished: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    last_line: dict[tuple[str, str], str] = {}
    backends = {backend for backend, _ in targets}

    def on_update(update: PollUpdate) -> None:
        for state in update.states:
            if state.key not in targets or state.polled_at is None:
                continue
            line = progress_line(state)
            if last_line.get(state.key) != line:
                last_line[state.key] = line
                print(line, file=sys.stderr, flush=True)
        current = [model.states.get(k) for k in targets]
        if not finished.done():
            # Only this run's answers count: a state shown from the history store
            # (polled_at None) may be out of date.
            if any(s is not None and s.polled_at and s.state in WAIT_FAILS for s in current):
                finished.set_result(EXIT_PROBLEM)
            elif all(s is not None and s.polled_at and s.state in done_states for s in current):
                finished.set_result(EXIT_OK)
        for event in update.backend_events:
            if event.backend in backends:
                # "still waiting" only while it does (unusable credentials end the wait).
                line = backend_event_line(event.backend, event.kind, event.reason)
                print(
                    line.removesuffix(STILL_WAITING) if finished.done() else line, file=sys.stderr
                )

    async def report_outages() -> None:
        while True:
            await asyncio.sleep(OUTAGE_REPORT_SECONDS)
            for line in outage_lines(model, backends, targets, done_states):
                print(line, file=sys.stderr, flush=True)

    runner = asyncio.create_task(poller.run(on_update))
    reporter = asyncio.create_task(report_outages())
    try:
        return await asyncio.wait_for(asyncio.shield(finished), timeout=timeout)
    except TimeoutError:
        pending = [
            (k, s)
            for k in targets
            if (s := model.states.get(k)) is None or s.state not in done_states
        ]
        print(timeout_line(timeout or 0.0, pending), file=sys.stderr)
        return EXIT_TIMEOUT
    finally:
        runner.cancel()
        reporter.cancel()
        await asyncio.gather(runner, reporter, return_exceptions=True)
        await engine.aclose()


STILL_WAITING = "; still waiting"


def backend_event_line(backend: str, kind: str, reason: str) -> str:
    if kind == "down":
        return f"dswatch: {backend} is down: {sanitize(reason, max_len=120)}{STILL_WAITING}"
    return f"dswatch: {backend} is answering again"


def outage_lines(
    model: WatchModel,
    backends: set[str],
    targets: set[tuple[str, str]],
    done_states: set[State],
) -> list[str]:
    """One line per down backend: the cause, for how long, how many datasets wait."""
    now = model.now()
    lines = []
    for name in sorted(backends):
        health = model.health.get(name)
        if health is None or not health.is_down:
            continue
        waiting = sum(
            1
            for k in targets
            if k[0] == name and (s := model.states.get(k)) and s.state not in done_states
        )
        reason = sanitize(health.reason or describe_failure(health.failure), max_len=120)
        line = f"dswatch: {name}: {reason}"
        if health.since is not None:
            line += f" for {format_duration((now - health.since).total_seconds())}"
        line += f"; still waiting for {waiting} dataset{'s' if waiting != 1 else ''}"
        if health.retry_at is not None:
            retry = max(0.0, (health.retry_at - now).total_seconds())
            line += f" (next try in {format_duration(retry)})"
        lines.append(line)
    return lines


def timeout_line(
    timeout: float, pending: Sequence[tuple[tuple[str, str], DatasetState | None]]
) -> str:
    """`dswatch: timed out after 30s waiting for vl:cats, vl:dogs`: the limit the
    user set (not a rounded-up clock), and every dataset not done, by its
    sanitized name, or its ID when it never answered."""
    names = sorted(
        f"{backend}:{sanitize(state.label, max_len=60) if state else dataset_id}"
        for (backend, dataset_id), state in pending
    )
    shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return f"dswatch: timed out after {timeout:g}s waiting for {shown}"


def progress_line(state: DatasetState) -> str:
    parts = [f"{state.backend}:{sanitize(state.label, max_len=60)}", state.state.value]
    if state.status:
        parts.append(sanitize(state.status, max_len=40))
    if state.progress is not None:
        parts.append(f"{state.progress:.0f}%")
    if state.error:
        parts.append(f"- {sanitize(state.error, max_len=200)}")
    return " ".join(parts)
