"""The election seen from outside: who the candidates are, lowest (the leader) first.

For status tools and tests; a candidate never needs this (it knows its own place from
its own node and its predecessor). ``read_candidates`` opens a short session, lists the
election root once and reads each candidate's node:

    for candidate in read_candidates("zoo1:2181", "/leader-election"):
        print(candidate.sequence, candidate.identity, candidate.czxid)

``ElectionWatch`` keeps that answer current for ``python -m common.status --watch``:
driven by ZooKeeper's watches, never by polling.

A candidate is an ephemeral child named ``n_<10 ASCII digits>`` (ZooKeeper's sequence
counter, as the Java recipe names them); anything else under the root is not one.
``Roster`` is the same rule for a candidate ranking the root's children itself.

``depose`` asks the current leader to resign: it sets the leader's node's data (the
same bytes: only its version changes), which needs the election's credentials when
the election has them. The leader stops working, deletes its node and joins again at
the back; ``depose`` waits for that and returns who leads next.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import BadVersionError, KazooException, NoAuthError, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import WatchedEvent

from .logs import printable
from .zkclient import new_client, stop_within

V = TypeVar("V")

__all__ = [
    "Candidate",
    "Deposed",
    "ElectionView",
    "ElectionWatch",
    "ZkWatch",
    "Roster",
    "Unavailable",
    "depose",
    "identity",
    "identity_of",
    "list_candidates",
    "read_candidates",
    "sequence",
]

# The Java recipe's node name prefix; its sequence suffix is ZooKeeper's 10-digit counter.
NODE_PREFIX = "n_"
_NODE_NAME = re.compile(r"^n_([0-9]{10})$")  # not \d: that takes "٠" and "２" too


@dataclass(frozen=True)
class Candidate:
    """One child of the election root, as ``read_candidates`` sees it."""

    node: str
    sequence: int
    identity: str
    czxid: int
    session_id: int


class Unavailable(Exception):
    """The ensemble could not be read; the message says why."""


def sequence(name: str) -> int | None:
    """The sequence number of a candidate node's name, None if it is not one."""
    match = _NODE_NAME.match(name)
    return int(match.group(1)) if match else None


def identity(data: bytes | None) -> str:
    """A candidate's identity from its node's data (UTF-8), safe to show: anyone who may
    write there chooses it, so control characters are escaped and it is cut short."""
    return printable((data or b"")[:256].decode("utf-8", errors="replace"))


def identity_of(client: KazooClient, node: str) -> str | None:
    """The identity in ``node``'s data; None when the node is gone."""
    try:
        data, _stat = client.get(node)
    except NoNodeError:
        return None
    return identity(data)


class Roster:
    """A candidate's view of the root's children: the candidates, lowest first, and
    each other child once (to be reported once, however often it is listed).

    A child named like a candidate that is not one (a persistent node made by hand,
    which would be followed forever) is ``exclude``d. At most ``remember`` names are
    remembered, so a root flooded with children cannot grow the candidate's memory.
    """

    def __init__(self, remember: int = 10_000) -> None:
        self._remember = remember
        self._seen: set[str] = set()
        self._excluded: set[str] = set()

    def rank(self, children: list[str]) -> tuple[list[str], list[str]]:
        """(the candidates' names, lowest first; other children not seen before)."""
        ranked, others = [], []
        for name in children:
            seq = sequence(name)
            if seq is not None and name not in self._excluded:
                ranked.append((seq, name))
            elif seq is None and name not in self._seen:
                others.append(name)
        self._note(others)
        return [name for _, name in sorted(ranked)], others

    def exclude(self, name: str) -> None:
        self._excluded.add(name)
        self._note([name])

    def _note(self, names: list[str]) -> None:
        room = self._remember - len(self._seen)
        self._seen.update(names[: max(room, 0)])


