"""Tokens, keys, secrets and passwords never leak; credentials travel only safely.

The servers here are careless on purpose: they echo the credentials they
received (and the secrets they know) back in error bodies, in `detail`
messages, and in the JSON of good answers. Whatever dswatch keeps, shows,
logs or writes must still hold none of them:

- `dswatch status --json`, `wait` and `add`, run as real processes with a
  temp HOME and `--debug` (so the log file is written): stdout, stderr, every
  file under the temp HOME (the log) and the config file after `add`;
- in-process: every DatasetState (repr, JSON, `raw`, `failure`), backend
  reprs, BackendError messages, and every log record at DEBUG.

And: credentials only go over https or to loopback (unless allow_insecure);
TLS is verified (a self-signed server fails without ca_bundle, works with
it); dataset IDs are refused before any request unless they are UUIDs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import pytest

from tests.support.faultservers import (
    AppServer,
    FakeDns,
    HeaderLog,
    free_port,
    openssl_available,
    self_signed_cert,
)
from tui.backends import BackendError
from tui.config import BackendConfig, Config, Settings
from tui.engine import Engine, build_engine
from tui.models import DatasetState, State
from tui.sim import Simulator

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

VL_KEY = "vlkey-5f1d2c3b4a596877"
VL_SECRET = "vlsecret-Qm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA"
CG_USER, CG_PASSWORD = "owner@example.com", "pw-Tr0ub4dor-and-3-more-words"
ENV_NAMES = {"VL_KEY": VL_KEY, "VL_SECRET": VL_SECRET, "CG_USER": CG_USER, "CG_PASS": CG_PASSWORD}

ADD, COGNIFY = "add_pipeline", "cognify_pipeline"
COMPLETED = "DATASET_PROCESSING_COMPLETED"

# Datasets the careless server answers itself, echoing credentials.
ECHO_OK_VL = "e0000000-0000-4000-8000-00000000a001"  # 200 with credentials in the document
ECHO_ERR_VL = "e0000000-0000-4000-8000-00000000a002"  # 500 whose detail holds credentials
ECHO_OK_CG = "e0000000-0000-4000-8000-00000000c001"
ECHO_ERR_CG = "e0000000-0000-4000-8000-00000000c002"
NEW_ID = "1a2b3c4d-0000-4000-8000-00000000beef"


# ---------------------------------------------------------------- the careless server


@dataclass
class Careless:
    """The simulator behind a middleware that records and echoes credentials."""

    sim: Simulator
    api_key: str
    log: HeaderLog
    server: AppServer
    vl_ids: list[str]
    cg_ids: list[str]

    @property
    def url(self) -> str:
        return self.server.url

    def secrets(self) -> dict[str, str]:
        """Every credential value in play, including the tokens the client made or got."""
        found = {
            "VL API key": VL_KEY,
            "VL API secret": VL_SECRET,
            "Cognee API key": self.api_key,
            "Cognee password": CG_PASSWORD,
        }
        for n, token in enumerate(sorted(self.log.bearer_tokens)):
            found[f"bearer token {n} (a minted JWT or a login token)"] = token
        return found


def leak(headers: dict[str, str], known: str) -> str:
    """What a careless server puts in its messages: the credentials it received,
    and those it knows of this client (Visual Layer signs with the key's secret;
    a Cognee login sent the password)."""
    return f"auth={headers.get('authorization')} key={headers.get('x-api-key')} {known}"


def echo(scope: Any, headers: dict[str, str]) -> tuple[int, bytes] | None:
    path = scope["path"]
    target = path + "?" + scope.get("query_string", b"").decode("latin-1")
    if path.startswith("/vl/"):
        known = f"secret={VL_SECRET}"
    elif ECHO_ERR_CG in target:  # a dataset of the backend that logs in with the password
        known = f"password={CG_PASSWORD}"
    else:
        known = ""
    said = leak(headers, known)
    if ECHO_ERR_VL in target or ECHO_ERR_CG in target:
        body = {"detail": f"refused: {said}", "request_headers": headers, "hint": said}
        return 500, json.dumps(body).encode()
    if ECHO_OK_VL in target and path.startswith("/vl/api/v1/dataset/"):
        document = {
            "id": ECHO_OK_VL,
            "display_name": f"leaky {said}",
            "status_new": "READY",
            "progress": 100,
            "n_images": 3,
            "description": said,
            "access_token": headers.get("authorization"),
            "owner": {"api_key": VL_KEY, "note": said},
        }
        return 200, json.dumps(document).encode()
    if ECHO_OK_CG in target and path.startswith("/cognee/api/v1/datasets/status"):
        ids = [v for k, v in _query(scope) if k == "dataset"]
        body = {i: {ADD: COMPLETED, COGNIFY: COMPLETED} for i in ids}
        body[ECHO_OK_CG] = {ADD: COMPLETED, COGNIFY: f"DATASET_PROCESSING_{said}"}
        return 200, json.dumps(body).encode()
    return None


def _query(scope: Any) -> list[tuple[str, str]]:
    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))


@pytest.fixture  # its own: the simulator behind HeaderLog, which records the credentials sent
def careless() -> Iterator[Careless]:
    sim = Simulator(
        seed=3,
        vl_datasets=0,
        cognee_datasets=0,
        vl_credentials=(VL_KEY, VL_SECRET),
        cognee_auth=True,
        cognee_user=(CG_USER, CG_PASSWORD),
    )
    api_key = sim.create_cognee_api_key()
    vl_ids = [sim.add_vl_dataset(name="plain", status="READY")]
    cg_ids = [sim.add_cognee_dataset(name="plain", pipelines={ADD: COMPLETED}) for _ in range(2)]
    log = HeaderLog(sim.app, intercept=echo)
    with AppServer(log) as server:
        yield Careless(sim, api_key, log, server, vl_ids, cg_ids)


def backends_for(careless: Careless) -> list[BackendConfig]:
    """Three backends: VL key + secret (JWTs), Cognee API key, Cognee login."""
    return [
        BackendConfig(
            name="vl",
            type="visual_layer",
            url=f"{careless.url}/vl",
            api_key_env="VL_KEY",
            api_secret_env="VL_SECRET",
            datasets=[*careless.vl_ids, ECHO_OK_VL, ECHO_ERR_VL],
        ),
        BackendConfig(
            name="cg",
            type="cognee",
            url=f"{careless.url}/cognee",
            api_key_env="CG_KEY",
            datasets=[careless.cg_ids[0], ECHO_OK_CG],
        ),
        BackendConfig(
            name="cgl",
            type="cognee",
            url=f"{careless.url}/cognee",
            username_env="CG_USER",
            password_env="CG_PASS",
            datasets=[careless.cg_ids[1], ECHO_ERR_CG],
        ),
    ]


def config_toml(backends: list[BackendConfig], settings: str = "timeout = 5.0") -> str:
    lines = ["# dswatch config for the secrets test", "[settings]", settings, ""]
    for backend in backends:
        lines.append("[[backends]]")
        for key, value in backend.model_dump(exclude_defaults=True).items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    return "\n".join(lines)


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Which secrets appear in `text`, whole or as any 12-character piece of them."""
    found = []
    for name, value in secrets.items():
        pieces = {value[i : i + 12] for i in range(max(1, len(value) - 11))}
        if any(piece in text for piece in pieces):
            found.append(name)
    return found


