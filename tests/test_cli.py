"""E10 bad input, end to end: the real process, a bad setting, exit 2 and one line.

No ZooKeeper needed: validation happens before anything connects. Runs the service
modules exactly as their containers do.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testbed.processes import REPO_ROOT

# Good values for everything, so each case has exactly one bad setting; the hosts are
# never dialled, because a bad setting stops the worker before it connects.
_GOOD = {
    "ZK_HOSTS": "127.0.0.1:1",
    "SERVICE_NAME": "cli-test",
    "ELECTION_PATH": "/cli-test",
    "ZK_SESSION_TIMEOUT_S": "4",
    "TICK_INTERVAL_S": "1",
    "LOG_FORMAT": "json",
}

BAD_SETTINGS = [
    ("ZK_SESSION_TIMEOUT_S", "abc"),
    ("ZK_SESSION_TIMEOUT_S", "-1"),
    ("ZK_HOSTS", ""),
    ("ELECTION_PATH", "relative"),
    ("TICK_INTERVAL_S", "0"),
    ("LOG_FORMAT", "xml"),
]


def _run(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=20,
    )


@pytest.mark.parametrize("module", ["service1", "service2"])
@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS, ids=[f"{n}={v}" for n, v in BAD_SETTINGS])
def test_cli_bad_setting_exits_2_with_one_line(module: str, name: str, value: str) -> None:
    result = _run(module, {**_GOOD, name: value})
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"stderr should be one line, got {len(lines)}: {result.stderr!r}"
    (line,) = lines
    assert name in line, f"the message does not name {name}: {line!r}"
    assert repr(value) in line or (value and value in line), f"no value {value!r} in: {line!r}"


def test_cli_every_bad_setting_named_in_one_line() -> None:
    """Two bad settings at once: both named, still one line (a user fixes both at once)."""
    result = _run("service1", {**_GOOD, "LOG_FORMAT": "xml", "TICK_INTERVAL_S": "0"})
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "LOG_FORMAT" in line and "TICK_INTERVAL_S" in line
