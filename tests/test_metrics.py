"""The worker's Prometheus metrics (common/metrics.py): values after events, the server
on a port of its own, off at port 0, and one line when the port cannot be bound."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common.leadership import Leadership, Lease
from common.ledger import Why
from common.logs import Event
from common.metrics import CONNECTION_STATES, REFUSAL_REASONS, WorkerMetrics

ROOT = Path(__file__).resolve().parent.parent
FIRST = Leadership(token=0x100000003, node="/e/n_0000000000", session_id=0x100)
SECOND = Leadership(token=0x200000004, node="/e/n_0000000001", session_id=0x100)


class FakeElection:
    """The three views the worker hands the metrics, set by the test."""

    def __init__(self) -> None:
        self.leadership: Leadership | None = None
        self.lease_: Lease | None = None
        self.connection = "connecting"
        self.now = 1000.0

    def metrics(self) -> WorkerMetrics:
        return WorkerMetrics(
            lambda: self.leadership,
            lambda: self.lease_,
            lambda: self.connection,
            clock=lambda: self.now,
        )

    def lead(self, lead: Leadership | None, lease_s: float = 2.0) -> None:
        self.leadership = lead
        self.lease_ = Lease(lead, self.now + lease_s) if lead else None


def value(metrics: WorkerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(f"leader_election_{name}", labels)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_fresh_worker_shows_zeros_and_connecting():
    metrics = FakeElection().metrics()
    assert value(metrics, "leading") == 0
    assert value(metrics, "fencing_token") == 0
    assert value(metrics, "lease_remaining_seconds") == 0
    assert value(metrics, "zookeeper_connection", state="connecting") == 1
    assert value(metrics, "leadership_changes_total", change="elected") == 0
    assert value(metrics, "leadership_changes_total", change="lost") == 0
    assert value(metrics, "units_recorded_total") == 0
    # Every reason a refusal can have is there from the start, at 0.
    assert set(REFUSAL_REASONS) == {v for k, v in vars(Why).items() if k.isupper()}
    for reason in REFUSAL_REASONS:
        assert value(metrics, "units_refused_total", reason=reason) == 0


def test_values_follow_leadership_lease_units_and_connection():
    election = FakeElection()
    metrics = election.metrics()
    election.connection = "connected"
    election.lead(FIRST, lease_s=2.0)
    metrics.observe()
    assert value(metrics, "leading") == 1
    assert value(metrics, "fencing_token") == FIRST.token
    assert value(metrics, "lease_remaining_seconds") == pytest.approx(2.0)
    election.now += 1.5
    assert value(metrics, "lease_remaining_seconds") == pytest.approx(0.5)
    election.now += 1.0  # past the deadline: never negative
    assert value(metrics, "lease_remaining_seconds") == 0
    assert value(metrics, "leadership_changes_total", change="elected") == 1
    assert value(metrics, "zookeeper_connection", state="connected") == 1
    for other in set(CONNECTION_STATES) - {"connected"}:
        assert value(metrics, "zookeeper_connection", state=other) == 0

    metrics.unit_recorded()
    metrics.unit_recorded()
    metrics.unit_refused(Why.OLDER_TOKEN)
    assert value(metrics, "units_recorded_total") == 2
    assert value(metrics, "units_refused_total", reason="older_token") == 1
    assert value(metrics, "units_refused_total", reason="node_gone") == 0

    # Replaced by a newer leadership between two looks: one lost, one elected.
    election.lead(SECOND)
    metrics.observe()
    assert value(metrics, "fencing_token") == SECOND.token
    assert value(metrics, "leadership_changes_total", change="lost") == 1
    assert value(metrics, "leadership_changes_total", change="elected") == 2

    election.connection = "suspended"
    election.lead(None)
    metrics.observe()
    metrics.observe()  # looking again changes nothing
    assert value(metrics, "leading") == 0
    assert value(metrics, "fencing_token") == 0
    assert value(metrics, "lease_remaining_seconds") == 0
    assert value(metrics, "leadership_changes_total", change="lost") == 2
    assert value(metrics, "zookeeper_connection", state="suspended") == 1


def test_a_scrape_counts_a_change_nobody_reported():
    election = FakeElection()
    metrics = election.metrics()
    election.lead(FIRST)
    assert value(metrics, "leadership_changes_total", change="elected") == 1


def test_served_over_http_then_stopped_and_the_port_freed(caplog):
    election = FakeElection()
    election.lead(FIRST)
    metrics = election.metrics()
    port = free_port()
    with caplog.at_level(logging.INFO, logger="common.metrics"):
        address = metrics.serve(port, host="127.0.0.1")
    assert address == ("127.0.0.1", port)
    try:
        assert [r.event for r in caplog.records] == [Event.METRICS_SERVING]
        assert caplog.records[0].port == port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            body = answer.read().decode()
        assert answer.status == 200
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body)
            for s in family.samples
        }
        assert samples[("leader_election_leading", ())] == 1
        assert samples[("leader_election_fencing_token", ())] == FIRST.token
        refused = ("leader_election_units_refused_total", (("reason", "someone_else_wrote"),))
        assert samples[refused] == 0
        # A registry of its own: nothing from the default one (process, platform, gc),
        # and no `_created` series beside the counters.
        names = {name for name, _labels in samples}
        assert all(name.startswith("leader_election_") for name in names), names
        assert not any(name.endswith("_created") for name in names), names
    finally:
        metrics.close()
    assert not any(t.name == "metrics" for t in threading.enumerate())
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    metrics.close()  # idempotent
    again = election.metrics()  # the port is free for the next one (a restart)
    try:
        assert again.serve(port, host="127.0.0.1") == ("127.0.0.1", port)
    finally:
        again.close()


def test_port_zero_is_off(caplog):
    metrics = FakeElection().metrics()
    with caplog.at_level(logging.DEBUG, logger="common.metrics"):
        assert metrics.serve(0) is None
    assert caplog.records == []
    assert not any(t.name == "metrics" for t in threading.enumerate())
    metrics.close()


def test_a_port_that_cannot_be_bound_is_one_error_line(caplog):
    metrics = FakeElection().metrics()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.DEBUG, logger="common.metrics"):
            assert metrics.serve(port, host="127.0.0.1") is None
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.event == Event.METRICS_FAILED
    assert (record.host, record.port) == ("127.0.0.1", port)
    assert "\n" not in record.getMessage() and record.exc_info is None
    assert not any(t.name == "metrics" for t in threading.enumerate())
    # The metrics still count: only the server is missing.
    metrics.unit_recorded()
    assert value(metrics, "units_recorded_total") == 1
    metrics.close()


def test_the_election_imports_no_prometheus():
    """The election stays copyable without the metrics: only the worker wires them."""
    code = (
        "import sys, common.election\n"
        "wired = ('prometheus', 'common.metrics')\n"
        "print(sorted(m for m in sys.modules if m.startswith(wired)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
