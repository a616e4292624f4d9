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
