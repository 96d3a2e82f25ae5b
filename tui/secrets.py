"""Secrets in memory and their masking: one home for both.

`Secret` wraps a credential value so no repr or str ever shows it. `Redactor`
holds the secret values one backend knows and masks them, and credential-looking
JSON keys, in anything stored or shown. `is_secret_key` is the one pattern for
"this key holds a credential", used for server JSON and for the config file.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import urllib.parse
from collections import OrderedDict
from typing import Any

MASK = "***"


class Secret:
    """A credential value whose repr and str never show it.

    Not pydantic's SecretStr: no model field ever holds a value (the config holds
    variable NAMES), so a secret is only ever made here, from the environment, by
    tui.credentials; this keeps it a plain object with no validation to run.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__


# Token-looking keys in a JSON body: access_token, refresh_token, apiKey, secret, ...
_SECRET_KEY_RE = re.compile(
    r"(token|secret|password|passwd|api_?key|authorization|cookie|credential)s?$|^key$",
    re.IGNORECASE,
)
# Rotating tokens (a JWT minted every 8 minutes, login tokens): keep the last few.
_MAX_ROTATING = 8
# Strings found to hold no secret, remembered until the secrets change: a poll's
# answers repeat a few statuses thousands of times (bounded: a server decides).
_CLEAN_KEPT = 4096
_CLEAN_MAX_CHARS = 256
# Shorter values would mask ordinary words (or, for hooks, strip unrelated variables);
# real secrets are longer.
MIN_SECRET_LENGTH = 6


@functools.lru_cache(maxsize=65_536)  # every poll asks again about the same keys (IDs)
def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY_RE.search(key.replace("-", "_")))


def _base64_cores(value: bytes, alphabet: bytes | None) -> set[str]:
    """The base64 text that encodes `value` wherever it sits in a larger encoded blob.

    Base64 works in 3-byte groups, so a secret starting at byte offset 0, 1 or 2 of
    the blob has three spellings; for each, the characters that also carry
    neighbouring bytes are dropped, leaving what every such blob contains.
    """
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + value, altchars=alphabet).decode()
        start = (offset * 8 + 5) // 6  # first character made of secret bits only
        end = (offset + len(value)) * 8 // 6  # past the last such character
        cores.add(encoded[start:end])
    return cores


def encoded_variants(value: str) -> set[str]:
    """How a server may echo `value` back: as is, JSON-escaped (`\\/`, `\\uXXXX`),
    URL-encoded (`%2F`, `+` for space, either hex case) and base64 (standard or
    URL-safe alphabet, any alignment). Each is masked like the value itself."""
    variants = {value}
    for ascii_only in (True, False):
        escaped = json.dumps(value, ensure_ascii=ascii_only)[1:-1]
        variants.update((escaped, escaped.replace("/", "\\/")))
    for quoted in (urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)):
        variants.update((quoted, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quoted)))
    raw = value.encode()
    for alphabet in (None, b"-_"):
        variants.update(_base64_cores(raw, alphabet))
    return {v for v in variants if len(v) >= MIN_SECRET_LENGTH}


@functools.lru_cache(maxsize=64)  # a rotating token is added once, re-listed on every add
def _variants(value: str) -> frozenset[str]:
    return frozenset(encoded_variants(value))


class Redactor:
    """The secret values one backend knows, and the masking of them.

    Two nets: known secret values are replaced wherever they appear in text,
    and JSON keys that look like they hold credentials are blanked whatever
    their value (a server may echo a token we never saw). Each value is also
    known in the spellings a server may echo it in (`encoded_variants`), so the
    mask holds after every decoding step: in a raw body, in its decoded JSON
    strings, and in anything built from either.
    """

    def __init__(self) -> None:
        self._static: set[str] = set()
        self._rotating: OrderedDict[str, None] = OrderedDict()
        self._longest_first: tuple[str, ...] = ()  # every secret; see text()
        self._clean: set[str] = set()  # strings with no secret in them (_CLEAN_KEPT)

    def __repr__(self) -> str:
        return f"Redactor({len(self._static) + len(self._rotating)} secrets)"

    def add(self, value: str | None, *, rotating: bool = False) -> None:
        if not value or len(value) < MIN_SECRET_LENGTH:
            return
        if not rotating:
            self._static.add(value)
        else:
            self._rotating[value] = None
            self._rotating.move_to_end(value)
            while len(self._rotating) > _MAX_ROTATING:
                self._rotating.popitem(last=False)
        # Longest first, so a secret that contains another is masked whole.
        spellings = {v for s in (*self._static, *self._rotating) for v in _variants(s)}
        self._longest_first = tuple(sorted(spellings, key=len, reverse=True))
        self._clean.clear()  # found clean of the old secrets only

    def text(self, text: str) -> str:
        for secret in self._longest_first:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def json(self, value: Any) -> Any:
        """Parsed JSON with credential-looking keys and known secrets masked.

        Only what changes is copied: this walks every poll's whole answer, which
        mostly holds nothing to mask, and is then returned as it came.
        """
        if isinstance(value, str):
            return self._value_text(value) if self._longest_first else value
        if isinstance(value, dict):
            secrets = self._longest_first
            for key, item in value.items():
                if isinstance(key, str) and is_secret_key(key):
                    return self._masked_dict(value)
                if type(item) is str:  # most values: checked here, not by a call per value
                    if secrets and self._value_text(item) is not item:
                        return self._masked_dict(value)
                elif self.json(item) is not item:
                    return self._masked_dict(value)
            return value
        if isinstance(value, list):
            for item in value:
                if self.json(item) is not item:
                    return [self.json(item) for item in value]
            return value
        return value

    def _value_text(self, value: str) -> str:
        """`text(value)`, remembering the (short) strings found clean."""
        if value in self._clean:
            return value
        masked = self.text(value)
        if masked is value and type(value) is str and len(value) <= _CLEAN_MAX_CHARS:
            if len(self._clean) >= _CLEAN_KEPT:
                self._clean.clear()
            self._clean.add(value)
        return masked

    def _masked_dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        return {
            key: MASK if isinstance(key, str) and is_secret_key(key) else self.json(item)
            for key, item in value.items()
        }
