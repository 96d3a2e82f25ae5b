"""dswatch's own widgets."""

from .grid import DatasetGrid

__all__ = ["DatasetGrid"]
