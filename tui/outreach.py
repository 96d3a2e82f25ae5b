"""News that reaches a person who is not looking: desktop notifications and hooks.

One listener of the watch model, shared by the dashboard and `dswatch watch`:
each applied batch's news (real changes only: `tui.watch`) goes to the
terminal's desktop notification and to the configured hooks. Both return at
once; hooks run in tasks. No Textual here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping

from .config import Config
from .engine import Engine
from .health import Health
from .hook_payloads import BACKEND_OK, BackendNews, HookFailure, hook_label, webhook_target
from .hooks import HookRunner
from .notify import BinaryOut, DesktopNotifier, NotifyRules
from .watch import BackendEvent, PollUpdate


class Outreach:
    def __init__(
        self,
        engine: Engine,
        out: BinaryOut | None,
        *,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self._environ = environ
        self._engine = engine
        config = engine.config
        self.rules = NotifyRules(config.settings, config.backends)
        self.desktop = (
            DesktopNotifier(self.rules, out, environ=environ, lookup=engine.model.states.get)
            if out is not None
            else None
        )
        self.hooks = HookRunner.from_config(config, environ, url_for=self.url_for)
        self._down_as: dict[str, str] = {}  # backend -> the event it went down as

    def hook_warnings(self) -> list[str]:
        """Hooks that cannot work as written: told at start, not found out hours later
        (a webhook whose URL is unset, or plain http off this machine)."""
        warnings = []
        for index, hook in enumerate(self._engine.config.hooks):
            if hook.url_env is None:
                continue
            try:
                webhook_target(self._environ, hook.url_env)
            except HookFailure as exc:
                warnings.append(f"{hook_label(index, hook)}: {exc}")
        return warnings

    def url_for(self, backend: str, dataset_id: str) -> str | None:
        found = self._engine.backends.get(backend)
        return found.web_url(dataset_id) if found is not None else None

    def __call__(self, update: PollUpdate) -> None:
        for event in update.backend_events:
            self._backend_event(event)
        if not update.news:
            return
        if self.desktop is not None:
            self.desktop.add(update.news)
        self.hooks.submit(update.news)

    def _backend_event(self, event: BackendEvent) -> None:
        """A backend down or back: one desktop notification when it goes down (if its
        kind is in notify_on), and the hooks that asked for that kind, both ways."""
        if event.kind == "down":
            why = self._why_down(event)
            self._down_as[event.backend] = why
            if self.desktop is not None:
                self.desktop.backend_down(event.backend, why, event.reason)
            self.hooks.submit([BackendNews(event.backend, BACKEND_OK, why, event.reason, event.at)])
            return
        was = self._down_as.pop(event.backend, None)
        if was is not None:
            self.hooks.submit([BackendNews(event.backend, was, BACKEND_OK, event.reason, event.at)])

    def _why_down(self, event: BackendEvent) -> str:
        """The notify_on event a backend going down is: its credentials, or the rest."""
        health = self._engine.model.health.get(event.backend)
        if health is not None and health.health is Health.UNAUTHORIZED:
            return "unauthorized"
        return "unreachable"

    def reconfigure(self, engine: Engine) -> None:
        """A reloaded config: its rules and hooks apply to the next news."""
        self._engine = engine
        config: Config = engine.config
        self.rules = NotifyRules(config.settings, config.backends)
        if self.desktop is not None:
            self.desktop.update_rules(self.rules, self._environ)
        self.hooks.reconfigure(config)

    async def aclose(self, *, drain_seconds: float = 0.0) -> None:
        """Stop: a waiting notification is dropped; hooks get `drain_seconds` to finish."""
        if self.desktop is not None:
            self.desktop.close()
        if drain_seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.hooks.drain(), drain_seconds)
        await self.hooks.aclose()
