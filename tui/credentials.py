"""Credentials: the one home of the rules about how a backend authenticates.

A backend's config names environment variables (never values). `resolve_credentials`
turns that config plus the environment into exactly one `Credentials`: signed
JWTs (Visual Layer key + secret), an API key (Cognee X-Api-Key), a bearer
token, a token command, a login (username/password), none, or unusable with
the reason and the fix. Everything else reads it:

- the config check (`tui.config.check_credentials`) reports `key_problems`,
  `variable_problems` and `insecure_transport` at their file lines;
- the httpx auth flows (`tui.backends.auth.backend_auth`) are built from it;
- the dashboard's hint (`credential_hint`) says what to fix.

`insecure_transport` is also the one https-or-loopback rule the HTTP client
enforces. No Textual, no httpx here; no message ever holds a secret value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from .secrets import Secret

if TYPE_CHECKING:
    from .config import BackendConfig

CredentialKind = Literal[
    "signed_jwt", "api_key", "bearer_token", "command", "login", "none", "unusable"
]

# Each way to authenticate, by the keys that make it up. A backend uses one.
METHOD_KEYS: tuple[tuple[str, ...], ...] = (
    ("api_key_env", "api_secret_env"),
    ("token_env",),
    ("token_command",),
    ("username_env", "password_env"),
)
ENV_KEYS = ("api_key_env", "api_secret_env", "token_env", "username_env", "password_env")
RETRY_COMMAND = "check the output of token_command, then press R to retry"
# The transport rule's fix, said by the config check and by the HTTP client's refusal.
INSECURE_TRANSPORT_FIX = (
    "use an https:// url, or set allow_insecure = true if that network is trusted"
)


@dataclass(frozen=True, slots=True)
class KeyProblem:
    """Why a backend's credentials cannot work, at the config key to fix. Names, no values."""

    key: str
    message: str
    fix: str


@dataclass(frozen=True)
class Credentials:
    """One backend's resolved credentials. Values are `Secret`s: no repr shows them."""

    kind: CredentialKind
    problem: str | None = None  # why unusable: "environment variable X is not set"
    fix: str | None = None  # what the user does about it
    key: str | None = None  # the config key the problem is at
    secrets: tuple[Secret, ...] = field(default=(), repr=False)  # in the method's key order
    command: str | None = None  # kind "command": the command line

    @property
    def usable(self) -> bool:
        return self.kind != "unusable"

    def explained(self) -> str:
        """Why unusable credentials cannot work and the fix, in one line (names, no values):
        what the dashboard's hint, each refused request and `status` say."""
        reason = self.problem or "credentials cannot be used"
        return f"{reason}: {self.fix}" if self.fix else reason


def sends_credentials(cfg: BackendConfig) -> bool:
    """Does the config ask for credentials to be sent (whether or not they resolve)?"""
    return any(set_keys(cfg, keys) for keys in METHOD_KEYS)


def set_keys(cfg: BackendConfig, keys: Iterable[str]) -> list[str]:
    return [key for key in keys if getattr(cfg, key)]


def _half_of_pair(cfg: BackendConfig, first: str, second: str) -> tuple[str, str] | None:
    """(the key that is set, the one that is missing) when only one of a pair is set."""
    written = set_keys(cfg, [first, second])
    if written == [first]:
        return first, second
    if written == [second]:
        return second, first
    return None


