"""A create whose request or reply is lost: the candidate offers itself exactly once.

The fault proxy loses one packet of the joining worker's create (``lose_next_create``)
and closes the connection, so kazoo raises ConnectionLoss and reconnects on the same
session. Lost request: no node exists, the worker must create one. Lost reply: the
node exists although the worker never heard of it; the worker must find it by its
owner (``ephemeralOwner`` = its session) instead of creating a second one. A second
node of the same session would sit in the queue as a candidate nobody answers for:
when the leader left, the next in line would wait on it until the session ended.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import signal

import pytest

from common.logs import Event
from common.observer import read_candidates
from testbed.processes import wait_until
from tests.integration.helpers import (
    assert_alive,
    assert_no_traceback,
    assert_one_leader_history,
    event_time,
    events_named,
    now,
    wait_following,
    wait_for_leader,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("part", ["reply", "request"])
def test_election_lost_create_offers_once_and_takes_over_in_milliseconds(
    ensemble, spawn_worker, proxy, election_path, part, measure
) -> None:
    leader = spawn_worker("service1")
    wait_for_leader([leader], timeout=30, min_ticks=1)

    fault = proxy()
    trap = fault.lose_next_create(f"{election_path}/n_", part=part)
    joiner = spawn_worker("service2", hosts=fault.connect_string())
    wait_until(trap.sprung.is_set, 20, message=f"the joiner's create {part} lost")
    following = wait_following(joiner, timeout=20)

    (joined,) = events_named(joiner, Event.JOINED)
    lost = [e for e in events_named(joiner, Event.ZK_STATE) if e.get("state") == "SUSPENDED"]
    assert lost, "the joiner never saw its connection drop"
    if part == "reply":
        assert trap.node is not None
        assert joined.get("adopted") is True, f"the orphan was not adopted: {joined}"
        assert joined["node"] == trap.node, "adopted a node other than the one the server made"
    else:
        assert trap.node is None
        assert not joined.get("adopted"), f"adopted a node that cannot exist: {joined}"

    candidates = read_candidates(ensemble.connect_string(), election_path)
    by_service = sorted(c.identity for c in candidates)
    assert by_service == ["service1", "service2"], f"not one node per worker: {candidates}"
    (mine,) = [c for c in candidates if c.identity == "service2"]
    assert f"0x{mine.session_id:x}" == joined["session_id"]
    assert mine.node == following["node"]

    # The proof that no orphan sits in the queue: the handoff is a matter of milliseconds.
    sent = now()
    leader.signal(signal.SIGTERM)
    assert leader.wait(timeout=2.0) == 0
    first = joiner.wait_for_event(
        lambda e: e.get("event") == Event.PROCESSING, timeout=5, message="the joiner's first tick"
    )
    handoff = event_time(first) - sent
    measure(f"lost create {part}: SIGTERM -> joiner's first tick", handoff, "s")
    assert handoff < 1.0, f"handoff took {handoff:.3f} s: something else stood in line"
    assert first["fencing_token"] == mine.czxid

    assert_one_leader_history([leader, joiner])
    assert_alive(joiner)
    assert_no_traceback(leader, joiner)
