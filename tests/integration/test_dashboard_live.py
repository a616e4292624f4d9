"""`python -m dashboard` against a real ensemble: what its event stream says, and when.

The page's news is the stream (/events); the browser tests (tests/e2e) read the page
itself. Here: a takeover reaches the stream within a second of the SIGTERM that caused
it, and a lost quorum is said (and the stream goes on, the ledger's units on its strip)
while two servers are down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.ensemble import free_ports
from testbed.processes import wait_until
from tests.integration.helpers import wait_following, wait_for_leader

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PUSHED_WITHIN_S = 1.0


class Stream:
    """The dashboard's /events, read in a thread: each state with its arrival time."""

    def __init__(self, port: int) -> None:
        self.states: list[tuple[float, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/events", timeout=30)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._answer:
                if line.startswith(b"data: "):
                    with self._lock:
                        self.states.append((time.time(), json.loads(line[6:])))
        except (OSError, ValueError):
            return  # closed by the test, or by the dashboard's exit

    def after(self, t: float) -> list[tuple[float, dict[str, Any]]]:
        with self._lock:
            return [(at, state) for at, state in self.states if at > t]

    def close(self) -> None:
        self._answer.close()


@pytest.fixture
def dashboard(ensemble, election_path) -> Iterator[int]:
    (port,) = free_ports(1)
    child = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "--port", str(port)],
        cwd=ROOT,
        env={
            **os.environ,
            "ZK_HOSTS": ensemble.connect_string(),
            "ELECTION_PATH": election_path,
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: _answers(port), timeout=20, interval=0.1, message="the dashboard serving"
        )
        yield port
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            code = child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            code = child.wait(timeout=5)
        _, err = child.communicate(timeout=5)
        assert code == 0, err


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
            return True
    except OSError:
        return False


def _leader(state: dict[str, Any]) -> str | None:
    return state["leader"]["identity"] if state["leader"] else None


def test_dashboard_pushes_a_takeover_within_a_second(
    ensemble, spawn_worker, dashboard, measure
) -> None:
    workers = spawn_worker("service1", name="w0"), spawn_worker("service2", name="w1")
    leader = wait_for_leader(workers, timeout=30)
    (follower,) = [w for w in workers if w is not leader]
    wait_following(follower, timeout=10)
    stream = Stream(dashboard)
    try:
        wait_until(
            lambda: any(_leader(s) == leader.name for _, s in stream.after(0)),
            timeout=10,
            message="the stream naming the leader",
        )
        signalled = time.time()
        leader.signal(signal.SIGTERM)
        at, state = wait_until(
            lambda: next(
                ((a, s) for a, s in stream.after(signalled) if _leader(s) == follower.name), None
            ),
            timeout=10,
            message=f"the stream naming {follower.name}",
        )
        measure("dashboard: SIGTERM to the leader -> the new leader in the stream", at - signalled)
        assert at - signalled < PUSHED_WITHIN_S
        assert state["leader"]["token"] != "" and state["may_work"] is True
        assert any(c["text"].startswith(f"leader {leader.name} -> ") for c in state["changes"])
    finally:
        stream.close()


def test_dashboard_says_no_quorum_and_keeps_streaming(
    ensemble, spawn_worker, dashboard, measure
) -> None:
    workers = spawn_worker("service1", name="w0"), spawn_worker("service2", name="w1")
    wait_for_leader(workers, timeout=30)
    stream = Stream(dashboard)
    try:
        # The strip is the ledger's: one mark per unit recorded.
        wait_until(
            lambda: any(s["work"]["source"] == "ledger" for _, s in stream.after(0)),
            timeout=10,
            message="a first state with the ledger's units",
        )
        leader = ensemble.leader()
        follower = next(s for s in ensemble.servers if s is not leader)
        down = time.time()
        leader.kill()
        follower.kill()
        at, state = wait_until(
            lambda: next(
                ((a, s) for a, s in stream.after(down) if s["quorum"]["has"] is False), None
            ),
            timeout=10,
            message="the stream saying there is no quorum",
        )
        measure("dashboard: two servers killed -> 'no quorum' in the stream", at - down)
        assert at - down < 3.0  # one round of srvr questions (every 1 s, 2 s timeout)
        assert state["may_work"] is False and state["why_not"] == "no quorum"
        # The units seen before stay on the strip, and the silence is the quorum's.
        newest = max(u["seq"] for u in state["work"]["units"])
        assert state["work"]["source"] == "ledger"
        wait_until(
            lambda: any(
                x["reason"] == "no quorum"
                for _, s in stream.after(at)
                for x in s["work"]["silences"]
            ),
            timeout=10,
            message="the strip measuring a silence for want of a quorum",
        )
        ensemble.restart_missing(timeout=60)
        wait_until(
            lambda: any(s["quorum"]["has"] and s["may_work"] for _, s in stream.after(down)),
            timeout=60,
            message="the stream saying the quorum is back and someone leads",
        )
        wait_until(
            lambda: any(
                u["seq"] > newest and not u["refused"]
                for _, s in stream.after(down)
                for u in s["work"]["units"]
            ),
            timeout=30,
            message="new units on the strip once the quorum is back",
        )
    finally:
        stream.close()
