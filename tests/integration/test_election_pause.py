"""E5 paused: a leader frozen past its session must not tick once after it thaws."""

from __future__ import annotations

import pytest

from tests.integration.helpers import (
    SESSION_TIMEOUT_S,
    assert_alive,
    assert_no_traceback,
    assert_one_leader_history,
    event_time,
    events_named,
    now,
    wait_following,
    wait_for_leader,
    worker_ticks,
)
from tests.support.checker import ticks_after
from tests.support.procs import wait_until

pytestmark = pytest.mark.integration


def test_election_sigstop_leader_never_ticks_after_the_new_leader(ensemble, spawn_worker) -> None:
    workers = spawn_worker("service1"), spawn_worker("service2")
    leader = wait_for_leader(workers, timeout=30, min_ticks=2)
    (other,) = [w for w in workers if w is not leader]
    wait_following(other, timeout=10)
    (elected,) = events_named(leader, "leader_elected")
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
        lambda e: e.get("event") == "joined" and event_time(e) > thawed,
        timeout=15,
        message=f"{leader.name} joins again with a new node",
    )
    assert rejoined["node"] != old_node
    following = wait_following(leader, timeout=10, after=thawed)
    assert following["leader"] == other.name
    lost = events_named(leader, "leadership_lost", after=paused)
    assert lost and lost[0]["fencing_token"] == old_token, "no leadership_lost after the thaw"

    # Let both run a little after the thaw, then judge the whole history.
    wait_until(lambda: len(worker_ticks(other, after=thawed)) >= 2, 5, message="new leader ticks")
    ticks = assert_one_leader_history(workers)
    new_first = worker_ticks(other)[0]
    late = ticks_after(ticks, leader.name, new_first.time)
    assert late == [], f"the thawed leader ticked after the new leader's first tick: {late}"
    assert_alive(*workers)
    assert_no_traceback(*workers)