def read_candidates(
    hosts: str, path: str, timeout_s: float = 5.0, auth: str = ""
) -> list[Candidate]:
    """Every candidate node under ``path``, lowest (the leader) first."""
    client = _started(hosts, timeout_s, auth)
    try:
        return list_candidates(client, path)
    except KazooException as exc:
        raise Unavailable(f"reading {path} failed: {exc!r}") from exc
    finally:
        stop_within(client, 1.0)


@dataclass(frozen=True)
class Deposed:
    """What ``depose`` did: whom it asked, whether it resigned in time, who leads now."""

    leader: Candidate
    resigned: bool  # False: asked, but still there after the wait (frozen? cut off?)
    successor: Candidate | None  # the lowest candidate after, None if there is none


def depose(hosts: str, path: str, auth: str = "", wait_s: float = 10.0) -> Deposed:
    """Ask the leader to resign, and wait up to ``wait_s`` for it to.

    A leader that cannot hear the request now (frozen, cut off) resigns when it can,
    or loses its session. Unavailable, saying why, when there is no leader or when
    ZooKeeper refuses (NoAuth: the election has credentials and these are not they).
    """
    client = _started(hosts, 5.0, auth)
    try:
        candidates = list_candidates(client, path)
        if not candidates:
            raise Unavailable(f"no candidate under {path}: nobody to depose")
        leader = candidates[0]
        data, stat = client.get(leader.node)
        # The same bytes, a new version; conditional, so a leader that changed meanwhile
        # is not deposed by a request meant for the old one.
        client.set(leader.node, data, version=stat.version)
        resigned = _gone_within(client, leader.node, wait_s)
        successor = next((c for c in list_candidates(client, path) if c.node != leader.node), None)
        return Deposed(leader, resigned, successor)
    except NoAuthError as exc:
        raise Unavailable(
            f"ZooKeeper refuses to change {path} (NoAuth): set ZK_AUTH (or ZK_AUTH_FILE) "
            "to the election's credentials"
        ) from exc
    except (NoNodeError, BadVersionError) as exc:
        raise Unavailable(f"the leader changed meanwhile ({exc!r}); look again") from exc
    except KazooException as exc:
        raise Unavailable(f"deposing under {path} failed: {exc!r}") from exc
    finally:
        stop_within(client, 1.0)


