"""E5 paused: a leader frozen past its session must not tick once after it thaws.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import pytest

from common.logs import Event
from testbed.checker import ticks_after
from testbed.processes import wait_until
from tests.integration.helpers import (
    SESSION_TIMEOUT_S,
    all_ticks,
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


def test_election_sigstop_leader_never_ticks_after_the_new_leader(ensemble, spawn_worker) -> None:
    workers = spawn_worker("service1"), spawn_worker("service2")
    leader, (other,) = leader_and_followers(workers, timeout=30, min_ticks=2)
    wait_following(other, timeout=10)
    (elected,) = events_named(leader, Event.LEADER_ELECTED)
    old_node, old_token = elected["node"], elected["fencing_token"]

    paused = now()
    leader.pause()
    try:
        wait_until(
            lambda: worker_ticks(other),
            SESSION_TIMEOUT_S + 5,
            message=f"{other.name} takes over from the frozen {leader.name}",
        )
        # Stay frozen for two session timeouts in all, then thaw.
        wait_until(lambda: now() - paused >= 2 * SESSION_TIMEOUT_S, 3 * SESSION_TIMEOUT_S)
    finally:
        leader.resume()
    thawed = now()

    rejoined = leader.wait_for_event(
        lambda e: e.get("event") == Event.JOINED and event_time(e) > thawed,
        timeout=15,
        message=f"{leader.name} joins again with a new node",
    )
    assert rejoined["node"] != old_node
    following = wait_following(leader, timeout=10, after=thawed)
    assert following["leader"] == other.name
    lost = events_named(leader, Event.LEADERSHIP_LOST, after=paused)
    assert lost and lost[0]["fencing_token"] == old_token, "no leadership_lost after the thaw"

    # Let both run a little after the thaw, then judge the whole history.
    wait_until(lambda: len(worker_ticks(other, after=thawed)) >= 2, 5, message="new leader ticks")
    ticks = assert_one_leader_history(workers)
    new_first = worker_ticks(other)[0]
    late = ticks_after(ticks, leader.name, new_first.time)
    assert late == [], f"the thawed leader ticked after the new leader's first tick: {late}"
    assert_alive(*workers)
    assert_no_traceback(*workers)


# The test ensemble's tickTime is 500 ms, so its servers grant at most 20 ticks: 10 s.
ASKED_S = 30.0
GRANTED_S = 10.0


def test_election_lease_follows_the_session_timeout_the_servers_granted(
    ensemble, spawn_worker, measure
) -> None:
    """Asked for 30 s, granted 10 s: a lease of half the asked-for timeout (15 s) would
    outlive the session, so a leader frozen from its election to 13 s later would thaw
    with a lease still valid, next to its successor. Only a race saved the old code: at
    the thaw kazoo's thread saw the closed connection before the worker ticked (five
    runs of five). The lease must follow the granted 10 s (5 s), and the worker says so."""
    leader = spawn_worker("service1", ZK_SESSION_TIMEOUT_S=ASKED_S)
    elected = leader.wait_for_event(
        lambda e: e.get("event") == Event.LEADER_ELECTED, timeout=30, message="service1 leads"
    )
    leader.pause()  # as early in its lease as the test can
    try:
        other = spawn_worker("service2", ZK_SESSION_TIMEOUT_S=ASKED_S)
        first = other.wait_for_event(
            lambda e: e.get("event") == Event.PROCESSING,
            timeout=GRANTED_S + 5,
            message="service2 takes over from the frozen service1 within the granted session",
        )
        takeover = event_time(first) - event_time(elected)
        measure("clamped session: frozen leader's election -> successor's first tick", takeover)
        # Thaw inside the window a 15 s lease would still cover.
        thaw_at = event_time(elected) + 0.5 + GRANTED_S + (ASKED_S / 2 - GRANTED_S) / 2
        assert now() < thaw_at, f"the takeover came too late to test the window: {takeover:.1f} s"
        wait_until(lambda: now() >= thaw_at, ASKED_S)
    finally:
        leader.resume()
    thawed = now()

    wait_following(leader, timeout=15, after=thawed)
    wait_until(lambda: len(worker_ticks(other, after=thawed)) >= 2, 5, message="new leader ticks")
    late = ticks_after(all_ticks([leader, other]), leader.name, event_time(first))
    assert late == [], f"the thawed leader ticked on a lease longer than its session: {late}"
    assert_one_leader_history([leader, other])
    for worker in (leader, other):
        (granted,) = events_named(worker, Event.SESSION_TIMEOUT)
        assert granted["requested_s"] == ASKED_S and granted["granted_s"] == GRANTED_S, granted
    assert_no_traceback(leader, other)
