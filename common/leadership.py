"""Who leads, and under which lease: the election's rules, without I/O.

``LeadershipRules`` holds this candidate's leadership, its lease, the connection epoch
and the life cycle, and decides every change of them; the election (common/election.py)
does the ZooKeeper calls and hands the outcomes to it, and logs and notifies as the
returned ``Change`` says. Nothing here reads a clock, a socket or a log: ``now`` is an
argument, so every rule is tested table-driven (tests/test_leadership.py).

The rules:

* **One setter.** Leadership and its lease change only through ``_set``; the worker
  is notified when leadership flips, and when a leadership whose lease had run out
  gets a lease again. Otherwise (a renewal in time) it is not woken.
* **Guarded.** A change ``only_if`` a given leadership is dropped when another one is
  current (a renewal or a watch about a leadership already gone).
* **The connection epoch.** Every connection state change increments it; a grant
  carries the epoch read before its confirming read was sent, and is dropped when the
  epoch moved meanwhile: the read may predate a SUSPENDED.
* **CLOSED is final.** After ``close()`` nothing grants leadership again.
* **The lease** runs out half the session timeout after the confirming read was
  *sent*: the one the servers granted (``session_granted``), until then the one asked
  for. ``lease`` and ``holds`` answer for a given ``now``.

Thread safety: every method takes the object's lock, so kazoo's thread and the
election's may call it; none blocks on anything else.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

from .logs import Reason

__all__ = [
    "ANY",
    "LEASE_FRACTION",
    "RENEW_EVERY_FRACTION",
    "Change",
    "Leadership",
    "LeadershipRules",
    "Lease",
    "Lifecycle",
]

# kazoo's KazooState values, as strings: the rules need no kazoo.
_SUSPENDED, _LOST = "SUSPENDED", "LOST"
# A lease lasts half a session timeout from its read's sending: the ensemble cannot
# expire the session sooner than a whole one, the rest is margin for clock rates.
LEASE_FRACTION = 0.5
# Renew every 0.4 session timeouts. kazoo alone only checks a connection for liveness
# when it has sent nothing for 1/3 of a session timeout (a request counts as a ping but
# its missing reply is never noticed: kazoo/protocol/connection.py, the heartbeat of
# python-zk/kazoo#67), so reads at a faster pace, or the worker's ledger writes, hid a
# dead connection from it until the session was gone. common/zkclient.py now drops a
# connection silent for 2/3 of the session whatever is sent, as ZooKeeper's own client
# does; reads at 0.4 still leave kazoo its own pings, and cost the ensemble little.
RENEW_EVERY_FRACTION = 0.4


class Lifecycle(enum.Enum):
    """LATENT until start(), STARTED once connected and joining, CLOSED after close()."""

    LATENT = "latent"
    STARTED = "started"
    CLOSED = "closed"


@dataclass(frozen=True)
class Leadership:
    """This candidate leads: its node, the session that owns it, the fencing token."""

    token: int  # czxid of our node: grows from one leader to the next
    node: str
    session_id: int

    @property
    def session_hex(self) -> str:
        return f"0x{self.session_id:x}"


@dataclass(frozen=True)
class Lease:
    """Leadership confirmed by the ensemble, valid until `deadline` (time.monotonic())."""

    leadership: Leadership
    deadline: float


class _Any(enum.Enum):
    ANY = "any"  # only_if=ANY: whoever leads now


ANY = _Any.ANY


@dataclass(frozen=True)
class Change:
    """What one transition asks of the election: the lines to log, whether to wake the
    worker, and whether a lease was granted (the next renewal counts from it)."""

    lost: Leadership | None = None  # log leadership_lost for it, with `reason`
    reason: str = ""
    elected: Leadership | None = None  # log leader_elected for it
    notify: bool = False
    granted: bool = False


_NOTHING = Change()


class LeadershipRules:
    """The leadership state of one candidate and the rules that change it.

    Usage (the election's; every transition returns a Change to act on)::

        rules = LeadershipRules(session_timeout_s=10)
        epoch, sent = rules.epoch, time.monotonic()   # before the confirming read
        ...                                           # it shows our node lowest
        change = rules.elect(lead, confirmed_at=sent, epoch=epoch, now=time.monotonic())
        if change.notify:
            wake_the_worker()
        lease = rules.lease(time.monotonic())         # None once it ran out
    """

    def __init__(self, session_timeout_s: float) -> None:
        self.asked_s = session_timeout_s
        # The session timeout the servers granted on the last connect; until one is
        # known, the one asked for. Written by kazoo's thread, read by the election's.
        self._session_s = session_timeout_s
        self._lock = threading.Lock()
        self._life = Lifecycle.LATENT
        self._leadership: Leadership | None = None
        self._lease: Lease | None = None  # for self._leadership only
        self._epoch = 0  # +1 on every connection state change

    # ---------------------------------------------------------------- questions

    @property
    def life(self) -> Lifecycle:
        return self._life

    @property
    def leadership(self) -> Leadership | None:
        with self._lock:
            return self._leadership

    @property
    def lease_s(self) -> float:
        return self._session_s * LEASE_FRACTION

    @property
    def renew_every_s(self) -> float:
        return self._session_s * RENEW_EVERY_FRACTION

    @property
    def epoch(self) -> int:
        """Read before sending a read that may confirm leadership (see ``elect``)."""
        with self._lock:
            return self._epoch

    def lease(self, now: float) -> Lease | None:
        """The current lease while it runs at ``now``, else None."""
        with self._lock:
            lease = self._lease
        return lease if self.holds(lease, now) else None

    def holds(self, lease: Lease | None, now: float) -> bool:
        """True while ``lease`` is unexpired at ``now`` and nothing revoked it since."""
        if lease is None or now >= lease.deadline:
            return False
        with self._lock:
            return self._leadership == lease.leadership

    # ---------------------------------------------------------------- transitions

    def start(self) -> None:
        if self._life is not Lifecycle.LATENT:
            raise RuntimeError(f"cannot start: the election is {self._life.value}")
        self._life = Lifecycle.STARTED

    def session_granted(self, granted_s: float) -> bool:
        """The servers granted ``granted_s``: leases follow it from now on. True when
        it differs from the one in force (worth saying)."""
        if granted_s == self._session_s:
            return False
        self._session_s = granted_s
        return True

    def elect(self, lead: Leadership, *, confirmed_at: float, epoch: int, now: float) -> Change:
        """Lowest in a listing sent at ``confirmed_at`` (with the epoch read before it):
        lead, under a lease from then."""
        return self._set(lead, Reason.ELECTED, now, confirmed_at=confirmed_at, epoch=epoch)

    def renew(self, lead: Leadership, *, confirmed_at: float, epoch: int, now: float) -> Change:
        """A read sent at ``confirmed_at`` showed ``lead``'s node alive: extend its lease."""
        return self._set(
            lead, Reason.RENEWED, now, only_if=lead, confirmed_at=confirmed_at, epoch=epoch
        )

    def revoke(self, reason: str, *, now: float, only_if: Leadership | _Any = ANY) -> Change:
        """Stop leading, for ``reason`` (a ``Reason``); only ``only_if`` when given."""
        return self._set(None, reason, now, only_if=only_if)

    def connection_changed(self, state: str, *, now: float) -> Change:
        """kazoo reported ``state``: confirmations sent before it are void; SUSPENDED
        and LOST revoke at once (CONNECTED does not grant: a re-check must)."""
        with self._lock:
            self._epoch += 1
        if state == _SUSPENDED:
            return self.revoke(Reason.SUSPENDED, now=now)
        if state == _LOST:
            return self.revoke(Reason.SESSION_LOST, now=now)
        return _NOTHING

    def close(self, *, now: float) -> Change:
        """CLOSED for good: stop leading; nothing grants leadership from here on."""
        with self._lock:
            self._life = Lifecycle.CLOSED
        return self.revoke(Reason.SHUTDOWN, now=now)

    # ---------------------------------------------------------------- the one setter

    def _set(
        self,
        new: Leadership | None,
        reason: str,
        now: float,
        *,
        only_if: Leadership | _Any = ANY,
        confirmed_at: float | None = None,
        epoch: int | None = None,
    ) -> Change:
        with self._lock:
            old, old_lease = self._leadership, self._lease
            if only_if is not ANY and old != only_if:
                return _NOTHING
            if new is not None and (
                self._life is Lifecycle.CLOSED or (epoch is not None and epoch != self._epoch)
            ):
                return _NOTHING
            self._leadership = new
            if new is None:
                self._lease = None
            elif confirmed_at is not None:
                self._lease = Lease(new, confirmed_at + self.lease_s)
            elif new != old:
                self._lease = None
        if old is None and new is None:
            return _NOTHING
        lapsed = old_lease is None or now >= old_lease.deadline
        return Change(
            lost=old if old is not None and new != old else None,
            reason=reason,
            elected=new if new is not None and new != old else None,
            notify=new != old or (new is not None and lapsed),
            granted=new is not None and confirmed_at is not None,
        )
