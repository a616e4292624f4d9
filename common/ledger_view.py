"""The ledger seen from outside: its newest units and its refusals, for people.

For ``status`` (the last units, the refused count), ``status --ledger`` (the recent
history) and the dashboard's work strip; the judge (testbed/ledger.py) reads the whole
history with ``common.ledger.read_history`` instead. Reading needs no credentials: the
ledger's nodes have the election's ACL, world READ included.

    view = read_view("zoo1:2181", "/leader-election-work", keep=5)   # once
    watch = LedgerWatch("zoo1:2181", "/leader-election-work", on_view=print, keep=5)
    watch.start(); ...; watch.close()                                 # kept current

``LedgerWatch`` is driven by ZooKeeper's watches, not by polling: a data watch on the
ledger's root (its data is the head, the newest accepted unit, so it changes with every
unit; an exists watch while there is no ledger yet) and a child watch on ``refused/``.
Every notification only wakes the watch's own thread, which reads what is new: the
units after the last it has (by number, ``u_<seq>``, so a listing of the thousands of
kept units is made once, not per unit) and the refusals it has not seen. It reads at
most ``1 / min_gap_s`` times a second (the leader writes one unit per tick, and a tick
can be 10 ms): notifications in between are taken together by the next read. Without
a session it says so and keeps the last view (through a lost quorum, for one), and
reads everything again once a session is back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import WatchedEvent

from .ledger import REFUSED_DIR, UNIT_PREFIX, Refusal, Unit, read_units
from .observer import ZkWatch
from .zkclient import new_client, stop_within

__all__ = ["LedgerView", "LedgerWatch", "merged", "read_view", "read_view_from"]

# One request's answer: a reader never waits longer on one (a lost quorum, a slow link).
_ONE_REQUEST_S = 2.0
_READ_ERRORS = (KazooException, KazooTimeoutError)


@dataclass(frozen=True)
class LedgerView:
    """The ledger as a reader saw it.

    ``exists`` False: no ledger at ``path`` (yet: the first leader creates it).
    ``units``: the newest accepted units kept by the reader, oldest first; ``refusals``:
    the refusals kept under ``refused/`` (at most the last 100), oldest first.
    ``connection`` (with a watch): CONNECTING, CONNECTED, SUSPENDED or LOST; ``error``:
    why the last read failed (the view is then the one before).
    """

    path: str
    exists: bool = False
    units: tuple[Unit, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    connection: str = "CONNECTED"
    error: str | None = None

    @property
    def head(self) -> Unit | None:
        return self.units[-1] if self.units else None

    @property
    def refused(self) -> int:
        return len(self.refusals)

    @property
    def last_refusal(self) -> Refusal | None:
        return self.refusals[-1] if self.refusals else None


@dataclass
class _Reader:
    """What one reader has read so far; ``read`` brings it up to date."""

    path: str
    keep: int
    units: list[Unit] = field(default_factory=list)
    refusals: dict[str, Refusal] = field(default_factory=dict)  # node name -> refusal
    exists: bool = False

    def read(
        self, client: KazooClient, watch: Callable[[WatchedEvent], None] | None = None
    ) -> None:
        try:
            data, _stat = _get(client, self.path, watch)
        except NoNodeError:
            if watch is not None and _exists(client, self.path, watch):
                watch(WatchedEvent("CREATED", 3, self.path))  # created between the two
            self.units, self.refusals, self.exists = [], {}, False
            return
        self.exists = True
        head = Unit.decode(data)
        self._units_up_to(client, head)
        self._refusals(client, watch)

    def _units_up_to(self, client: KazooClient, head: Unit | None) -> None:
        if head is None:
            self.units = []
            return
        last = self.units[-1].seq if self.units else 0
        if head.seq < last or (head.seq == last and self.units[-1] != head):
            self.units, last = [], 0  # the ledger was made again: start over
        if head.seq == last:
            return
        if not self.units or head.seq - last > self.keep:
            # A first read, or far behind: one listing for the numbers still kept.
            numbers = sorted(
                seq for seq in map(_seq_of, _children(client, self.path)) if seq is not None
            )
            wanted = [seq for seq in numbers[-self.keep :] if last < seq < head.seq]
            self.units = []
        else:
            wanted = list(range(last + 1, head.seq))
        found = self._fetch(client, wanted)
        self.units = (self.units + found + [head])[-self.keep :]

    def _fetch(self, client: KazooClient, seqs: Iterable[int]) -> list[Unit]:
        return read_units(client, self.path, seqs)

    def _refusals(self, client: KazooClient, watch: Callable[[WatchedEvent], None] | None) -> None:
        base = f"{self.path}/{REFUSED_DIR}"
        try:
            names = sorted(_children(client, base, watch))
        except NoNodeError:
            if watch is not None and _exists(client, base, watch):
                watch(WatchedEvent("CREATED", 3, base))
            self.refusals = {}
            return
        kept = {name: self.refusals[name] for name in names if name in self.refusals}
        new = [name for name in names if name not in kept]
        replies = [(name, client.get_async(f"{base}/{name}")) for name in new]
        for name, reply in replies:
            with contextlib.suppress(NoNodeError):
                refusal = Refusal.decode(reply.get(timeout=_ONE_REQUEST_S)[0])
                if refusal is not None:
                    kept[name] = refusal
        self.refusals = dict(sorted(kept.items()))

    def view(self, connection: str = "CONNECTED", error: str | None = None) -> LedgerView:
        return LedgerView(
            self.path,
            self.exists,
            tuple(self.units),
            tuple(self.refusals.values()),
            connection,
            error,
        )


def _get(
    client: KazooClient, path: str, watch: Callable[[WatchedEvent], None] | None
) -> tuple[bytes, object]:
    return client.get_async(path, watch=watch).get(timeout=_ONE_REQUEST_S)


def _seq_of(name: str) -> int | None:
    """The number in a unit's name (``u_`` and 10 ASCII digits); None for another name."""
    digits = name[len(UNIT_PREFIX) :]
    if name.startswith(UNIT_PREFIX) and len(digits) == 10 and digits.isascii():
        return int(digits) if digits.isdigit() else None
    return None


