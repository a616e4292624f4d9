"""The soak's plan and judge, pure logic: the leaderless-bound check flags what it
should, so a clean soak (tests/integration/test_soak.py, ``make soak``) means something.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from soak.judge import Bounds, Incident, leaderless_gaps
from soak.plan import SoakConfig, plan
from soak.run import clock_jump
from testbed.checker import Tick

SEED = 20261126
CONFIG = SoakConfig(minutes=1.5, seed=SEED)
BOUNDS = Bounds.of(CONFIG)
T0 = 1_800_000_000.0


def test_soak_plan_is_reproducible_from_the_seed() -> None:
    assert plan(CONFIG) == plan(SoakConfig(minutes=1.5, seed=SEED))
    assert plan(CONFIG) != plan(SoakConfig(minutes=1.5, seed=SEED + 1))
    kinds = {fault.kind for fault in plan(SoakConfig(minutes=10, seed=SEED))}
    assert kinds == {
        "term",
        "kill",
        "freeze",
        "cut",
        "depose",
        "resign",
        "server_kill",
        "quorum_loss",
        "storm",
        "squat",
    }


def test_soak_judge_a_depose_allows_a_handoff_then_no_more() -> None:
    depose = Incident("depose", "w1", T0 + 10.2, T0 + 10.2)
    on_time = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w2", T0 + 10.5, T0 + 20)
    late = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w2", T0 + 10.2 + BOUNDS.handoff_s + 1, T0 + 20)
    incidents = [Incident("startup", "all", T0), depose]
    assert _gaps(on_time, incidents, T0 + 20) == []
    (gap,) = _gaps(late, incidents, T0 + 20)
    assert gap.excess == pytest.approx(1.0, abs=0.01), gap


def _ticks(service: str, start: float, end: float, every: float = 0.5) -> list[Tick]:
    count = int((end - start) / every) + 1
    return [Tick(service, start + i * every, 1) for i in range(count)]


def _gaps(ticks: list[Tick], incidents: list[Incident], end: float):
    return leaderless_gaps(ticks, incidents, BOUNDS, 0.5, T0, end)


def test_soak_judge_flags_a_gap_no_fault_explains() -> None:
    ticks = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w1", T0 + 14, T0 + 20)
    (gap,) = _gaps(ticks, [Incident("startup", "all", T0)], T0 + 20)
    assert gap.allowed_until is None and gap.excess > 2


def test_soak_judge_a_follower_fault_excuses_nothing() -> None:
    ticks = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w1", T0 + 14, T0 + 20)
    freeze = Incident("freeze", "w2", T0 + 9, T0 + 15)
    (gap,) = _gaps(ticks, [Incident("startup", "all", T0), freeze], T0 + 20)
    assert gap.allowed_until is None, gap


def test_soak_judge_a_leader_kill_allows_expiry_then_no_more() -> None:
    kill = Incident("kill", "w1", T0 + 10.2, T0 + 11)
    allowed = T0 + 10.2 + BOUNDS.expiry_s + BOUNDS.watch_s
    on_time = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w2", allowed - 0.5, T0 + 30)
    late = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w2", allowed + 2, T0 + 30)
    incidents = [Incident("startup", "all", T0), kill]
    (gap,) = _gaps(on_time, incidents, T0 + 30)
    assert gap.excess <= 0, gap
    (gap,) = _gaps(late, incidents, T0 + 30)
    assert gap.excess == pytest.approx(2.0, abs=0.01), gap


def test_soak_judge_a_quorum_loss_pushes_session_expiry_back() -> None:
    """A leader killed while the ensemble has no quorum: its session expires S + T after
    quorum returns (the new ZooKeeper leader renews every session), not after the kill."""
    kill = Incident("kill", "w1", T0 + 10.2, T0 + 11)
    outage = Incident("no_quorum", "ensemble", T0 + 10.5, T0 + 20)
    takeover = T0 + 20 + BOUNDS.expiry_s + 1.0
    ticks = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w2", takeover, T0 + 40)
    (gap,) = _gaps(ticks, [Incident("startup", "all", T0), kill, outage], T0 + 40)
    assert gap.excess <= 0, gap


def test_soak_judge_a_clock_stall_explains_its_own_gap_and_no_more() -> None:
    """A steady leader, then the wall clock jumps 5 s (the machine paused): the hole in
    the ticks is the stall's, allowed until it ends plus the slowest recovery."""
    stall = Incident("stall", "machine", T0 + 10.1, T0 + 15.1)
    after = max(BOUNDS.reconnect_s, BOUNDS.expiry_s + BOUNDS.watch_s, BOUNDS.startup_s)
    paused = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w1", T0 + 15.2, T0 + 30)
    startup = Incident("startup", "all", T0)
    (gap,) = _gaps(paused, [startup], T0 + 30)
    assert gap.allowed_until is None, gap  # the judge without the stall: unexplained
    (gap,) = _gaps(paused, [startup, stall], T0 + 30)
    assert gap.excess < 0, gap
    late = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w1", T0 + 15.1 + after + 1, T0 + 40)
    (gap,) = _gaps(late, [startup, stall], T0 + 40)
    assert gap.excess == pytest.approx(1.0, abs=0.01), gap


