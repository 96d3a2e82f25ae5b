"""Command-line options for the test suite."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak-seconds",
        type=float,
        default=20.0,
        metavar="N",
        help="how long tests/test_soak.py polls under faults (default 20; 60 or more for a "
        "real soak)",
    )
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the cognee_slow live tests (minutes long; see tests/live)",
    )
