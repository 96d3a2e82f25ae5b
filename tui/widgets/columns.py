"""The grid's columns: what they are, and how their widths fit a screen.

Which column gives up width first and which leaves the screen first when the
terminal is narrow lives here, apart from what the cells show (tui/widgets/cells.py).
No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str
    width: int  # starting (and minimum) width in cells
    max_width: int  # data can widen the column up to this; == width: fixed
    right: bool = False  # right-aligned (numbers)
    short: str = ""  # the header when the title does not fit (progress at 4 cells: `%`)


COLUMNS: tuple[Column, ...] = (
    Column("backend", "backend", 7, 16),  # see _SHRINKABLE
    Column("name", "name", 12, 36),
    Column("state", "state", 14, 14),
    Column("status", "status", 8, 28),  # DATASET_PROCESSING_COMPLETED fits
    Column("progress", "progress", 15, 15, short="%"),
    Column("images", "images", 10, 10, right=True),
    Column("videos", "videos", 10, 10, right=True),
    Column("objects", "objects", 10, 10, right=True),
    Column("pipelines", "pipelines", 11, 36),
    Column("eta", "eta", 9, 14),  # `~12m · 4m`, `stuck? 2h`: running rows only
    Column("updated", "updated", 9, 9, right=True),
    Column("stale", "stale", 9, 9),
)
COLUMN_KEYS: tuple[str, ...] = tuple(column.key for column in COLUMNS)
# When the columns do not fit the screen: first these give up width, in this
# order, down to these widths (enough for VL statuses, `add ✓ cognify ✓`, a
# readable name, seven-digit counts, a bare percentage)...
_SHRINKABLE: tuple[tuple[str, int], ...] = (
    ("status", 14),
    ("pipelines", 15),
    ("progress", 4),
    ("name", 20),
    ("backend", 12),  # `visual-layer` whole
    ("images", 9),
    ("videos", 9),
    ("objects", 9),
)
# ...then these leave the screen, in this order. State, name and stale never do.
_HIDE_FIRST: tuple[str, ...] = (
    "eta",
    "videos",
    "objects",
    "images",
    "pipelines",
    "status",
    "progress",
    "backend",
    "updated",
)
# Width left over after hiding goes back to these, in this order.
_GIVE_BACK: tuple[str, ...] = ("name", "progress", "status", "backend", "pipelines")
# On a screen too small even for that, the name shrinks to this.
_NAME_FLOOR = 8


def fit_widths(widths: list[int], available: int) -> list[int]:
    """Column widths (0: hidden) that fit `available` cells with gaps, or as close as allowed."""
    fitted = list(widths)
    if available <= 0:  # not laid out yet
        return fitted

    def excess() -> int:
        return sum(width + 1 for width in fitted if width) + 1 - available

    for key, floor in _SHRINKABLE:
        over = excess()
        if over <= 0:
            return fitted
        if key == "progress":
            # The eta column goes before the progress bar does (it is the first to go).
            fitted[COLUMN_KEYS.index("eta")] = 0
            over = excess()
            if over <= 0:
                break
        index = COLUMN_KEYS.index(key)
        fitted[index] -= max(0, min(over, fitted[index] - floor))
    for key in _HIDE_FIRST:
        if excess() <= 0:
            break
        fitted[COLUMN_KEYS.index(key)] = 0
    spare = -excess()
    for key in _GIVE_BACK:
        index = COLUMN_KEYS.index(key)
        if spare <= 0:
            break
        if fitted[index]:
            give = min(spare, widths[index] - fitted[index])
            fitted[index] += give
            spare -= give
    if spare < 0:
        name = COLUMN_KEYS.index("name")
        fitted[name] = max(_NAME_FLOOR, fitted[name] + spare)
    return fitted


# The last three columns (eta, updated, stale) change with the clock, not with
# the data, so the grid caches the rest of a row and splices these in.
AGE_COLUMNS = 3
STATIC_COLUMNS = len(COLUMNS) - AGE_COLUMNS