# ---------------------------------------------------------------- the CLI, as a process


@dataclass
class Home:
    root: Path
    env: dict[str, str]
    config: Path

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tui.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def files(self) -> dict[Path, str]:
        return {
            path: path.read_bytes().decode("utf-8", "replace")
            for path in self.root.rglob("*")
            if path.is_file()
        }


def make_home(tmp_path: Path, secrets_env: dict[str, str]) -> Home:
    root = tmp_path / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "DSWATCH_")) and "PROXY" not in key.upper()
    }
    env.update(
        HOME=str(root),
        XDG_STATE_HOME=str(root / ".local" / "state"),
        XDG_CONFIG_HOME=str(root / ".config"),
        XDG_CACHE_HOME=str(root / ".cache"),
        XDG_DATA_HOME=str(root / ".local" / "share"),
        NO_COLOR="1",
        **secrets_env,
    )
    config = root / ".config" / "dswatch" / "config.toml"
    config.parent.mkdir(parents=True)
    return Home(root, env, config)


def test_nothing_the_app_writes_holds_a_secret(careless: Careless, tmp_path: Path) -> None:
    home = make_home(tmp_path, {**ENV_NAMES, "CG_KEY": careless.api_key})
    home.config.write_text(config_toml(backends_for(careless)))
    home.config.chmod(0o600)

    status = home.run("status", "--json", "--debug", "--config", str(home.config))
    wait = home.run(
        "wait", "--debug", "--timeout", "2", "--config", str(home.config), f"vl:{ECHO_ERR_VL}",
        f"cgl:{ECHO_ERR_CG}", f"cg:{ECHO_OK_CG}",
    )  # fmt: skip
    add = home.run("add", "vl", NEW_ID, "--debug", "--config", str(home.config))

    # It really ran: the rows came back, the careless answers were met, the log is written.
    assert status.returncode == 1, status.stderr  # some datasets are unreachable
    rows = {(r["backend"], r["id"]): r for r in json.loads(status.stdout)}
    assert rows[("vl", careless.vl_ids[0])]["state"] == "ready"
    assert rows[("vl", ECHO_OK_VL)]["state"] == "ready"
    assert rows[("vl", ECHO_OK_VL)]["name"].startswith("leaky auth=Bearer *** key=None secret=***")
    assert rows[("vl", ECHO_ERR_VL)]["state"] == "unreachable"
    assert "HTTP 500" in rows[("vl", ECHO_ERR_VL)]["error"]
    assert rows[("cg", ECHO_OK_CG)]["pipelines"][COGNIFY].startswith("DATASET_PROCESSING_auth=")
    assert rows[("cgl", ECHO_ERR_CG)]["state"] == "unreachable"
    assert wait.returncode in (1, 124), wait.stderr
    assert add.returncode == 0, add.stderr
    assert NEW_ID in home.config.read_text()
    logs = [p for p in home.files() if p.suffix == ".log" or ".log." in p.name]
    assert logs, "the --debug run wrote no log file under the temp HOME"

    secrets = careless.secrets()
    # The client did mint JWTs and log in: those tokens are in the list searched for.
    assert len(careless.log.bearer_tokens) >= 2, careless.log.bearer_tokens
    assert careless.api_key in careless.log.api_keys

    written = {
        "status stdout": status.stdout,
        "status stderr": status.stderr,
        "wait stdout": wait.stdout,
        "wait stderr": wait.stderr,
        "add stdout": add.stdout,
        "add stderr": add.stderr,
        **{str(path): text for path, text in home.files().items()},
    }
    found = {where: names for where, text in written.items() if (names := leaks(text, secrets))}
    assert not found, found


