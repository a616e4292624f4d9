"""Leader election on ZooKeeper, in the layout of ZooKeeper's own LeaderElectionSupport.

What is guaranteed, first:

* At most one candidate holds a valid Lease at any moment the ensemble agrees on:
  a lease is granted only after a read, sent by this candidate and answered by the
  ensemble, shows that its own node (owned by its live session) is still there, and
  it runs out after half the session timeout counted from when that read was sent.
  "The session timeout" is the one the servers granted, not the one asked for: they
  clamp a request to their own range (2..20 ticks by default), and a lease of half an
  asked-for 30 s would outlive a granted 10 s session.
  The ensemble cannot give the leadership away before our session expires, and it
  cannot expire before a full session timeout after it last heard us, so a lease
  holder that is frozen (SIGSTOP, a long GC-like pause, a VM migration) finds its
  lease gone when it wakes, before it does any work. The election thread renews the
  lease with one small read every 0.4 session timeouts; asking for it is local.
* A leader watches its own node: deleted by hand while the session lives (to force
  an election), it stops when the notification arrives, which in practice is before
  its successor's first tick (that needs one more round trip). Not a guarantee: two
  servers may deliver the two notifications at different times; fencing tokens are.
* Leadership is revoked locally the moment the connection is SUSPENDED, long before
  the ensemble could expire the session (kazoo suspends after 2/3 of it).
* Every leadership carries a fencing token, the czxid of the leader's node: it only
  grows from one leader to the next, so a downstream system can refuse stale work.
* With credentials (``auth``, ZK_AUTH), the root and every candidate node carry an ACL
  giving ALL to that digest identity and READ to the world: a client without them can
  see who leads but cannot join, delete, depose or change an ACL (NoAuth). A root made
  earlier without them is tightened where the identity may; else the candidate refuses
  to join and says why.
* A depose request (a client with the credentials sets the leader's node's data: same
  bytes, a new version; ``python -m common.status --depose``) makes the leader stop
  working, then delete its node and join again at the back: the next candidate is
  notified only after the old leader stopped.
* Every wait is bounded, whatever the endpoints do (see common/zkclient.py); close()
  returns within about 1.5 s, having resigned when the ensemble could be reached.

What is not:

* Work between the lease check and its side effect is not atomic with it: a process
  frozen in that window (microseconds) acts late. Fencing tokens are the answer for
  side effects that must never be stale; the tick log carries them.
* The granted timeout is read from kazoo's own log call (see common/zkclient.py).
  Should a kazoo release change that call, the election falls back to the asked-for
  timeout: correct only when the servers grant what is asked.
* A client holding the election's credentials can still do anything a candidate can:
  create a node that looks like a candidate, delete the leader's node. Only fencing
  tokens guard a downstream system against that.

Layout: a persistent root (default /leader-election); each candidate is an
EPHEMERAL_SEQUENTIAL child ``n_<10 ASCII digits>`` whose data is its identity (UTF-8);
the lowest sequence leads; each other candidate watches only the node just below its
own, so a leader change wakes one candidate (no herd). Other children, and nodes so
named that are not ephemeral (a squatter made by hand), are ignored and reported once,
never fatal.

Connection states, as kazoo reports them (``_on_state``):

* SUSPENDED: revoke leadership at once; watches are gone (kazoo fires and clears them).
* CONNECTED again on the same session: re-check that our node exists and is lowest,
  then lead again with the same fencing token.
* LOST (session expired): our node is gone with the session; join again with a new
  node on the new session that kazoo opens by itself. No restart needed.

Threads: kazoo's event thread runs the listener and watch callbacks; they only change
fields, queue log lines and wake the election's own thread, which makes every
ZooKeeper call. ``_set_leadership`` is the one place leadership changes, from either.
"""

from __future__ import annotations

import enum
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import tenacity
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    ConnectionLoss,
    KazooException,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import EventType, WatchedEvent
from kazoo.security import OPEN_ACL_UNSAFE

from .logs import log_event, printable
from .observer import NODE_PREFIX, identity, list_candidates, sequence
from .zkclient import election_acl, new_client, stop_within

__all__ = ["LeaderElection", "Leadership", "Lease", "Lifecycle"]

log = logging.getLogger(__name__)

