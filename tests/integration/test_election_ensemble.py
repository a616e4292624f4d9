"""E6 ensemble faults: a ZooKeeper server failover is survived; a quorum loss stops all work.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import pytest

from common.logs import Event
from testbed.checker import longest_silence, ticks_between
from testbed.processes import wait_until
from tests.integration.helpers import (
    assert_alive,
    assert_no_traceback,
    assert_one_leader_history,
    events_named,
    leader_and_followers,
    now,
    wait_following,
    worker_ticks,
)

pytestmark = pytest.mark.integration

QUORUM_DOWN_S = 6.0  # longer than the 4 s session: sessions must not expire without quorum
# A tick confirmed just before the fault may still be logged; after this, none.
_SETTLE_S = 1.0


def _pair(spawn_worker):
    workers = spawn_worker("service1"), spawn_worker("service2")
    leader, (other,) = leader_and_followers(workers, timeout=30, min_ticks=2)
    wait_following(other, timeout=10)
    (elected,) = events_named(leader, Event.LEADER_ELECTED)
    return workers, leader, other, elected


def test_election_zookeeper_leader_killed_worker_keeps_session_and_token(
    ensemble, spawn_worker, measure
) -> None:
    workers, leader, other, elected = _pair(spawn_worker)
    zk_leader = ensemble.leader()

    killed = now()
    zk_leader.kill()
    wait_until(
        lambda: len(worker_ticks(leader, after=killed + _SETTLE_S)) >= 3,
        20,
        message=f"{leader.name} ticks on after ZooKeeper server {zk_leader.id} (leader) died",
    )

    ticks = assert_one_leader_history(workers)
    assert worker_ticks(other) == [], f"{other.name} ticked during a ZooKeeper failover"
    after = [e for e in leader.events() if e.get("event") == Event.PROCESSING]
    assert {e["fencing_token"] for e in after} == {elected["fencing_token"]}
    assert {e["session_id"] for e in after} == {elected["session_id"]}, "a new session"
    for again in events_named(leader, Event.LEADER_ELECTED, after=killed):
        assert again["fencing_token"] == elected["fencing_token"]
        assert again["session_id"] == elected["session_id"]
    resumed = worker_ticks(leader, after=killed)[-1].time
    measure(
        "ZooKeeper leader killed: longest pause in ticks", longest_silence(ticks, killed, resumed)
    )
    assert_alive(*workers)
    assert_no_traceback(*workers)


def test_election_quorum_loss_stops_all_ticks_and_one_leads_after(
    ensemble, spawn_worker, measure
) -> None:
    workers, leader, other, _elected = _pair(spawn_worker)
    victims = [s for s in ensemble.servers if s.mode() == "follower"][:1] + [ensemble.leader()]

    lost = now()
    for server in victims:
        server.kill()
    wait_until(lambda: now() - lost >= QUORUM_DOWN_S, QUORUM_DOWN_S + 1)
    quiet_until = now()
    ensemble.restart_missing(timeout=60)
    restored = now()

    wait_until(
        lambda: len([t for w in workers for t in worker_ticks(w, after=restored)]) >= 3,
        20,
        message="ticks resume once quorum is back",
    )
    ticks = assert_one_leader_history(workers)
    during = ticks_between(ticks, lost + _SETTLE_S, quiet_until)
    assert during == [], f"ticks without a quorum: {during}"
    leaders_after = {t.service for t in ticks if t.time > restored}
    assert len(leaders_after) == 1, f"more than one worker ticked after quorum: {leaders_after}"
    first = min(t.time for t in ticks if t.time > restored)
    measure("quorum back -> first tick", first - restored)
    assert_alive(*workers)
    assert_no_traceback(*workers)
