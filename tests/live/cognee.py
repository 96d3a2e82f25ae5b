"""The real Cognee 1.6.5 server for tests/live: start and stop it (scripts/cognee-server.sh),
call its API, and give dswatch a config and credentials for it.

Fixtures built on these are in tests/live/conftest.py; test modules import from here.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "cognee-server.sh"
EXIT_REGISTRY_UNREACHABLE = 75
# The first run installs cognee (~4 min); .ci/run does that beforehand with `install`.
START_TIMEOUT_S = float(os.environ.get("COGNEE_LIVE_START_TIMEOUT", "1800"))
LIVE_DIR = Path(__file__).resolve().parent

ADD_PIPELINE = "add_pipeline"
COGNIFY_PIPELINE = "cognify_pipeline"
STARTED = "DATASET_PROCESSING_STARTED"
COMPLETED = "DATASET_PROCESSING_COMPLETED"
ERRORED = "DATASET_PROCESSING_ERRORED"

# Variables the script passes on to the server; they must come from start() only, so an
# outer environment cannot silently change the server a test gets.
_SERVER_CONTROL_VARS = ("PORT", "JWT_LIFETIME_SECONDS", "ENABLE_BACKEND_ACCESS_CONTROL")
_SERVER_ENV_PREFIX = "COGNEE_SERVER_ENV_"


def unique_name(prefix: str = "ds") -> str:
    """A dataset name no other test uses (POST /datasets returns an existing same-name one)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class CogneeServer:
    """A running real Cognee server, with helpers that use plain httpx."""

    url: str
    pid: int
    data_dir: Path
    log: Path
    username: str
    password: str
    jwt_lifetime_seconds: int | None = None
    access_control: bool | None = None
    _token: str | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    # ------------------------------------------------------------------ plumbing

    def client(self, headers: Mapping[str, str] | None = None, **kwargs: Any) -> httpx.Client:
        """A new httpx client for this server (the caller closes it)."""
        return httpx.Client(base_url=self.url, headers=headers, timeout=60.0, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, with a (cached) JWT unless headers are given ({} = no credentials)."""
        headers = kwargs.pop("headers", None)
        if headers is None:
            headers = self.auth_headers()
        with self.client() as client:
            return client.request(method, path, headers=headers, **kwargs)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no server log: {exc})"

    def _ok(self, response: httpx.Response, what: str) -> Any:
        if response.status_code != 200:
            raise AssertionError(
                f"{what}: HTTP {response.status_code} {response.text}\n"
                f"--- server log tail ---\n{self.log_tail()}"
            )
        return response.json()

    # ------------------------------------------------------------------ auth

    def login(self) -> str:
        """POST /api/v1/auth/login (form) -> a fresh JWT, also cached for auth_headers()."""
        with self.client() as client:
            response = client.post(
                "/api/v1/auth/login",
                data={"username": self.username, "password": self.password},
            )
        token = str(self._ok(response, "login")["access_token"])
        self._token = token
        return token

    def auth_headers(self, *, fresh: bool = False) -> dict[str, str]:
        """``Authorization: Bearer <jwt>``, logging in when needed (or when fresh)."""
        if fresh or self._token is None:
            self.login()
        return {"Authorization": f"Bearer {self._token}"}

    def create_api_key(self, name: str = "dswatch-live") -> str:
        """POST /api/v1/auth/api-keys -> the key (send it as ``X-Api-Key``)."""
        response = self.request("POST", "/api/v1/auth/api-keys", json={"name": name})
        return str(self._ok(response, "create api key")["key"])

    # ------------------------------------------------------------------ datasets

    def add_dataset(
        self, name: str | None = None, texts: Sequence[str] = ("Alice knows Bob.\n",)
    ) -> str:
        """POST /api/v1/add with one text file per item -> the dataset id.

        The dataset's add_pipeline is COMPLETED when this returns; cognify_pipeline has no
        run yet.
        """
        name = name or unique_name("added")
        files = [
            ("data", (f"item{i}.txt", text.encode(), "text/plain")) for i, text in enumerate(texts)
        ]
        response = self.request("POST", "/api/v1/add", data={"datasetName": name}, files=files)
        return str(self._ok(response, f"add dataset {name!r}")["dataset_id"])

    def create_dataset(self, name: str | None = None) -> str:
        """POST /api/v1/datasets {"name"} -> the id of an empty dataset (no pipeline runs)."""
        name = name or unique_name("empty")
        response = self.request("POST", "/api/v1/datasets", json={"name": name})
        return str(self._ok(response, f"create dataset {name!r}")["id"])

    def list_datasets(self) -> list[dict[str, Any]]:
        response = self.request("GET", "/api/v1/datasets")
        return list(self._ok(response, "list datasets"))

    def cognify(self, dataset_ids: Iterable[str], *, background: bool = True) -> dict[str, str]:
        """POST /api/v1/cognify -> {dataset_id: pipeline_run_id}.

        With no LLM reachable, cognify_pipeline goes STARTED at once and ERRORED after about
        five minutes (an empty dataset goes COMPLETED within a second).
        """
        ids = list(dataset_ids)
        response = self.request(
            "POST", "/api/v1/cognify", json={"datasetIds": ids, "runInBackground": background}
        )
        body = self._ok(response, f"cognify {ids}")
        return {str(k): str(v["pipeline_run_id"]) for k, v in body.items()}

    def status(
        self,
        dataset_ids: Iterable[str] = (),
        pipelines: Iterable[str] = (),
        *,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET /api/v1/datasets/status with repeated ``dataset`` and ``pipeline`` params."""
        params = [("dataset", d) for d in dataset_ids] + [("pipeline", p) for p in pipelines]
        return self.request("GET", "/api/v1/datasets/status", params=params, headers=headers)

    def wait_for_status(
        self, dataset_id: str, pipeline: str, wanted: Iterable[str], timeout: float = 30.0
    ) -> str:
        """Poll the flat status of one dataset until it is one of ``wanted``; return it."""
        targets = set(wanted)
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = self._ok(self.status([dataset_id], [pipeline]), "status").get(dataset_id)
            if last in targets:
                return str(last)
            time.sleep(0.5)
        raise AssertionError(
            f"{pipeline} of {dataset_id} still {last!r} after {timeout}s (wanted {targets})"
        )

    # ------------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        """Stop the server (its whole process group) and remove its data dir. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        result = subprocess.run(
            [str(SCRIPT), "stop", str(self.pid), str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"cognee-server.sh stop {self.pid} failed ({result.returncode}): "
                f"{result.stderr.strip()}"
            )


class StartServer(Protocol):
    def __call__(
        self,
        *,
        jwt_lifetime_seconds: int | None = None,
        access_control: bool | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CogneeServer: ...


def _parse_start_output(stdout: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isupper():
            values[key] = value
    missing = {"URL", "PID", "DATA_DIR", "LOG", "USER", "PASSWORD"} - values.keys()
    if missing:
        raise RuntimeError(f"cognee-server.sh start printed no {sorted(missing)}: {stdout!r}")
    return values


def start_cognee_server(
    *,
    jwt_lifetime_seconds: int | None = None,
    access_control: bool | None = None,
    env: Mapping[str, str] | None = None,
) -> CogneeServer:
    """Run ``scripts/cognee-server.sh start`` and return the running server.

    Skips the test when cognee cannot be installed because the registry is unreachable
    (exit 75); fails it, with the script's output, on any other error.
    """
    script_env = {
        k: v
        for k, v in os.environ.items()
        if k not in _SERVER_CONTROL_VARS and not k.startswith(_SERVER_ENV_PREFIX)
    }
    if jwt_lifetime_seconds is not None:
        script_env["JWT_LIFETIME_SECONDS"] = str(jwt_lifetime_seconds)
    if access_control is not None:
        script_env["ENABLE_BACKEND_ACCESS_CONTROL"] = "true" if access_control else "false"
    for name, value in (env or {}).items():
        script_env[_SERVER_ENV_PREFIX + name] = value
    try:
        result = subprocess.run(
            [str(SCRIPT), "start"],
            env=script_env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"cognee-server.sh start took over {START_TIMEOUT_S:.0f}s: {exc.stderr!r}")
    if result.returncode == EXIT_REGISTRY_UNREACHABLE:
        last_line = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        pytest.skip(
            "SKIPPED LOUDLY: cognee==1.6.5 cannot be installed, the package registry is "
            f"unreachable: {last_line}"
        )
    if result.returncode != 0:
        pytest.fail(
            f"cognee-server.sh start failed (exit {result.returncode}):\n{result.stderr}",
            pytrace=False,
        )
    values = _parse_start_output(result.stdout)
    return CogneeServer(
        url=values["URL"],
        pid=int(values["PID"]),
        data_dir=Path(values["DATA_DIR"]),
        log=Path(values["LOG"]),
        username=values["USER"],
        password=values["PASSWORD"],
        jwt_lifetime_seconds=jwt_lifetime_seconds,
        access_control=access_control,
    )


# ---------------------------------------------------------------------- dswatch contract tests


@dataclass(frozen=True)
class LiveWorld:
    """What the dswatch contract tests poll on the shared server."""

    server: CogneeServer
    added_id: str  # POST /api/v1/add: add_pipeline COMPLETED, cognify never ran
    added_name: str
    empty_id: str  # POST /api/v1/datasets: no runs at all
    empty_name: str
    unknown_id: str  # a valid UUID that is no dataset: the server answers 403 for a batch
    token: str  # a JWT from the form login (valid for the server's 3600 s)
    api_key: str  # from POST /api/v1/auth/api-keys, for X-Api-Key


@dataclass
class Exchange:
    method: str
    url: httpx.URL
    status: int
    headers: httpx.Headers  # the request's


class RecordingTransport(httpx.AsyncHTTPTransport):
    """The real network, with a log of every request dswatch sent and the status it got."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.exchanges.append(
            Exchange(request.method, request.url, response.status_code, request.headers.copy())
        )
        return response

    def to(self, path: str, method: str = "GET") -> list[Exchange]:
        return [e for e in self.exchanges if e.url.path == path and e.method == method]


# How dswatch is told to log in: config keys naming environment variables, and their values.
AUTH_KEYS: dict[str, dict[str, str]] = {
    "bearer": {"token_env": "COGNEE_TOKEN"},
    "api_key": {"api_key_env": "COGNEE_API_KEY"},
    "password": {"username_env": "COGNEE_USER", "password_env": "COGNEE_PASSWORD"},
    "none": {},
}


def auth_environ(world: LiveWorld, auth: str) -> dict[str, str]:
    values = {
        "bearer": {"COGNEE_TOKEN": world.token},
        "api_key": {"COGNEE_API_KEY": world.api_key},
        "password": {
            "COGNEE_USER": world.server.username,
            "COGNEE_PASSWORD": world.server.password,
        },
        "none": {},
    }
    return values[auth]


def write_config(
    path: Path,
    url: str,
    datasets: Sequence[str],
    *,
    auth: str,
    pipelines: Sequence[str] = (ADD_PIPELINE, COGNIFY_PIPELINE),
    poll_interval: float = 1.0,
    settled_interval: float = 30.0,
) -> Path:
    """A dswatch config file with one Cognee backend named "cognee"."""

    def strings(values: Iterable[str]) -> str:
        return ", ".join(f'"{v}"' for v in values)

    keys = "".join(f'{key} = "{value}"\n' for key, value in AUTH_KEYS[auth].items())
    path.write_text(
        "[settings]\n"
        f"poll_interval = {poll_interval}\nsettled_interval = {settled_interval}\n"
        "timeout = 30.0\n\n"
        "[[backends]]\n"
        f'name = "cognee"\ntype = "cognee"\nurl = "{url}"\n{keys}'
        f"pipelines = [{strings(pipelines)}]\n"
        f"datasets = [{strings(datasets)}]\n",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class BackgroundCognify:
    """A dataset whose cognify was started in the background (and one that was empty)."""

    dataset_id: str  # /add, then cognify: STARTED for ~5 minutes, then ERRORED
    name: str
    empty_id: str  # POST /datasets, then cognify: COMPLETED at once, add_pipeline never ran
    started_at: float  # time.monotonic() of the cognify call
