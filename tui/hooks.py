"""Hooks: a command or a webhook run for each real change of a dataset, and for a
backend going down or coming back (tui/hook_payloads.py: what each gets).

`HookRunner.submit(news)` is called on the event loop with each batch's news
and returns at once: every matching hook becomes a job, at most
`max_running` jobs run together, the rest wait in a bounded queue (the oldest
is dropped, with a log line, when it is full). A failing hook is logged and
counted (`summary()` -> "hooks: 2 failed"); it never blocks polling or the UI.

What a hook gets is chosen, not inherited wholesale:
- A command runs without a shell, stdin and stdout closed (stderr kept for the
  failure message), in its own process group (killed whole on timeout), with
  the parent's environment MINUS every variable that holds a backend
  credential or a webhook URL, PLUS DSWATCH_* variables describing the change
  (sanitized).
- A webhook gets a JSON body: a Slack-compatible `text` and the dataset's
  `summary()` record (never the raw server body), only over https or to this
  machine, retried with backoff on 5xx, 429 and connection errors.

No Textual here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

import httpx

from .backends.http import USER_AGENT, parse_retry_after
from .config import BackendConfig, Config, HookConfig
from .hook_payloads import (
    BackendNews,
    HookFailure,
    News,
    credential_variables,
    hook_environment,
    hook_label,
    hook_matches,
    news_label,
    webhook_body,
    webhook_target,
)
from .text import sanitize

log = logging.getLogger(__name__)

MAX_QUEUED = 200  # jobs waiting for a free slot; beyond this the oldest is dropped
WEBHOOK_ATTEMPTS = 3
RETRY_DELAYS = (1.0, 4.0)  # s before the 2nd and 3rd attempt (Retry-After wins, capped)
MAX_RETRY_AFTER = 30.0
_STDERR_KEEP = 2048  # bytes of a command's stderr kept for the failure message


@dataclass(frozen=True, slots=True)
class _Job:
    index: int  # the hook's place in config.hooks, for messages
    hook: HookConfig
    news: News


class HookRunner:
    """Runs the configured hooks for news, never blocking the caller."""

    def __init__(
        self,
        hooks: Sequence[HookConfig],
        environ: Mapping[str, str],
        max_running: int = 4,
        *,
        backends: Sequence[BackendConfig] = (),
        url_for: Callable[[str, str], str | None] | None = None,
        max_queued: int = MAX_QUEUED,
        attempts: int = WEBHOOK_ATTEMPTS,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.hooks = list(hooks)
        self._environ = dict(environ)
        self._secret_names = credential_variables(backends, self.hooks)
        self._url_for = url_for
        self.max_running = max_running
        self._max_queued = max_queued
        self._attempts = max(1, attempts)
        self._retry_delays = tuple(retry_delays)
        self._transport = transport
        self._queue: deque[_Job] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.ran = 0  # finished jobs, good or bad
        self.failed = 0
        self.dropped = 0
        self.last_failure: str | None = None
        # Told each failure's message, on the event loop: the dashboard's summary shows
        # the count at once (not at the next poll batch), `watch` prints it on stderr.
        self.on_failure: Callable[[str], object] | None = None

    @classmethod
    def from_config(
        cls,
        config: Config,
        environ: Mapping[str, str],
        url_for: Callable[[str, str], str | None] | None = None,
    ) -> HookRunner:
        return cls(
            config.hooks,
            environ,
            config.settings.max_hooks_running,
            backends=config.backends,
            url_for=url_for,
        )

    def reconfigure(self, config: Config) -> None:
        """A reloaded config: new hooks for new news; hooks already queued still run."""
        self.hooks = list(config.hooks)
        self._secret_names = credential_variables(config.backends, self.hooks)
        self.max_running = config.settings.max_hooks_running
        if self._tasks or self._queue:
            self._start_jobs()  # a higher max_running takes effect at once

    @property
    def running(self) -> int:
        return len(self._tasks)

    @property
    def queued(self) -> int:
        return len(self._queue)

    def summary(self) -> str | None:
        """For the summary line: "hooks: 2 failed", or None when all is well."""
        return f"hooks: {self.failed} failed" if self.failed else None

    def submit(self, news: Iterable[News]) -> None:
        """Queue every matching hook for each news; call on the event loop."""
        for item in news:
            for index, hook in enumerate(self.hooks):
                if hook_matches(hook, item):
                    self._enqueue(_Job(index, hook, item))
                    self._start_jobs()

    def _enqueue(self, job: _Job) -> None:
        if len(self._queue) >= self._max_queued:
            gone = self._queue.popleft()
            self.dropped += 1
            log.warning(
                "%s skipped for %s: %d hooks already waiting",
                hook_label(gone.index, gone.hook),
                sanitize(news_label(gone.news), max_len=60),
                self._max_queued,
            )
        self._queue.append(job)
        self._idle.clear()

    def _start_jobs(self) -> None:
        while self._queue and len(self._tasks) < self.max_running:
            job = self._queue.popleft()
            task = asyncio.get_running_loop().create_task(self._run(job))
            self._tasks.add(task)
            task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            self._start_jobs()
        if not self._tasks and not self._queue:
            self._idle.set()

    async def _run(self, job: _Job) -> None:
        label = hook_label(job.index, job.hook)
        url = None
        if self._url_for is not None and not isinstance(job.news, BackendNews):
            url = self._url_for(job.news.state.backend, job.news.state.id)
        try:
            if job.hook.command is not None:
                await self._run_command(job, url)
            else:
                await self._post_webhook(job, url)
        except HookFailure as exc:
            self._failed(f"{label}: {exc}")
        except Exception as exc:  # a hook must never take the loop down with it
            self._failed(f"{label}: {type(exc).__name__}: {sanitize(str(exc), max_len=200)}")
        finally:
            self.ran += 1

    def _failed(self, message: str) -> None:
        self.failed += 1
        self.last_failure = sanitize(message, max_len=400)
        log.warning("%s", self.last_failure)
        if self.on_failure is not None:
            try:
                self.on_failure(self.last_failure)
            except Exception:  # the listener's trouble must not count as the hook's
                log.exception("hook failure listener failed")

    # ------------------------------------------------------------ commands

    async def _run_command(self, job: _Job, url: str | None) -> None:
        assert job.hook.command is not None
        env = hook_environment(self._environ, self._secret_names, job.news, url)
        # stderr goes to a file, not a pipe: a background child left holding a pipe
        # would keep the hook "running" after it exited.
        with tempfile.TemporaryFile() as stderr:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *job.hook.command,
                    env=env,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,  # never onto the dashboard's screen
                    stderr=stderr,
                    start_new_session=sys.platform != "win32",  # a group to kill on timeout
                )
            except OSError as exc:
                reason = exc.strerror or type(exc).__name__
                program = sanitize(job.hook.command[0])
                raise HookFailure(f"cannot run {program!r}: {reason}") from None
            try:
                code = await asyncio.wait_for(proc.wait(), job.hook.timeout)
            except TimeoutError:
                await _kill(proc)
                raise HookFailure(f"killed after {job.hook.timeout:g} s") from None
            except asyncio.CancelledError:
                await _kill(proc)
                raise
            if code != 0:
                detail = _last_line(stderr)
                how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
                raise HookFailure(f"{how}{detail and ': '}{detail}")

    # ------------------------------------------------------------ webhooks

    async def _post_webhook(self, job: _Job, url: str | None) -> None:
        variable = job.hook.url_env
        assert variable is not None
        parsed = webhook_target(self._environ, variable)
        host = sanitize(parsed.host, max_len=80)  # the URL itself is a secret (Slack)
        body = webhook_body(job.news, url)
        timeout = httpx.Timeout(job.hook.timeout)
        async with httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,  # a redirect could lead to plain http elsewhere
            transport=self._transport,
            headers={"User-Agent": USER_AGENT},
        ) as client:
            problem = ""
            retry_after: float | None = None
            for attempt in range(self._attempts):
                if attempt:
                    await asyncio.sleep(self._delay(attempt, retry_after))
                retry_after = None
                try:
                    response = await client.post(parsed, json=body)
                except httpx.TransportError as exc:
                    problem = f"cannot reach {host}: {type(exc).__name__}"
                    continue
                if response.is_success:
                    return
                problem = f"{host} answered HTTP {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    raise HookFailure(problem)  # a 4xx will not change on retry
                retry_after = parse_retry_after(response.headers.get("retry-after"))
        raise HookFailure(f"gave up after {self._attempts} tries: {problem}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:  # the server said when
            return min(retry_after, MAX_RETRY_AFTER)
        if not self._retry_delays:
            return 0.0
        return self._retry_delays[min(attempt - 1, len(self._retry_delays) - 1)]

    # ------------------------------------------------------------ lifecycle

    async def drain(self) -> None:
        """Wait until every queued and running hook has finished."""
        await self._idle.wait()

    async def aclose(self) -> None:
        """Drop the queue and stop running hooks (their processes are killed)."""
        self._queue.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._idle.set()


def _last_line(stderr: IO[bytes]) -> str:
    """The last line a failed command wrote to stderr, sanitized."""
    stderr.seek(0, os.SEEK_END)
    stderr.seek(max(0, stderr.tell() - _STDERR_KEEP))
    lines = stderr.read().decode("utf-8", "replace").strip().splitlines()
    return sanitize(lines[-1], max_len=200) if lines else ""


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the hook and every process it started, and reap it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if sys.platform != "win32":
                os.killpg(proc.pid, signal.SIGKILL)  # the whole group: sh -c "sleep 99" too
            else:
                proc.kill()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), 5.0)  # reaped: gone, not a zombie
