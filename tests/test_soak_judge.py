"""The soak's plan and judge, pure logic: the leaderless-bound check flags what it
should, so a clean soak (tests/integration/test_soak.py, ``make soak``) means something.
"""

from __future__ import annotations

import pytest

from soak.judge import Bounds, Incident, leaderless_gaps
from soak.plan import SoakConfig, plan
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
