"""The workers' Prometheus metrics against a real ensemble: scraped over HTTP, they say
who leads, under which token, how many units were recorded, and follow a takeover.
A port that cannot be bound costs the metrics only, never the work."""

from __future__ import annotations

import signal
import socket

import pytest

from common.logs import Event
from testbed.ensemble import free_ports
from testbed.processes import wait_until
from testbed.scrape import Samples, scrape, scrape_or_none
from tests.integration.helpers import (
    SESSION_TIMEOUT_S,
    assert_no_traceback,
    events_named,
    leader_and_followers,
    wait_following,
)

pytestmark = pytest.mark.integration

LEADING = "leader_election_leading"
TOKEN = "leader_election_fencing_token"
UNITS = "leader_election_units_recorded_total"
CHANGES = "leader_election_leadership_changes_total"
LEASE = "leader_election_lease_remaining_seconds"
CONNECTION = "leader_election_zookeeper_connection"


def _url(worker) -> str:
    return f"http://127.0.0.1:{worker.env['METRICS_PORT']}/metrics"


def _serving(worker) -> dict:
    return worker.wait_for_event(
        lambda e: e.get("event") == Event.METRICS_SERVING, timeout=15, message="metrics_serving"
    )


def _wait_scrape(worker, check, timeout: float, message: str) -> Samples:
    """Scrape ``worker`` until ``check(samples)`` holds; the samples that passed."""

    def passing() -> Samples | None:
        samples = scrape_or_none(_url(worker))
        return samples if samples is not None and check(samples) else None

    return wait_until(passing, timeout, interval=0.2, message=message)


def test_metrics_say_who_leads_the_token_the_units_and_follow_a_takeover(
    ensemble, spawn_worker
) -> None:
    first_port, second_port = free_ports(2)
    workers = (
        spawn_worker("service1", METRICS_PORT=first_port),
        spawn_worker("service2", METRICS_PORT=second_port),
    )
    for worker in workers:
        serving = _serving(worker)
        assert serving["port"] == int(worker.env["METRICS_PORT"]), serving
    leader, (follower,) = leader_and_followers(workers, timeout=30, min_ticks=2)
    wait_following(follower, timeout=10)

    (elected,) = events_named(leader, Event.LEADER_ELECTED)
    token = elected["fencing_token"]
    lines = len(events_named(leader, Event.PROCESSING))  # read before the scrape
    at_leader, at_follower = scrape(_url(leader)), scrape(_url(follower))
    assert at_leader.value(LEADING) == 1 and at_follower.value(LEADING) == 0
    assert at_leader.value(TOKEN) == token and at_follower.value(TOKEN) == 0
    assert {e["fencing_token"] for e in events_named(leader, Event.PROCESSING)} == {token}
    assert 0 < at_leader.value(LEASE) <= SESSION_TIMEOUT_S / 2
    assert at_follower.value(LEASE) == 0
    for samples in (at_leader, at_follower):
        assert samples.value(CONNECTION, state="connected") == 1
        assert samples.value(CONNECTION, state="suspended") == 0
    assert at_leader.value(CHANGES, change="elected") == 1
    assert at_leader.value(CHANGES, change="lost") == 0
    assert at_follower.value(CHANGES, change="elected") == 0
    # A unit is counted just before its line is written, so never fewer than the lines.
    units = at_leader.value(UNITS)
    assert units is not None and lines <= units <= lines + 2, (lines, units)
    assert at_follower.value(UNITS) == 0
    _wait_scrape(leader, lambda s: s.value(UNITS) >= units + 2, 10, "two more units counted")

    leader.signal(signal.SIGTERM)
    assert leader.wait(timeout=2.0) == 0, "not out within 2 s of SIGTERM, metrics and all"
    after = _wait_scrape(
        follower,
        lambda s: s.value(LEADING) == 1,
        SESSION_TIMEOUT_S + 6,
        f"{follower.name}'s metrics to say it leads",
    )
    (new,) = events_named(follower, Event.LEADER_ELECTED)
    assert after.value(TOKEN) == new["fencing_token"] > token
    assert after.value(CHANGES, change="elected") == 1
    _wait_scrape(follower, lambda s: s.value(UNITS) >= 2, 10, f"{follower.name}'s units counted")
    assert scrape_or_none(_url(leader), timeout=1) is None, "the stopped worker still serves"
    assert_no_traceback(*workers)


def test_a_port_in_use_is_one_line_and_the_worker_goes_on(ensemble, spawn_worker) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = spawn_worker("service1", METRICS_PORT=port)
        failed = worker.wait_for_event(
            lambda e: e.get("event") == Event.METRICS_FAILED, timeout=15, message="metrics_failed"
        )
        assert failed["level"] == "ERROR" and failed["port"] == port
        worker.wait_for_event(
            lambda e: e.get("event") == Event.PROCESSING, timeout=30, message="a tick"
        )
    failures = events_named(worker, Event.METRICS_FAILED)
    assert len(failures) == 1 and not events_named(worker, Event.METRICS_SERVING)
    assert worker.is_running()
    assert_no_traceback(worker)