# A lease lasts half a session timeout from its read's sending: the ensemble cannot
# expire the session sooner than a whole one, the rest is margin for clock rates.
_LEASE_FRACTION = 0.5
# Renew every 0.4 session timeouts. Not more often: kazoo only checks a connection for
# liveness when it has sent nothing for 1/3 of a session timeout (a request counts as a
# ping but its missing reply is never noticed: kazoo/protocol/connection.py, the
# heartbeat of python-zk/kazoo#67), so reads at a faster pace would hide a dead
# connection from it until the session is gone. Reads at 0.4 leave kazoo room to
# ping and notice a silent server after ~2/3 of a session timeout (later when a read
# went out meanwhile: up to 1.15 of it, measured at 4 s; the servers expire a session
# only at the ZooKeeper tick after its timeout), usually in time to move to another
# server with the session alive.
_RENEW_EVERY_FRACTION = 0.4
# After an error on the election thread, look again after this long, doubling while
# the same error repeats (NoAuth does not fix itself in half a second), up to the cap.
_RETRY_STEP_S = 0.5
_RETRY_STEP_MAX_S = 30.0
# close()'s budget, in all well under the 2 s a SIGTERM'd worker has: delete our node,
# close the session, let the election thread notice. Each is a bound on a wait that
# takes milliseconds when the ensemble answers.
_RESIGN_S = 0.5
_STOP_S = 0.8
_STOP_UNANSWERED_S = 0.2
_JOIN_THREAD_S = 0.3
# How many names of other children the election remembers, to report each once.
_REMEMBERED_FOREIGN = 10_000

_CONNECTION_ERRORS = (ConnectionLoss, SessionExpiredError, KazooTimeoutError)


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
    ANY = "any"  # _set_leadership(only_if=_ANY): whoever leads now


_ANY = _Any.ANY


