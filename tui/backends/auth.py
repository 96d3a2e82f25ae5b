"""Credentials: resolved from environment variables, kept in memory, sent by httpx.Auth flows.

The config names environment variables, never values; `tui.credentials`
decides which kind of credentials a backend uses. Each backend gets one
`httpx.Auth` built from that (or None: no Authorization header at all). The flows renew a
credential once after a 401 and then give up for that request, so a refused
poll costs at most two requests (plus a login) and the poller sees the 401.

Secret values are wrapped in `Secret` (masked repr) and registered with the
backend's `Redactor`, which masks them in anything stored or shown.

A little over 400 lines: five flows that share one contract (CredentialsError,
one renewal after a 401); split apart, that contract would be read in pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import time
import warnings
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any

import httpx

from ..config import BackendConfig
from ..credentials import resolve_credentials
from ..secrets import MASK, Redactor, Secret

# What httpx.Auth flows yield: requests out, responses back.
Flow = Generator[httpx.Request, httpx.Response, None]
AsyncFlow = AsyncGenerator[httpx.Request, httpx.Response]


class CredentialsError(Exception):
    """Credentials could not be had, or a login was refused. The message holds no secret.

    `refused` is True when the user must fix something (missing variable,
    rejected password); False when the login endpoint itself was in trouble.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        refused: bool = True,
        unusable: bool = False,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.refused = refused
        self.unusable = unusable  # the config cannot work: nothing was sent
        self.kind = kind  # a Failure kind of its own ("command"), else derived


def _bearer(token: str) -> str:
    return f"Bearer {token}"


# ---------------------------------------------------------------- auth flows


class UnusableCredentials(httpx.Auth):
    """Configured credentials that cannot work: every request fails with the reason, unsent."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"UnusableCredentials({self.reason!r})"

    def auth_flow(self, request: httpx.Request) -> Flow:
        raise CredentialsError(self.reason, unusable=True)
        yield request  # pragma: no cover - makes this a generator


class ApiKeyAuth(httpx.Auth):
    """Cognee `X-Api-Key`: keys do not expire, so a 401 is final."""

    def __init__(self, key: Secret) -> None:
        self._key = key

    def __repr__(self) -> str:
        return f"ApiKeyAuth({MASK})"

    def auth_flow(self, request: httpx.Request) -> Flow:
        request.headers["X-Api-Key"] = self._key.reveal()
        yield request


class VisualLayerJwtAuth(httpx.Auth):
    """Visual Layer: HS256 JWTs signed here with the API secret (there is no token endpoint).

    A token lives 10 minutes; a new one is minted at 80% of that, and once
    more after a 401 (clock skew, a revoked token) before giving up.
    """

    LIFETIME = 600
    RENEW_AFTER = 0.8 * LIFETIME

    def __init__(
        self,
        api_key: Secret,
        api_secret: Secret,
        redactor: Redactor,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = api_key
        self._secret = api_secret
        self._redactor = redactor
        self._clock = clock
        self._token: str | None = None
        self._minted_at = 0.0
        self.minted = 0  # how many tokens were signed (tests, diagnostics)

    def __repr__(self) -> str:
        return f"VisualLayerJwtAuth(api_key={MASK}, minted={self.minted})"

    def mint(self) -> str:
        import jwt  # here, not at the top: only a Visual Layer key signs (~2 ms of every start)

        now = int(self._clock())
        key = self._key.reveal()
        claims = {"sub": key, "iat": now, "exp": now + self.LIFETIME, "iss": "sdk"}
        with warnings.catch_warnings():
            # The secret's length is Visual Layer's choice, not the user's: PyJWT's
            # advice (>= 32 bytes) is not actionable, and a warning would scribble
            # over the dashboard.
            warnings.simplefilter("ignore", getattr(jwt, "InsecureKeyLengthWarning", UserWarning))
            token = jwt.encode(
                claims,
                self._secret.reveal(),
                algorithm="HS256",
                headers={"typ": "JWT", "kid": key},
            )
        self._redactor.add(token, rotating=True)
        self._token, self._minted_at = token, now
        self.minted += 1
        return token

    def current(self) -> str:
        if self._token is None or self._clock() - self._minted_at >= self.RENEW_AFTER:
            return self.mint()
        return self._token

    def auth_flow(self, request: httpx.Request) -> Flow:
        request.headers["Authorization"] = _bearer(self.current())
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = _bearer(self.mint())
            yield request


class TokenSource:
    """Where a ready bearer token comes from."""

    async def token(self, *, stale: str | None = None) -> str:
        """The current token; a different one if possible when `stale` was refused."""
        raise NotImplementedError


class StaticToken(TokenSource):
    """A token from an environment variable: nothing to renew."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"StaticToken({MASK})"

    async def token(self, *, stale: str | None = None) -> str:
        return self._token.reveal()


