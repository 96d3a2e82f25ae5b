"""Secrets in memory and their masking: one home for both.

`Secret` wraps a credential value so no repr or str ever shows it. `Redactor`
holds the secret values one backend knows and masks them, and credential-looking
JSON keys, in anything stored or shown. `is_secret_key` is the one pattern for
"this key holds a credential", used for server JSON and for the config file.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from typing import Any

MASK = "***"


class Secret:
    """A credential value whose repr and str never show it."""

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
# Shorter values would mask ordinary words; real secrets are longer.
_MIN_SECRET_LENGTH = 6


@functools.lru_cache(maxsize=65_536)  # every poll asks again about the same keys (IDs)
def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY_RE.search(key.replace("-", "_")))


class Redactor:
    """The secret values one backend knows, and the masking of them.

    Two nets: known secret values are replaced wherever they appear in text,
    and JSON keys that look like they hold credentials are blanked whatever
    their value (a server may echo a token we never saw).
    """

    def __init__(self) -> None:
        self._static: set[str] = set()
        self._rotating: OrderedDict[str, None] = OrderedDict()
        self._longest_first: tuple[str, ...] = ()  # every secret; see text()

    def __repr__(self) -> str:
        return f"Redactor({len(self._static) + len(self._rotating)} secrets)"

    def add(self, value: str | None, *, rotating: bool = False) -> None:
        if not value or len(value) < _MIN_SECRET_LENGTH:
            return
        if not rotating:
            self._static.add(value)
        else:
            self._rotating[value] = None
            self._rotating.move_to_end(value)
            while len(self._rotating) > _MAX_ROTATING:
                self._rotating.popitem(last=False)
        # Longest first, so a secret that contains another is masked whole.
        secrets = (*self._static, *self._rotating)
        self._longest_first = tuple(sorted(secrets, key=len, reverse=True))

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
            return self.text(value) if self._longest_first else value
        if isinstance(value, dict):
            for key, item in value.items():
                masked = MASK if isinstance(key, str) and is_secret_key(key) else self.json(item)
                if masked is not item:
                    return self._masked_dict(value)
            return value
        if isinstance(value, list):
            for item in value:
                if self.json(item) is not item:
                    return [self.json(item) for item in value]
            return value
        return value

    def _masked_dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        return {
            key: MASK if isinstance(key, str) and is_secret_key(key) else self.json(item)
            for key, item in value.items()
        }
