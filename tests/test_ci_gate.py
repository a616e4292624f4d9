"""The CI gate: under CI a skip fails, and a full run must contain every layer."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_LAYERS = """
import pytest

@pytest.mark.integration
def test_integration():
    pass

@pytest.mark.e2e
def test_e2e():
    pass
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess, in a scratch project, with the gate loaded."""
    pytester.makeini("[pytest]\nmarkers =\n    integration: x\n    e2e: x\ntestpaths = .\n")
    return pytester.runpytest_subprocess("-p", "tests.support.ci_gate", *args)


@pytest.fixture
def gate_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return monkeypatch


def test_ci_gate_turns_a_skip_into_a_failure_under_ci(pytester, gate_env):
    pytester.makepyfile(_LAYERS + "\ndef test_skips():\n    pytest.skip('no docker here')\n")
    gate_env.setenv("CI", "true")
    result = _run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*skipped under CI*no docker here*"])


def test_ci_gate_lets_a_skip_be_a_skip_outside_ci(pytester, gate_env):
    pytester.makepyfile(_LAYERS + "\ndef test_skips():\n    pytest.skip('no docker here')\n")
    gate_env.setenv("CI", "false")
    _run(pytester).assert_outcomes(passed=2, skipped=1)


def test_ci_gate_refuses_a_full_ci_run_without_a_layer(pytester, gate_env):
    pytester.makepyfile("import pytest\n\n@pytest.mark.integration\ndef test_only():\n    pass\n")
    gate_env.setenv("CI", "true")
    result = _run(pytester)
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*collected no e2e test*"])


def test_ci_gate_allows_a_narrowed_ci_run(pytester, gate_env):
    pytester.makepyfile("import pytest\n\n@pytest.mark.integration\ndef test_only():\n    pass\n")
    gate_env.setenv("CI", "true")
    _run(pytester, "-m", "integration").assert_outcomes(passed=1)
