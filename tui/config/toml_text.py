"""TOML text before and around tomllib: size and nesting bounds, syntax errors, line numbers.

tomllib recurses once per nesting level and is quadratic in the parts of a
dotted key, so a hostile or broken file could raise RecursionError or take
seconds; `parse_toml` measures both first with one regex pass and refuses
such a file with an ordinary file:line ConfigError. tomllib gives no
positions, so `LineIndex` scans the accepted text to locate keys, once, the
first time a line is asked for: a config that loads fine never pays for it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, Loc

# A config file is a few KiB; refuse to slurp something that clearly is not one.
# Each explicitly listed dataset costs ~45 bytes (`    "<uuid>",` and a newline), so
# 8 MiB still holds ~180,000 IDs (50,000 take ~2.2 MB), and loading the largest
# accepted file stays well under a second (benchmarks/startup.py measures it).
MAX_CONFIG_BYTES = 8 << 20
_BOM = "\ufeff"  # some Windows editors start UTF-8 files with it; TOML does not allow it

# A dswatch config nests four levels deep; anything near this is not a config.
MAX_NESTING = 20  # open [ / { at once, and parts of one dotted key

# Strings and comments first (their brackets and dots do not count), then structure.
_TOKEN_RE = re.compile(
    r'"""(?:[^\\]|\\.)*?"""'
    r"|'''.*?'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'[^'\n]*'"
    r"|#[^\n]*"
    r"|[\[\]{}=.,\n]",
    re.DOTALL,
)


def too_large(path: Path, size: int) -> ConfigError:
    limit = MAX_CONFIG_BYTES >> 20
    return ConfigError(path, f"is {size / 1e6:.1f} MB; the limit is {limit} MiB for a config file")


def decode(data: bytes, path: Path) -> tuple[str, bool]:
    """The file's text (without a UTF-8 byte order mark) and whether it had one."""
    if len(data) > MAX_CONFIG_BYTES:
        raise too_large(path, len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(path, "is not UTF-8 text", line=line) from None
    if text.startswith(_BOM):
        return text[len(_BOM) :], True
    return text, False


def check_nesting(text: str, path: Path) -> None:
    """Refuse text nested deeper than MAX_NESTING, before tomllib sees it."""
    if text.count("[") + text.count("{") <= MAX_NESTING and text.count(".") < MAX_NESTING:
        return  # cannot nest deeper than it has brackets and dots: no scan (~2 µs a line)
    line = 1
    stack: list[str] = []  # open brackets; "h" for a [table] header's bracket
    in_key = True  # reading a key (dots separate its parts), not a value
    parts = 1
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        if token == "\n":
            line += 1
            if not stack or stack[-1] == "h":
                stack.clear()
                in_key, parts = True, 1
        elif token in "[{":
            if in_key and token == "[" and not stack:
                stack.append("h")  # [table] or [[array.of.tables]]
                continue
            if in_key and stack and stack[-1] == "h" and token == "[":
                continue  # the second [ of [[
            stack.append(token)
            if len(stack) > MAX_NESTING:
                raise _too_deep(path, line, "arrays or inline tables")
            in_key, parts = token == "{", 1
        elif token in "]}":
            if stack:
                stack.pop()
            in_key = False
        elif token == "=":
            in_key = False
        elif token == ",":
            in_key, parts = bool(stack) and stack[-1] == "{", 1
        elif token == "." and in_key:
            parts += 1
            if parts > MAX_NESTING:
                raise _too_deep(path, line, "parts in one dotted key")
        else:
            line += token.count("\n")  # a multi-line string


def _too_deep(path: Path, line: int, what: str) -> ConfigError:
    return ConfigError(
        path, f"nested too deeply: more than {MAX_NESTING} {what}; not a dswatch config", line=line
    )


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    check_nesting(text, path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, path) from None
    except RecursionError:  # a shape the bound above missed: still a config error
        raise ConfigError(path, "nested too deeply; not a dswatch config") from None


_POSITION_RE = re.compile(r" \(at line (\d+), column (\d+)\)$")
_AT_END = " (at end of document)"


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, path: Path) -> ConfigError:
    # Python 3.14 has lineno/colno attributes; 3.11-3.13 put the position in the text.
    message = getattr(exc, "msg", None) or str(exc)
    line: int | None = getattr(exc, "lineno", None)
    column: int | None = getattr(exc, "colno", None)
    if match := _POSITION_RE.search(message):
        line, column = int(match[1]), int(match[2])
        message = message[: match.start()]
    elif message.endswith(_AT_END):
        line = len(text.splitlines()) or 1
        message = message[: -len(_AT_END)] + " at the end of the file"
    return ConfigError(path, f"invalid TOML: {message}", line=line, column=column)


