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

What is not:

* Work between the lease check and its side effect is not atomic with it: a process
  frozen in that window (microseconds) acts late. Fencing tokens are the answer for
  side effects that must never be stale; the tick log carries them.
* The granted timeout is read from kazoo's own log call ("Session created"), the only
  place kazoo tells it (python-zk/kazoo#769). Should a kazoo release change that call,
  the election falls back to the asked-for timeout: correct only when the servers
  grant what is asked, as before. requirements.txt pins kazoo; a test guards the tap.

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

Layout: a persistent root (default /leader-election); each candidate is an
EPHEMERAL_SEQUENTIAL child ``n_<sequence>`` whose data is its identity (UTF-8); the
lowest sequence leads; each other candidate watches only the node just below its own,
so a leader change wakes one candidate (no herd). Children that do not look like
``n_<digits>`` are ignored, never fatal.

Connection states, as kazoo reports them (handled in ``_on_state``):

* SUSPENDED: revoke leadership at once; watches are gone (kazoo fires and clears them).
* CONNECTED again on the same session: re-check that our node exists and is lowest,
  then lead again with the same fencing token.
* LOST (session expired): our node is gone with the session; join again with a new
  node on the new session that kazoo opens by itself. No restart needed.

Only this module imports kazoo. kazoo's listener and watch callbacks run on kazoo's
event thread: they only set fields, queue notes and wake threads; they never block
and never call ZooKeeper. ZooKeeper calls happen on the election's own thread only.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tenacity
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.loggingsupport import BLATHER
from kazoo.protocol.states import EventType, WatchedEvent
from kazoo.retry import KazooRetry

from .logs import log_event

__all__ = ["Candidate", "LeaderElection", "Leadership", "Lease", "Unavailable", "read_candidates"]

log = logging.getLogger(__name__)

# The Java recipe's node name prefix; its sequence suffix is ZooKeeper's 10-digit counter.
NODE_PREFIX = "n_"
_NODE_NAME = re.compile(r"^n_(\d{10})$")
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
# After an unexpected error on the election thread, look again after this long.
_RETRY_STEP_S = 0.5
# close() waits this long for the election thread; stopping the client has failed its
# pending calls by then, so it only has to notice.
_JOIN_THREAD_S = 3.0

_CONNECTION_ERRORS = (ConnectionLoss, SessionExpiredError, KazooTimeoutError)


class _GrantedTimeoutTap(logging.LoggerAdapter):
    """The logger handed to kazoo: passes every call on, and hands the session timeout
    the servers granted (in ms) to ``on_granted``.

    kazoo learns the granted timeout from each connect response and keeps it to itself
    (python-zk/kazoo#769), but it logs it, at BLATHER, through the logger it was given:
    ``"Session created, ...", session_id, password, negotiated_timeout_ms, ...``.
    """

    def __init__(self, logger: logging.Logger, on_granted: Callable[[int], None]) -> None:
        super().__init__(logger, {})
        self._on_granted = on_granted

    def process(self, msg: object, kwargs: Any) -> tuple[object, Any]:
        return msg, kwargs  # no extra fields: kazoo's records stay as they were

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if (
            level == BLATHER
            and isinstance(msg, str)
            and msg.startswith("Session created")
            and len(args) >= 3
            and isinstance(args[2], int)
        ):
            self._on_granted(args[2])
        super().log(level, msg, *args, **kwargs)


class _Life(enum.Enum):
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


@dataclass(frozen=True)
class Candidate:
    """One child of the election root, as `read_candidates` sees it."""

    node: str
    sequence: int
    identity: str
    czxid: int
    session_id: int


def _sequence(name: str) -> int | None:
    match = _NODE_NAME.match(name)
    return int(match.group(1)) if match else None


def _identity(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


class LeaderElection:
    """One candidate in one election. See the module docstring for the contract."""

    def __init__(
        self,
        hosts: str,
        path: str,
        identity: str,
        *,
        session_timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        retry_max_delay_s: float = 5.0,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._hosts = hosts
        self._root = path
        self._identity = identity
        self._connect_timeout_s = connect_timeout_s
        self._retry_max_delay_s = retry_max_delay_s
        self._asked_s = session_timeout_s
        # The session timeout the servers granted on the last connect; until one is
        # known, the one asked for. Written by kazoo's thread, read by the election's.
        self._session_s = session_timeout_s
        self._notify = notify
        self._client = KazooClient(
            hosts=hosts,
            timeout=session_timeout_s,
            logger=_GrantedTimeoutTap(logging.getLogger("kazoo.client"), self._on_granted),
            # kazoo's default reconnect backoff grows toward an hour; cap it, and never
            # give up: a worker outlives any ensemble outage. While the session lives,
            # reconnect at least every tenth of it: a ZooKeeper leader election takes the
            # servers away for a second or two, and a 5 s pause there risks the session.
            connection_retry=KazooRetry(
                max_tries=-1,
                delay=0.1,
                backoff=2,
                max_jitter=0.4,
                max_delay=min(retry_max_delay_s, session_timeout_s / 10),
            ),
        )
        self._client.add_listener(self._on_state)
        self._life = _Life.LATENT
        self._lock = threading.Lock()
        self._leadership: Leadership | None = None  # guarded by _lock
        self._lease: Lease | None = None  # guarded by _lock; for self._leadership only
        self._wake = threading.Event()  # wakes the election thread
        self._notes: deque[tuple[str, object]] = deque()  # from kazoo's thread, to log
        self._thread = threading.Thread(target=self._run, name="election", daemon=True)
        # Owned by the election thread:
        self._node: str | None = None
        self._node_token = 0
        self._node_session: int | None = None
        self._orphan_session: int | None = None  # a create may have landed in this session
        self._following: tuple[str, str] | None = None
        self._watching_own: str | None = None  # our node, while a watch is set on it
        self._needs_step = True  # set from any thread, with _wake: rank again
        self._renew_at = 0.0  # monotonic time of the next lease renewal read
        self._foreign_seen: set[str] = set()

    # ----------------------------------------------------------------- public verbs

    def start(self, should_stop: Callable[[], bool], sleep: Callable[[float], None]) -> bool:
        """Connect, retrying with capped exponential backoff and jitter, then join.

        Returns False when `should_stop()` turned true first. `sleep` waits between
        attempts and should return early when the caller is asked to stop.
        """
        if self._life is not _Life.LATENT:
            raise RuntimeError(f"election {self._root} cannot start: it is {self._life.value}")
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_NotConnected),
            wait=tenacity.wait_exponential_jitter(
                initial=0.5, max=self._retry_max_delay_s, jitter=0.5
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
        self._life = _Life.STARTED
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
        if self._life is _Life.CLOSED:
            return
        started = self._life is _Life.STARTED
        self._life = _Life.CLOSED
        self._wake.set()
        with self._lock:
            lead, self._leadership, self._lease = self._leadership, None, None
        if lead is not None:
            log_event(
                log,
                "leadership_lost",
                "Leadership given up: shutting down",
                fencing_token=lead.token,
                reason="shutdown",
                session_id=lead.session_hex,
            )
        node = self._node
        if node is not None and self._client.connected:
            self._delete_best_effort(node)
        try:
            self._client.stop()  # closeSession: the ensemble drops our ephemerals now
        except KazooException as exc:
            log_event(
                log, "close_failed", f"Closing the session failed: {exc!r}", level=logging.WARNING
            )
        self._client.close()
        if started:
            self._thread.join(timeout=_JOIN_THREAD_S)

    # ------------------------------------------------------------------- start-up

    def _connect_once(self, should_stop: Callable[[], bool]) -> None:
        live = self._client.start_async()
        deadline = time.monotonic() + self._connect_timeout_s
        # Wait in slices so a SIGTERM during a slow attempt is honoured at once.
        while not live.wait(0.1):
            if should_stop():
                self._client.stop()
                raise _NotConnected("stopped while connecting")
            if time.monotonic() >= deadline:
                self._client.stop()
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

    @property
    def _lease_s(self) -> float:
        return self._session_s * _LEASE_FRACTION

    @property
    def _renew_every_s(self) -> float:
        return self._session_s * _RENEW_EVERY_FRACTION

    # --------------------------------------------------------- kazoo's thread only

    def _on_granted(self, timeout_ms: int) -> None:
        """A connect response named the session timeout: leases follow it from now on.

        Called before kazoo reports CONNECTED, so no lease is granted on a session
        whose timeout is not known yet.
        """
        granted = timeout_ms / 1000.0
        if granted != self._session_s:
            self._session_s = granted
            self._notes.append(("granted", granted))

    def _on_state(self, state: KazooState) -> None:
        """kazoo's connection listener: set fields, queue a note, wake; never block."""
        if state != KazooState.CONNECTED:
            self._drop(reason="suspended" if state == KazooState.SUSPENDED else "session_lost")
        client_id = self._client.client_id
        self._notes.append(("state", (str(state), client_id[0] if client_id else None)))
        self._needs_step = True
        self._wake.set()

    def _on_own_node(self, event: WatchedEvent) -> None:
        """The watch on the leader's own node: deleted means deposed, now."""
        self._watching_own = None  # one-shot, and kazoo clears it (NONE) on SUSPENDED
        if event.type == EventType.DELETED:
            self._drop(reason="node_gone", node=event.path)
        self._needs_step = True
        self._wake.set()

    def _drop(self, reason: str, node: str | None = None) -> None:
        """Revoke leadership (only on ``node``, if given) from kazoo's thread: the note
        is logged by the election thread, the worker is woken at once."""
        with self._lock:
            lead = self._leadership
            if lead is None or (node is not None and lead.node != node):
                return
            self._leadership, self._lease = None, None
        self._notes.append(("lost", (lead, reason)))
        self._notify()

    def _on_predecessor(self, event: WatchedEvent) -> None:
        # EventType.NONE is kazoo clearing watches on SUSPENDED, not a node change.
        if event.type != EventType.NONE:
            self._notes.append(("watch", event.path))
        self._needs_step = True
        self._wake.set()

    # ------------------------------------------------------ the election's thread

    def _run(self) -> None:
        retry_at: float | None = None  # step again then, after an error
        while True:
            self._wake.wait(timeout=self._idle_for(retry_at))
            self._wake.clear()
            self._log_notes()
            if self._life is _Life.CLOSED:
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
                self._needs_step = True  # raced with a deletion: look again now
                self._wake.set()
            except KazooException as exc:
                log_event(
                    log, "election_error", f"Election step failed: {exc!r}", level=logging.WARNING
                )
                retry_at = time.monotonic() + _RETRY_STEP_S

    def _idle_for(self, retry_at: float | None) -> float | None:
        """How long the election thread may sleep: until a retry or a lease renewal."""
        due = [t for t in (retry_at, self._renew_at if self.leadership else None) if t is not None]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _renew(self) -> None:
        """One small read: is our node still there, owned by our session? Then extend."""
        lead = self.leadership
        if lead is None:
            return
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
            self._revoke(lead, "node_gone")
            self._needs_step = True
            self._wake.set()
            return
        self._grant(lead, sent)

    def _grant(self, lead: Leadership, sent: float) -> None:
        """A read sent at `sent` showed our node alive: lease until sent + lease time."""
        with self._lock:
            if self._leadership != lead:
                return
            old = self._lease
            self._lease = Lease(lead, sent + self._lease_s)
            self._renew_at = sent + self._renew_every_s
        if old is None or time.monotonic() >= old.deadline:
            self._notify()  # the worker may be waiting for a valid lease

    def _step(self) -> None:
        """Join if we have no node on this session, then lead or watch the predecessor."""
        client_id = self._client.client_id
        if client_id is None:
            return
        session_id = client_id[0]
        if self._node is None or self._node_session != session_id:
            self._join(session_id)
        assert self._node is not None
        sent = time.monotonic()  # the listing proves our node alive as of now: a lease
        children = self._client.get_children(self._root)
        ranked = sorted((seq, name) for name in children if (seq := self._ranked(name)) is not None)
        own_name = self._node.rsplit("/", 1)[1]
        names = [name for _, name in ranked]
        if own_name not in names:
            log_event(
                log,
                "node_gone",
                f"Our node {self._node} is gone; joining again",
                level=logging.WARNING,
                node=self._node,
            )
            self._revoke(self.leadership, "node_gone")
            self._node = None
            self._needs_step = True
            self._wake.set()
            return
        position = names.index(own_name)
        if position == 0:
            self._following = None
            self._lead(Leadership(self._node_token, self._node, session_id), sent)
            if self._watching_own != self._node:
                # Our session can outlive our node (an operator deletes it to force an
                # election): only a watch on it says so before the next renewal. Set
                # after leading, so the handoff waits for no extra round trip.
                self._watching_own = self._node
                if self._client.exists(self._node, watch=self._on_own_node) is None:
                    self._revoke(self.leadership, "node_gone")  # gone since the listing
                    self._needs_step = True
                    self._wake.set()
            return
        self._revoke(self.leadership, "not_lowest")
        predecessor = f"{self._root}/{names[position - 1]}"
        if self._client.exists(predecessor, watch=self._on_predecessor) is None:
            self._needs_step = True  # it went between the two reads: rank again
            self._wake.set()
            return
        leader_node = f"{self._root}/{names[0]}"
        if self._following != (predecessor, leader_node):
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

    def _join(self, session_id: int) -> None:
        """Offer ourselves: create our node, or find the one a lost reply left behind."""
        self._node = None
        self._following = None
        if self._orphan_session == session_id and self._adopt_orphan(session_id):
            return
        self._orphan_session = session_id
        self._client.ensure_path(self._root)
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
        ours = [c for c in _list_candidates(self._client, self._root) if c.session_id == session_id]
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

    def _ranked(self, name: str) -> int | None:
        seq = _sequence(name)
        if seq is None and name not in self._foreign_seen:
            self._foreign_seen.add(name)
            log_event(
                log,
                "foreign_child",
                f"Ignoring {self._root}/{name}: not a candidate node",
                level=logging.WARNING,
                node=f"{self._root}/{name}",
            )
        return seq

    def _identity_of(self, node: str) -> str | None:
        try:
            data, _stat = self._client.get(node)
        except NoNodeError:
            return None
        return _identity(data)

    def _lead(self, lead: Leadership, sent: float) -> None:
        with self._lock:
            if self._life is _Life.CLOSED:
                return
            again = self._leadership == lead
            self._leadership = lead
        self._grant(lead, sent)
        if again:
            return
        log_event(
            log,
            "leader_elected",
            f"Leading the election at {self._root} (fencing token {lead.token})",
            fencing_token=lead.token,
            node=lead.node,
            session_id=lead.session_hex,
        )

    def _revoke(self, lead: Leadership | None, reason: str) -> None:
        if lead is None:
            return
        with self._lock:
            if self._leadership != lead:
                return
            self._leadership, self._lease = None, None
        self._notify()
        self._log_lost(lead, reason)

    def _log_notes(self) -> None:
        while self._notes:
            kind, value = self._notes.popleft()
            if kind == "state":
                state, session_id = value  # type: ignore[misc]
                log_event(
                    log,
                    "zk_state",
                    f"ZooKeeper connection {state}",
                    state=state,
                    session_id=None if session_id is None else f"0x{session_id:x}",
                )
            elif kind == "lost":
                lead, reason = value  # type: ignore[misc]
                self._log_lost(lead, reason)
            elif kind == "watch":
                log_event(
                    log, "watch_fired", f"Predecessor {value} changed; ranking again", path=value
                )
            elif kind == "granted":
                self._log_granted(value)  # type: ignore[arg-type]

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

    @staticmethod
    def _log_lost(lead: Leadership, reason: str) -> None:
        log_event(
            log,
            "leadership_lost",
            f"Leadership lost ({reason})",
            level=logging.WARNING,
            fencing_token=lead.token,
            reason=reason,
            session_id=lead.session_hex,
        )

    def _delete_best_effort(self, node: str) -> None:
        try:
            self._client.delete_async(node).get(timeout=1.0)
        except (KazooException, KazooTimeoutError):
            pass  # the session's close, or its expiry, removes it anyway


class _NotConnected(Exception):
    """One start-up attempt got no session in time."""


class Unavailable(Exception):
    """The ensemble could not be read (read_candidates); the message says why."""


def read_candidates(hosts: str, path: str, timeout_s: float = 5.0) -> list[Candidate]:
    """Every candidate node under `path`, lowest (the leader) first. For status tools."""
    client = KazooClient(hosts=hosts, timeout=10.0)
    try:
        client.start(timeout=timeout_s)
    except KazooTimeoutError as exc:
        raise Unavailable(f"no ZooKeeper session from {hosts} within {timeout_s:g} s") from exc
    try:
        return _list_candidates(client, path)
    except KazooException as exc:
        raise Unavailable(f"reading {path} failed: {exc!r}") from exc
    finally:
        client.stop()
        client.close()


def _list_candidates(client: KazooClient, path: str) -> list[Candidate]:
    """The candidate nodes under `path` (one getChildren, one getData each), lowest first."""
    try:
        names = client.get_children(path)
    except NoNodeError:
        return []
    found = []
    for name in names:
        seq = _sequence(name)
        if seq is None:
            continue
        try:
            data, stat = client.get(f"{path}/{name}")
        except NoNodeError:
            continue  # it went between the two reads
        found.append(
            Candidate(f"{path}/{name}", seq, _identity(data), stat.czxid, stat.ephemeralOwner)
        )
    return sorted(found, key=lambda c: c.sequence)
