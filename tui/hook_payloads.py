"""What a hook is given, and for which news: the DSWATCH_* environment of a
command, the JSON body of a webhook, the webhook URL's check.

Two kinds of news reach hooks:
- a dataset's real change (`tui.watch.News`, through `NewsLike`);
- a backend going down or coming back (`BackendNews`). Credentials are refused
  for a whole backend and an outage stops every read, so `unauthorized` and
  `unreachable` are never a dataset's news (`tui.watch`): a hook whose `on`
  names them, or `"any"`, runs once for the backend instead, and once more
  when it answers again (state `ok`). Its DSWATCH_ID and DSWATCH_NAME are
  empty; DSWATCH_ERROR says why it is down.

Everything from a server is sanitized here; no credential is ever passed.
No Textual here; the runner is `tui.hooks`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from .config import BackendConfig, HookConfig
from .credentials import ENV_KEYS, clear_text_host
from .notify import NewsLike, describe, news_record
from .secrets import MIN_SECRET_LENGTH
from .text import sanitize

_VALUE_CHARS = 1000  # cap of one DSWATCH_* value
BACKEND_OK = "ok"  # the state a backend's "answering again" news reaches


class HookFailure(Exception):
    """A hook did not succeed; the message is sanitized and holds no secret."""


@dataclass(frozen=True, slots=True)
class BackendNews:
    """A backend went down (`event` "unauthorized" or "unreachable") or came back
    (`event` "ok", `old` the way it was down)."""

    backend: str
    old: str
    event: str
    reason: str  # sanitized: "refused credentials (HTTP 401)"
    at: datetime

    def describe(self) -> str:
        if self.event == BACKEND_OK:
            return f"{self.backend} is answering again"
        return f"{self.backend} is down: {self.reason}"


News = NewsLike | BackendNews


def hook_label(index: int, hook: HookConfig) -> str:
    what = os.path.basename(hook.command[0]) if hook.command else f"${hook.url_env}"
    return f"hook {index + 1} ({sanitize(what, max_len=40)})"


def news_backend(news: News) -> str:
    return news.backend if isinstance(news, BackendNews) else news.state.backend


def news_label(news: News) -> str:
    return news.backend if isinstance(news, BackendNews) else news.state.label


def hook_matches(hook: HookConfig, news: News) -> bool:
    if hook.backends is not None and news_backend(news) not in hook.backends:
        return False
    if hook.on is None:
        return True
    if isinstance(news, BackendNews) and news.event == BACKEND_OK:
        return news.old in hook.on  # told it went down, told it is back
    return news.event in hook.on


def credential_variables(
    backends: Sequence[BackendConfig], hooks: Sequence[HookConfig]
) -> set[str]:
    """Names of variables a hook must never see: credentials and webhook URLs."""
    names = {name for b in backends for field in ENV_KEYS if (name := getattr(b, field))}
    names.update(h.url_env for h in hooks if h.url_env)
    return names


def hook_environment(
    environ: Mapping[str, str], secret_names: set[str], news: News, url: str | None
) -> dict[str, str]:
    """The parent's environment without credentials, plus the change in DSWATCH_*."""
    secret_values = {
        value for name in secret_names if len(value := environ.get(name, "")) >= MIN_SECRET_LENGTH
    }
    env = {
        name: value
        for name, value in environ.items()
        # By name, and by value: the same key under another name is still the key.
        if name not in secret_names
        and value not in secret_values
        and not name.startswith("DSWATCH_")
    }

    def clean(value: object) -> str:
        return "" if value is None else sanitize(str(value), max_len=_VALUE_CHARS)

    if isinstance(news, BackendNews):
        fields: dict[str, object] = dict(
            BACKEND=news.backend, ID="", NAME="", OLD_STATE=news.old, STATE=news.event,
            STATUS="", ERROR="" if news.event == BACKEND_OK else news.reason, URL="",
        )  # fmt: skip
    else:
        state = news.state
        fields = dict(
            BACKEND=state.backend, ID=state.id, NAME=state.name, OLD_STATE=news.old.value,
            STATE=news.event, STATUS=state.status, ERROR=state.error, URL=url,
        )  # fmt: skip
    env.update({f"DSWATCH_{name}": clean(value) for name, value in fields.items()})
    return env


def _slack_escape(text: str) -> str:
    # Slack reads <...> as links and mentions (<!channel>), Discord pings @everyone.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("@everyone", "@\u200beveryone").replace("@here", "@\u200bhere")


def webhook_body(news: News, url: str | None) -> dict[str, Any]:
    """`text` for Slack (and Discord's /slack endpoint) plus the news as a record."""
    if isinstance(news, BackendNews):
        record = {
            "backend": sanitize(news.backend),
            "old_state": news.old,
            "event": news.event,
            "reason": news.reason,
            "at": news.at.isoformat(),
        }
        return {"text": _slack_escape(f"dswatch: {news.describe()}"), **record}
    state = news.state
    text = f"dswatch: {state.backend}: {describe(news)} (was {news.old.value})"
    if state.error:
        text += f": {sanitize(state.error, max_len=300)}"
    return {"text": _slack_escape(text), **news_record(news, url)}


def check_webhook_url(url: str, variable: str) -> httpx.URL:
    """A webhook URL over https, or plain http to this machine (as for backends)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise HookFailure(f"${variable} is not a URL") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise HookFailure(f"${variable} is not an http(s) URL")
    host = clear_text_host(str(parsed), allow_insecure=False)  # the backends' one rule
    if host is not None:
        raise HookFailure(
            f"${variable}: refusing plain http to {sanitize(host, max_len=80)};"
            " webhooks go over https, or to this machine"
        )
    return parsed


def webhook_target(environ: Mapping[str, str], variable: str) -> httpx.URL:
    """The webhook URL held by `variable`, checked (HookFailure: unset or refused)."""
    target = environ.get(variable, "").strip()
    if not target:
        raise HookFailure(f"${variable} is not set")
    return check_webhook_url(target, variable)
