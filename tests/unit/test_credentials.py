"""tui.credentials: one resolver, one transport rule, read by config, auth flows and hints."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tui.backends import InsecureTransportError, make_backend
from tui.backends.auth import (
    ApiKeyAuth,
    BearerAuth,
    CogneeLoginAuth,
    CommandToken,
    StaticToken,
    UnusableCredentials,
    VisualLayerJwtAuth,
    backend_auth,
)
from tui.backends.http import check_transport_security
from tui.config import BackendConfig, Config, ConfigError, Settings, check_credentials
from tui.credentials import (
    clear_text_host,
    credential_hint,
    resolve_credentials,
    sends_credentials,
)
from tui.engine import build_engine
from tui.secrets import Redactor

KEY, SECRET_VALUE, TOKEN = "key-0123456789", "s3cr3t-v4lu3-xyz", "tok-abcdefghijkl"
ENV = {"K": KEY, "S": SECRET_VALUE, "T": TOKEN, "U": "me@example.com", "P": "hunter2-long"}


def vl(**extra: Any) -> BackendConfig:
    return BackendConfig(name="vl", type="visual_layer", url="https://vl.example", **extra)


def cognee(**extra: Any) -> BackendConfig:
    return BackendConfig(name="cg", type="cognee", url="https://cg.example", **extra)


USABLE = [
    ("signed JWT", vl(api_key_env="K", api_secret_env="S"), "signed_jwt", VisualLayerJwtAuth),
    ("api key", cognee(api_key_env="K"), "api_key", ApiKeyAuth),
    ("bearer token", cognee(token_env="T"), "bearer_token", BearerAuth),
    ("VL bearer token", vl(token_env="T"), "bearer_token", BearerAuth),
    ("command", vl(token_command="print-token"), "command", BearerAuth),
    ("login", cognee(username_env="U", password_env="P"), "login", CogneeLoginAuth),
    ("none", cognee(), "none", type(None)),
]


@pytest.mark.parametrize(
    ("cfg", "kind", "flow"), [c[1:] for c in USABLE], ids=[c[0] for c in USABLE]
)
def test_each_config_resolves_to_one_kind_and_its_flow(
    cfg: BackendConfig, kind: str, flow: type
) -> None:
    resolved = resolve_credentials(cfg, ENV)
    assert (resolved.kind, resolved.usable, resolved.problem, resolved.fix) == (
        kind,
        True,
        None,
        None,
    )
    for value in ENV.values():
        assert value not in repr(resolved)
    assert isinstance(backend_auth(cfg, ENV, Redactor()), flow)
    assert sends_credentials(cfg) is (kind != "none")


UNUSABLE = [
    (
        "unset variable",
        cognee(api_key_env="COGNEE_API_KEY"),
        "environment variable COGNEE_API_KEY is not set",
        "export COGNEE_API_KEY=..., then restart dswatch",
    ),
    (
        "empty variable",
        vl(api_key_env="K", api_secret_env="EMPTY"),
        "environment variable EMPTY is empty",
        "export EMPTY=..., then restart dswatch",
    ),
    (
        "half a VL pair",
        vl(api_key_env="K"),
        "Visual Layer tokens are signed with an API key and its secret: set api_secret_env too",
        "set api_secret_env in the config",
    ),
    (
        "half a login",
        cognee(username_env="U"),
        "a login needs username_env and password_env: set password_env",
        "set password_env in the config",
    ),
    (
        "login on Visual Layer",
        vl(username_env="U", password_env="P"),
        "only Cognee logs in with a username and password",
        "use api_key_env and api_secret_env",
    ),
    (
        "two methods",
        cognee(api_key_env="K", token_env="T"),
        "api_key_env and token_env are different ways to authenticate: keep one",
        "keep one way to authenticate",
    ),
]


@pytest.mark.parametrize(
    ("cfg", "problem", "fix"), [c[1:] for c in UNUSABLE], ids=[c[0] for c in UNUSABLE]
)
async def test_unusable_credentials_say_why_and_what_to_do(
    cfg: BackendConfig, problem: str, fix: str
) -> None:
    environ = {**ENV, "EMPTY": "  "}
    resolved = resolve_credentials(cfg, environ)
    assert (resolved.kind, resolved.usable) == ("unusable", False)
    assert (resolved.problem, resolved.fix) == (problem, fix)
    assert credential_hint(cfg, environ) == f"{problem}: {fix}"
    # The dashboard's poll says the same, and sends nothing.
    backend = make_backend(
        cfg,
        Settings(),
        environ=environ,
        transport=httpx.MockTransport(lambda r: pytest.fail("nothing to send")),
    )
    auth = backend_auth(cfg, environ, Redactor())
    assert isinstance(auth, UnusableCredentials) and auth.reason == f"{problem}: {fix}"
    await backend.aclose()


def test_the_config_check_reports_what_the_resolver_refuses() -> None:
    for _, cfg, problem, _ in UNUSABLE:
        with pytest.raises(ConfigError) as caught:
            check_credentials(Config(backends=[cfg]), {**ENV, "EMPTY": ""})
        assert problem in str(caught.value)


def test_hints_for_usable_credentials_name_variables_never_values() -> None:
    assert credential_hint(vl(api_key_env="K", api_secret_env="S"), ENV) == "check $K / $S"
    assert credential_hint(vl(token_command="print-token"), ENV) == (
        "check the output of token_command, then press R to retry"
    )
    assert credential_hint(cognee(), ENV) == (
        "backend 'cg' has no credentials: set api_key_env (or token_env) in the config"
    )


def test_the_engine_gives_the_poller_the_resolvers_hint() -> None:
    cfg = cognee(api_key_env="MISSING_KEY")
    engine = build_engine(Config(backends=[cfg]), None, environ={})
    assert engine.poller.credential_hints == {
        "cg": "environment variable MISSING_KEY is not set:"
        " export MISSING_KEY=..., then restart dswatch"
    }


def test_a_command_token_flow_gets_the_command_line() -> None:
    auth = backend_auth(vl(token_command="vault read x"), ENV, Redactor())
    assert isinstance(auth, BearerAuth) and isinstance(auth.source, CommandToken)
    assert "vault read x" in repr(auth.source)
    static = backend_auth(cognee(token_env="T"), ENV, Redactor())
    assert isinstance(static, BearerAuth) and isinstance(static.source, StaticToken)


def test_resolved_values_are_registered_with_the_redactor() -> None:
    redactor = Redactor()
    backend_auth(cognee(username_env="U", password_env="P"), ENV, redactor)
    assert redactor.text(f"echo {ENV['P']} and {ENV['U']}") == "echo *** and ***"


TRANSPORT = [
    ("https://cg.example", None),
    ("http://127.0.0.1:8000", None),
    ("http://[::1]:8000", None),
    ("http://api.localhost", None),
    ("http://cognee.lan:8000", "cognee.lan"),
    ("http://10.0.0.5", "10.0.0.5"),
    ("http://[fe80::1]:80", "fe80::1"),
]


@pytest.mark.parametrize(("url", "host"), TRANSPORT)
def test_one_transport_rule_for_config_and_client(url: str, host: str | None) -> None:
    assert clear_text_host(url, allow_insecure=False) == host
    assert clear_text_host(url, allow_insecure=True) is None
    cfg = BackendConfig(name="cg", type="cognee", url=url, api_key_env="K")
    config = Config(backends=[cfg])
    if host is None:
        check_credentials(config, ENV)
        check_transport_security(cfg, has_credentials=True)
        return
    with pytest.raises(ConfigError, match=f"clear text to {host}"):
        check_credentials(config, ENV)
    with pytest.raises(InsecureTransportError, match=f"plain http to {host}"):
        check_transport_security(cfg, has_credentials=True)