class LeaderElection:
    """One candidate in one election. The module docstring says what is guaranteed.

    Usage::

        election = LeaderElection("zoo1:2181", "/leader-election", "service1",
                                  session_timeout_s=10, notify=wake_up_the_worker)
        if election.start(should_stop, sleep):
            while running:
                lease = election.lease()          # local: no ZooKeeper round trip
                if lease is not None:
                    do_the_work(fencing_token=lease.leadership.token)
                ...  # sleep until the next tick or until notify() is called
        election.close()

    Parameters:

    hosts
        The ensemble, ``"host:port,host:port"`` as kazoo takes it.
    path
        The election root, a persistent node created if missing, e.g.
        ``"/leader-election"``. Candidates are its ``n_<sequence>`` children.
    identity
        This candidate's name, written as its node's data (UTF-8) for people and for
        the Java recipe's ``getLeaderHostName()``. Not used to decide anything.
    session_timeout_s
        Default 10, seconds. The session timeout asked of the servers, which clamp it
        to their range (2..20 ticks). A crashed leader is replaced after about the
        granted value; a lease lasts half of it.
    connect_timeout_s
        Default 5, seconds. How long one start-up attempt waits for a session before
        it is counted as failed and retried.
    retry_max_delay_s
        Default 5, seconds. The cap of the start-up retries' backoff (exponential
        with jitter, from 0.5 s), and of kazoo's reconnect backoff, which moreover
        never waits more than a tenth of the session timeout.
    auth
        Default "" (none). ``"user:password"``: ZooKeeper digest credentials for the
        session; the root and our node are created with ALL for that identity and
        READ for the world. Without it the election is open to every client.
    notify
        Default: nothing. Called, from any thread and without a lock held, whenever
        what ``lease()`` would answer may have changed: leadership won or lost, and a
        lease that had run out renewed. It must not block; wake a loop with it.

    ``problem`` says, while the election cannot take part because of something that
    will not fix itself (NoAuth, a path ZooKeeper refuses), what and since when.
    """

    def __init__(
        self,
        hosts: str,
        path: str,
        identity: str,
        *,
        session_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        retry_max_delay_s: float = 5.0,
        auth: str = "",
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._hosts = hosts
        self._auth = auth
        self._root = path
        self._identity = identity
        self._connect_timeout_s = connect_timeout_s
        self._retry_max_delay_s = retry_max_delay_s
        self._asked_s = session_timeout_s
        # The session timeout the servers granted on the last connect; until one is
        # known, the one asked for. Written by kazoo's thread, read by the election's.
        self._session_s = session_timeout_s
        self._notify = notify
        self._client = self._new_client()
        self._life = Lifecycle.LATENT
        self._lock = threading.Lock()
        self._leadership: Leadership | None = None  # guarded by _lock
        self._lease: Lease | None = None  # guarded by _lock; for self._leadership only
        self._connection_epoch = 0  # guarded by _lock; +1 on every connection state change
        self._wake = threading.Event()  # wakes the election thread
        self._needs_step = True  # set with _wake (see _rank_again)
        self._log_later: deque[Callable[[], None]] = deque()  # log lines, written by our thread
        self._thread = threading.Thread(target=self._run, name="election", daemon=True)
        # Owned by the election thread:
        self._node: str | None = None
        self._node_token = 0
        self._node_session: int | None = None
        self._orphan_session: int | None = None  # a create may have landed in this session
        self._following: tuple[str, str] | None = None
        self._watching_own: str | None = None  # our node, while a watch is set on it
        self._renew_at = 0.0  # monotonic time of the next lease renewal read
        self._foreign_seen: set[str] = set()
        self._not_candidates: set[str] = set()  # n_<digits> children that are not ephemeral
        self._deposed: str | None = None  # our node, after someone asked it to resign
        self._problem: tuple[str, float] | None = None  # (what, since), see `problem`
        # Written by kazoo's connection thread, read by the election's:
        self._suspended_at: float | None = None
        self._attempts = 0

    # ----------------------------------------------------------------- public verbs

    def start(self, should_stop: Callable[[], bool], sleep: Callable[[float], None]) -> bool:
        """Connect, retrying with capped exponential backoff and jitter, then join.

        Returns False when `should_stop()` turned true first. `sleep` waits between
        attempts and should return early when the caller is asked to stop.
        """
        if self._life is not Lifecycle.LATENT:
            raise RuntimeError(f"election {self._root} cannot start: it is {self._life.value}")
        if not self._auth:
            log_event(
                log,
                "election_open",
                f"No ZK_AUTH: any client that reaches ZooKeeper can join, depose or stop "
                f"the election at {self._root}",
                level=logging.WARNING,
            )
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_NotConnected),
            wait=tenacity.wait_exponential_jitter(
                multiplier=0.5, max=self._retry_max_delay_s, jitter=0.5
            ),
            stop=lambda _state: should_stop(),
            sleep=sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            retrying(self._connect_once, should_stop)
        except _NotConnected:
            return False
        self._life = Lifecycle.STARTED
        self._thread.start()
        self._wake.set()
        return True

    @property
    def leadership(self) -> Leadership | None:
        """The local view, free to ask: who we are if we lead, else None."""
        with self._lock:
            return self._leadership

    @property
    def session_hex(self) -> str | None:
        client_id = self._client.client_id
        return f"0x{client_id[0]:x}" if client_id else None

    @property
    def problem(self) -> tuple[str, float] | None:
        """(what, since: time.monotonic()) while a persistent error keeps us out."""
        return self._problem

    def lease(self) -> Lease | None:
        """The current lease if it is still valid, else None. Local: no round trip.

        None while leading means the lease ran out and its renewal has not come back
        (a frozen process just thawed, a silent server): do no work; notify() is called
        when it is renewed or leadership is lost.
        """
        with self._lock:
            lease = self._lease
        return lease if self.holds(lease) else None

    def holds(self, lease: Lease | None) -> bool:
        """True while `lease` is unexpired and nothing has revoked it locally."""
        if lease is None or time.monotonic() >= lease.deadline:
            return False
        with self._lock:
            return self._leadership == lease.leadership

    def close(self) -> None:
        """Resign: stop leading, delete our node, close the session. Idempotent."""
        if self._life is Lifecycle.CLOSED:
            return
        started = self._life is Lifecycle.STARTED
        self._life = Lifecycle.CLOSED  # from here on, nothing grants leadership
        self._set_leadership(None, "shutdown")
        self._write_logs()
        self._wake.set()
        node = self._node
        answered = self._client.connected
        if node is not None and answered:
            answered = self._delete_best_effort(node, _RESIGN_S)
        # closeSession: the ensemble drops our ephemerals now. Bounded, and brief when
        # the ensemble just left the delete unanswered: then it expires the session.
        if not stop_within(self._client, _STOP_S if answered else _STOP_UNANSWERED_S):
            log_event(
                log,
                "close_failed",
                f"ZooKeeper did not confirm the session's close within {_STOP_S:g} s; "
                "it expires the session instead",
                level=logging.WARNING,
            )
        if started:
            self._thread.join(timeout=_JOIN_THREAD_S)
        self._write_logs()

    # ------------------------------------------------------ kazoo's thread (callbacks)

    def _on_granted(self, timeout_ms: int) -> None:
        """A connect response named the session timeout: leases follow it from now on.

        Called before kazoo reports CONNECTED, so no lease is granted on a session
        whose timeout is not known yet.
        """
        granted = timeout_ms / 1000.0
        if granted != self._session_s:
            self._session_s = granted
            self._log_later.append(functools.partial(self._log_granted, granted))

    def _on_connecting(self, where: str) -> None:
        """kazoo tries a server (its connection thread): said while we are without one,
        so a silence in the logs never looks like a hang."""
        if self._life is not Lifecycle.STARTED or self._suspended_at is None:
            return
        self._attempts += 1
        attempt, without_s = self._attempts, time.monotonic() - self._suspended_at
        self._log_later.append(functools.partial(_log_reconnecting, where, attempt, without_s))
        self._wake.set()

    def _on_state(self, state: KazooState) -> None:
        """kazoo's connection listener: the one switch on connection states."""
        with self._lock:
            self._connection_epoch += 1
        if state == KazooState.CONNECTED:
            self._suspended_at, self._attempts = None, 0
        elif self._suspended_at is None:
            self._suspended_at = time.monotonic()
        if state == KazooState.SUSPENDED:
            self._set_leadership(None, "suspended")
        elif state == KazooState.LOST:
            self._set_leadership(None, "session_lost")
        client_id = self._client.client_id
        self._log_later.append(
            functools.partial(_log_state, str(state), client_id[0] if client_id else None)
        )
        self._rank_again()

    def _on_own_node(self, event: WatchedEvent) -> None:
        """The watch on the leader's own node: deleted, or its data set (a depose
        request), means stop now."""
        self._watching_own = None  # one-shot, and kazoo clears it (NONE) on SUSPENDED
        lead = self.leadership
        if lead is not None and lead.node == event.path:
            if event.type == EventType.DELETED:
                self._set_leadership(None, "node_gone", only_if=lead)
            elif event.type == EventType.CHANGED:
                self._deposed = lead.node
                self._set_leadership(None, "deposed", only_if=lead)
        self._rank_again()

    def _on_predecessor(self, event: WatchedEvent) -> None:
        # EventType.NONE is kazoo clearing watches on SUSPENDED, not a node change.
        if event.type != EventType.NONE:
            self._log_later.append(functools.partial(_log_watch_fired, event.path))
        self._rank_again()

    # ------------------------------------------------------------------ both threads

    def _set_leadership(
        self,
        new: Leadership | None,
        reason: str,
        *,
        only_if: Leadership | _Any = _ANY,
        confirmed_at: float | None = None,
        epoch: int | None = None,
    ) -> None:
        """The one place leadership and its lease change, from either thread.

        ``new`` leads (with a lease from ``confirmed_at``, when a read sent then showed
        its node alive) or nobody does (``new`` None, ``reason`` saying why). Nothing
        changes when ``only_if`` is given and another leadership is current, when a
        grant comes after close() or after a connection state change since ``epoch``
        (the read that confirmed it may predate a SUSPENDED). The worker is notified
        when leadership flips and when a lapsed lease comes back; the log lines are
        written by the election thread (kazoo's must never wait on a pipe).
        """
        with self._lock:
            old, old_lease = self._leadership, self._lease
            if only_if is not _ANY and old != only_if:
                return
            if new is not None and (
                self._life is Lifecycle.CLOSED
                or (epoch is not None and epoch != self._connection_epoch)
            ):
                return
            self._leadership = new
            if new is None:
                self._lease = None
            elif confirmed_at is not None:
                self._lease = Lease(new, confirmed_at + self._lease_s)
                self._renew_at = confirmed_at + self._renew_every_s
            elif new != old:
                self._lease = None
        if old is None and new is None:
            return
        lapsed = old_lease is None or time.monotonic() >= old_lease.deadline
        if old is not None and new != old:
            self._log_later.append(functools.partial(_log_lost, old, reason))
        if new is not None and new != old:
            self._log_later.append(functools.partial(_log_elected, new, self._root))
        if threading.current_thread() is self._thread:
            self._write_logs()  # before the worker, woken next, logs its first tick
        if new != old or (new is not None and lapsed):
            self._notify()

    def _rank_again(self) -> None:
        """Ask the election thread to look at the candidates again, now."""
        self._needs_step = True
        self._wake.set()

    # ------------------------------------------------------------ the election thread

    def _run(self) -> None:
        retry_at: float | None = None  # step again then, after an error
        retry_step_s = _RETRY_STEP_S
        while True:
            self._wake.wait(timeout=self._idle_for(retry_at))
            self._wake.clear()
            self._write_logs()
            if self._life is Lifecycle.CLOSED:
                return
            if not self._client.connected:
                continue  # the listener wakes us when a session is back
            now = time.monotonic()
            try:
                if self._needs_step or (retry_at is not None and now >= retry_at):
                    self._needs_step, retry_at = False, None
                    self._step()
                if self.leadership is not None and now >= self._renew_at:
                    self._renew()
            except _CONNECTION_ERRORS:
                retry_at = time.monotonic() + _RETRY_STEP_S  # the listener usually wakes us first
            except NoNodeError:
                self._rank_again()  # raced with a deletion: look again now
            except (KazooException, _Refused) as exc:
                if self._life is Lifecycle.CLOSED:
                    return  # close() stopped the client under a call of ours
                retry_step_s = self._report_problem(exc, retry_step_s)
                retry_at = time.monotonic() + retry_step_s
            else:
                if self._problem is not None and self._node is not None:
                    self._problem, retry_step_s = None, _RETRY_STEP_S
                    log_event(log, "election_ok", f"Taking part in the election at {self._root}")
            self._write_logs()

    def _idle_for(self, retry_at: float | None) -> float | None:
        """How long the election thread may sleep: until a retry or a lease renewal."""
        due = [t for t in (retry_at, self._renew_at if self.leadership else None) if t is not None]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _step(self) -> None:
        """Join if we have no node on this session, then lead or follow."""
        client_id = self._client.client_id
        if client_id is None:
            return
        session_id = client_id[0]
        if self._deposed is not None and self._deposed == self._node:
            self._resign_and_rejoin()
        if self._node is None or self._node_session != session_id:
            self._join(session_id)
        assert self._node is not None
        with self._lock:
            epoch = self._connection_epoch
        sent = time.monotonic()  # the listing proves our node alive as of now: a lease
        children = self._client.get_children(self._root)
        ranked = [name for _, name in sorted(self._candidates_among(children))]
        own_name = self._node.rsplit("/", 1)[1]
        if own_name not in ranked:
            log_event(
                log,
                "node_gone",
                f"Our node {self._node} is gone; joining again",
                level=logging.WARNING,
                node=self._node,
            )
            self._set_leadership(None, "node_gone")
            self._node = None
            self._rank_again()
            return
        position = ranked.index(own_name)
        if position == 0:
            self._lead(Leadership(self._node_token, self._node, session_id), sent, epoch)
        else:
            self._follow(ranked[position - 1], ranked[0])

    def _lead(self, lead: Leadership, sent: float, epoch: int) -> None:
        """Lowest: lead under a lease from the listing, then watch our own node."""
        self._following = None
        self._set_leadership(lead, "elected", confirmed_at=sent, epoch=epoch)
        if self._watching_own == lead.node:
            return
        # Our session can outlive our node (an operator deletes it to force an
        # election, or asks it to resign): only a watch on it says so before the next
        # renewal. Set after leading, so the handoff waits for no extra round trip.
        self._watching_own = lead.node
        stat = self._client.exists(lead.node, watch=self._on_own_node)
        if stat is None or stat.version != 0:  # gone, or deposed, since the listing
            self._deposed = lead.node if stat is not None else None
            self._set_leadership(None, "node_gone" if stat is None else "deposed", only_if=lead)
            self._rank_again()

    def _follow(self, predecessor_name: str, leader_name: str) -> None:
        """Not lowest: stop leading if we did, and watch the node just below ours."""
        self._set_leadership(None, "not_lowest")
        predecessor = f"{self._root}/{predecessor_name}"
        stat = self._client.exists(predecessor, watch=self._on_predecessor)
        if stat is None:
            self._rank_again()  # it went between the two reads
            return
        if stat.ephemeralOwner == 0:
            # A candidate's node lives and dies with its session; a persistent one was
            # made by hand and would be followed forever. (Its watch stays set: one
            # spurious wake-up when it is deleted.)
            self._not_candidates.add(predecessor_name)
            self._report_foreign([predecessor_name], "not ephemeral")
            self._rank_again()
            return
        leader_node = f"{self._root}/{leader_name}"
        if self._following == (predecessor, leader_node):
            return
        self._following = (predecessor, leader_node)
        leader = self._identity_of(leader_node)
        log_event(
            log,
            "following",
            f"Following {leader or 'an unknown leader'}; watching {predecessor}",
            node=self._node,
            predecessor=predecessor,
            leader=leader,
        )

    def _renew(self) -> None:
        """One small read: is our node still there, owned by our session? Then extend."""
        lead = self.leadership
        if lead is None:
            return
        with self._lock:
            epoch = self._connection_epoch
        sent = time.monotonic()
        # Whatever the outcome, the next read waits its turn: reading faster would hide
        # a dead connection from kazoo (see _RENEW_EVERY_FRACTION).
        self._renew_at = sent + self._renew_every_s
        try:
            stat = self._client.exists_async(lead.node).get(timeout=self._lease_s)
        except KazooTimeoutError:
            log_event(
                log,
                "lease_renewal_late",
                f"No answer to the lease renewal within {self._lease_s:g} s; not working "
                "until one comes",
                level=logging.WARNING,
                fencing_token=lead.token,
            )
            return
        if stat is None or stat.ephemeralOwner != lead.session_id or stat.czxid != lead.token:
            self._set_leadership(None, "node_gone", only_if=lead)
            self._rank_again()
            return
        if stat.version != 0:  # its data was set: a depose request whose watch we missed
            self._deposed = lead.node
            self._set_leadership(None, "deposed", only_if=lead)
            self._rank_again()
            return
        self._set_leadership(lead, "renewed", only_if=lead, confirmed_at=sent, epoch=epoch)

    def _join(self, session_id: int) -> None:
        """Offer ourselves: create our node, or find the one a lost reply left behind."""
        self._node = None
        self._following = None
        if self._orphan_session == session_id and self._adopt_orphan(session_id):
            return
        self._orphan_session = session_id
        self._ensure_root()
        # If this create's reply is lost (ConnectionLoss), the node may exist all the
        # same: _orphan_session stays set, and on this session's return _adopt_orphan
        # finds the node by its owner instead of offering twice.
        path, stat = self._client.create(
            f"{self._root}/{NODE_PREFIX}",
            self._identity.encode(),
            ephemeral=True,
            sequence=True,
            include_data=True,
        )
        self._orphan_session = None
        self._node, self._node_token, self._node_session = path, stat.czxid, session_id
        log_event(
            log,
            "joined",
            f"Joined the election as {path}",
            node=path,
            fencing_token=stat.czxid,
            session_id=f"0x{session_id:x}",
        )

    def _adopt_orphan(self, session_id: int) -> bool:
        """After a create whose reply was lost, find nodes our session owns; keep the lowest."""
        ours = [c for c in list_candidates(self._client, self._root) if c.session_id == session_id]
        if not ours:
            return False
        for extra in ours[1:]:
            self._delete_best_effort(extra.node)
        path, czxid = ours[0].node, ours[0].czxid
        self._orphan_session = None
        self._node, self._node_token, self._node_session = path, czxid, session_id
        log_event(
            log,
            "joined",
            f"Found our node {path} after a lost reply",
            node=path,
            fencing_token=czxid,
            session_id=f"0x{session_id:x}",
            adopted=True,
        )
        return True

    def _resign_and_rejoin(self) -> None:
        """Asked to resign (our node's data was set): leadership is gone already; give
        the node up so the next candidate leads, and join again at the back."""
        node, self._deposed = self._deposed, None
        assert node is not None
        log_event(
            log,
            "deposed",
            f"Asked to resign: deleting {node} and joining again at the back",
            level=logging.WARNING,
            node=node,
        )
        self._delete_best_effort(node, 2.0)
        self._node = None

    def _ensure_root(self) -> None:
        """Create the root if missing, with the election's ACL (``new_client`` makes it
        the default); the path above it is not the election's and keeps ZooKeeper's
        default, so other tools may share it. With credentials, secure the root."""
        if self._client.exists(self._root) is None:
            parent = self._root.rsplit("/", 1)[0]
            if parent:
                self._client.ensure_path(parent, acl=OPEN_ACL_UNSAFE)
            try:
                self._client.create(self._root)
            except NodeExistsError:
                pass  # another candidate made it meanwhile
        if self._auth:
            self._secure_root()

    def _secure_root(self) -> None:
        """Make sure only our identity may change the root; tighten it if we may."""
        ours = election_acl(self._auth)
        for _ in range(3):
            acls, stat = self._client.get_acls(self._root)
            others = [a for a in acls if a not in ours and a.perms != ours[1].perms]
            if not others:
                return
            opened = ", ".join(f"{a.id.scheme}:{printable(a.id.id, 40)}" for a in others)
            try:
                self._client.set_acls(self._root, ours, version=stat.aversion)
            except BadVersionError:
                continue  # changed meanwhile (another candidate tightened it): look again
            except NoAuthError:
                user = self._auth.partition(":")[0]
                raise _Refused(
                    f"the election root {self._root} lets {opened} change it, and ZooKeeper "
                    f"refuses to tighten its ACL for {user} (NoAuth): have its owner delete "
                    f"it or set its ACL to digest {user} ALL + world READ, or choose another "
                    "ELECTION_PATH"
                ) from None
            log_event(
                log,
                "root_acl_tightened",
                f"The election root {self._root} let {opened} change it: now only this "
                "election's identity may, and the world may read",
                level=logging.WARNING,
                opened_to=opened,
            )
            return
        raise _Refused(f"the ACL of the election root {self._root} keeps changing")

    def _candidates_among(self, children: list[str]) -> list[tuple[int, str]]:
        """(sequence, name) of each candidate child; other children reported once."""
        ranked, foreign = [], []
        for name in children:
            seq = sequence(name)
            if seq is not None and name not in self._not_candidates:
                ranked.append((seq, name))
            elif seq is None and name not in self._foreign_seen:
                foreign.append(name)
        self._report_foreign(foreign, "not named n_<10 digits>")
        return ranked

    def _report_foreign(self, names: list[str], why: str) -> None:
        """One line for any number of children that are not candidates."""
        if not names:
            return
        room = _REMEMBERED_FOREIGN - len(self._foreign_seen)
        self._foreign_seen.update(names[: max(room, 0)])
        shown = ", ".join(printable(name, 40) for name in names[:3])
        shown += f" and {len(names) - 3} more" if len(names) > 3 else ""
        log_event(
            log,
            "foreign_child",
            f"Ignoring {len(names)} child(ren) of {self._root}, {why}: {shown}",
            level=logging.WARNING,
            count=len(names),
            reason=why,
            examples=shown,
        )

    def _report_problem(self, exc: Exception, retry_step_s: float) -> float:
        """Log a persistent error once, with its cause and the fix; the next wait."""
        what = _explain(exc, self._root, self._auth)
        if self._problem is None or self._problem[0] != what:
            self._problem = (what, time.monotonic())
            log_event(log, "election_error", what, level=logging.ERROR, error=repr(exc))
            return _RETRY_STEP_S
        return min(retry_step_s * 2, _RETRY_STEP_MAX_S)

    def _identity_of(self, node: str) -> str | None:
        try:
            data, _stat = self._client.get(node)
        except NoNodeError:
            return None
        return identity(data)

    def _delete_best_effort(self, node: str, within_s: float = 1.0) -> bool:
        """Delete ``node`` if ZooKeeper answers within ``within_s``; False if it did not.
        Either way the session's close, or its expiry, removes it in the end."""
        try:
            self._client.delete_async(node).get(timeout=within_s)
        except KazooTimeoutError:
            return False
        except KazooException:
            pass  # answered: gone already, or the connection dropped meanwhile
        return True

    # ------------------------------------------------------------------- start-up

    def _new_client(self) -> KazooClient:
        client = new_client(
            self._hosts,
            self._asked_s,
            auth=self._auth,
            on_granted=self._on_granted,
            on_connecting=self._on_connecting,
            retry_max_delay_s=self._retry_max_delay_s,
            # A trickling reply holds kazoo's thread no longer than a start-up attempt.
            frame_deadline_s=min(self._asked_s / 3, self._connect_timeout_s),
        )
        client.add_listener(self._on_state)
        return client

    def _connect_once(self, should_stop: Callable[[], bool]) -> None:
        live = self._client.start_async()
        deadline = time.monotonic() + self._connect_timeout_s
        # Wait in slices so a SIGTERM during a slow attempt is honoured at once.
        while not live.wait(0.1):
            if should_stop() or time.monotonic() >= deadline:
                # kazoo's thread may be stuck with a bad endpoint: don't wait for it;
                # a client whose stop did not finish cannot start again: take a new one.
                if not stop_within(self._client, _STOP_S):
                    self._client = self._new_client()
                if should_stop():
                    raise _NotConnected("stopped while connecting")
                raise _NotConnected(
                    f"no ZooKeeper session from {self._hosts} within {self._connect_timeout_s:g} s"
                )

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        wait_s = state.next_action.sleep if state.next_action else 0.0
        error = state.outcome.exception() if state.outcome else None
        log_event(
            log,
            "retry",
            f"ZooKeeper not reachable yet; retry {state.attempt_number} in {wait_s:.1f} s",
            level=logging.WARNING,
            attempt=state.attempt_number,
            wait_s=round(wait_s, 3),
            error=str(error),
        )

    # -------------------------------------------------------------- small helpers

    @property
    def _lease_s(self) -> float:
        return self._session_s * _LEASE_FRACTION

    @property
    def _renew_every_s(self) -> float:
        return self._session_s * _RENEW_EVERY_FRACTION

    def _write_logs(self) -> None:
        while self._log_later:
            self._log_later.popleft()()

    def _log_granted(self, granted: float) -> None:
        asked = self._asked_s
        differs = f", not the {asked:g} s asked for (ZK_SESSION_TIMEOUT_S)"
        log_event(
            log,
            "session_timeout",
            f"ZooKeeper granted a {granted:g} s session{differs if granted != asked else ''}; "
            f"leases last {granted * _LEASE_FRACTION:g} s, and a crashed leader is replaced "
            f"after about {granted:g} s",
            level=logging.WARNING if granted != asked else logging.INFO,
            requested_s=asked,
            granted_s=granted,
            lease_s=granted * _LEASE_FRACTION,
        )


