"""The contract of ``LeaderElection``, held in the hand: one election object per candidate,
in this process, against the real ensemble, faults made with the fault proxy.

Read these first to learn the API; the other integration tests run whole workers.
Session 4 s (granted as asked), so a lease lasts 2 s and is renewed every 1.6 s.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from common.election import LeaderElection, Leadership
from common.observer import read_candidates
from testbed.processes import wait_until

pytestmark = pytest.mark.integration

SESSION_S = 4.0
LEASE_S = SESSION_S / 2
# A cut a little longer than the election's wait for one delete's answer (2 s).
CUT_S = 2.5


class Candidate:
    """A LeaderElection with a counter of its notify() calls, as a worker would hold it."""

    def __init__(self, hosts: str, path: str, name: str, session_s: float = SESSION_S) -> None:
        self.notified = 0
        self._event = threading.Event()
        self.election = LeaderElection(
            hosts, path, name, session_timeout_s=session_s, notify=self._notify
        )

    def _notify(self) -> None:
        self.notified += 1
        self._event.set()

    def start(self) -> None:
        assert self.election.start(should_stop=lambda: False, sleep=time.sleep)

    def leads(self, timeout: float = 10.0) -> Leadership:
        """Wait until it holds a valid lease; its leadership."""
        lease = wait_until(self.election.lease, timeout, message="a valid lease")
        return lease.leadership


@pytest.fixture
def candidate(election_path: str) -> Iterator[Callable[[str], Candidate]]:
    """Factory: ``candidate(hosts)`` -> a started Candidate; all closed at teardown."""
    made: list[Candidate] = []

    def make(hosts: str) -> Candidate:
        one = Candidate(hosts, election_path, f"c{len(made) + 1}")
        made.append(one)
        one.start()
        return one

    yield make
    for one in made:
        one.election.close()


def test_api_start_then_leads_with_a_lease_and_a_token(ensemble, candidate) -> None:
    c1 = candidate(ensemble.connect_string())
    lead = c1.leads()
    lease = c1.election.lease()
    assert lease is not None and lease.leadership == lead == c1.election.leadership
    assert lead.token > 0 and lead.node.rsplit("/", 1)[1].startswith("n_")
    assert 0 < lease.deadline - time.monotonic() <= LEASE_S
    assert c1.notified >= 1  # it was told


def test_api_connection_dropped_revokes_at_once_and_restored_leads_again_same_token(
    candidate, proxy
) -> None:
    faults = proxy()
    c1 = candidate(faults.connect_string())
    before = c1.leads()
    notified = c1.notified

    faults.drop()  # every connection reset: kazoo reports SUSPENDED
    wait_until(lambda: c1.election.leadership is None, 1.0, message="leadership None at once")
    assert c1.election.lease() is None
    assert c1.notified > notified  # the worker is woken, not left to find out at its tick

    faults.forward()  # back within the session: the same session, the same node
    after = c1.leads(timeout=SESSION_S)
    assert after == before, "same node, session and fencing token after a reconnect"


def test_api_lease_lapses_when_renewals_go_unanswered(candidate, proxy) -> None:
    """The ensemble goes silent (what a frozen leader's peers see): within one lease
    time of its last confirmation the lease is gone, whatever kazoo has noticed."""
    faults = proxy()
    c1 = candidate(faults.connect_string())
    c1.leads()
    cut = time.monotonic()
    faults.blackhole()
    wait_until(lambda: c1.election.lease() is None, LEASE_S + 0.5, message="the lease lapses")
    assert time.monotonic() - cut <= LEASE_S + 0.5
    faults.forward()


def test_api_close_hands_over_to_the_next_candidate(ensemble, candidate, election_path) -> None:
    hosts = ensemble.connect_string()
    c1 = candidate(hosts)
    first = c1.leads()
    c2 = candidate(hosts)
    queue = lambda: [c.identity for c in read_candidates(hosts, election_path)]  # noqa: E731
    wait_until(lambda: queue() == ["c1", "c2"], 10, message="c2 queued behind c1")
    assert c2.election.leadership is None

    closed = time.monotonic()
    c1.election.close()
    second = c2.leads(timeout=2.0)
    handoff = time.monotonic() - closed
    assert c1.election.leadership is None and c1.election.lease() is None
    assert second.token > first.token, "fencing tokens grow from one leader to the next"
    assert handoff < 1.0, f"close() -> next leads took {handoff:.3f} s"
    c1.election.close()  # idempotent


def test_api_step_down_gives_its_node_up_before_it_joins_again(
    ensemble, election_path, proxy
) -> None:
    """step_down() while the ensemble is silent (the ledger refused a unit during a cut):
    the delete of the old node gets no answer, and the connection comes back on the same
    session. The old node must go before the candidate joins again. Left on the live
    session it ranks ahead of everyone: the other candidate waits behind it, the stepped
    down one behind the other, and nobody leads while that session lives (an hour-long
    soak found a 55 s leaderless stretch so). Session 10 s here, the servers' most, so the
    cut below (the delete's 2 s wait and some) ends well before the session could expire:
    only the candidate's own delete can remove the node."""
    hosts = ensemble.connect_string()
    faults = proxy()
    c1 = Candidate(faults.connect_string(), election_path, "c1", session_s=10.0)
    c2 = Candidate(hosts, election_path, "c2", session_s=10.0)
    try:
        c1.start()
        lead = c1.leads()
        c2.start()
        queue = lambda: [c.identity for c in read_candidates(hosts, election_path)]  # noqa: E731
        wait_until(lambda: queue() == ["c1", "c2"], 10, message="c2 queued behind c1")

        faults.blackhole()
        c1.election.step_down(lead, "refused")
        assert c1.election.leadership is None and c1.election.lease() is None
        time.sleep(CUT_S)  # the fault's length: the step-down's delete goes unanswered
        faults.forward()  # closes the cut connection; c1 reconnects on the same session

        second = c2.leads(timeout=10.0)
        assert second.token > lead.token
        wait_until(lambda: queue() == ["c2", "c1"], 10, message="c1 joined again behind c2")
        old_gone = [c for c in read_candidates(hosts, election_path) if c.node == lead.node]
        assert not old_gone, f"the stepped-down node {lead.node} is still there"
        assert c1.election.leadership is None
        assert c1.election.session_hex == f"0x{lead.session_id:x}", "same session throughout"
    finally:
        c2.election.close()
        c1.election.close()


def test_api_start_twice_and_start_after_close_are_refused(ensemble, candidate) -> None:
    c1 = candidate(ensemble.connect_string())
    with pytest.raises(RuntimeError, match="started"):
        c1.start()
    c1.election.close()
    with pytest.raises(RuntimeError, match="closed"):
        c1.election.start(lambda: False, time.sleep)
