"""Helpers shared by the election integration tests: reading a run from the workers' logs.

Everything here judges from log lines (their own timestamps), never from the test's
sleeps. A test asks "who leads?" by waiting for events, and "was it correct?" by
handing every worker's ticks to the checker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from common.logs import Event
from testbed.checker import Tick, parse_time, summary, ticks_from_events, violations
from testbed.processes import WorkerProcess, wait_until

SESSION_TIMEOUT_S = 4.0  # the tests' ZK_SESSION_TIMEOUT_S (conftest's default)
TICK_INTERVAL_S = 1.0
ZK_TICK_S = 0.5  # the ensemble's tickTime (conftest's ZK_TICK_MS): expiry is checked per tick


def events_named(worker: WorkerProcess, name: str, after: float | None = None) -> list[dict]:
    """``worker``'s events called ``name``, optionally only those logged after ``after``."""
    return [
        e
        for e in worker.events()
        if e.get("event") == name and (after is None or parse_time(e["time"]) > after)
    ]


def event_time(event: dict[str, Any]) -> float:
    return parse_time(event["time"])


def all_ticks(workers: Iterable[WorkerProcess]) -> list[Tick]:
    """Every worker's ticks, keyed by the worker's name (its SERVICE_NAME)."""
    ticks: list[Tick] = []
    for worker in workers:
        ticks += ticks_from_events(worker.events(), service=worker.name)
    return sorted(ticks, key=lambda t: t.time)


def worker_ticks(worker: WorkerProcess, after: float | None = None) -> list[Tick]:
    return [
        t
        for t in ticks_from_events(worker.events(), service=worker.name)
        if after is None or t.time > after
    ]


def assert_one_leader_history(workers: Iterable[WorkerProcess]) -> list[Tick]:
    """E1 over the whole run: zero violations. Returns the ticks for further checks."""
    workers = list(workers)
    ticks = all_ticks(workers)
    found = violations(ticks)
    assert found == [], "E1 violated:\n" + summary(ticks)
    return ticks


def wait_for_leader(
    workers: Iterable[WorkerProcess], timeout: float = 20.0, min_ticks: int = 1, after: float = 0
) -> WorkerProcess:
    """The one worker that has ticked at least ``min_ticks`` times after ``after``."""
    workers = list(workers)

    def leader() -> WorkerProcess | None:
        ticking = [w for w in workers if len(worker_ticks(w, after)) >= min_ticks]
        return ticking[0] if len(ticking) == 1 else None

    return wait_until(
        leader, timeout, interval=0.1, message=f"one worker with {min_ticks} ticks after {after}"
    )


def leader_and_followers(
    workers: Iterable[WorkerProcess], **wait: Any
) -> tuple[WorkerProcess, list[WorkerProcess]]:
    """``wait_for_leader(workers, **wait)``, and every other worker, in order. For a
    pair: ``leader, (follower,) = leader_and_followers(workers, timeout=30)``."""
    workers = list(workers)
    leader = wait_for_leader(workers, **wait)
    return leader, [w for w in workers if w is not leader]


def wait_following(worker: WorkerProcess, timeout: float = 20.0, after: float = 0) -> dict:
    """The first ``following`` event of ``worker`` logged after ``after``."""
    return worker.wait_for_event(
        lambda e: e.get("event") == Event.FOLLOWING and event_time(e) > after,
        timeout,
        message=f"{worker.name} following",
    )


def assert_alive(*workers: WorkerProcess) -> None:
    for worker in workers:
        assert worker.is_running(), (
            f"{worker.name} exited with {worker.returncode}:\n{worker.log_text()[-3000:]}"
        )


def assert_no_traceback(*workers: WorkerProcess) -> None:
    for worker in workers:
        assert "Traceback" not in worker.log_text(), f"{worker.name} logged a traceback"


def now() -> float:
    """Epoch seconds on the host clock, the same clock the workers' log times use."""
    return time.time()


# The worker's own promise (common/election.py): a lease runs out half a session after
# the read that granted it was sent, and no tick happens without a lease. So a leader
# cut off at time t ticks no later than t + LEASE_S, whatever kazoo has noticed.
LEASE_S = SESSION_TIMEOUT_S / 2
# A tick whose lease check passed just before a deadline may be logged a moment after.
IN_FLIGHT_S = 0.2


def assert_no_ticks_while_cut_off(worker: WorkerProcess, cut: float) -> None:
    """After a cut at ``cut``: no tick past the lease, none between losing the
    leadership and getting a session back (judged from the worker's own log)."""
    reconnects = [
        event_time(e)
        for e in events_named(worker, Event.ZK_STATE, after=cut)
        if e["state"] == "CONNECTED"
    ]
    back = reconnects[0] if reconnects else float("inf")
    late = [t for t in worker_ticks(worker, after=cut + LEASE_S + IN_FLIGHT_S) if t.time < back]
    assert late == [], f"{worker.name} ticked past its lease while cut off: {late}"
    for lost in events_named(worker, Event.LEADERSHIP_LOST, after=cut):
        next_back = min((t for t in reconnects if t >= event_time(lost)), default=float("inf"))
        since = event_time(lost) + IN_FLIGHT_S
        stale = [t for t in worker_ticks(worker, after=since) if t.time < next_back]
        assert stale == [], f"{worker.name} ticked after {lost} before a session was back"
