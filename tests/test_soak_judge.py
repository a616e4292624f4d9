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

from soak.judge import Bounds, Incident, Timeline, effect_windows, judge, leaderless_gaps
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


def _ticks(
    service: str, start: float, end: float, every: float = 0.5, token: int = 1
) -> list[Tick]:
    count = int((end - start) / every) + 1
    return [Tick(service, start + i * every, token) for i in range(count)]


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


def _freeze(target: str, start: float, healed: float) -> list[Incident]:
    """What the runner records for a freeze: the fault, and the thaw when it heals."""
    return [Incident("freeze", target, start, healed), Incident("thaw", target, healed)]


def _kill(target: str, start: float, restarted: float) -> list[Incident]:
    return [Incident("kill", target, start, restarted), Incident("restart", target, restarted)]


def test_soak_judge_charges_a_long_takeover_to_its_freeze_however_dense_the_faults() -> None:
    """The 48 s takeover after a freeze: the leader frozen for 45 s, the takeover 48 s
    after the freeze, and faults every few seconds meanwhile, every one of them starting
    after the freeze's own bound had passed. Excusing a stretch by the latest deadline of
    anything overlapping it (the old judge) passes it: the old leader's own thaw alone
    reaches past the takeover. Charged to the freeze, it is 42 s past its bound."""
    freeze_at = T0 + 10.2
    bound = freeze_at + BOUNDS.expiry_s + BOUNDS.watch_s
    takeover = freeze_at + 48.0
    dense = [
        *_freeze("w1", freeze_at, T0 + 55.0),
        *_kill("w3", T0 + 18.0, T0 + 21.0),
        Incident("server_kill", "zk2(follower)", T0 + 24.0, T0 + 29.0),
        *_kill("w3", T0 + 31.0, T0 + 33.0),
        Incident("storm", "election", T0 + 35.0, T0 + 40.0),
        *_freeze("w3", T0 + 41.0, T0 + 43.0),
        Incident("server_kill", "zk1(leader)", T0 + 46.0, T0 + 50.0),
    ]
    incidents = [Incident("startup", "all", T0), *dense]
    ticks = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w2", takeover, T0 + 70, token=2)
    # The old judge gave the thaw a window of its own, [55, 55 + reconnect_s], and
    # allowed a stretch the latest deadline of every window overlapping it.
    assert T0 + 55.0 + BOUNDS.reconnect_s > takeover
    windows = effect_windows(incidents, ticks, BOUNDS, 0.5)
    assert sum(1 for w in windows if bound < w.start < takeover) >= 4  # dense, and late
    (gap,) = _gaps(ticks, incidents, T0 + 70)
    assert gap.charged_to is not None and gap.charged_to.startswith("freeze w1 (leader)"), gap
    assert gap.allowed_until == pytest.approx(bound) and gap.excuses == (), gap
    assert gap.excess == pytest.approx(takeover - bound, abs=0.01), gap
    assert len(gap.later) == 5, gap  # the dense faults, each too late to excuse anything
    report = judge(CONFIG, plan(CONFIG), Timeline(T0, T0 + 70, incidents), ticks, [])
    assert not report.ok
    assert "charged to freeze w1 (leader)" in report.violations[0], report.violations


def test_soak_judge_a_next_in_line_killed_in_time_extends_by_what_it_adds() -> None:
    """The leader frozen, then the candidate next in line killed before the freeze's
    bound: the takeover may wait for that one's session too, and no longer."""
    freeze_at, kill_at = T0 + 10.2, T0 + 14.0
    extended = kill_at + BOUNDS.expiry_s + BOUNDS.watch_s
    incidents = [
        Incident("startup", "all", T0),
        *_freeze("w1", freeze_at, T0 + 30.0),
        *_kill("w2", kill_at, T0 + 16.0),
    ]
    on_time = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w3", extended - 0.3, T0 + 40)
    (gap,) = _gaps(on_time, incidents, T0 + 40)
    assert gap.excess < 0, gap
    ((excuse, added),) = gap.excuses
    assert excuse.startswith("kill w2") and added == pytest.approx(kill_at - freeze_at), gap
    late = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w3", extended + 1.0, T0 + 40)
    (gap,) = _gaps(late, incidents, T0 + 40)
    assert gap.excess == pytest.approx(1.0, abs=0.01), gap


