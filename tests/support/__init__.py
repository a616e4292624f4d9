"""Test harness shared by the integration tests, the soak test and the benchmark.

Import it as ``tests.support`` from the repository root (``python -m bench ...``; the
test suite's conftest puts the root on ``sys.path``). Modules:

``ensemble``  ``find_zookeeper()``, ``Ensemble``, ``Server``, ``four_letter()``,
              ``MISSING_MESSAGE``: a real ZooKeeper ensemble on loopback.
``proxy``     ``FaultProxy``: forward / drop / blackhole between client and servers.
``procs``     ``WorkerProcess``, ``wait_until()``, ``event_named()``: worker processes
              and polling with a deadline.
``checker``   ``Tick``, ``ticks_from_events()``, ``windows()``, ``violations()`` and
              queries: the E1 judge over tick logs (pure logic).

``require(condition, message)`` (here) is the prerequisite gate for every layer.
"""

from __future__ import annotations

import os

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
    import pytest  # only the test layers call this; the benchmark imports us without pytest

    if in_ci():
        pytest.fail(f"prerequisite missing under CI: {message}", pytrace=False)
    pytest.skip(message)
