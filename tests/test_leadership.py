"""common.leadership: every rule of who leads and under which lease, table-driven.

No ZooKeeper and no clock: each row sets a LeadershipRules up with a few transitions,
applies one more, and checks who leads after it, the lease at a given moment, whether
the worker is woken and which lines the election is asked to log. The integration
layer proves the same rules against a real ensemble (tests/integration).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from common.leadership import Change, Leadership, LeadershipRules, Lifecycle
from common.logs import Reason

SESSION_S = 10.0  # asked for; a lease lasts half of it
A = Leadership(token=0x100000003, node="/e/n_0000000000", session_id=0x1000)
A2 = Leadership(token=0x100000009, node="/e/n_0000000004", session_id=0x2000)  # A, rejoined
T = 1_000.0  # monotonic seconds

Step = Callable[[LeadershipRules], Change]


def elect(lead: Leadership = A, at: float = T, epoch: int = 0, now: float | None = None) -> Step:
    """Lowest in a listing sent at ``at``, with the epoch read before it."""
    return lambda r: r.elect(lead, confirmed_at=at, epoch=epoch, now=at if now is None else now)


def renew(lead: Leadership = A, at: float = T, epoch: int = 0, now: float | None = None) -> Step:
    return lambda r: r.renew(lead, confirmed_at=at, epoch=epoch, now=at if now is None else now)


def revoke(reason: str, only_if: Leadership | None = None, now: float = T) -> Step:
    if only_if is None:
        return lambda r: r.revoke(reason, now=now)
    return lambda r: r.revoke(reason, now=now, only_if=only_if)


def state(name: str, now: float = T) -> Step:
    """kazoo reports a connection state: SUSPENDED, CONNECTED (reconnected), LOST."""
    return lambda r: r.connection_changed(name, now=now)


def close(now: float = T) -> Step:
    return lambda r: r.close(now=now)


def idle() -> Step:
    """Time passes; nothing happens (a lease runs out by itself)."""
    return lambda _r: Change()


def granted(session_s: float) -> Step:
    def step(r: LeadershipRules) -> Change:
        r.session_granted(session_s)
        return Change()

    return step


@dataclass(frozen=True)
class Row:
    name: str
    before: tuple[Step, ...]
    step: Step
    leads: Leadership | None  # leadership after the step
    lease_until: float | None  # the lease's deadline as seen at `probe`; None: no lease
    notify: bool  # the worker is woken
    lost: str | None = None  # leadership_lost is logged, with this reason
    elected: Leadership | None = None  # leader_elected is logged for it
    probe: float = T + 1


LEASE = T + SESSION_S / 2

ROWS = [
    # -- winning
    Row("elected from nobody", (), elect(), A, LEASE, True, elected=A),
    Row("elected again, lease in force", (elect(),), elect(at=T + 2), A, LEASE + 2, False),
    Row(
        "elected again after the lease lapsed",
        (elect(),),
        elect(at=T + 6),
        A,
        LEASE + 6,
        True,
        probe=T + 7,
    ),
    Row(
        "elected on a new node of our own",
        (elect(),),
        elect(A2, at=T + 2),
        A2,
        LEASE + 2,
        True,
        lost=Reason.ELECTED,
        elected=A2,
    ),
    # -- the connection
    Row(
        "suspended while leading",
        (elect(),),
        state("SUSPENDED"),
        None,
        None,
        True,
        lost=Reason.SUSPENDED,
    ),
    Row("suspended, not leading", (), state("SUSPENDED"), None, None, False),
    Row("lost", (elect(),), state("LOST"), None, None, True, lost=Reason.SESSION_LOST),
    Row(
        "reconnected: no grant by itself",
        (elect(), state("SUSPENDED")),
        state("CONNECTED"),
        None,
        None,
        False,
    ),
    Row(
        "reconnected, then re-checked: the same token",
        (elect(), state("SUSPENDED"), state("CONNECTED")),
        elect(at=T + 3, epoch=2),
        A,
        LEASE + 3,
        True,
        elected=A,
        probe=T + 4,
    ),
    Row(
        "reconnected while leading: the lease stands",
        (elect(),),
        state("CONNECTED"),
        A,
        LEASE,
        False,
    ),
    # -- stale callbacks: a confirming read sent before a connection state change
    Row(
        "stale grant: listing sent before a SUSPENDED, answered after CONNECTED",
        (state("SUSPENDED"), state("CONNECTED")),
        elect(epoch=0),
        None,
        None,
        False,
    ),
    Row(
        "stale renewal: read sent before a reconnect",
        (elect(), state("CONNECTED")),
        renew(at=T + 2, epoch=0),
        A,
        LEASE,
        False,
    ),
    # -- our node
    Row(
        "node gone",
        (elect(),),
        revoke(Reason.NODE_GONE, only_if=A),
        None,
        None,
        True,
        lost=Reason.NODE_GONE,
    ),
    Row(
        "node gone, for a leadership already over",
        (elect(A2),),
        revoke(Reason.NODE_GONE, only_if=A),
        A2,
        LEASE,
        False,
    ),
    Row(
        "deposed: its data set",
        (elect(),),
        revoke(Reason.DEPOSED, only_if=A),
        None,
        None,
        True,
        lost=Reason.DEPOSED,
    ),
    Row(
        "not lowest",
        (elect(),),
        revoke(Reason.NOT_LOWEST),
        None,
        None,
        True,
        lost=Reason.NOT_LOWEST,
    ),
    Row("not lowest, not leading", (), revoke(Reason.NOT_LOWEST), None, None, False),
    # -- the lease
    Row("lease renewed in time", (elect(),), renew(at=T + 4), A, LEASE + 4, False),
    Row(
        "lease lapsed: still the leader, no lease", (elect(),), idle(), A, None, False, probe=LEASE
    ),
    Row(
        "lease renewed after it lapsed",
        (elect(),),
        renew(at=T + 6),
        A,
        LEASE + 6,
        True,
        probe=T + 7,
    ),
    Row(
        "renewal for a leadership already over",
        (elect(), state("SUSPENDED")),
        renew(at=T + 1, epoch=1),
        None,
        None,
        False,
    ),
    Row(
        "a granted session timeout sets the lease length",
        (granted(4.0),),
        elect(),
        A,
        T + 2.0,
        True,
        elected=A,
    ),
    # -- the end
    Row("closed", (elect(),), close(), None, None, True, lost=Reason.SHUTDOWN),
    Row("closed, not leading", (), close(), None, None, False),
    Row("no grant after close", (close(),), elect(at=T + 1), None, None, False),
    Row("no renewal after close", (elect(), close()), renew(at=T + 1), None, None, False),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_leadership_rules(row: Row) -> None:
    rules = LeadershipRules(SESSION_S)
    rules.start()
    for step in row.before:
        step(rules)
    leading = rules.leadership
    change = row.step(rules)
    assert rules.leadership == row.leads
    lease = rules.lease(row.probe)
    assert (lease.deadline if lease else None) == row.lease_until
    assert change.notify is row.notify
    assert change.lost == (None if row.lost is None else leading)
    assert (change.reason if change.lost else None) == row.lost
    assert change.elected == row.elected


def test_leadership_lost_names_the_leadership_that_ended() -> None:
    rules = LeadershipRules(SESSION_S)
    rules.elect(A, confirmed_at=T, epoch=0, now=T)
    assert rules.connection_changed("SUSPENDED", now=T).lost == A


def test_leadership_holds_only_the_lease_it_granted() -> None:
    rules = LeadershipRules(SESSION_S)
    rules.elect(A, confirmed_at=T, epoch=0, now=T)
    lease = rules.lease(T)
    assert lease is not None and rules.holds(lease, T + 1)
    assert not rules.holds(lease, LEASE)  # run out
    rules.elect(A2, confirmed_at=T + 1, epoch=0, now=T + 1)
    assert not rules.holds(lease, T + 2)  # revoked by another leadership
    assert not rules.holds(None, T)


def test_leadership_epoch_counts_every_connection_state() -> None:
    rules = LeadershipRules(SESSION_S)
    for name in ("SUSPENDED", "CONNECTED", "LOST", "CONNECTED"):
        rules.connection_changed(name, now=T)
    assert rules.epoch == 4


def test_leadership_life_cycle_is_latent_started_closed() -> None:
    rules = LeadershipRules(SESSION_S)
    assert rules.life is Lifecycle.LATENT
    rules.start()
    assert rules.life is Lifecycle.STARTED
    rules.close(now=T)
    assert rules.life is Lifecycle.CLOSED
    with pytest.raises(RuntimeError, match="closed"):
        rules.start()


def test_leadership_session_granted_says_whether_it_changed() -> None:
    rules = LeadershipRules(SESSION_S)
    assert rules.lease_s == SESSION_S / 2 and rules.renew_every_s == pytest.approx(4.0)
    assert not rules.session_granted(SESSION_S)
    assert rules.session_granted(4.0)
    assert rules.lease_s == 2.0
