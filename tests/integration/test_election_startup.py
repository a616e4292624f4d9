"""E9 start-up: with ZooKeeper unreachable a worker retries with backoff, never crashes,
stops promptly on SIGTERM, and joins once the ensemble answers.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import signal

import pytest

from common.logs import Event
from testbed.ensemble import free_ports
from testbed.processes import wait_until
from tests.integration.helpers import (
    assert_alive,
    assert_no_traceback,
    assert_one_leader_history,
    event_time,
    events_named,
    now,
    worker_ticks,
)

pytestmark = pytest.mark.integration

# One start-up attempt gives up after this long (the default, 5 s, makes a slow test).
CONNECT_TIMEOUT_S = 1.0
RETRY_MAX_DELAY_S = 5.0


def _dead_hosts(kind: str, proxy) -> str:
    if kind == "dropping proxy":
        fault = proxy()
        fault.drop()
        return fault.connect_string()
    return ",".join(f"127.0.0.1:{port}" for port in free_ports(3))  # nothing listens


def _wait_retries(worker, count: int, timeout: float = 30.0) -> list[dict]:
    return wait_until(
        lambda: (r := events_named(worker, Event.RETRY)) and len(r) >= count and r,
        timeout,
        interval=0.1,
        message=f"{count} retry events from {worker.name}",
    )


@pytest.mark.parametrize("kind", ["dropping proxy", "unused ports"])
def test_election_startup_retries_with_growing_waits_and_exits_on_sigterm(
    ensemble, spawn_worker, proxy, kind, measure
) -> None:
    worker = spawn_worker(
        "service1",
        hosts=_dead_hosts(kind, proxy),
        ZK_CONNECT_TIMEOUT_S=CONNECT_TIMEOUT_S,
        ZK_RETRY_MAX_DELAY_S=RETRY_MAX_DELAY_S,
    )
    retries = _wait_retries(worker, 3)[:3]
    assert_alive(worker)
    assert [r["attempt"] for r in retries] == [1, 2, 3]
    waits = [r["wait_s"] for r in retries]
    assert waits[2] > waits[0] and waits[1] >= waits[0] - 0.5, f"waits do not grow: {waits}"
    assert all(0 < w <= RETRY_MAX_DELAY_S + 1 for w in waits), waits
    assert all(r["error"] for r in retries), "retry events should say what failed"
    assert events_named(worker, Event.LEADER_ELECTED) == []

    sent = now()
    worker.signal(signal.SIGTERM)
    code = worker.wait(timeout=2.0)
    assert code == 0, f"SIGTERM during start-up retries: exit {code} (None = still running)"
    measure(f"SIGTERM during retries ({kind}) -> exit", now() - sent)
    assert_no_traceback(worker)


def test_election_startup_joins_once_the_ensemble_answers(
    ensemble, spawn_worker, proxy, measure
) -> None:
    fault = proxy()
    fault.drop()
    worker = spawn_worker(
        "service1",
        hosts=fault.connect_string(),
        ZK_CONNECT_TIMEOUT_S=CONNECT_TIMEOUT_S,
        ZK_RETRY_MAX_DELAY_S=RETRY_MAX_DELAY_S,
    )
    _wait_retries(worker, 2)

    opened = now()
    fault.forward()
    elected = worker.wait_for_event(
        lambda e: e.get("event") == Event.LEADER_ELECTED,
        timeout=RETRY_MAX_DELAY_S + CONNECT_TIMEOUT_S + 10,
        message="leading once ZooKeeper answers",
    )
    wait_until(lambda: len(worker_ticks(worker)) >= 2, 5, message="ticks after joining")
    measure("ensemble reachable -> leader_elected", event_time(elected) - opened)
    assert_one_leader_history([worker])
    assert_alive(worker)
    assert_no_traceback(worker)


def test_join_after_lets_the_named_candidate_join_first(ensemble, spawn_worker) -> None:
    """JOIN_AFTER=service1 (the compose file's service2): started first, service2 waits,
    watching, until service1 has a node; then service1 leads and service2 follows."""
    second = spawn_worker("service2", JOIN_AFTER="service1")
    second.wait_for_event(
        lambda e: e.get("event") == Event.JOIN_WAIT, timeout=15, message="the wait begins"
    )
    assert not events_named(second, Event.JOINED), "joined before service1"
    first = spawn_worker("service1")
    over = second.wait_for_event(
        lambda e: e.get("event") == Event.JOIN_WAIT_OVER, timeout=20, message="the wait ends"
    )
    assert over["found"] is True
    # Each worker logs "joined" once its create returns: the order of the lines is the
    # scheduler's, the order of the nodes is ZooKeeper's. Wait for both, compare nodes.
    joined_first = first.wait_for_event(
        lambda e: e.get("event") == Event.JOINED, timeout=15, message="service1 joined"
    )
    joined_second = second.wait_for_event(
        lambda e: e.get("event") == Event.JOINED, timeout=15, message="service2 joined"
    )
    assert joined_first["node"] < joined_second["node"], (joined_first, joined_second)
    wait_until(lambda: worker_ticks(first), 15, message="service1 leads")
    second.wait_for_event(
        lambda e: e.get("event") == Event.FOLLOWING, timeout=15, message="service2 follows"
    )
    assert worker_ticks(second) == []


def test_join_after_gives_up_waiting_and_joins(ensemble, spawn_worker) -> None:
    """The named candidate never comes: after JOIN_AFTER_S the worker joins and leads;
    a SIGTERM during another such wait ends it at once with exit 0."""
    worker = spawn_worker("service2", JOIN_AFTER="service1", JOIN_AFTER_S="2")
    over = worker.wait_for_event(
        lambda e: e.get("event") == Event.JOIN_WAIT_OVER, timeout=20, message="the wait ends"
    )
    assert over["found"] is False and "did not join within 2 s" in over["outcome"]
    wait_until(lambda: worker_ticks(worker), 15, message="it leads alone")

    waiting = spawn_worker("service2", name="waiting", JOIN_AFTER="nobody", JOIN_AFTER_S="60")
    waiting.wait_for_event(
        lambda e: e.get("event") == Event.JOIN_WAIT, timeout=15, message="the wait begins"
    )
    signalled = now()
    waiting.signal(signal.SIGTERM)
    assert waiting.wait(timeout=5) == 0
    (shutdown,) = events_named(waiting, Event.SHUTDOWN)
    assert event_time(shutdown) - signalled < 2.0
    assert_no_traceback(waiting)
