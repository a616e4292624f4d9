"""Helpers shared by the election integration tests: reading a run from the workers' logs.

Everything here judges from log lines (their own timestamps), never from the test's
sleeps. A test asks "who leads?" by waiting for events, and "was it correct?" by
handing every worker's ticks to the checker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from kazoo.client import KazooClient

from common.ledger import History, Refusal, Unit, read_history
from common.logs import Event
from testbed.checker import Tick, parse_time, summary, ticks_from_events, violations
from testbed.ledger import judge, logged_units
from testbed.ledger import summary as ledger_summary
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


def assert_one_leader_history(
    workers: Iterable[WorkerProcess], *, crashed: Iterable[WorkerProcess] = ()
) -> list[Tick]:
    """E1 over the whole run, by both judges: the workers' own lines (testbed/checker.py)
    and, where the workers kept a ledger, what ZooKeeper accepted (testbed/ledger.py),
    with every line held to its unit. ``crashed``: workers killed (SIGKILL), whose last
    unit may have no line. Returns the ticks for further checks."""
    workers = list(workers)
    ticks = all_ticks(workers)
    by_logs = violations(ticks)
    verdict = ledger_verdict(workers, crashed=crashed)
    if verdict is not None and bool(by_logs) != bool(verdict.violations):
        pytest.fail(  # a finding in itself: the two judges disagree
            "the log judge and the ledger judge disagree:\n"
            f"logs: {by_logs}\n{summary(ticks)}\nledger: {verdict.violations}\n{verdict.text}"
        )
    assert by_logs == [], "E1 violated:\n" + summary(ticks)
    if verdict is not None:
        assert verdict.violations == [], "E1 violated (ledger):\n" + verdict.text
    return ticks


@dataclass(frozen=True)
class LedgerVerdict:
    units: list[Unit]
    refusals: list[Refusal]
    violations: list[str]
    text: str


def ledger_of(worker: WorkerProcess) -> str | None:
    """The ledger path a test worker writes to (common.settings' default), or None."""
    path = worker.env.get("LEDGER_PATH", "")
    election = worker.env.get("ELECTION_PATH")
    if path == "off" or election is None:
        return None  # off, or not ours (a Java candidate): no ledger
    return path or election + "-work"


def read_ledger(hosts: str, path: str, auth: str = "") -> History:
    """The ledger's history, read by a client of its own (bounded)."""
    client = KazooClient(hosts=hosts, timeout=10)
    client.start(timeout=15)
    try:
        if auth:
            client.add_auth("digest", auth)
        return read_history(client, path)
    finally:
        client.stop()
        client.close()


def ledger_verdict(
    workers: Iterable[WorkerProcess], *, crashed: Iterable[WorkerProcess] = ()
) -> LedgerVerdict | None:
    """The ledger judge over ``workers``' ledger and lines; None when they keep none."""
    workers = list(workers)
    ours = [w for w in workers if ledger_of(w) is not None]
    paths = {ledger_of(w) for w in ours}
    if not paths:
        return None
    assert len(paths) == 1, f"workers write to several ledgers: {paths}"
    (path,) = paths
    hosts = ours[0].ledger_hosts
    assert hosts, f"{ours[0].name} was not started by spawn_worker: no ensemble to read"
    # The lines first, then the ledger, as `make judge` reads them: a worker says
    # "recorded" only once ZooKeeper has its unit, so every unit read in the lines is in
    # the ledger read after; a unit written in between is the newest, with no line yet,
    # which the judge allows. The other order once caught a live worker's line for a
    # unit recorded after the ledger was read, and called it work that was not recorded.
    records = [r for w in workers for r in w.records()]
    history = read_ledger(hosts, path)
    interval = float(ours[0].env.get("TICK_INTERVAL_S", TICK_INTERVAL_S))
    found = judge(
        history.units,
        logged_units(records),
        tick_interval_s=interval,
        workers={w.name for w in workers},
        crashed={w.name for w in crashed},
    )
    text = ledger_summary(history.units, len(history.refusals))
    return LedgerVerdict(history.units, history.refusals, found, text)


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