class CommandToken(TokenSource):
    """A token printed by `token_command`; run at first use and again after a 401.

    The command runs in its own task, shielded from the request that asked
    for it: a slow command (an SSO helper) is not killed by one request's
    deadline, and concurrent requests wait for the same run.
    """

    TIMEOUT = 60.0  # s for the command; a hung helper must not hang renewals forever

    def __init__(self, command: str, redactor: Redactor) -> None:
        self._command = command
        self._redactor = redactor
        self._token: str | None = None
        self._run: asyncio.Task[str] | None = None
        self.runs = 0

    def __repr__(self) -> str:
        return f"CommandToken({self._command!r}, runs={self.runs})"

    async def token(self, *, stale: str | None = None) -> str:
        if self._token is not None and self._token != stale:
            return self._token
        if self._run is None or self._run.done():
            self._run = asyncio.create_task(self._execute())
            # Its outcome is read by whoever still waits; never "exception not retrieved".
            self._run.add_done_callback(lambda run: run.cancelled() or run.exception())
        return await asyncio.shield(self._run)

    async def _execute(self) -> str:
        self.runs += 1
        try:
            argv = shlex.split(self._command)
        except ValueError as exc:
            raise CredentialsError(
                f"token_command cannot be parsed: {exc}", kind="command"
            ) from None
        if not argv:
            raise CredentialsError("token_command is empty", kind="command")
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise CredentialsError(
                f"token_command could not start: {exc.strerror}", kind="command"
            ) from None
        try:
            async with asyncio.timeout(self.TIMEOUT):
                out, err = await process.communicate()
        except TimeoutError:
            raise CredentialsError(
                f"token_command gave no token within {self.TIMEOUT:g}s", kind="command"
            ) from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        lines = [line.strip() for line in out.decode("utf-8", "replace").splitlines()]
        token = next((line for line in lines if line), "")
        self._redactor.add(token, rotating=True)
        if process.returncode != 0:
            last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            reason = self._redactor.text(last[0])[:200]
            raise CredentialsError(
                f"token_command failed (exit {process.returncode}) {reason}", kind="command"
            )
        if not token:
            raise CredentialsError("token_command printed no token", kind="command")
        if any(c.isspace() or not c.isprintable() for c in token):
            raise CredentialsError(
                "token_command printed something that is not a token", kind="command"
            )
        self._token = token
        return token


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer` from a token source; asked once more after a 401."""

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"BearerAuth({self.source!r})"

    def sync_auth_flow(self, request: httpx.Request) -> Flow:
        raise NotImplementedError("dswatch backends use httpx.AsyncClient")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncFlow:
        token = await self.source.token()
        request.headers["Authorization"] = _bearer(token)
        response = yield request
        if response.status_code == 401:
            fresh = await self.source.token(stale=token)
            if fresh != token:  # a static token would be refused again: don't ask twice
                request.headers["Authorization"] = _bearer(fresh)
                yield request


class CogneeLoginAuth(httpx.Auth):
    """Cognee username/password: form login for a JWT, lazily, and again after a 401.

    The login request goes through the same flow (same client, same
    deadline). A lock makes concurrent requests share one login.
    """

    # Answers to a login that mean "these credentials are wrong".
    REFUSED = frozenset({400, 401, 403, 422})
    MAX_LOGIN_BODY = 64 * 1024

    def __init__(
        self, login_url: str, username: Secret, password: Secret, redactor: Redactor
    ) -> None:
        self._login_url = login_url
        self._username = username
        self._password = password
        self._redactor = redactor
        self._token: str | None = None
        self._failure: CredentialsError | None = None  # of the last login; None: it worked
        self._answered = 0  # logins answered so far (or failed on their answer)
        self._lock = asyncio.Lock()
        self.logins = 0

    def __repr__(self) -> str:
        return f"CogneeLoginAuth({self._login_url!r}, logins={self.logins})"

    def sync_auth_flow(self, request: httpx.Request) -> Flow:
        raise NotImplementedError("dswatch backends use httpx.AsyncClient")

    async def async_auth_flow(self, request: httpx.Request) -> AsyncFlow:
        token = self._token
        if token is None:
            tried = self._answered
            async with self._lock:
                if self._token is None:
                    self._share_failure_since(tried)
                    answer = yield self._login_request(request)
                    await self._accept_login(answer)
                token = self._token
        assert token is not None
        request.headers["Authorization"] = _bearer(token)
        tried = self._answered  # a login failing after this explains a 401 too
        response = yield request
        if response.status_code != 401:
            return
        async with self._lock:
            # Log in again unless another request did meanwhile (and got a token).
            if self._token in (token, None):
                self._share_failure_since(tried)
                answer = yield self._login_request(request)
                await self._accept_login(answer)
            token = self._token
        assert token is not None
        request.headers["Authorization"] = _bearer(token)
        yield request

    def _share_failure_since(self, tried: int) -> None:
        """A request that waited while another's login failed fails the same way.

        A poll sends several requests at once (statuses, names): each trying
        the same wrong password would multiply the refusals the server counts,
        and may lock the account. The next poll (or the user's refresh) tries again.
        """
        failure = self._failure
        if failure is not None and self._answered != tried:
            raise CredentialsError(
                str(failure), http_status=failure.http_status, refused=failure.refused
            )

    def _login_request(self, original: httpx.Request) -> httpx.Request:
        self.logins += 1
        headers = {"Accept": "application/json"}
        if "User-Agent" in original.headers:
            headers["User-Agent"] = original.headers["User-Agent"]
        form = {"username": self._username.reveal(), "password": self._password.reveal()}
        return httpx.Request("POST", self._login_url, data=form, headers=headers)

    async def _accept_login(self, response: httpx.Response) -> None:
        self._token = None
        self._answered += 1
        try:
            await self._read_login(response)
        except CredentialsError as exc:
            self._failure = exc
            raise
        self._failure = None

    async def _read_login(self, response: httpx.Response) -> None:
        status = response.status_code
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.MAX_LOGIN_BODY:
            raise CredentialsError(f"login answer too large ({length} bytes)", refused=False)
        await response.aread()
        payload = _json_or_none(response.content)
        if status in self.REFUSED:
            detail = payload.get("detail") if isinstance(payload, dict) else None
            said = f": {self._redactor.text(detail)[:120]}" if isinstance(detail, str) else ""
            raise CredentialsError(f"login refused (HTTP {status}{said})", http_status=status)
        if not 200 <= status < 300:
            raise CredentialsError(
                f"login failed: HTTP {status} {response.reason_phrase}".rstrip(),
                http_status=status,
                refused=False,
            )
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise CredentialsError("login answer has no access_token", refused=False)
        self._redactor.add(token, rotating=True)
        self._token = token


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


# ---------------------------------------------------------------- building


def backend_auth(
    cfg: BackendConfig, environ: Mapping[str, str], redactor: Redactor
) -> httpx.Auth | None:
    """The httpx flow for the credentials tui.credentials resolved; None: no header at all.

    An unusable configuration becomes a flow that fails every request unsent,
    with the reason, so each poll reports unauthorized and says what to fix.
    """
    resolved = resolve_credentials(cfg, environ)
    for secret in resolved.secrets:
        redactor.add(secret.reveal())
    match resolved.kind:
        case "unusable":
            # The fix goes with the reason: the grid and `status` show what to do.
            return UnusableCredentials(resolved.explained())
        case "signed_jwt":
            key, secret = resolved.secrets
            return VisualLayerJwtAuth(key, secret, redactor)
        case "api_key":
            return ApiKeyAuth(resolved.secrets[0])
        case "bearer_token":
            return BearerAuth(StaticToken(resolved.secrets[0]))
        case "command":
            return BearerAuth(CommandToken(resolved.command or "", redactor))
        case "login":
            username, password = resolved.secrets
            return CogneeLoginAuth(f"{cfg.url}/api/v1/auth/login", username, password, redactor)
    return None