def test_soak_judge_an_incident_after_the_bound_has_passed_excuses_nothing() -> None:
    freeze_at = T0 + 10.2
    bound = freeze_at + BOUNDS.expiry_s + BOUNDS.watch_s
    incidents = [
        Incident("startup", "all", T0),
        *_freeze("w1", freeze_at, T0 + 30.0),
        *_kill("w2", bound + 0.5, bound + 2.0),  # the next in line, killed too late
    ]
    ticks = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w3", bound + 5.0, T0 + 40)
    (gap,) = _gaps(ticks, incidents, T0 + 40)
    assert gap.excuses == () and gap.excess == pytest.approx(5.0, abs=0.01), gap
    assert any(text.startswith("kill w2") for text in gap.later), gap


def test_soak_judge_a_stretch_only_a_later_fault_explains_is_a_finding() -> None:
    """The leader stops ticking with nothing to explain it; 3 s later it is killed.
    The kill would explain a stretch from then on, not one that had already begun."""
    incidents = [Incident("startup", "all", T0), *_kill("w1", T0 + 13.0, T0 + 14.0)]
    ticks = _ticks("w1", T0 + 1, T0 + 10) + _ticks("w2", T0 + 15.0, T0 + 30)
    (gap,) = _gaps(ticks, incidents, T0 + 30)
    assert gap.allowed_until is None and gap.excess > 0, gap
    assert "only a later fault explains it" in gap.describe(), gap.describe()
    assert "kill w1" in gap.describe(), gap.describe()


def test_soak_judge_report_lists_the_tightest_margins_and_the_largest_excuses() -> None:
    freeze_at, kill_at = T0 + 10.2, T0 + 14.0
    incidents = [
        Incident("startup", "all", T0),
        *_freeze("w1", freeze_at, T0 + 30.0),
        *_kill("w2", kill_at, T0 + 16.0),
        Incident("term", "w3", T0 + 40.0, T0 + 41.0),
    ]
    ticks = (
        _ticks("w1", T0 + 1, T0 + 10)
        + _ticks("w3", kill_at + 5.0, T0 + 40, token=2)
        + _ticks("w1", T0 + 42.0, T0 + 60, token=3)
    )
    report = judge(CONFIG, plan(CONFIG), Timeline(T0, T0 + 60, incidents), ticks, [])
    assert report.ok, report.text()
    assert [g.charged_to.split(" at ")[0] for g in report.tightest()] == [
        "term w3 (leader)",  # 0.0 s to spare: the handoff took all of its 2 s
        "freeze w1 (leader)",
    ]
    (excused,) = report.largest_excuses()
    assert excused.excuses[0][0].startswith("kill w2"), excused
    text = report.text()
    assert "tightest margins (2 of 2 stretches):" in text, text
    assert "largest excuses" in text and "+3.8 s: leaderless" in text, text


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


def _ledgered(ticks: list[Tick], session: str = "0x1") -> tuple[list, list]:
    """The units a ledger would hold for ``ticks`` (in order), and the lines naming them."""
    from common.ledger import Unit
    from testbed.ledger import Logged

    units = [
        Unit(i + 1, t.token or 0, t.service, f"{session}{t.token}", t.time)
        for i, t in enumerate(ticks)
    ]
    return units, [Logged(u.worker, u.seq, u.token) for u in units]


def test_soak_judge_holds_the_lines_to_the_ledger_and_flags_a_disagreement() -> None:
    from soak.judge import LedgerEvidence

    ticks = _ticks("w1", T0 + 1, T0 + 10, token=1) + _ticks("w2", T0 + 10.5, T0 + 20, token=2)
    timeline = Timeline(T0, T0 + 20, [Incident("startup", "all", T0)], [], [])
    units, logged = _ledgered(ticks)
    clean = judge(CONFIG, [], timeline, ticks, [], LedgerEvidence(units, logged, {}, []))
    assert clean.ledger is not None and clean.ledger.agree and clean.ok, clean.violations
    assert f"ledger: {len(units)} units" in clean.text()

    # The store holds a stale unit (token 1 after token 2) that no line admits to.
    stale = units + [type(units[0])(len(units) + 1, 1, "w1", "0x11", T0 + 19.9)]
    found = judge(CONFIG, [], timeline, ticks, [], LedgerEvidence(stale, logged, {}, []))
    assert any(v.startswith("E1 (ledger): token down") for v in found.violations)
    assert "judges disagree: the log judge and the ledger judge differ on E1" in found.violations
    assert "DISAGREE" in found.text()
    # A line whose unit the store does not hold: a finding, not an E1 disagreement.
    missing = judge(CONFIG, [], timeline, ticks, [], LedgerEvidence(units[:-1], logged, {}, []))
    assert any(v.startswith("E1 (ledger): no unit") for v in missing.violations)
    assert missing.ledger.agree
