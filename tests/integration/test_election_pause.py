"""E5 paused: a leader frozen past its session must not tick once after it thaws.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from common.ledger import UNIT_PREFIX
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
    ledger_verdict,
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
        thawed = now()  # before the SIGCONT: the thawed worker writes nothing earlier
        leader.resume()

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
        thawed = now()  # before the SIGCONT: the thawed worker writes nothing earlier
        leader.resume()

    wait_following(leader, timeout=15, after=thawed)
    wait_until(lambda: len(worker_ticks(other, after=thawed)) >= 2, 5, message="new leader ticks")
    late = ticks_after(all_ticks([leader, other]), leader.name, event_time(first))
    assert late == [], f"the thawed leader ticked on a lease longer than its session: {late}"
    assert_one_leader_history([leader, other])
    for worker in (leader, other):
        (granted,) = events_named(worker, Event.SESSION_TIMEOUT)
        assert granted["requested_s"] == ASKED_S and granted["granted_s"] == GRANTED_S, granted
    assert_no_traceback(leader, other)


def _stopped(pid: int) -> bool:
    """True once ``pid`` is in the stopped state (SIGSTOP has taken hold)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


def test_election_leader_frozen_with_its_write_out_owns_the_unit_where_the_work_was(
    ensemble, spawn_worker, proxy, election_path, measure
) -> None:
    """A leader frozen between sending a unit and hearing the answer (a SIGSTOP, a
    `docker pause` at that millisecond): the ensemble took the unit under the lease; the
    answer reaches the worker only once it thaws, when a successor leads. The unit has
    its line all the same, one of two: its wait for the answer ran out during the freeze,
    so "unconfirmed", naming it; or the answer was read first, so "Processing" saying it
    came late and by how much (the judges place that work when it was sent). Either way
    one leader at a time, by the lines and by the ledger, and the ledger holds the unit.
    The proxy holds the first unit's answer, freezes the worker the moment it comes, then
    lets it go on to the frozen worker."""
    fault = proxy()
    leader = spawn_worker("service1", hosts=fault.connect_string(), start=False)
    hold = fault.hold_next_reply(f"{election_path}-work/{UNIT_PREFIX}", on_held=leader.pause)
    leader.start()
    try:
        wait_until(hold.held.is_set, 30, message="service1's first unit answered, and held")
        wait_until(lambda: _stopped(leader.pid), 10, message="service1 frozen")
        hold.release()  # into the frozen worker's socket
        frozen = now()
        other = spawn_worker("service2")
        first = other.wait_for_event(
            lambda e: e.get("event") == Event.PROCESSING,
            timeout=SESSION_TIMEOUT_S + 15,
            message="service2 takes over from the frozen service1",
        )
    finally:
        thawed = now()  # before the SIGCONT: the thawed worker writes nothing earlier
        leader.resume()

    line = leader.wait_for_event(
        lambda e: e.get("event") in (Event.PROCESSING, Event.UNIT_UNCONFIRMED),
        timeout=15,
        message="service1's line for the unit it had sent",
    )
    assert event_time(line) >= thawed, f"the answer reached the frozen worker: {line}"
    if line["event"] == Event.PROCESSING:
        assert line.get("confirmed_after_s", 0) >= thawed - frozen, line
        assert "after it was sent" in line["message"], line
    read = line["event"] == Event.PROCESSING
    measure("frozen with the write out: answer read late (1) or unit unconfirmed (0)", read, "")
    wait_following(leader, timeout=15, after=thawed)
    wait_until(lambda: len(worker_ticks(other, after=thawed)) >= 2, 5, message="new leader ticks")
    ticks = assert_one_leader_history([leader, other])
    assert ticks_after(ticks, leader.name, event_time(first)) == []
    verdict = ledger_verdict([leader, other])
    assert verdict is not None
    units = [u.seq for u in verdict.units if u.worker == leader.name]
    assert units == [line["unit"]], verdict.text
    assert_no_traceback(leader, other)
