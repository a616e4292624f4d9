"""The workers' Prometheus metrics as docker-compose.yml publishes them (127.0.0.1:9101
and 9102 in the demo; ports picked free here), scraped from this host during a
takeover (`docker compose stop` of the leader), on both Compose generations."""

from __future__ import annotations

import time

import pytest

from common.logs import Event
from testbed.processes import wait_until
from testbed.scrape import Samples, scrape, scrape_or_none
from tests.e2e.compose_project import SESSION_TIMEOUT_S, ComposeProject

pytestmark = pytest.mark.e2e

LEADING = "leader_election_leading"
TOKEN = "leader_election_fencing_token"
UNITS = "leader_election_units_recorded_total"
CHANGES = "leader_election_leadership_changes_total"
CONNECTION = "leader_election_zookeeper_connection"


def _url(project: ComposeProject, service: str) -> str:
    port = project.env[f"{service.upper()}_METRICS_PORT"]
    return f"http://127.0.0.1:{port}/metrics"


def _elected_token(project: ComposeProject, service: str) -> int:
    elected = [e for e in project.events(service) if e.get("event") == Event.LEADER_ELECTED]
    assert elected, f"{service} never logged leader_elected"
    return int(elected[-1]["fencing_token"])


def _wait_scrape(project: ComposeProject, service: str, check, timeout: float, message: str):
    def passing() -> Samples | None:
        samples = scrape_or_none(_url(project, service))
        return samples if samples is not None and check(samples) else None

    return wait_until(passing, timeout=timeout, interval=0.25, message=message)


def test_metrics_follow_a_takeover_by_stop(project: ComposeProject) -> None:
    leader, other = project.wait_steady()
    # Published on loopback, as the compose file says; the leader's token as it logged it.
    at_leader = _wait_scrape(
        project, leader, lambda s: s.value(LEADING) == 1, 10, f"{leader}'s metrics: leading"
    )
    at_other = scrape(_url(project, other))
    old_token = _elected_token(project, leader)
    assert at_leader.value(TOKEN) == old_token
    assert at_other.value(LEADING) == 0 and at_other.value(TOKEN) == 0
    for samples in (at_leader, at_other):
        assert samples.value(CONNECTION, state="connected") == 1
    units_before = at_other.value(UNITS)
    elected_before = at_other.value(CHANGES, change="elected")
    assert units_before is not None and elected_before is not None

    issued = time.time()
    project.compose("stop", leader)
    after = _wait_scrape(
        project,
        other,
        lambda s: s.value(LEADING) == 1,
        SESSION_TIMEOUT_S,
        f"{other}'s metrics to say it leads after `stop {leader}`",
    )
    took_s = time.time() - issued
    new_token = _elected_token(project, other)
    assert after.value(TOKEN) == new_token > old_token
    assert after.value(CHANGES, change="elected") == elected_before + 1
    assert took_s < 5.0, f"the takeover reached the metrics {took_s:.1f} s after the stop"
    _wait_scrape(
        project,
        other,
        lambda s: s.value(UNITS) >= units_before + 2,
        10,
        f"{other}'s units counted",
    )
    assert scrape_or_none(_url(project, leader), timeout=1) is None, "a stopped worker serves"

    restarted = time.time()
    project.compose("start", leader)
    project.wait_following(leader, restarted, timeout=30)
    back = _wait_scrape(
        project,
        leader,
        lambda s: s.value(CONNECTION, state="connected") == 1,
        10,
        f"{leader}'s metrics again after start",
    )
    assert back.value(LEADING) == 0 and back.value(TOKEN) == 0
