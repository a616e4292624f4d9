"""`python -m common.status` against a real ensemble: candidates in order, servers' roles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import wait_following, wait_for_leader

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_status_lists_the_leader_first_and_every_server_role(ensemble, spawn_worker) -> None:
    workers = spawn_worker("service1"), spawn_worker("service2")
    leader = wait_for_leader(workers, timeout=30)
    (follower,) = [w for w in workers if w is not leader]
    wait_following(follower, timeout=10)

    result = subprocess.run(
        [sys.executable, "-m", "common.status"],
        cwd=ROOT,
        env={
            **os.environ,
            "ZK_HOSTS": ensemble.connect_string(),
            "ELECTION_PATH": leader.env["ELECTION_PATH"],
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    roles = [line.split()[:3] for line in lines if line.lstrip().startswith(("leader", "cand"))]
    assert [(role, name) for role, _node, name in roles] == [
        ("leader", leader.name),
        ("candidate", follower.name),
    ]
    modes = sorted(line.split()[-1] for line in lines if line.startswith("  127.0.0.1:"))
    assert modes == ["follower", "follower", "leader"]
