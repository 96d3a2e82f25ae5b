"""Credentials as the two real backends check them.

Visual Layer: the client signs its own HS256 JWT with the API secret (header
kid = API key; claims sub, iat, exp, iss="sdk"); no credentials configured
means an on-prem install that checks nothing. Cognee: a JWT from
POST /auth/login (fastapi-users style, expiring), a non-expiring API key in
X-Api-Key, or the same JWT in the `auth_token` cookie. Every Cognee refusal is
the one 401 a real 1.6.5 server sends (docs/cognee-real-server.md).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import Request

from .responses import ApiError, detail
from .world import SimClock

_BEARER = {"WWW-Authenticate": "Bearer"}
# What a real Cognee 1.6.5 answers to every refused request on /api/v1 (no credentials,
# a garbage or expired JWT, a wrong API key, an API key sent as Bearer): the same 401, no
# WWW-Authenticate header. The parenthesis is the server's "auth posture".
COGNEE_POSTURE_DEFAULT = "default (no env vars set)"
COGNEE_UNAUTHORIZED = (
    "Authentication required (auth posture: {posture}). For single-user local use, set "
    "ENABLE_BACKEND_ACCESS_CONTROL=false and restart. To keep authentication and log in "
    "instead, set DEFAULT_USER_PASSWORD to make the default account loginable — see "
    "docs/minimal-docker-compose.md."
)


def _unauthorized(message: str) -> ApiError:
    error = detail(401, message)
    error.headers = dict(_BEARER)
    return error


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""
    return token.strip()


class VlAuth:
    """Checks client-signed Visual Layer JWTs against the configured key and secret."""

    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.credentials = credentials

    def check(self, request: Request) -> None:
        if self.credentials is None:
            return  # on-prem: no authentication
        api_key, api_secret = self.credentials
        token = _bearer_token(request)
        if token is None:
            raise _unauthorized("Not authenticated")
        if not token:
            raise _unauthorized("Invalid authentication credentials")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _unauthorized("Could not validate credentials: malformed token") from None
        if header.get("kid") != api_key:
            raise _unauthorized("Could not validate credentials: unknown API key")
        try:
            # The client signs with its own clock, so expiry is real time.
            claims = jwt.decode(
                token,
                api_secret,
                algorithms=["HS256"],
                issuer="sdk",
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("Token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise _unauthorized(f"Could not validate credentials: {exc}") from None
        if claims.get("sub") != api_key:
            raise _unauthorized("Could not validate credentials: subject does not match key")


@dataclass(frozen=True, slots=True)
class CogneeApiKey:
    """One key of POST /api/v1/auth/api-keys: 64 hex digits, shown as its label."""

    key: str
    name: str | None
    id: str

    @property
    def label(self) -> str:
        return self.key[:8] + "****"

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "name": self.name, "id": self.id}


class CogneeAuth:
    """Cognee's three ways in, with tokens that expire on the simulator's clock."""

    AUDIENCE = "fastapi-users:auth"

    def __init__(
        self,
        *,
        enabled: bool,
        user: tuple[str, str],
        user_id: str,
        lifetime: float,
        clock: SimClock,
        rng: random.Random,
    ) -> None:
        self.enabled = enabled
        self.email, self.password = user
        self.user_id = user_id
        self.lifetime = lifetime
        self.clock = clock
        self._rng = rng
        self._secret = f"dswatch-sim-{rng.getrandbits(256):064x}"
        self.api_keys: dict[str, CogneeApiKey] = {}
        self.posture = COGNEE_POSTURE_DEFAULT
        self.logins = 0  # successful logins (tests count re-logins)

    def login(self, username: str | None, password: str | None) -> str:
        # Wrong password, a missing field, a JSON body: all the same 400. The email is
        # matched case-insensitively.
        if (
            username is None
            or username.casefold() != self.email.casefold()
            or password != self.password
        ):
            raise detail(400, "LOGIN_BAD_CREDENTIALS")
        self.logins += 1
        return self.issue_token()

    def issue_token(self) -> str:
        # Expiry is on the simulator's clock so a fake clock can expire it.
        claims: dict[str, Any] = {
            "sub": self.user_id,
            "aud": [self.AUDIENCE],
            "exp": self.clock.wall() + self.lifetime,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def create_api_key(self, name: str | None = None) -> CogneeApiKey:
        key = f"{self._rng.getrandbits(256):064x}"
        api_key = CogneeApiKey(key, name, str(uuid.UUID(int=self._rng.getrandbits(128), version=4)))
        self.api_keys[key] = api_key
        return api_key

    def unauthorized(self) -> ApiError:
        return detail(401, COGNEE_UNAUTHORIZED.format(posture=self.posture))

    def _token_valid(self, token: str) -> bool:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=self.AUDIENCE,
                options={"verify_exp": False},
            )
        except jwt.InvalidTokenError:
            return False
        exp = claims.get("exp")
        return (
            claims.get("sub") == self.user_id
            and isinstance(exp, int | float)
            and exp > self.clock.wall()
        )

    def check(self, request: Request) -> None:
        if not self.enabled:
            return  # ENABLE_BACKEND_ACCESS_CONTROL=false: everyone is the default user
        api_key = request.headers.get("x-api-key")
        token = _bearer_token(request)
        cookie = request.cookies.get("auth_token")
        # Like fastapi-users: each transport is tried in turn; any valid one wins.
        if api_key and api_key in self.api_keys:
            return
        if token and self._token_valid(token):
            return
        if cookie and self._token_valid(cookie):
            return
        # Missing, garbage, expired, an API key as Bearer: one answer for all.
        raise self.unauthorized()
