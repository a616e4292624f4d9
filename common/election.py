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
  working, then delete its node and, once ZooKeeper confirms that, join again at the
  back: the next candidate is notified only after the old leader stopped.
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
ZooKeeper call. Leadership changes only through ``LeadershipRules``
(common/leadership.py: the guards, the connection epoch, the lease, when to notify),
from either thread; the lines it says are common/election_log.py's; the root and its
ACL, and the bounded client, common/zkclient.py's.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable

from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, KazooException, NoNodeError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import EventType, WatchedEvent

from . import election_log as say
from .leadership import ANY, Change, Leadership, LeadershipRules, Lease, Lifecycle
from .logs import Reason
from .observer import NODE_PREFIX, Roster, identity_of, list_candidates
from .zkclient import (
    Connector,
    RootRefused,
    delete_best_effort,
    ensure_root,
    new_client,
    stop_within,
)

__all__ = ["LeaderElection", "Leadership", "Lease", "Lifecycle"]

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
_DELETE_S = 2.0  # one attempt to delete a node of ours (deposed, or adopted twice)
_CONNECTION_ERRORS = (ConnectionLoss, SessionExpiredError, KazooTimeoutError)


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
        self._auth = auth
        self._root = path
        self._identity = identity
        self._notify = notify
        make_client = functools.partial(
            new_client,
            hosts,
            session_timeout_s,
            auth=auth,
            on_granted=self._on_granted,
            on_connecting=self._on_connecting,
            on_state=self._on_state,
            retry_max_delay_s=retry_max_delay_s,
            # A trickling reply holds kazoo's thread no longer than a start-up attempt.
            frame_deadline_s=min(session_timeout_s / 3, connect_timeout_s),
        )
        self._zk = Connector(make_client, hosts, connect_timeout_s, retry_max_delay_s, _STOP_S)
        # Leadership, its lease (from the session timeout), the epoch, the life cycle.
        self._rules = LeadershipRules(session_timeout_s)
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
        self._roster = Roster()  # which children are candidates; others reported once
        self._deposed: str | None = None  # our node, to delete before joining again
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
        life = self._rules.life
        if life is not Lifecycle.LATENT:
            raise RuntimeError(f"election {self._root} cannot start: it is {life.value}")
        if not self._auth:
            say.election_open(self._root)
        if not self._zk.connect(should_stop, sleep, on_retry=say.retry):
            return False
        self._rules.start()
        self._thread.start()
        self._wake.set()
        return True

    @property
    def leadership(self) -> Leadership | None:
        """The local view, free to ask: who we are if we lead, else None."""
        return self._rules.leadership

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
        return self._rules.lease(time.monotonic())

    def holds(self, lease: Lease | None) -> bool:
        """True while `lease` is unexpired and nothing has revoked it locally."""
        return self._rules.holds(lease, time.monotonic())

    @property
    def zookeeper(self) -> KazooClient:
        """This candidate's client: writes that must ride on its session (the ledger's,
        common/ledger.py) go through it."""
        return self._client

    def step_down(self, lead: Leadership, reason: str) -> None:
        """Stop leading ``lead`` now and give its node up, then join again at the back.

        For a caller that learnt it must not lead whatever the listing says (the ledger
        refused its unit). Nothing happens when ``lead`` is not the leadership any more.
        """
        if self.leadership != lead:
            return
        self._depose(lead, reason)

    def close(self) -> None:
        """Resign: stop leading, delete our node, close the session. Idempotent."""
        if self._rules.life is Lifecycle.CLOSED:
            return
        started = self._rules.life is Lifecycle.STARTED
        self._apply(self._rules.close(now=time.monotonic()))  # nothing grants from here on
        self._write_logs()
        self._wake.set()
        node = self._node
        answered = self._client.connected
        if node is not None and answered:
            answered = delete_best_effort(self._client, node, _RESIGN_S)
        # closeSession: the ensemble drops our ephemerals now. Bounded, and brief when
        # the ensemble just left the delete unanswered: then it expires the session.
        if not stop_within(self._client, _STOP_S if answered else _STOP_UNANSWERED_S):
            say.close_failed(_STOP_S)
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
        if self._rules.session_granted(granted):
            self._later(say.session_timeout, granted, self._rules.asked_s, self._rules.lease_s)

    def _on_connecting(self, where: str) -> None:
        """kazoo tries a server (its connection thread): said while we are without one,
        so a silence in the logs never looks like a hang."""
        if self._rules.life is not Lifecycle.STARTED or self._suspended_at is None:
            return
        self._attempts += 1
        without_s = time.monotonic() - self._suspended_at
        self._later(say.reconnecting, where, self._attempts, without_s)
        self._wake.set()

    def _on_state(self, state: str) -> None:
        """kazoo's connection listener: the one switch on connection states."""
        now = time.monotonic()
        if state == "CONNECTED":
            self._suspended_at, self._attempts = None, 0
        elif self._suspended_at is None:
            self._suspended_at = now
        self._apply(self._rules.connection_changed(str(state), now=now))
        client_id = self._client.client_id
        self._later(say.zk_state, str(state), client_id[0] if client_id else None)
        self._rank_again()

    def _on_own_node(self, event: WatchedEvent) -> None:
        """The watch on the leader's own node: deleted, or its data set (a depose
        request), means stop now."""
        self._watching_own = None  # one-shot, and kazoo clears it (NONE) on SUSPENDED
        lead = self.leadership
        if lead is not None and lead.node == event.path:
            if event.type == EventType.DELETED:
                self._revoke(Reason.NODE_GONE, only_if=lead)
            elif event.type == EventType.CHANGED:
                self._depose(lead, Reason.DEPOSED)
        self._rank_again()

    def _on_predecessor(self, event: WatchedEvent) -> None:
        # EventType.NONE is kazoo clearing watches on SUSPENDED, not a node change.
        if event.type != EventType.NONE:
            self._later(say.watch_fired, event.path)
        self._rank_again()

    # ------------------------------------------------------------------ both threads

    def _depose(self, lead: Leadership, reason: str) -> None:
        """Stop leading ``lead`` and mark its node to be given up: the election thread
        deletes it, and knows it is gone, before it joins again (_resign_and_rejoin)."""
        self._deposed = lead.node
        self._revoke(reason, only_if=lead)
        self._later(say.deposed, lead.node)
        self._rank_again()

    def _revoke(self, reason: str, only_if: Leadership | None = None) -> None:
        change = self._rules.revoke(
            reason, now=time.monotonic(), only_if=ANY if only_if is None else only_if
        )
        self._apply(change)

    def _apply(self, change: Change) -> None:
        """Say what a leadership change says, then wake the worker if it asks: the log
        lines are written by the election thread (kazoo's must never wait on a pipe),
        before the worker, woken next, logs its first tick."""
        if change.lost is not None:
            self._later(say.leadership_lost, change.lost, change.reason)
        if change.elected is not None:
            self._later(say.leader_elected, change.elected, self._root)
        if threading.current_thread() is self._thread:
            self._write_logs()
        if change.notify:
            self._notify()

    def _later(self, line: Callable[..., None], *args: object) -> None:
        """A log line for the election thread to write."""
        self._log_later.append(functools.partial(line, *args))

    def _write_logs(self) -> None:
        while self._log_later:
            self._log_later.popleft()()

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
            if self._rules.life is Lifecycle.CLOSED:
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
            except (KazooException, RootRefused) as exc:
                if self._rules.life is Lifecycle.CLOSED:
                    return  # close() stopped the client under a call of ours
                retry_step_s = self._report_problem(exc, retry_step_s)
                retry_at = time.monotonic() + retry_step_s
            else:
                if self._problem is not None and self._node is not None:
                    self._problem, retry_step_s = None, _RETRY_STEP_S
                    say.election_ok(self._root)
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
            self._resign_and_rejoin(self._deposed)
        if self._node is None or self._node_session != session_id:
            self._join(session_id)
        assert self._node is not None
        epoch = self._rules.epoch
        sent = time.monotonic()  # the listing proves our node alive as of now: a lease
        ranked, others = self._roster.rank(self._client.get_children(self._root))
        if others:
            say.foreign_children(self._root, others, "not named n_<10 digits>")
        own_name = self._node.rsplit("/", 1)[1]
        if own_name not in ranked:
            say.node_gone(self._node)
            self._revoke(Reason.NODE_GONE)
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
        self._grant(
            self._rules.elect(lead, confirmed_at=sent, epoch=epoch, now=time.monotonic()), sent
        )
        if self._watching_own == lead.node:
            return
        # Our session can outlive our node (an operator deletes it to force an
        # election, or asks it to resign): only a watch on it says so before the next
        # renewal. Set after leading, so the handoff waits for no extra round trip.
        self._watching_own = lead.node
        stat = self._client.exists(lead.node, watch=self._on_own_node)
        if stat is None:  # gone since the listing
            self._revoke(Reason.NODE_GONE, only_if=lead)
            self._rank_again()
        elif stat.version != 0:  # deposed since the listing
            self._depose(lead, Reason.DEPOSED)

    def _follow(self, predecessor_name: str, leader_name: str) -> None:
        """Not lowest: stop leading if we did, and watch the node just below ours."""
        self._revoke(Reason.NOT_LOWEST)
        predecessor = f"{self._root}/{predecessor_name}"
        stat = self._client.exists(predecessor, watch=self._on_predecessor)
        if stat is None:
            self._rank_again()  # it went between the two reads
            return
        if stat.ephemeralOwner == 0:
            # A candidate's node lives and dies with its session; a persistent one was
            # made by hand and would be followed forever. (Its watch stays set: one
            # spurious wake-up when it is deleted.)
            self._roster.exclude(predecessor_name)
            say.foreign_children(self._root, [predecessor_name], "not ephemeral")
            self._rank_again()
            return
        leader_node = f"{self._root}/{leader_name}"
        if self._following == (predecessor, leader_node):
            return
        self._following = (predecessor, leader_node)
        say.following(self._node, predecessor, identity_of(self._client, leader_node))

    def _renew(self) -> None:
        """One small read: is our node still there, owned by our session? Then extend."""
        lead = self.leadership
        if lead is None:
            return
        epoch = self._rules.epoch
        sent = time.monotonic()
        # Whatever the outcome, the next read waits its turn: reading faster would hide
        # a dead connection from kazoo (see common/leadership.py, RENEW_EVERY_FRACTION).
        self._renew_at = sent + self._rules.renew_every_s
        try:
            stat = self._client.exists_async(lead.node).get(timeout=self._rules.lease_s)
        except KazooTimeoutError:
            say.lease_renewal_late(self._rules.lease_s, lead.token)
            return
        if stat is None or stat.ephemeralOwner != lead.session_id or stat.czxid != lead.token:
            self._revoke(Reason.NODE_GONE, only_if=lead)
            self._rank_again()
            return
        if stat.version != 0:  # its data was set: a depose request whose watch we missed
            self._depose(lead, Reason.DEPOSED)
            return
        self._grant(
            self._rules.renew(lead, confirmed_at=sent, epoch=epoch, now=time.monotonic()), sent
        )

    def _grant(self, change: Change, sent: float) -> None:
        if change.granted:
            self._renew_at = sent + self._rules.renew_every_s
        self._apply(change)

    def _join(self, session_id: int) -> None:
        """Offer ourselves: create our node, or find the one a lost reply left behind."""
        self._node = None
        self._following = None
        if self._orphan_session == session_id and self._adopt_orphan(session_id):
            return
        self._orphan_session = session_id
        opened = ensure_root(self._client, self._root, self._auth)
        if opened is not None:
            say.root_acl_tightened(self._root, opened)
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
        say.joined(path, stat.czxid, session_id)

    def _adopt_orphan(self, session_id: int) -> bool:
        """After a create whose reply was lost, find nodes our session owns; keep the lowest."""
        ours = [c for c in list_candidates(self._client, self._root) if c.session_id == session_id]
        if not ours:
            return False
        for extra in ours[1:]:
            self._delete_own(extra.node)  # unanswered: raises, and the next join adopts again
        path, czxid = ours[0].node, ours[0].czxid
        self._orphan_session = None
        self._node, self._node_token, self._node_session = path, czxid, session_id
        say.joined(path, czxid, session_id, adopted=True)
        return True

    def _resign_and_rejoin(self, node: str) -> None:
        """Deposed (asked to resign, or a caller's step_down): leadership is gone
        already; give the node up so the next candidate leads, then join again at the
        back, only once ZooKeeper says the node is gone: one left on our live session
        ranks ahead of our new one, and everyone, we too, waits behind it while the
        session lives. An unanswered delete raises; the thread tries again (_run)."""
        self._delete_own(node)
        self._deposed = self._node = None

    def _delete_own(self, node: str) -> None:
        """Delete a node of ours and know it: gone already is done; no answer raises
        (KazooTimeoutError, ConnectionLoss). Sequential names are never reused: a retry
        cannot delete another candidate's node."""
        try:
            self._client.delete_async(node).get(timeout=_DELETE_S)
        except NoNodeError:
            pass

    def _report_problem(self, exc: Exception, retry_step_s: float) -> float:
        """Log a persistent error once, with its cause and the fix; the next wait."""
        what = say.explain(exc, self._root, self._auth)
        if self._problem is None or self._problem[0] != what:
            self._problem = (what, time.monotonic())
            say.election_error(what, exc)
            return _RETRY_STEP_S
        return min(retry_step_s * 2, _RETRY_STEP_MAX_S)

    @property
    def _client(self) -> KazooClient:
        return self._zk.client  # a new one when a stuck start-up attempt left the old