class LineIndex:
    """The line (1-based) of every table header, key and array item of a TOML text.

    tomllib gives no positions, so this scans the text once, character by
    character (~14 µs per listed dataset): only when a line is first asked
    for, i.e. when there is something to report. It understands just enough
    TOML to stay in step: strings (also multi-line), comments, nested
    brackets, dotted and quoted keys, `[[array.of.tables]]` counting. It only
    runs on text tomllib has already accepted.
    """

    def __init__(self, text: str) -> None:
        self._text: str | None = text  # None once scanned
        self._lines: dict[Loc, int] = {}
        self._table: Loc = ()
        self._aot_counts: dict[Loc, int] = {}
        self._value_stack: list[_ValueScan] = []  # arrays/inline tables being read
        self._in_multiline: str | None = None  # closing quotes of an open multi-line string

    def _scan(self, text: str) -> None:
        for number, line in enumerate(text.splitlines(), start=1):
            self._scan_line(line, number)

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest written parent (a missing key: its table)."""
        if self._text is not None:
            text, self._text = self._text, None
            self._scan(text)
        for end in range(len(loc), 0, -1):
            line = self._lines.get(loc[:end])
            if line is not None:
                return line
        return None

    def _record(self, loc: Loc, number: int) -> None:
        self._lines.setdefault(loc, number)

    def _scan_line(self, line: str, number: int) -> None:
        if self._in_multiline or self._value_stack:
            self._scan_value(line, 0, number)
            return
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            return
        if stripped.startswith("["):
            self._enter_table(stripped, number)
            return
        parts, after_equals = _parse_key(stripped, 0, "=")
        loc = self._table + tuple(parts)
        self._record(loc, number)
        self._scan_value(stripped, after_equals, number, loc)

    def _enter_table(self, header: str, number: int) -> None:
        is_array = header.startswith("[[")
        parts, _ = _parse_key(header, 2 if is_array else 1, "]")
        resolved: Loc = ()
        for position, part in enumerate(parts):
            resolved += (part,)
            names_new_element = is_array and position == len(parts) - 1
            if resolved in self._aot_counts and not names_new_element:
                # `[backends.x]` belongs to the last `[[backends]]` element so far.
                resolved += (self._aot_counts[resolved] - 1,)
        if is_array:
            count = self._aot_counts.get(resolved, 0)
            self._aot_counts[resolved] = count + 1
            self._record(resolved, number)
            resolved += (count,)
        self._table = resolved
        self._record(resolved, number)

    def _scan_value(self, line: str, start: int, number: int, loc: Loc | None = None) -> None:
        i = start
        while i < len(line):
            if self._in_multiline:
                i = self._skip_multiline(line, i)
                continue
            char = line[i]
            if char == "#":
                return
            if char in "\"'":
                self._note_item(number)
                if line.startswith(char * 3, i):
                    self._in_multiline = char * 3
                    i += 3
                else:
                    i = _skip_string(line, i)
                continue
            if char in "[{":
                self._note_item(number)
                item_loc = self._current_item_loc(loc)
                self._value_stack.append(_ValueScan(item_loc, is_array=char == "["))
            elif char in "]}":
                self._value_stack.pop()
            elif char == "," and self._value_stack:
                self._value_stack[-1].next_item()
            elif not char.isspace():
                self._note_item(number)  # a number, boolean or date
            i += 1

    def _skip_multiline(self, line: str, i: int) -> int:
        delimiter = self._in_multiline or ""
        while i < len(line):
            if delimiter == '"""' and line[i] == "\\":
                i += 2
                continue
            if line.startswith(delimiter, i):
                # Up to two quotes may end the content right before the delimiter.
                while line.startswith(delimiter, i + 1):
                    i += 1
                self._in_multiline = None
                return i + len(delimiter)
            i += 1
        return i

    def _note_item(self, number: int) -> None:
        """Record the line where the current array item starts."""
        if self._value_stack:
            scan = self._value_stack[-1]
            if scan.is_array and scan.awaiting_item and scan.loc is not None:
                self._record((*scan.loc, scan.index), number)
                scan.awaiting_item = False

    def _current_item_loc(self, loc: Loc | None) -> Loc | None:
        if not self._value_stack:
            return loc  # the value of the key on this line
        outer = self._value_stack[-1]
        if outer.is_array and outer.loc is not None:
            return (*outer.loc, outer.index)
        return None  # keys of inline tables are not indexed: their parent line is close enough


@dataclass
class _ValueScan:
    loc: Loc | None  # the key path of this array / inline table
    is_array: bool
    index: int = 0
    awaiting_item: bool = True

    def next_item(self) -> None:
        self.index += 1
        self.awaiting_item = True


def _skip_string(line: str, i: int) -> int:
    """Index just past the one-line string starting at line[i]."""
    quote = line[i]
    i += 1
    while i < len(line):
        if quote == '"' and line[i] == "\\":
            i += 2
            continue
        if line[i] == quote:
            return i + 1
        i += 1
    return i


def _parse_key(text: str, i: int, stop: str) -> tuple[list[str], int]:
    """Parse a (dotted, maybe quoted) key from text[i:] up to `stop`; return parts, end."""
    parts: list[str] = []
    while i < len(text):
        char = text[i]
        if char in " \t.":
            i += 1
        elif char == stop:
            return parts, i + 1
        elif char in "\"'":
            end = _skip_string(text, i)
            parts.append(text[i + 1 : end - 1])
            i = end
        else:
            end = i
            while end < len(text) and (text[end].isalnum() or text[end] in "_-"):
                end += 1
            if end == i:  # not a key character: step over it
                end += 1
            else:
                parts.append(text[i:end])
            i = end
    return parts, i
