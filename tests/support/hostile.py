"""A server that answers every route dswatch reads with hostile content.

Every text field of every response shape carries terminal escapes (OSC 0
retitle, OSC 52 clipboard write, ESC[2J clear, C1 CSI, BEL, bidi override) and
Rich markup; every number field carries an absurd value (400 digits, NaN,
Infinity, negative, > 100); error answers carry the same, and a Retry-After of
ten years. `echo_secrets` makes it answer 401s (and names) that echo the
credentials it received: raw, JSON-escaped with `\\/`, URL-encoded and base64;
`echo_config` points two Cognee backends (key, token) at it and `leaked` finds
the secrets in any of those spellings.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

from tests.support.world import SETTINGS, write_config

HOSTILE = (
    "name\x1b]0;pwned-title\x07\x1b]52;c;cHduZWQ=\x07\x1b[2J\x9b31m\x07\x85[bold]x[/bold]"
    "\u202etxt\x00\x7f\ttab\nline2\r\x1bP dcs \x1b\\end"
)
MARKUP = "[bold]x[/bold]"  # must be shown literally, never parsed
HUGE = 10**400  # a valid JSON integer no count or percentage can be
BAD_CHARS = {chr(c) for c in (*range(0x00, 0x0A), *range(0x0B, 0x20), *range(0x7F, 0xA0))} | {
    "\u202e",
    "\u2028",
    "\u2029",
}


def inert(text: str, *, multiline: bool = False) -> bool:
    """No control character, escape, C1 control or bidi override in `text`."""
    bad = BAD_CHARS | (set() if multiline else {"\n"})
    return not any(ch in bad for ch in text)


def _ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=0xD5 << 120 | i)) for i in range(1, n + 1)]


@dataclass
class HostileServer:
    """An ASGI app; `vl` and `cognee` hold the dataset IDs it knows by role."""

    echo_secrets: bool = False
    vl: dict[str, str] = field(default_factory=dict)
    cognee: dict[str, str] = field(default_factory=dict)
    retry_after: str = "315360000"

    def __post_init__(self) -> None:
        roles = ("error", "odd_status", "json_status", "creating", "http_500", "rate_limited")
        self.vl = dict(zip(roles, _ids(len(roles)), strict=True))
        cognee_ids = [str(uuid.UUID(int=0xC0 << 120 | i)) for i in (1, 2)]
        self.cognee = dict(zip(("errored", "odd_pipelines"), cognee_ids, strict=True))

    # ------------------------------------------------------------ bodies

    def vl_dataset(self, role: str) -> Any:
        body: dict[str, Any] = {"display_name": HOSTILE, "fatal_error_msg": HOSTILE}
        if role == "error":
            body.update(status_new="ERROR", progress=HUGE, n_images=HUGE, n_videos=float("nan"))
            body["n_objects"] = -5
        elif role == "odd_status":
            body.update(status_new=HOSTILE, progress=float("inf"), n_images=1e308, n_videos="7")
        elif role == "json_status":
            body.update(status_new={"phase": HOSTILE, "n": HUGE}, progress=250, n_objects=True)
        elif role == "creating":
            body.update(status_new="INDEXING", progress=-1, n_images=[HUGE])
        return body

    def vl_tasks(self) -> Any:
        task = {k: HOSTILE for k in ("task_type", "status", "start_time", "error_message")}
        task |= {"end_time": {"at": HOSTILE}, "progress_percentage": HOSTILE}
        return {"tasks": [task, {"task_type": "t2", "progress_percentage": HUGE}]}

    def cognee_status(self) -> Any:
        return {
            self.cognee["errored"]: {
                "add_pipeline": HOSTILE,
                "cognify_pipeline": "DATASET_PROCESSING_ERRORED",
            },
            self.cognee["odd_pipelines"]: {
                HOSTILE: "DATASET_PROCESSING_STARTED",
                "add_pipeline": {"status": HOSTILE, "progress": HUGE},
                "cognify_pipeline": "DATASET_PROCESSING_STARTED",
            },
        }

    def cognee_runs(self) -> Any:
        row = {
            k: HOSTILE
            for k in ("pipeline_name", "status", "outcome", "started_at", "ended_at", "error_class")
        }
        return [row | {"pipeline_run_id": "r1"}]

    # ------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, body, extra = self.route(path, headers)
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = [(b"content-type", b"application/json"), *extra]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": raw})

    def route(self, path: str, headers: dict[str, str]) -> tuple[int, Any, list]:
        if self.echo_secrets:
            return self.echo(path, headers)
        by_id = {v: k for k, v in self.vl.items()}
        if path.startswith("/vl/api/v1/dataset/"):
            role = by_id.get(path.rsplit("/", 1)[1], "")
            if role == "http_500":
                return 500, {"detail": HOSTILE}, []
            if role == "rate_limited":
                return 429, {"detail": HOSTILE}, [(b"retry-after", self.retry_after.encode())]
            return 200, self.vl_dataset(role), []
        if path.endswith("/creation-status"):
            return 200, {"status": HOSTILE}, []
        if path == "/vl/api/v1/tasks":
            return 200, self.vl_tasks(), []
        if path == "/vl/api/v1/datasets":
            return (
                200,
                [{"id": i, "display_name": HOSTILE, "status": HOSTILE} for i in self.vl.values()],
                [],
            )
        if path == "/cognee/api/v1/datasets/status":
            return 200, self.cognee_status(), []
        if path == "/cognee/api/v1/datasets":
            return 200, [{"id": i, "name": HOSTILE} for i in self.cognee.values()], []
        if path == "/cognee/api/v1/activity/pipeline-runs":
            return 200, self.cognee_runs(), []
        if path.endswith("/data/count"):
            return 200, {"count": HUGE}, []
        return 404, {"detail": HOSTILE}, []

    def echo(self, path: str, headers: dict[str, str]) -> tuple[int, Any, list]:
        """401 for status, echoing the credential every way a server might; names and
        runs echo it inside JSON strings (decoded: the raw secret)."""
        secret = headers.get("x-api-key") or headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if path.endswith("/datasets/status"):
            escaped = json.dumps(secret)[1:-1].replace("/", "\\/")  # `\/`: standard JSON
            url_encoded = urllib.parse.quote(secret, safe="")
            b64 = base64.b64encode(b"Bearer " + secret.encode()).decode()
            plus = urllib.parse.quote_plus(secret)
            text = (
                f'{{"detail": "key {escaped} refused", "url": "{url_encoded}", '
                f'"b64": "{b64}", "plus": "{plus}"}}'
            )
            return 401, text.encode(), []
        if path.endswith("/api/v1/datasets"):
            return 200, [{"id": i, "name": f"n {secret}"} for i in self.cognee.values()], []
        if path.endswith("/activity/pipeline-runs"):
            return 200, [{"pipeline_name": secret, "error_class": f"E {secret}"}], []
        return 404, {"detail": f"no {secret}"}, []


# ------------------------------------------------------------ echoed secrets

KEY = "k3y/with+slash=and/plus+Q=="
TOKEN = "t0ken/+=/ABCDEFGH+==xyz"
ENV = {"DSW_TEST_KEY": KEY, "DSW_TEST_TOKEN": TOKEN}
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")


def decodings(text: str) -> list[str]:
    """`text` and what every decoding a reader might apply makes of it."""
    found = [text, text.replace("\\/", "/"), urllib.parse.unquote(text)]
    found.append(urllib.parse.unquote_plus(text))
    for run in _B64_RUN.findall(text):
        for offset in range(4):  # the secret may start anywhere in the run
            chunk = run[offset:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(binascii.Error, ValueError):
                    found.append(decode(chunk).decode("utf-8", "replace"))
    return found


def leaked(text: str) -> list[str]:
    return [s for s in (KEY, TOKEN) for d in decodings(text) if s in d]


def hostile_config(tmp_path: Path, url: str, app: HostileServer, **settings: float) -> Path:
    """A config watching every dataset `app` serves, on both its backends."""
    settings = {**SETTINGS, "timeout": 3, **settings}
    return write_config(tmp_path, url, app.vl.values(), app.cognee.values(), settings=settings)


def echo_config(tmp_path: Path, url: str, app: HostileServer) -> Path:
    # Its own: two Cognee backends (API key, token) on the echoing routes, not vl + cg.
    ids = ", ".join(f'"{i}"' for i in app.cognee.values())
    path = tmp_path / "config.toml"
    path.write_text(
        "[settings]\npoll_interval = 0.1\nsettled_interval = 1\ntimeout = 3\n\n"
        f'[[backends]]\nname = "ck"\ntype = "cognee"\nurl = "{url}/ck"\n'
        f'api_key_env = "DSW_TEST_KEY"\ndatasets = [{ids}]\n\n'
        f'[[backends]]\nname = "ct"\ntype = "cognee"\nurl = "{url}/ct"\n'
        f'token_env = "DSW_TEST_TOKEN"\ndatasets = [{ids}]\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path
