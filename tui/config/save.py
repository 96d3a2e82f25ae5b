"""Saving the config: read-modify-write under a lock, then an atomic compare-and-swap replace.

Two dswatch processes (`dswatch add` run in parallel, the dashboard and a
script) take turns through an advisory `flock` on a sibling lock file, so
no edit is lost. Editors that take no lock (vim, a script) are caught by the
check before the rename: the file is re-read, and the edit redone on their
content. A crash leaves the old file, or the new one, never half of each.

The lock file (`.config.toml.lock`) exists only while a save runs (or
after one was killed; the next save reuses it).

A save keeps the file's mode, owner and group, and refuses what it cannot
do faithfully: a read-only file, a file with hard links (the rename would
cut it off from them), a file it could not give back to its owner.
"""

from __future__ import annotations

import glob
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .errors import ConfigError
from .load import NEW_FILE_MODE, Snapshot, read_snapshot, validate_text

try:
    import fcntl
except ImportError:  # not POSIX: the compare-and-swap check alone guards edits
    fcntl = None  # type: ignore[assignment]

MAX_EDIT_ATTEMPTS = 5
NEW_DIR_MODE = 0o700
LOCK_WAIT = 10.0  # s to wait for another dswatch to finish its save (a save takes ms)
_LOCK_POLL = 0.02  # s between tries: flock has no timeout of its own
# An unlocked temp file this old is a leftover of a killed save by a dswatch
# that wrote no pid in the name (older versions), not one being written now.
_STALE_TEMP_SECONDS = 600.0
_BOM = "\ufeff"

_T = TypeVar("_T")


def edit_file(
    path: Path, edit: Callable[[str, Path], tuple[str, _T]], *, create: bool = False
) -> _T:
    """Apply `edit` (old text -> new text, result) to the file as it is now.

    The file is read under the lock right before the edit and checked right
    before the rename; if anyone changed it in between, the edit is redone
    on the new content, so their change is never lost.
    """
    shown = Path(path).expanduser()
    # Edit the file a symlink points to, not the link (dotfile managers use links).
    target = Path(os.path.realpath(shown))
    if create:
        target.parent.mkdir(mode=NEW_DIR_MODE, parents=True, exist_ok=True)
    with _locked(target, shown):
        _remove_stale_temps(target.parent, target.name)
        for _ in range(MAX_EDIT_ATTEMPTS):
            before = read_snapshot(target, missing_ok=create)
            new_text, result = edit(before.text, shown)  # raises ConfigError: nothing written
            if new_text == before.text:
                return result
            validate_text(new_text, shown)  # never write a file dswatch could not load
            _refuse_unfaithful_save(before, shown)
            try:
                replaced = _replace_if_unchanged(target, shown, new_text, before)
            except OSError as exc:
                raise ConfigError(shown, f"cannot save: {exc.strerror or exc}") from None
            if replaced:
                return result
    raise ConfigError(shown, "the file kept changing while dswatch was saving it; nothing saved")


def lock_path(target: Path) -> Path:
    return target.parent / f".{target.name}.lock"


@contextmanager
def _locked(target: Path, shown: Path) -> Iterator[None]:
    """Hold the advisory lock of `target`; the lock file exists only while someone saves.

    The holder removes the lock file before releasing it, so a waiter may
    end up locking a file that is gone: it checks, and tries again.
    """
    if fcntl is None:
        yield
        return
    lock = lock_path(target)
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        fd = _open_lock(lock, shown)
        try:
            _flock_until(fd, deadline, lock, shown)
            if _is_current(fd, lock):
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)  # releases the lock (so does our death: the kernel does it)


def _open_lock(lock: Path, shown: Path) -> int:
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, NEW_FILE_MODE)
    except OSError as exc:
        reason = exc.strerror or exc
        raise ConfigError(
            shown, f"cannot save: cannot open the lock file {lock}: {reason}"
        ) from None


def _flock_until(fd: int, deadline: float, lock: Path, shown: Path) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise ConfigError(
                    shown,
                    f"another program has been saving this file for {LOCK_WAIT:g}s"
                    f" (it holds {lock}); nothing saved: try again",
                ) from None
            time.sleep(_LOCK_POLL)


def _is_current(fd: int, lock: Path) -> bool:
    """Is the file we locked still the lock file (not removed by the holder before us)?"""
    try:
        st = lock.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _refuse_unfaithful_save(before: Snapshot, shown: Path) -> None:
    if not before.exists:
        return
    if not before.mode & stat.S_IWUSR:
        raise ConfigError(
            shown,
            f"is read-only (mode {before.mode:o}); nothing saved:"
            f" run chmod u+w {shown} to let dswatch edit it",
        )
    if before.links > 1:
        raise ConfigError(
            shown,
            f"has {before.links} hard links, and saving replaces the file, which would cut"
            " it off from the others; nothing saved: edit it by hand, or use a symlink",
        )


def _replace_if_unchanged(target: Path, shown: Path, text: str, before: Snapshot) -> bool:
    directory = target.parent
    data = ((_BOM if before.bom else "") + text).encode("utf-8")
    temp = _write_temp(directory, target.name, data, before.mode)
    try:
        if before.exists:
            _keep_owner(temp, before, shown)
        if not read_snapshot(target, missing_ok=True).same_file_as(before):
            temp.unlink()
            return False
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    return True


def _keep_owner(temp: Path, before: Snapshot, shown: Path) -> None:
    """Give the new file the old one's owner and group, or refuse the save."""
    st = temp.stat()
    if (st.st_uid, st.st_gid) == (before.uid, before.gid):
        return
    try:
        os.chown(temp, before.uid, before.gid)
    except PermissionError:
        raise ConfigError(
            shown,
            f"belongs to user {before.uid}, group {before.gid}; saving would make it yours;"
            " nothing saved: edit it as its owner",
        ) from None


def _temp_pattern(name: str) -> re.Pattern[str]:
    # .config.toml.<pid>.<random>.tmp: written by a save that held the lock.
    return re.compile(rf"\.{re.escape(name)}\.\d+\.[^.]+\.tmp")


def _remove_stale_temps(directory: Path, name: str) -> None:
    """Tidy up after saves killed between writing their temp file and the rename.

    Runs under the lock: a temp file named with a pid was written by a save
    that held it, so that save is over (killed), and the file is litter. An
    unlocked writer's temp file (no pid in the name) goes once it is old.
    """
    locked_writer = _temp_pattern(name)
    cutoff = time.time() - _STALE_TEMP_SECONDS
    for leftover in directory.glob(f".{glob.escape(name)}.*.tmp"):
        try:
            if leftover.is_file() and (
                (fcntl is not None and locked_writer.fullmatch(leftover.name))
                or leftover.stat().st_mtime < cutoff
            ):
                leftover.unlink()
        except OSError:
            pass  # someone else's problem to keep; the save itself can go on


def _write_temp(directory: Path, name: str, data: bytes, mode: int) -> Path:
    """A complete, synced copy of the new content next to the file it will replace."""
    prefix = f".{name}.{os.getpid()}."
    fd, temp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; some filesystems cannot, and that is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
