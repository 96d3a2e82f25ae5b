"""dswatch: watch dataset processing on remote backends, live, in one terminal grid."""

__version__ = "0.1.0"
