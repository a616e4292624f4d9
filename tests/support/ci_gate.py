"""A pytest plugin: under CI (env CI set), a skip is a failure and every layer must run.

``require()`` already fails instead of skipping under CI; this gate catches every other
way a test can skip quietly (a ``pytest.skip`` added later, a skip marker, a fixture
that skips) and a run that collected no test of a layer at all, so a green CI always
means every layer ran. Registered by tests/conftest.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import in_ci

# The layers a full CI run must contain, by marker; unit tests have none.
LAYERS = ("integration", "e2e")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which counts as a failure: {reason}"
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not in_ci() or _narrowed(config):
        return
    missing = [m for m in LAYERS if not any(item.get_closest_marker(m) for item in items)]
    if missing:
        raise pytest.UsageError(
            f"CI run collected no {' and no '.join(missing)} test: every layer must run"
        )


def _narrowed(config: pytest.Config) -> bool:
    """True when the run was asked for a subset: -m, -k, or paths on the command line."""
    return bool(
        config.getoption("markexpr")
        or config.getoption("keyword")
        or config.args_source is pytest.Config.ArgsSource.ARGS
    )
