"""Watching the config file for edits made outside dswatch, with one stat() a check."""

from __future__ import annotations

from pathlib import Path


def _stat_signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    # The inode changes on an atomic replace; ctime catches same-size edits within one mtime tick.
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


class ConfigWatcher:
    """Tells the app, with one stat() call, when the config file changed on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        self._seen = _stat_signature(self.path)

    def changed(self) -> bool:
        """True once per change (edit, replace, creation, deletion) since the last call."""
        current = _stat_signature(self.path)
        if current == self._seen:
            return False
        self._seen = current
        return True