# ---------------------------------------------------------------- in-process, everything kept


def build(config: Config, environ: dict[str, str], **kwargs: Any) -> Engine:
    return build_engine(config, None, environ=environ, **kwargs)


async def bounded(awaitable: Awaitable[T], seconds: float = 60) -> T:
    """Never hang the suite: fail with the await that hung instead."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def poll_once(engine: Engine) -> dict[tuple[str, str], DatasetState]:
    return await bounded(engine.poller.poll_all_once())


async def test_states_failures_reprs_errors_and_logs_hold_no_secret(
    careless: Careless, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = Config(settings=Settings(timeout=5), backends=backends_for(careless))
    engine = build(config, {**ENV_NAMES, "CG_KEY": careless.api_key})
    try:
        states = await poll_once(engine)
        assert states[("vl", ECHO_OK_VL)].state is State.READY
        assert states[("vl", ECHO_ERR_VL)].failure is not None
        # Errors the user asks for (details, lists) carry the server's words, masked.
        errors: list[str] = []
        for backend, dataset_id in (("vl", ECHO_ERR_VL), ("cgl", ECHO_ERR_CG)):
            with pytest.raises(BackendError) as caught:
                await bounded(engine.backends[backend].details(dataset_id))
            errors += [str(caught.value), repr(caught.value)]
        assert any("HTTP 500" in e for e in errors)
    finally:
        await engine.aclose()

    kept: list[str] = []
    for state in states.values():
        kept += [repr(state), str(state), state.model_dump_json(), json.dumps(state.raw)]
        if state.failure is not None:
            kept += [repr(state.failure), state.failure.body or "", state.failure.message]
    kept += errors
    for backend in engine.backends.values():
        kept += [repr(backend), repr(backend.auth), repr(backend.api), repr(backend.redactor)]  # type: ignore[attr-defined]
    kept += [repr(engine.poller.health()), repr(engine.config)]
    # What dswatch logs, and httpx's request lines (httpcore's DEBUG trace is not routed
    # anywhere by dswatch: it prints raw response headers, Set-Cookie tokens included).
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("tui", "httpx")]
    assert any(r.name == "httpx" for r in ours)
    kept += [caplog.handler.format(r) for r in ours]
    # The careless answers were kept, masked, not dropped.
    raw = states[("vl", ECHO_OK_VL)].raw
    assert raw["access_token"] == "***" and "***" in raw["description"]
    assert raw["owner"]["api_key"] == "***"
    failure = states[("vl", ECHO_ERR_VL)].failure
    assert failure is not None and failure.body and "***" in failure.body
    secrets = careless.secrets()
    found = [leaked for text in kept for leaked in leaks(text, secrets)]
    assert not found, sorted(set(found))


# ---------------------------------------------------------------- where credentials may go


def insecure_backend(url: str, **options: Any) -> BackendConfig:
    return BackendConfig(
        name="vl",
        type="visual_layer",
        url=url,
        api_key_env="VL_KEY",
        api_secret_env="VL_SECRET",
        datasets=[ECHO_OK_VL],
        **options,
    )


def test_the_cli_refuses_credentials_over_plain_http_to_another_host(tmp_path: Path) -> None:
    home = make_home(tmp_path, ENV_NAMES)
    # Should anything try to connect anyway, it goes to a closed local port.
    dead_end = f"http://127.0.0.1:{free_port()}"
    home.env.update(HTTP_PROXY=dead_end, HTTPS_PROXY=dead_end, ALL_PROXY=dead_end)
    home.config.write_text(config_toml([insecure_backend("http://datasets.corp.invalid/vl")]))
    result = home.run("status", "--json", "--config", str(home.config))
    # That backend cannot be used, and says why; other backends would run (exit 1, not 2).
    assert result.returncode == 1
    [row] = json.loads(result.stdout)
    assert row["state"] == "unauthorized"
    message = row["error"]
    assert "plain http to datasets.corp.invalid" in message
    assert "https://" in message and "allow_insecure = true" in message
    assert not leaks(result.stdout + result.stderr, {"key": VL_KEY, "secret": VL_SECRET})


async def test_plain_http_to_another_host_only_with_allow_insecure(careless: Careless) -> None:
    # A made-up LAN name that only the fake resolver knows: nothing leaves this machine.
    dns = FakeDns({"datasets.lan.test": "127.0.0.1"})
    url = f"http://datasets.lan.test:{careless.server.port}/vl"
    refused = build(Config(backends=[insecure_backend(url)]), ENV_NAMES, transport=dns)
    try:
        states = await poll_once(refused)
    finally:
        await refused.aclose()
    assert states[("vl", ECHO_OK_VL)].state is State.UNAUTHORIZED
    assert "refusing to send credentials over plain http" in (
        states[("vl", ECHO_OK_VL)].error or ""
    )
    assert dns.lookups == 0  # nothing was sent

    allowed = Config(backends=[insecure_backend(url, allow_insecure=True)])
    engine = build(allowed, ENV_NAMES, transport=dns)
    try:
        states = await poll_once(engine)
    finally:
        await engine.aclose()
    assert states[("vl", ECHO_OK_VL)].state is State.READY
    assert dns.lookups >= 1


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if not openssl_available():
        pytest.skip("the openssl CLI is needed to make a certificate")
    return self_signed_cert(tmp_path_factory.mktemp("tls"), "server")


async def test_tls_is_verified_and_a_ca_bundle_is_honoured(cert: tuple[Path, Path]) -> None:
    sim = Simulator(seed=4, vl_datasets=0, cognee_datasets=0, vl_credentials=(VL_KEY, VL_SECRET))
    dataset_id = sim.add_vl_dataset(status="READY")
    log = HeaderLog(sim.app)
    certfile, keyfile = cert
    with AppServer(log, certfile=certfile, keyfile=keyfile) as server:
        outcomes: dict[str, DatasetState] = {}
        for label, options in (("default", {}), ("ca_bundle", {"ca_bundle": str(certfile)})):
            backend = insecure_backend(f"{server.url}/vl", **options)
            backend = backend.model_copy(update={"datasets": [dataset_id]})
            engine = build(Config(backends=[backend]), ENV_NAMES)
            try:
                states = await poll_once(engine)
            finally:
                await engine.aclose()
            outcomes[label] = states[("vl", dataset_id)]
            if label == "default":
                # The handshake failed before any request reached the server: no token sent.
                assert log.authorization == set()
    refused = outcomes["default"]
    assert refused.state is State.UNREACHABLE
    assert refused.failure is not None and refused.failure.kind == "tls"
    assert "127.0.0.1" in refused.failure.message and "rejected" in refused.failure.message
    assert outcomes["ca_bundle"].state is State.READY
    assert log.authorization  # and with the bundle, the request did go through


def test_nothing_turns_tls_verification_off() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "tui").rglob("*.py"))
    assert not re.search(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False", source)


# ---------------------------------------------------------------- dataset IDs


BAD_IDS = [
    "../../etc/passwd",
    "ad48d250-1232-11f1-bfca-fa39f6ed1f22/../../datasets",
    "ad48d250-1232-11f1-bfca-fa39f6ed1f2?x=1",
    "%2e%2e%2f",
    "not-a-uuid",
    "",
]


async def test_dataset_ids_are_checked_before_any_request(careless: Careless) -> None:
    config = Config(settings=Settings(timeout=5), backends=backends_for(careless)[:2])
    engine = build(config, {**ENV_NAMES, "CG_KEY": careless.api_key})
    try:
        for backend in ("vl", "cg"):
            engine.poller.add(backend, BAD_IDS)
        states = await poll_once(engine)
        for backend in ("vl", "cg"):
            for bad in BAD_IDS:
                state = states[(backend, bad)]
                assert state.state is State.NOT_FOUND, state
                assert state.error and "not a dataset ID" in state.error
            with pytest.raises(BackendError, match="not a dataset ID"):
                await engine.backends[backend].details("../../etc/passwd")
    finally:
        await engine.aclose()
    sent = " ".join(careless.log.paths)
    assert careless.log.paths, "the good IDs were polled"
    for bad in BAD_IDS[:-1]:
        assert bad not in sent and bad.replace("/", "%2F") not in sent
    assert "etc" not in sent and ".." not in sent


def test_the_cli_refuses_bad_ids_and_leaves_the_config_alone(tmp_path: Path) -> None:
    home = make_home(tmp_path, ENV_NAMES)  # so only the IDs are wrong
    text = config_toml([insecure_backend("https://app.visual-layer.com")])
    home.config.write_text(text)
    for args in (("add", "vl", NEW_ID, "../../etc/passwd"), ("wait", "vl:../../etc")):
        result = home.run(*args, "--config", str(home.config))
        assert result.returncode == 2, result
        assert "is not a dataset ID" in result.stderr
    assert home.config.read_text() == text