def key_problems(
    cfg: BackendConfig, line_of: Callable[[str], int] = lambda key: 0
) -> list[KeyProblem]:
    """The credential keys that do not make one coherent method for this backend type.

    `line_of` orders keys as the file has them, to point at the later one.
    """
    problems: list[KeyProblem] = []
    if cfg.type == "visual_layer" and (pair := _half_of_pair(cfg, "api_key_env", "api_secret_env")):
        present, absent = pair
        message = f"Visual Layer tokens are signed with an API key and its secret: set {absent} too"
        problems.append(KeyProblem(present, message, f"set {absent} in the config"))
    if cfg.type == "cognee" and cfg.api_secret_env:
        message = "Cognee takes api_key_env alone (sent as X-Api-Key): drop this key"
        problems.append(KeyProblem("api_secret_env", message, "remove api_secret_env"))
    if login_pair := _half_of_pair(cfg, "username_env", "password_env"):
        present, absent = login_pair
        message = f"a login needs username_env and password_env: set {absent}"
        problems.append(KeyProblem(present, message, f"set {absent} in the config"))
    elif cfg.username_env and cfg.type != "cognee":
        message = "only Cognee logs in with a username and password"
        problems.append(KeyProblem("username_env", message, "use api_key_env and api_secret_env"))
    methods = [keys for keys in METHOD_KEYS if set_keys(cfg, keys)]
    if len(methods) > 1:
        # Name each method by its first key, in file order; point at the later one.
        named = sorted((set_keys(cfg, keys)[0] for keys in methods), key=line_of)
        message = f"{' and '.join(named)} are different ways to authenticate: keep one"
        problems.append(KeyProblem(named[-1], message, "keep one way to authenticate"))
    return problems


def variable_problems(cfg: BackendConfig, environ: Mapping[str, str]) -> list[KeyProblem]:
    """Every named environment variable that is unset or empty."""
    problems: list[KeyProblem] = []
    for key in ENV_KEYS:
        name = getattr(cfg, key)
        if not name:
            continue
        value = environ.get(name)
        if value is None or not value.strip():
            said = "is not set" if value is None else "is empty"
            fix = f"export {name}=..., then restart dswatch"
            problems.append(KeyProblem(key, f"environment variable {name} {said}", fix))
    return problems


def is_loopback_host(host: str) -> bool:
    """This machine: localhost names and loopback addresses (a DNS name could be anywhere)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def clear_text_host(url: str, *, allow_insecure: bool) -> str | None:
    """The host credentials sent to `url` would reach in clear text; None when they may go.

    The one transport rule: https, or plain http to this machine, or where the
    user allowed it (`allow_insecure`).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http" or allow_insecure or is_loopback_host(host):
        return None
    return host


def insecure_transport(cfg: BackendConfig) -> KeyProblem | None:
    """The transport rule as a config problem at `url` (only when credentials are sent)."""
    host = clear_text_host(cfg.url, allow_insecure=cfg.allow_insecure)
    if host is None or not sends_credentials(cfg):
        return None
    return KeyProblem(
        "url",
        f"credentials would travel in clear text to {host}: use https://,"
        " or set allow_insecure = true if this network is trusted",
        INSECURE_TRANSPORT_FIX,
    )


def resolve_credentials(cfg: BackendConfig, environ: Mapping[str, str]) -> Credentials:
    """The one credential kind this backend uses, or why it cannot use any."""
    for problem in (*key_problems(cfg), *variable_problems(cfg, environ)):
        return Credentials("unusable", problem.message, problem.fix, problem.key)

    def values(*keys: str) -> tuple[Secret, ...]:
        return tuple(Secret(environ[getattr(cfg, key)].strip()) for key in keys)

    if cfg.api_key_env and cfg.api_secret_env:
        return Credentials("signed_jwt", secrets=values("api_key_env", "api_secret_env"))
    if cfg.api_key_env:
        return Credentials("api_key", secrets=values("api_key_env"))
    if cfg.token_env:
        return Credentials("bearer_token", secrets=values("token_env"))
    if cfg.token_command:
        return Credentials("command", command=cfg.token_command)
    if cfg.username_env and cfg.password_env:
        return Credentials("login", secrets=values("username_env", "password_env"))
    return Credentials("none")


def credential_hint(cfg: BackendConfig, environ: Mapping[str, str]) -> str:
    """What to fix when a backend refuses us: env var names and a next step, never values."""
    resolved = resolve_credentials(cfg, environ)
    if not resolved.usable:
        return resolved.explained()
    if resolved.kind == "command":
        return RETRY_COMMAND
    if resolved.kind == "none":
        return (
            f"backend {cfg.name!r} has no credentials: set api_key_env (or token_env) in the config"
        )
    names = [getattr(cfg, key) for key in ENV_KEYS if getattr(cfg, key)]
    return "check " + " / ".join(f"${name}" for name in names)
