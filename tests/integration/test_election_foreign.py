"""Foreign and malformed children under the election root never crash a worker.

The root is shared by design (the Java recipe's layout), so anything may appear there:
nodes of other tools, names that only look like candidates, garbage data, and real
candidates of other clients. The test makes them with kazoo directly (setup only).

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from common.logs import Event, Reason
from testbed.processes import wait_until
from tests.integration.helpers import (
    assert_alive,
    assert_no_traceback,
    assert_one_leader_history,
    event_time,
    events_named,
    leader_and_followers,
    now,
    wait_following,
    worker_ticks,
)

pytestmark = pytest.mark.integration

GARBAGE = b"\xff\xfe\x00\x80 not utf-8"


@pytest.fixture
def zk(ensemble) -> Iterator[KazooClient]:
    """A plain ZooKeeper client on the test's side, closed at teardown."""
    client = KazooClient(hosts=ensemble.connect_string(), timeout=10)
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def _litter(zk: KazooClient, root: str, tag: str) -> None:
    """Children no candidate wrote: wrong names, names that only look right, bad data."""
    zk.create(f"{root}/{tag}foo", b"some other tool")
    zk.create(f"{root}/{tag}foo/child", b"")
    zk.create(f"{root}/n_{tag}abc", b"service9")
    zk.create(f"{root}/n_{tag}12345", GARBAGE)
    zk.create(f"{root}/{tag}n_0000000001x", b"")
    zk.create(f"{root}/{tag}", GARBAGE, ephemeral=True)


def test_election_foreign_children_never_crash_a_worker(
    ensemble, spawn_worker, election_path, zk
) -> None:
    zk.ensure_path(election_path)
    zk.create(f"{election_path}/n_", GARBAGE)  # exactly the prefix, no sequence
    _litter(zk, election_path, "a")
    # A real candidate of another client, with data that is not UTF-8: it leads.
    intruder = zk.create(f"{election_path}/n_", GARBAGE, ephemeral=True, sequence=True)

    workers = spawn_worker("service1"), spawn_worker("service2")
    for worker in workers:
        wait_following(worker, timeout=30)
    assert [t for w in workers for t in worker_ticks(w)] == [], "ticked under a foreign leader"

    deposed = now()
    zk.delete(intruder)
    leader, (other,) = leader_and_followers(workers, timeout=15, min_ticks=2, after=deposed)

    # More litter while the election runs, then a real handoff across it.
    _litter(zk, election_path, "b")
    zk.create(f"{election_path}/n_", GARBAGE, ephemeral=True, sequence=True)
    wait_until(
        lambda: len(worker_ticks(leader, after=now() - 1.5)) >= 1 and now() - deposed > 4,
        10,
        message="the leader keeps ticking with litter around",
    )
    handed = now()
    leader.signal(signal.SIGTERM)
    assert leader.wait(timeout=2.0) == 0
    first = wait_until(
        lambda: worker_ticks(other, after=handed), 10, message=f"{other.name} takes over"
    )[0]
    assert first.time - handed < 1.0

    assert_one_leader_history(workers)
    assert_alive(other)
    assert_no_traceback(*workers)
    for worker in workers:
        crashes = [e for e in worker.events() if e.get("level") in ("ERROR", "CRITICAL")]
        assert crashes == [], f"{worker.name} logged errors: {crashes}"
    elected = events_named(other, Event.LEADER_ELECTED)
    assert elected and event_time(elected[-1]) > handed


def test_election_leader_node_deleted_by_hand_stops_the_leader_before_the_next_leads(
    ensemble, spawn_worker, election_path, zk, measure
) -> None:
    """An operator deletes the leader's node to force a new election (a known trick).

    The next candidate's watch fires and it leads after one round trip. The deposed
    leader's session is fine, so neither its connection nor its lease says anything:
    only a watch on its own node tells it at once. A 10 s session makes the gap plain:
    the lease (5 s) and its renewal (every 4 s) would let it work on for seconds.
    """
    env = {"ZK_SESSION_TIMEOUT_S": 10, "TICK_INTERVAL_S": 0.2}
    workers = spawn_worker("service1", **env), spawn_worker("service2", **env)
    leader, (other,) = leader_and_followers(workers, timeout=30, min_ticks=3)
    wait_following(other, timeout=10)
    (elected,) = events_named(leader, Event.LEADER_ELECTED)

    deleted = now()
    zk.delete(elected["node"])
    first = other.wait_for_event(
        lambda e: e.get("event") == Event.PROCESSING, timeout=10, message=f"{other.name} takes over"
    )
    lost = leader.wait_for_event(
        lambda e: e.get("event") == Event.LEADERSHIP_LOST and event_time(e) > deleted,
        timeout=10,
        message=f"{leader.name} learns its node is gone",
    )
    measure("leader node deleted -> deposed leader stops", event_time(lost) - deleted)
    measure("leader node deleted -> next leader's first tick", event_time(first) - deleted)
    assert lost["reason"] == Reason.NODE_GONE, lost
    # A watch takes a round trip or so; waiting for the next renewal takes up to 4 s.
    assert event_time(lost) - deleted < 0.5, "the deposed leader learnt it late"
    late = [t for t in worker_ticks(leader) if t.time >= event_time(first)]
    assert late == [], f"{leader.name} ticked after {other.name} began: {late}"
    following = wait_following(leader, timeout=10, after=deleted)
    assert following["leader"] == other.name
    wait_until(lambda: len(worker_ticks(other)) >= 5, 5, message="the new leader ticks on")
    assert_one_leader_history(workers)
    assert_alive(*workers)
    assert_no_traceback(*workers)
