"""Hooks: real child processes and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import until
from tui.config import Config
from tui.hook_payloads import BackendNews
from tui.hooks import HookRunner
from tui.models import DatasetState, State
from tui.watch import News

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ID1 = "00000000-0000-4000-8000-000000000001"
ID2 = "00000000-0000-4000-8000-000000000002"
SECRETS = {
    "VL_API_KEY": "vl-key-0123456789abcdef",
    "VL_API_SECRET": "vl-secret-fedcba9876543210",
    "COGNEE_USER": "someone@example.com",
    "COGNEE_PASSWORD": "hunter2-but-longer",
    "SLACK_URL": "https://hooks.slack.example/services/T000/B000/XXXX",
}
PY = sys.executable


def news(
    name: str | None = "cats",
    state: State = State.ERROR,
    *,
    backend: str = "vl",
    dataset_id: str = ID1,
    **fields: Any,
) -> News:
    ds = DatasetState(backend=backend, id=dataset_id, name=name, state=state, **fields)
    return News(ds, State.RUNNING, state.value, AT)


def make_config(hooks: list[dict[str, Any]], **settings: Any) -> Config:
    return Config.model_validate(
        {
            "settings": settings,
            "backends": [
                {
                    "name": "vl",
                    "type": "visual_layer",
                    "url": "https://vl.example",
                    "api_key_env": "VL_API_KEY",
                    "api_secret_env": "VL_API_SECRET",
                },
                {
                    "name": "cg",
                    "type": "cognee",
                    "url": "http://127.0.0.1:8000",
                    "username_env": "COGNEE_USER",
                    "password_env": "COGNEE_PASSWORD",
                },
            ],
            "hooks": hooks,
        }
    )


_RUNNERS: list[HookRunner] = []


@pytest.fixture(autouse=True)
async def _close_runners() -> AsyncIterator[None]:
    """A test that fails midway leaves no hook process behind."""
    yield
    while _RUNNERS:
        await _RUNNERS.pop().aclose()


def runner(hooks: list[dict[str, Any]], environ: dict[str, str], **kwargs: Any) -> HookRunner:
    cfg = make_config(hooks)
    kwargs.setdefault("retry_delays", (0.0,))
    hook_runner = HookRunner(
        cfg.hooks,
        environ,
        kwargs.pop("max_running", cfg.settings.max_hooks_running),
        backends=cfg.backends,
        url_for=lambda backend, dataset_id: f"https://{backend}.example/d/{dataset_id}",
        **kwargs,
    )
    _RUNNERS.append(hook_runner)
    return hook_runner


DUMP_ENV = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def base_environ() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": "/home/someone",
        "KEEP_ME": "yes",
        "MY_ALIAS_OF_THE_KEY": SECRETS["VL_API_KEY"],  # the same secret under another name
        "DSWATCH_STATE": "forged by the parent",
        **SECRETS,
    }


# ------------------------------------------------------------ commands


async def test_command_gets_the_change_and_no_secret(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    hooks = runner(
        [
            {"on": ["error"], "command": [PY, "-c", DUMP_ENV, str(out)]},
            {"on": ["ready"], "url_env": "SLACK_URL"},  # its URL is a secret too
        ],
        base_environ(),
    )
    hostile = "evil\x1b]52;c;aGk=\x07\nname"
    hooks.submit(
        [news(hostile, status="FAILED\x1b[2J", error="boom\x07", raw={"token": "raw-token-123456"})]
    )
    await hooks.drain()
    assert hooks.failed == 0, hooks.last_failure
    env = json.loads(out.read_text())
    assert {k: v for k, v in env.items() if k.startswith("DSWATCH_")} == {
        "DSWATCH_BACKEND": "vl",
        "DSWATCH_ID": ID1,
        "DSWATCH_NAME": "evil name",
        "DSWATCH_OLD_STATE": "running",
        "DSWATCH_STATE": "error",
        "DSWATCH_STATUS": "FAILED",
        "DSWATCH_ERROR": "boom␇",
        "DSWATCH_URL": f"https://vl.example/d/{ID1}",
    }
    assert env["KEEP_ME"] == "yes" and env["HOME"] == "/home/someone"
    dumped = out.read_text()
    for name, value in SECRETS.items():
        assert name not in env
        assert value not in dumped
    assert "MY_ALIAS_OF_THE_KEY" not in env
    assert "raw-token-123456" not in dumped


async def test_hooks_match_on_events_and_backends(tmp_path: Path) -> None:
    script = "import os, sys; open(sys.argv[1].format(os.environ['DSWATCH_NAME']), 'w').write('x')"
    hooks = runner(
        [
            {"on": "any", "command": [PY, "-c", script, str(tmp_path / "any-{}")]},
            {"on": ["ready"], "command": [PY, "-c", script, str(tmp_path / "ready-{}")]},
            {"backends": ["cg"], "command": [PY, "-c", script, str(tmp_path / "cg-{}")]},
        ],
        base_environ(),
    )
    hooks.submit(
        [
            news("a", State.READY),
            news("b", State.ERROR, dataset_id=ID2),
            news("c", State.READY, backend="cg"),
        ]
    )
    await hooks.drain()
    assert hooks.failed == 0, hooks.last_failure
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "any-a",
        "any-b",
        "any-c",
        "cg-c",
        "ready-a",
        "ready-c",
    ]
    assert hooks.ran == 6


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie is dead


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
async def test_timeout_kills_the_child_and_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # Both pids at once (write, then rename), so the file is whole whenever it exists.
    script = f'sleep 60 & echo "$$ $!" > {pids}.tmp && mv {pids}.tmp {pids}; wait'
    hooks = runner([{"command": ["sh", "-c", script], "timeout": 2}], base_environ())
    hooks.submit([news()])
    await hooks.drain()
    assert hooks.failed == 1
    assert hooks.last_failure == "hook 1 (sh): killed after 2 s"
    shell, sleeper = (int(pid) for pid in pids.read_text().split())
    assert not _alive(shell)  # reaped by the runner
    # a killed orphan is reaped by init: gone within a few seconds
    await until(None, lambda: not _alive(sleeper), f"pid {sleeper} is gone", timeout=5)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
async def test_a_hook_may_leave_a_background_job(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = f"sleep 60 & echo $! > {pid_file}.tmp && mv {pid_file}.tmp {pid_file}"
    hooks = runner([{"command": ["sh", "-c", script], "timeout": 2}], base_environ())
    hooks.submit([news()])
    await hooks.drain()
    sleeper = int(pid_file.read_text())
    try:
        assert hooks.failed == 0, hooks.last_failure  # done when sh exits: not killed
        assert _alive(sleeper)
    finally:
        os.kill(sleeper, signal.SIGKILL)


async def test_a_failing_hook_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    script = "import sys; sys.stderr.write('first\\nboom \\x1b[31mred\\n'); sys.exit(3)"
    hooks = runner(
        [
            {"command": [PY, "-c", script]},
            {"command": ["/nonexistent/notify-me"]},
            {"command": ["sh", "-c", "kill -TERM $$"]},
        ],
        base_environ(),
    )
    assert hooks.summary() is None
    with caplog.at_level(logging.WARNING, logger="tui.hooks"):
        hooks.submit([news()])
        await hooks.drain()
    assert hooks.failed == 3
    assert hooks.summary() == "hooks: 3 failed"
    messages = sorted(r.getMessage() for r in caplog.records)
    assert messages == [
        f"hook 1 ({Path(PY).name}): exited with status 3: boom red",
        "hook 2 (notify-me): cannot run '/nonexistent/notify-me': No such file or directory",
        "hook 3 (sh): was killed by signal 15",
    ]
    assert hooks.last_failure in messages


async def test_at_most_max_running_and_a_bounded_queue(caplog: pytest.LogCaptureFixture) -> None:
    hooks = runner([{"command": [PY, "-c", "pass"]}], base_environ(), max_running=1, max_queued=2)
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(5)]
    with caplog.at_level(logging.WARNING, logger="tui.hooks"):
        hooks.submit([news(f"d{n}", dataset_id=i) for n, i in enumerate(ids)])
        # submit returned at once: one running, two waiting, the two oldest waiting dropped
        assert (hooks.running, hooks.queued, hooks.dropped) == (1, 2, 2)
        await hooks.drain()
    assert hooks.ran == 3 and hooks.failed == 0
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped == [
        f"hook 1 ({Path(PY).name}) skipped for d1: 2 hooks already waiting",
        f"hook 1 ({Path(PY).name}) skipped for d2: 2 hooks already waiting",
    ]


async def test_aclose_kills_running_hooks(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    hooks = runner([{"command": [PY, "-c", script]}], base_environ())
    hooks.submit([news()])
    await until(None, lambda: pid_file.exists() and pid_file.read_text() != "", "the hook started")
    await hooks.aclose()
    assert hooks.running == 0
    assert not _alive(int(pid_file.read_text()))  # killed and reaped


# ------------------------------------------------------------ webhooks


class Receiver:
    """A real HTTP server on 127.0.0.1 answering a script of statuses."""

    def __init__(self, statuses: list[int], headers: dict[str, str] | None = None) -> None:
        self.statuses = statuses
        self.headers = headers or {}
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                for key, value in receiver.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-path"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver([]) as r:
        yield r


def webhook_runner(url: str, **kwargs: Any) -> HookRunner:
    environ = base_environ() | {"SLACK_URL": url}
    return runner([{"on": ["error", "ready"], "url_env": "SLACK_URL"}], environ, **kwargs)


async def test_webhook_posts_text_and_the_dataset_record(receiver: Receiver) -> None:
    hooks = webhook_runner(receiver.url)
    hooks.submit(
        [
            news(
                "<!channel> @everyone\x1b[2J",
                status="FAILED",
                error="disk full",
                progress=40.0,
                raw={"access_token": "raw-token-123456", "secret_stuff": "x"},
            )
        ]
    )
    await hooks.drain()
    assert hooks.failed == 0, hooks.last_failure
    [request] = receiver.requests
    assert request["path"] == "/hook/secret-path"
    assert request["content_type"] == "application/json"
    assert request["body"] == {
        "text": (
            "dswatch: vl: &lt;!channel&gt; @\u200beveryone is now error (was running): disk full"
        ),
        "backend": "vl",
        "id": ID1,
        "name": "<!channel> @everyone",
        "state": "error",
        "status": "FAILED",
        "progress": 40.0,
        "n_images": None,
        "n_videos": None,
        "n_objects": None,
        "pipelines": {},
        "error": "disk full",
        "old_state": "running",
        "event": "error",
        "at": "2026-11-24T12:00:00+00:00",
        "url": f"https://vl.example/d/{ID1}",
    }


async def test_webhook_tells_a_backend_down_and_back(receiver: Receiver) -> None:
    """A backend's trouble is one webhook (its reason), its return another; a hook
    that asked for `unreachable` only is not told of refused credentials."""
    hooks = webhook_runner(receiver.url)
    hooks.hooks = [hooks.hooks[0].model_copy(update={"on": ["unauthorized"]})]
    reason = "refused credentials (HTTP 401)"
    hooks.submit(
        [
            BackendNews("vl", "ok", "unauthorized", reason, AT),
            BackendNews("vl", "ok", "unreachable", "timeout", AT),
            BackendNews("vl", "unauthorized", "ok", "answering again", AT),
            BackendNews("vl", "unreachable", "ok", "answering again", AT),
        ]
    )
    await hooks.drain()
    assert hooks.failed == 0, hooks.last_failure
    bodies = sorted((r["body"] for r in receiver.requests), key=lambda b: b["event"] != "ok")
    assert bodies[::-1] == [  # hooks run side by side: in any order
        {
            "text": f"dswatch: vl is down: {reason}",
            "backend": "vl",
            "old_state": "ok",
            "event": "unauthorized",
            "reason": reason,
            "at": "2026-11-24T12:00:00+00:00",
        },
        {
            "text": "dswatch: vl is answering again",
            "backend": "vl",
            "old_state": "unauthorized",
            "event": "ok",
            "reason": "answering again",
            "at": "2026-11-24T12:00:00+00:00",
        },
    ]


async def test_webhook_retries_a_500_then_succeeds() -> None:
    with Receiver([500, 429, 200], headers={"Retry-After": "0"}) as receiver:
        hooks = webhook_runner(receiver.url)
        hooks.submit([news()])
        await hooks.drain()
    assert hooks.failed == 0, hooks.last_failure
    assert len(receiver.requests) == 3


async def test_webhook_gives_up_after_three_tries(caplog: pytest.LogCaptureFixture) -> None:
    with Receiver([500] * 10) as receiver:
        hooks = webhook_runner(receiver.url)
        hooks.submit([news()])
        await hooks.drain()
    assert len(receiver.requests) == 3
    assert hooks.failed == 1
    assert hooks.last_failure == (
        "hook 1 ($SLACK_URL): gave up after 3 tries: 127.0.0.1 answered HTTP 500"
    )
    assert "secret-path" not in caplog.text  # the URL is a secret: only its host is told


async def test_webhook_does_not_retry_a_client_error() -> None:
    with Receiver([404, 200]) as receiver:
        hooks = webhook_runner(receiver.url)
        hooks.submit([news()])
        await hooks.drain()
    assert len(receiver.requests) == 1
    assert hooks.last_failure == "hook 1 ($SLACK_URL): 127.0.0.1 answered HTTP 404"


async def test_webhook_retries_connection_errors_then_gives_up() -> None:
    with Receiver([]) as closed:
        url = closed.url
    hooks = webhook_runner(url)
    hooks.submit([news()])
    await hooks.drain()
    assert hooks.last_failure == (
        "hook 1 ($SLACK_URL): gave up after 3 tries: cannot reach 127.0.0.1: ConnectError"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "http://hooks.example.com/x",
            "$SLACK_URL: refusing plain http to hooks.example.com;"
            " webhooks go over https, or to this machine",
        ),
        (
            "http://10.1.2.3/x",
            "$SLACK_URL: refusing plain http to 10.1.2.3;"
            " webhooks go over https, or to this machine",
        ),
        ("ftp://127.0.0.1/x", "$SLACK_URL is not an http(s) URL"),
        ("", "$SLACK_URL is not set"),
    ],
)
async def test_webhook_refuses_plain_http_off_this_machine(url: str, message: str) -> None:
    hooks = webhook_runner(url)
    hooks.submit([news()])
    await hooks.drain()
    assert hooks.failed == 1
    assert hooks.last_failure == f"hook 1 ($SLACK_URL): {message}"


async def test_webhook_to_localhost_by_name_is_allowed(receiver: Receiver) -> None:
    hooks = webhook_runner(receiver.url.replace("127.0.0.1", "localhost"))
    hooks.submit([news()])
    await hooks.drain()
    assert hooks.failed == 0, hooks.last_failure
    assert len(receiver.requests) == 1


async def test_reconfigure_applies_new_hooks_and_strips_new_credentials(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    hooks = runner([{"on": ["ready"], "command": [PY, "-c", DUMP_ENV, str(out)]}], base_environ())
    hooks.submit([news(state=State.ERROR)])  # no hook for errors yet
    await hooks.drain()
    assert hooks.ran == 0
    new = make_config([{"on": ["error"], "command": [PY, "-c", DUMP_ENV, str(out)]}])
    new.backends[0].token_env = "KEEP_ME"  # now a credential: it must go
    hooks.reconfigure(new)
    hooks.submit([news(state=State.ERROR)])
    await hooks.drain()
    assert hooks.ran == 1 and hooks.failed == 0, hooks.last_failure
    assert "KEEP_ME" not in json.loads(out.read_text())


def test_webhook_backoff_grows_and_a_servers_retry_after_wins_within_a_cap() -> None:
    """The waits between tries (not waited here): 1 s, then 4 s; a Retry-After is
    obeyed up to 30 s, so a hostile `Retry-After: 86400` cannot park a hook for a day."""
    hooks = HookRunner([], {})
    assert [hooks._delay(attempt, None) for attempt in (1, 2, 3)] == [1.0, 4.0, 4.0]
    assert hooks._delay(1, 2.5) == 2.5
    assert hooks._delay(2, 86400.0) == 30.0