def test_soak_judge_a_clock_stall_stretches_the_bounds_it_overlaps_by_its_length() -> None:
    """Quorum lost for 20 s with a 3 s stall inside: the election may resume 3 s later
    than quorum's return alone allows; a stall after the stretch stretches nothing."""
    outage = Incident("no_quorum", "ensemble", T0 + 10.0, T0 + 30.0)
    allowed = outage.end + BOUNDS.reconnect_s
    ticks = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w1", allowed + 2.0, T0 + 60)
    incidents = [Incident("startup", "all", T0), outage]
    (gap,) = _gaps(ticks, incidents, T0 + 60)
    assert gap.excess == pytest.approx(2.0, abs=0.01), gap
    inside = Incident("stall", "machine", T0 + 12.0, T0 + 15.0)
    (gap,) = _gaps(ticks, [*incidents, inside], T0 + 60)
    assert gap.allowed_until == pytest.approx(allowed + 3.0), gap
    assert gap.excess == pytest.approx(-1.0, abs=0.01), gap
    after = Incident("stall", "machine", allowed + 10.0, allowed + 13.0)
    (gap,) = _gaps(ticks, [*incidents, after], T0 + 60)
    assert gap.excess == pytest.approx(2.0, abs=0.01), gap


def test_soak_clock_jump_tells_a_stop_from_a_step() -> None:
    assert clock_jump((100.0, 100.3), (5.0, 5.3), 0.1) is None
    stopped = clock_jump((100.0, 105.1), (5.0, 10.1), 0.1)
    assert stopped is not None
    incident, text = stopped
    assert (incident.kind, incident.start, incident.end) == ("stall", 100.1, 105.1)
    assert "5.0 s lost" in text and "the runner was stopped" in text
    stepped = clock_jump((100.0, 103.1), (5.0, 5.1), 0.1)
    assert stepped is not None and "stepped" in stepped[1]
    assert clock_jump((100.0, 98.0), (5.0, 5.1), 0.1) is None  # back steps: not a stall


def test_soak_clock_watch_sees_its_process_stopped() -> None:
    """The runner's watch in a process of its own, SIGSTOPped for 1.5 s: one stall."""
    script = (
        "import json, sys\n"
        "from soak.judge import Timeline\n"
        "from soak.run import ClockWatch\n"
        "timeline = Timeline()\n"
        "watch = ClockWatch(timeline)\n"
        "watch.start()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
        "watch.stop()\n"
        "print(json.dumps([[i.kind, i.start, i.end] for i in timeline.incidents]))\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        child.send_signal(signal.SIGSTOP)
        time.sleep(1.5)
        child.send_signal(signal.SIGCONT)
        time.sleep(0.3)
        out, _ = child.communicate("", timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=5)
    lines = out.strip().splitlines()
    assert lines, out
    stalls = json.loads(lines[-1])
    assert stalls, out
    (kind, start, end), *more = stalls
    assert kind == "stall" and more == [], out
    assert 1.2 <= end - start <= 3.0, out
