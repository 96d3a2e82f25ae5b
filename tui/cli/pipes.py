"""Output to a pipe whose reader may leave early (`dswatch status | head -1`).

A reader that went away is not an error of ours: the command stops writing,
exits with the code it would have had, and prints no traceback.
"""

from __future__ import annotations

import os
from typing import TextIO


class ReaderGone(Exception):
    """The reader of stdout (or stderr) closed the pipe."""


def write_out(text: str, *, stream: TextIO) -> None:
    """Write and flush `text`; a closed pipe raises ReaderGone, after pointing the
    stream at /dev/null so the interpreter's own flush at exit stays quiet too."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        silence(stream)
        raise ReaderGone from None


def silence(stream: TextIO) -> None:
    """Point `stream`'s file descriptor at /dev/null (the way out of a broken pipe
    Python's docs give, so no "Exception ignored" follows at exit)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real descriptor (tests capture)
        pass