class _NotConnected(Exception):
    """One start-up attempt got no session in time."""


class _Refused(Exception):
    """The election cannot be joined safely as things are; the message says why."""


def _explain(exc: Exception, root: str, auth: str) -> str:
    """A persistent error, in words an operator can act on."""
    who = f"the identity {auth.partition(':')[0]} (ZK_AUTH)" if auth else "a client without ZK_AUTH"
    if isinstance(exc, NoAuthError):
        return (
            f"ZooKeeper refuses {who} at {root} (NoAuth): set ZK_AUTH to the election's "
            "credentials, or choose another ELECTION_PATH"
        )
    if isinstance(exc, BadArgumentsError):
        return f"ZooKeeper refuses {root} as a path (BadArguments): choose another ELECTION_PATH"
    if isinstance(exc, NoChildrenForEphemeralsError):
        return (
            f"{root} is an ephemeral node, which cannot have children: delete it or "
            "choose another ELECTION_PATH"
        )
    if isinstance(exc, _Refused):
        return f"Not joining: {exc}"
    return f"Election step failed: {exc!r}"


def _log_state(state: str, session_id: int | None) -> None:
    log_event(
        log,
        "zk_state",
        f"ZooKeeper connection {state}",
        state=state,
        session_id=None if session_id is None else f"0x{session_id:x}",
    )


def _log_reconnecting(where: str, attempt: int, without_s: float) -> None:
    log_event(
        log,
        "reconnecting",
        f"Reconnecting to {where} (attempt {attempt}, {without_s:.1f} s without ZooKeeper)",
        server=where,
        attempt=attempt,
        without_s=round(without_s, 1),
    )


def _log_watch_fired(path: str) -> None:
    log_event(log, "watch_fired", f"Predecessor {path} changed; ranking again", path=path)


def _log_elected(lead: Leadership, root: str) -> None:
    log_event(
        log,
        "leader_elected",
        f"Leading the election at {root} (fencing token {lead.token})",
        fencing_token=lead.token,
        node=lead.node,
        session_id=lead.session_hex,
    )


def _log_lost(lead: Leadership, reason: str) -> None:
    log_event(
        log,
        "leadership_lost",
        "Leadership given up: shutting down"
        if reason == "shutdown"
        else f"Leadership lost ({reason})",
        level=logging.INFO if reason == "shutdown" else logging.WARNING,
        fencing_token=lead.token,
        reason=reason,
        session_id=lead.session_hex,
    )