def _gone_within(client: KazooClient, node: str, seconds: float) -> bool:
    """True once ``node`` is deleted, False if it still exists after ``seconds``; woken
    by an exists watch, not by polling."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        changed = threading.Event()
        if client.exists(node, watch=lambda _event, seen=changed: seen.set()) is None:
            return True
        changed.wait(left)
    return client.exists(node) is None


def _started(hosts: str, timeout_s: float, auth: str) -> KazooClient:
    client = new_client(hosts, 10.0, auth=auth)
    try:
        client.start(timeout=timeout_s)
    except KazooTimeoutError as exc:
        stop_within(client, 1.0)
        raise Unavailable(f"no ZooKeeper session from {hosts} within {timeout_s:g} s") from exc
    return client


def list_candidates(client: KazooClient, path: str) -> list[Candidate]:
    """The candidate nodes under ``path`` (one getChildren, one getData each), lowest
    first; persistent nodes and other names are left out."""
    try:
        names = client.get_children(path)
    except NoNodeError:
        return []
    return _candidates(client, path, names)


def _candidates(
    client: KazooClient,
    path: str,
    names: list[str],
    watch: Callable[[WatchedEvent], None] | None = None,
) -> list[Candidate]:
    """The candidates among ``names`` (children of ``path``), each read once (and
    watched, with ``watch``), lowest first."""
    found = []
    for name in names:
        seq = sequence(name)
        if seq is None:
            continue
        node = f"{path}/{name}"
        try:
            data, stat = client.get(node, watch=watch)
        except NoNodeError:
            continue  # it went between the two reads (a child watch fires for that)
        if stat.ephemeralOwner == 0:
            continue  # persistent: made by hand, no candidate's
        found.append(Candidate(node, seq, identity(data), stat.czxid, stat.ephemeralOwner))
    return sorted(found, key=lambda c: c.sequence)


@dataclass(frozen=True)
class ElectionView:
    """What an ``ElectionWatch`` saw: the candidates, lowest first, and how it saw them.

    ``connection`` is kazoo's state as text: CONNECTING until the first session, then
    CONNECTED, SUSPENDED (the view may be stale) or LOST (a new session is on its way).
    ``candidates`` is None while nothing could be read yet; ``error`` says why a read
    failed.
    """

    connection: str
    candidates: tuple[Candidate, ...] | None
    error: str | None = None


class ZkWatch(Generic[V]):
    """The skeleton of a watch on ZooKeeper: a session of its own, kazoo's connection
    states and every watch notification only wake the watch's own thread, which reads
    (``_read``, the subclass's, setting its watches again with ``_poke``) and calls
    ``on_view`` from that thread when the view differs from the last. ``min_gap_s``: at
    most one read per that many seconds (what comes meanwhile waits for the next)."""

    def __init__(
        self,
        hosts: str,
        on_view: Callable[[V], None],
        *,
        name: str,
        session_timeout_s: float = 10.0,
        min_gap_s: float = 0.0,
    ) -> None:
        self._on_view = on_view
        self._min_gap_s = min_gap_s
        self._client = new_client(hosts, session_timeout_s)
        self._client.add_listener(self._on_state)
        self._connection = "CONNECTING"
        self._wake = threading.Event()
        self._closed = False
        self._last: V | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._client.start_async()
        self._wake.set()

    def close(self, within_s: float = 3.0) -> None:
        """Close the session and end the thread, waiting for them at most ``within_s``."""
        deadline = time.monotonic() + within_s
        self._closed = True
        self._wake.set()
        stop_within(self._client, within_s)
        if self._thread.is_alive():
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # kazoo's thread: note and wake, nothing else.
    def _on_state(self, state: KazooState) -> None:
        self._connection = str(state)
        self._wake.set()

    def _poke(self, _event: WatchedEvent) -> None:
        self._wake.set()

    # The watch's own thread.
    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            self._emit(self._read())
            if self._min_gap_s > 0:
                time.sleep(self._min_gap_s)

    def _read(self) -> V:
        raise NotImplementedError

    def _emit(self, view: V) -> None:
        if view == self._last or self._closed:
            return
        self._last = view
        self._on_view(view)


class ElectionWatch(ZkWatch[ElectionView]):
    """Calls ``on_view(view)`` with the election's candidates whenever they change.

    Usage::

        watch = ElectionWatch("zoo1:2181", "/leader-election", on_view=queue.put)
        watch.start()      # returns at once; connects, and reconnects, by itself
        ...
        watch.close()

    Driven by ZooKeeper, not by polling: a child watch on the root (an exists watch
    while the root is missing), a data watch on each candidate (its data, the identity,
    can be set by anyone, and the watch also fires when it is deleted), and kazoo's
    connection states. Every notification only wakes the watch's own thread, which
    reads the candidates again (one getChildren, one getData each), sets the watches
    again, and calls ``on_view`` from that thread when the view differs from the last.
    After a reconnect or a new session everything is read and watched again.
    """

    def __init__(
        self,
        hosts: str,
        path: str,
        on_view: Callable[[ElectionView], None],
        session_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(hosts, on_view, name="election-watch", session_timeout_s=session_timeout_s)
        self._path = path

    def _read(self) -> ElectionView:
        connection = self._connection
        last = self._last.candidates if self._last else None
        if not self._client.connected:
            return ElectionView(connection, last)
        try:
            return ElectionView(connection, tuple(self._watched_candidates()))
        except (KazooException, KazooTimeoutError) as exc:
            return ElectionView(connection, last, f"reading {self._path} failed: {exc!r}")

    def _watched_candidates(self) -> list[Candidate]:
        try:
            names = self._client.get_children(self._path, watch=self._poke)
        except NoNodeError:
            if self._client.exists(self._path, watch=self._poke) is not None:
                self._wake.set()  # created between the two reads: read again
            return []
        return _candidates(self._client, self._path, names, watch=self._poke)
