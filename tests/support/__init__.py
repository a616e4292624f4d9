"""What is pytest's own in the suite: the prerequisite gate and the CI gate.

``require(condition, message)`` (here) skips a test whose prerequisite is missing, or
fails it under CI; ``ci_gate`` is the pytest plugin that fails any other skip under CI.
The harness the tests drive (the real ensemble, the fault proxy, worker processes, the
tick-log checker, the Java candidates) is the ``testbed`` package at the repository
root, shared with the benchmark and the soak.
"""

from __future__ import annotations

import os

import pytest

_FALSE_WORDS = {"", "0", "false", "no", "off"}


def in_ci() -> bool:
    """True when the environment variable CI is set to something other than false."""
    return os.environ.get("CI", "").strip().lower() not in _FALSE_WORDS


def require(condition: object, message: str) -> None:
    """Skip the test when a prerequisite is missing, but fail it under CI.

    CI treats a skip as a failure it cannot explain; failing says why. ``message`` is
    one line with the command that installs the missing piece.
    """
    if condition:
        return

    if in_ci():
        pytest.fail(f"prerequisite missing under CI: {message}", pytrace=False)
    pytest.skip(message)
