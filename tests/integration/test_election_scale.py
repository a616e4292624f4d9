"""E7 herd-free and E8 quiet: many candidates, one wake-up per change, no chatter.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import signal

import pytest

from common.leadership import RENEW_EVERY_FRACTION
from common.logs import Event
from testbed.processes import wait_until
from testbed.zkstats import ZkProbe
from tests.integration.helpers import (
    SESSION_TIMEOUT_S,
    assert_alive,
    assert_no_traceback,
    assert_one_leader_history,
    events_named,
    leader_and_followers,
    now,
    worker_ticks,
)

pytestmark = pytest.mark.integration

HERD_SIZE = 20
QUIET_SIZE = 10
# After a leader change, wait this long for any further (wrong) wake-ups to show up.
_HERD_SETTLE_S = 2.0


def _spawn_many(spawn_worker, count: int, prefix: str):
    """Start ``count`` service1 workers at once (Popen does not wait for them)."""
    return [spawn_worker("service1", name=f"{prefix}-{i:02d}") for i in range(1, count + 1)]


def _wait_steady(workers, timeout: float = 60.0):
    """One leader ticking, every other worker following; returns (leader, followers)."""
    leader, followers = leader_and_followers(workers, timeout=timeout, min_ticks=1)
    wait_until(
        lambda: all(events_named(w, Event.FOLLOWING) for w in followers),
        timeout,
        interval=0.2,
        message=f"{len(followers)} followers logged 'following'",
    )
    return leader, followers


def test_election_twenty_candidates_one_wakeup_per_leader_change(
    ensemble, spawn_worker, measure
) -> None:
    workers = _spawn_many(spawn_worker, HERD_SIZE, "cand")
    leader, followers = _wait_steady(workers)
    (elected,) = events_named(leader, Event.LEADER_ELECTED)
    successors = [
        w
        for w in followers
        if events_named(w, Event.FOLLOWING)[-1]["predecessor"] == elected["node"]
    ]
    assert len(successors) == 1, "exactly one candidate should watch the leader's node"
    (successor,) = successors

    stopped = now()
    leader.signal(signal.SIGTERM)
    assert leader.wait(timeout=2.0) == 0
    new_tick = wait_until(
        lambda: [t for w in followers for t in worker_ticks(w, after=stopped)],
        10,
        message="a new leader ticks",
    )[0]
    wait_until(lambda: now() - new_tick.time >= _HERD_SETTLE_S, _HERD_SETTLE_S + 1)

    woken = [
        (w.name, e) for w in followers for e in events_named(w, Event.WATCH_FIRED, after=stopped)
    ]
    assert len(woken) == 1, f"{len(woken)} wake-ups for one leader change: {woken}"
    assert woken[0][0] == successor.name
    assert woken[0][1]["path"] == elected["node"]
    assert new_tick.service == successor.name, "the next in line did not lead"
    measure(f"{HERD_SIZE} candidates: SIGTERM -> next in line ticks", new_tick.time - stopped)
    assert_one_leader_history(workers)
    assert_alive(*followers)
    assert_no_traceback(*workers)


def _lcxids(ensemble) -> dict[str, int]:
    """Session id -> last client xid, from ``cons`` on every running server."""
    return {session: c.lcxid for session, c in ZkProbe(ensemble).connections().items()}


def _session_of(worker) -> str:
    """The worker's current session id as ZooKeeper's cons prints it (0x, no padding)."""
    states = [e for e in events_named(worker, Event.ZK_STATE) if e["state"] == "CONNECTED"]
    assert states, f"{worker.name} never connected"
    return hex(int(states[-1]["session_id"], 16))


def test_election_steady_state_followers_send_nothing_but_pings(
    ensemble, spawn_worker, measure
) -> None:
    workers = _spawn_many(spawn_worker, QUIET_SIZE, "quiet")
    leader, followers = _wait_steady(workers)
    sessions = {w.name: _session_of(w) for w in workers}

    before = _lcxids(ensemble)
    sampled = now()
    wait_until(
        lambda: len(worker_ticks(leader, after=sampled)) >= 5,
        10,
        message="5 more leader ticks between the two samples",
    )
    after = _lcxids(ensemble)
    sampled_again = now()

    missing = [n for n, sid in sessions.items() if sid not in before or sid not in after]
    assert not missing, f"sessions not found in cons: {missing} ({sessions})"
    chatty = {
        w.name: after[sessions[w.name]] - before[sessions[w.name]]
        for w in followers
        if after[sessions[w.name]] != before[sessions[w.name]]
    }
    assert chatty == {}, f"followers sent requests (lcxid advanced): {chatty}"
    ticks = [t for t in worker_ticks(leader) if sampled <= t.time <= sampled_again]
    sent = after[sessions[leader.name]] - before[sessions[leader.name]]
    measure("leader requests per tick (steady state)", sent / max(len(ticks), 1), "requests")
    # Per tick, one request: the ledger's write (a multi is one request). Beside them,
    # the lease renewals, one per 0.4 session timeouts (common/leadership.py), and one
    # for the window's edges.
    renewals = (sampled_again - sampled) / (RENEW_EVERY_FRACTION * SESSION_TIMEOUT_S)
    assert len(ticks) <= sent <= len(ticks) + renewals + 2, (
        f"leader sent {sent} requests for {len(ticks)} ticks and {renewals:.1f} renewals"
    )
    assert_one_leader_history(workers)
    assert_alive(*workers)