def _children(
    client: KazooClient, path: str, watch: Callable[[WatchedEvent], None] | None = None
) -> list[str]:
    return client.get_children_async(path, watch=watch).get(timeout=_ONE_REQUEST_S)


def _exists(client: KazooClient, path: str, watch: Callable[[WatchedEvent], None]) -> bool:
    return client.exists_async(path, watch=watch).get(timeout=_ONE_REQUEST_S) is not None


def read_view(client: KazooClient, path: str, keep: int = 5) -> LedgerView:
    """The ledger at ``path`` now, through ``client`` (started): its newest ``keep``
    units and its kept refusals. Raises kazoo's errors (the caller says why)."""
    reader = _Reader(path, keep)
    reader.read(client)
    return reader.view()


def merged(
    units: Iterable[Unit], refusals: Iterable[Refusal], last: int | None = None
) -> list[Unit | Refusal]:
    """Units and refusals in one history, by time (a refusal after the unit it would
    have followed when the clocks tie); the last ``last`` entries."""
    entries: list[Unit | Refusal] = sorted(
        [*units, *refusals], key=lambda e: (e.time, e.seq, isinstance(e, Refusal))
    )
    return entries[-last:] if last else entries


class LedgerWatch(ZkWatch[LedgerView]):
    """Calls ``on_view(view)`` (a LedgerView) whenever the ledger or the connection
    changes; the module docstring says how. Usage::

        watch = LedgerWatch("zoo1:2181", "/leader-election-work", on_view=queue.put)
        watch.start()      # returns at once; connects, and reconnects, by itself
        ...
        watch.close()
    """

    def __init__(
        self,
        hosts: str,
        path: str,
        on_view: Callable[[LedgerView], None],
        *,
        keep: int = 5,
        min_gap_s: float = 0.25,
        session_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(
            hosts,
            on_view,
            name="ledger-watch",
            session_timeout_s=session_timeout_s,
            min_gap_s=min_gap_s,
        )
        self._reader = _Reader(path, keep)

    def _read(self) -> LedgerView:
        connection = self._connection
        if not self._client.connected:
            return self._reader.view(connection)
        try:
            self._reader.read(self._client, self._poke)
        except Exception as exc:  # noqa: BLE001 - a display says what failed, and goes on
            return self._reader.view(connection, f"reading {self._reader.path} failed: {exc!r}")
        return self._reader.view(connection)


def read_view_from(hosts: str, path: str, keep: int = 5, timeout_s: float = 5.0) -> LedgerView:
    """``read_view`` through a short session of its own; a failure is the view's
    ``error`` (the ledger is shown beside the election, and must not hide it)."""
    client = new_client(hosts, 10.0)
    try:
        client.start(timeout=timeout_s)
        return read_view(client, path, keep)
    except _READ_ERRORS as exc:
        return LedgerView(path, error=f"reading {path} failed: {exc!r}")
    finally:
        stop_within(client, 1.0)
