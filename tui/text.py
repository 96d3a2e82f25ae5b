"""Make server text safe to show in one terminal cell.

Everything a backend sends (names, statuses, error messages) is shown
literally: terminal escape sequences must never reach the terminal (a dataset
called `\\x1b[2J` would clear the screen, an OSC 52 sequence could write the
clipboard), and Rich markup is never parsed, so `[bold red]x[/]` stays as typed
as long as callers build `Segment`s/`Text` from the plain string.
"""

from __future__ import annotations

import re

from rich.cells import cell_len, set_cell_size

ELLIPSIS = "…"

# Whole escape sequences are removed (they are formatting, not content):
# OSC / DCS / SOS / PM / APC strings up to BEL or ST (or the end when
# unterminated), CSI sequences, and other ESC sequences. 8-bit C1 controls are
# not treated as introducers (in decoded text they are mostly mojibake): they
# are replaced one by one below, which makes them just as inert.
_SEQUENCE = re.compile(
    r"""
      \x1b[\]PX^_] [^\x07\x1b]* (?:\x07|\x1b\\)?
    | \x1b\[ [0-?]* [ -/]* [@-~]?
    | \x1b [ -/]* [0-~]?
    """,
    re.VERBOSE,
)
# Layout characters become spaces: a cell is one line.
_BLANKS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]")
# Bidi overrides/isolates can reorder the rest of the line in terminals that do
# bidi; RTL letters themselves are kept.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
# Any other control character is shown as a visible placeholder.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _placeholder(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures": ␀ … ␛ …
    return "␡" if code == 0x7F else "�"


def sanitize(text: str, *, max_len: int | None = None) -> str:
    """Return `text` as one line with no control characters or escape sequences.

    `max_len` caps the result in characters (ending with `…` when cut); the
    input is pre-cut too, so a megabyte of server text costs no more than a
    short one.
    """
    if text.isprintable() and (max_len is None or len(text) <= max_len):
        return text  # the common case, and hot: nothing to do
    if max_len is not None:
        text = text[: max_len * 4 + 64]
    if text.isprintable():
        cleaned = text
    else:
        cleaned = _SEQUENCE.sub("", text)
        cleaned = _BLANKS.sub(" ", cleaned)
        cleaned = _BIDI.sub("", cleaned)
        cleaned = _CONTROL.sub(_placeholder, cleaned)
    if max_len is not None and len(cleaned) > max_len:
        cleaned = cleaned[: max(max_len - 1, 0)] + ELLIPSIS if max_len > 0 else ""
    return cleaned


def sanitize_lines(text: str, *, max_len: int | None = None) -> str:
    """Like `sanitize`, but keeps the line breaks of a multi-line text (each line
    is sanitized; `max_len` caps the whole text)."""
    if max_len is not None and len(text) > max_len:
        text = text[: max(max_len - 1, 0)] + ELLIPSIS
    if text.isprintable():
        return text
    return "\n".join(sanitize(line) for line in text.splitlines())


def fit(text: str, width: int) -> str:
    """Truncate `text` to at most `width` terminal cells, ending with `…` when cut.

    Cell widths come from Rich (wide CJK and emoji count 2, combining marks 0);
    a wide character that would straddle the edge is dropped rather than split.
    The result is not padded.
    """
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    # set_cell_size pads a split wide character with a space: drop that pad.
    return set_cell_size(text, width - 1).rstrip(" ") + ELLIPSIS
