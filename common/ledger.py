"""The work's ledger: each unit of the leader's work, recorded in ZooKeeper, fenced.

A lease (common/leadership.py) says "lead" at the moment it is checked; work that takes
time after that check can reach what it writes to late, after another leader's work
(a frozen process, a long pause). Fencing is the answer, and here the store is
ZooKeeper itself: one unit of work = one transaction that the *ensemble* refuses
unless the writer is still the leader it was.

Layout, under the ledger root (LEDGER_PATH, default ``<ELECTION_PATH>-work``)::

    /leader-election-work            data: the newest accepted unit (the head)
    /leader-election-work/u_0000000042   one accepted unit, JSON (see Unit)
    /leader-election-work/refused/r_...  one refused write, JSON (see Refusal)

A unit is written as one ZooKeeper ``multi`` of three operations, all or nothing:

1. ``check(our election node, version 0)``: our node still exists, so the session
   that owns it is alive and has not been deposed (a depose sets its data). Without
   it, a leader whose session expired while it worked would write before its
   successor's first unit (nothing else would have changed yet).
2. ``setData(root, unit, version=v)``, where ``v`` is the head's version when this
   leadership last looked (its own previous write, or its first read): nobody has
   written since. Without it, a retry after a lost reply could record a unit twice,
   and two writers that both pass (1) (a node a hostile or buggy client made lower
   than ours) would interleave.
3. ``create(u_<head.seq + 1>)``: the unit itself, numbered without gaps.

And before the first write of a leadership, its fencing token (the czxid of its
election node) is compared with the head's: a lower one is refused without writing.
Together with (2), the comparison holds at the moment of the commit, so tokens never
go down in the ledger's order: a leader elected before a newer one wrote cannot write
after it, whatever the election believed.

A write that gets no answer (the connection dropped, the session expired) is sent
again once a session is back, until ``answer_within_s``: the same operations, so a
first attempt that did land makes the second fail at (2); the unit is then read back
and counted once. Refusals are kept in ``refused/`` (unfenced, best effort, the last
100) so that everyone reading ZooKeeper sees them, not only the refused worker's log.

Teaching only: ``fenced=False`` (LEDGER_FENCING=off) writes with no check and no
version, as a store without fencing would: a stale leader's unit is then accepted
after a newer leader's, and the ledger judge (testbed/ledger.py) says so.

History: units older than the last ``keep_units`` are deleted by the leader as it
goes (a day-long demo does not grow ZooKeeper without limit); the worker picks
``keep_units`` to cover at least LEDGER_KEEP_S (default an hour).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionLoss,
    KazooException,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import OPEN_ACL_UNSAFE

from .leadership import Leadership

__all__ = [
    "REFUSED_DIR",
    "UNIT_PREFIX",
    "Head",
    "History",
    "Ledger",
    "Outcome",
    "Refusal",
    "Unit",
    "Why",
    "read_history",
    "read_units",
    "unit_name",
]

UNIT_PREFIX = "u_"
REFUSED_DIR = "refused"
_REFUSAL_PREFIX = "r_"
# Refusals kept in refused/: enough to show a workshop's worth, bounded.
KEEP_REFUSALS = 100
# Prune every this many units (a batch of deletes, not one per tick).
PRUNE_EVERY = 64
# At most this many units, whatever LEDGER_KEEP_S asks: one listing of the ledger
# stays well under ZooKeeper's 1 MB packet limit (jute.maxbuffer).
MAX_KEEP_UNITS = 20_000
# One request's answer; the write as a whole has answer_within_s.
_ONE_REQUEST_S = 2.0
_CONNECTION_ERRORS = (ConnectionLoss, SessionExpiredError, KazooTimeoutError)


def unit_name(seq: int) -> str:
    return f"{UNIT_PREFIX}{seq:010d}"


class Why:
    """Why a write was refused: the ``reason`` of a ``unit_refused`` line."""

    NODE_GONE = "node_gone"  # our election node is gone (session expired, deleted)
    DEPOSED = "deposed"  # our election node's data was set: asked to resign
    OLDER_TOKEN = "older_token"  # the ledger accepted a higher fencing token already
    SOMEONE_ELSE_WROTE = "someone_else_wrote"  # the head moved since we last looked
    NO_AUTH = "no_auth"  # ZooKeeper refused our credentials on the ledger
    FAILED = "failed"  # ZooKeeper answered with another error (named in the detail)
    UNANSWERED = "unanswered"  # no answer in time: not recorded as far as we know


_SAY = {
    Why.NODE_GONE: "its election node {node} is gone (its session expired or it was deleted)",
    Why.DEPOSED: "its election node {node} was asked to resign",
    Why.OLDER_TOKEN: "its fencing token {token} is older than the ledger's",
    Why.SOMEONE_ELSE_WROTE: "someone else wrote to the ledger since it last looked",
    Why.NO_AUTH: "ZooKeeper refuses its credentials on the ledger (NoAuth)",
    Why.FAILED: "ZooKeeper answered the write with an error",
    Why.UNANSWERED: "ZooKeeper did not answer in time",
}


@dataclass(frozen=True)
class Unit:
    """One accepted unit of work, as stored (JSON) in ``u_<seq>`` and in the head."""

    seq: int
    token: int  # the writer's fencing token
    worker: str  # its SERVICE_NAME
    session: str  # its session, 0x...
    time: float  # its clock when it sent the write (seconds since the epoch)
    fenced: bool = True  # False: written with LEDGER_FENCING=off

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | None) -> Unit | None:
        """The unit in ``data``, or None when it holds none (an empty root, junk)."""
        fields = _json_object(data)
        try:
            return cls(
                seq=int(fields["seq"]),
                token=int(fields["token"]),
                worker=str(fields["worker"]),
                session=str(fields["session"]),
                time=float(fields["time"]),
                fenced=bool(fields.get("fenced", True)),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Refusal:
    """One refused write, as stored in ``refused/r_<sequence>``."""

    seq: int  # the unit it would have been
    token: int
    worker: str
    session: str
    time: float
    reason: str  # a Why

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes | None) -> Refusal | None:
        fields = _json_object(data)
        try:
            return cls(
                seq=int(fields["seq"]),
                token=int(fields["token"]),
                worker=str(fields["worker"]),
                session=str(fields["session"]),
                time=float(fields["time"]),
                reason=str(fields["reason"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Head:
    """The newest accepted unit (None: none yet) and the root's data version."""

    unit: Unit | None
    version: int

    @property
    def seq(self) -> int:
        return self.unit.seq if self.unit else 0

    @property
    def token(self) -> int:
        return self.unit.token if self.unit else 0


@dataclass(frozen=True)
class Outcome:
    """What became of one write: ``unit`` when accepted, else ``refused`` (a Why)."""

    unit: Unit | None = None
    refused: str | None = None
    detail: str = ""  # one line: why, and what the ledger holds instead
    newest: Unit | None = None  # the ledger's head after a refusal, when read
    stopped: bool = False  # the caller asked to stop before an answer came
    unconfirmed: bool = False  # the unit ``seq`` was sent and its fate is unknown
    seq: int = 0  # the unit a refused write would have been (0: not known)
    token: int = 0  # the refused writer's fencing token

    @property
    def accepted(self) -> bool:
        return self.unit is not None


class Ledger:
    """The ledger as one leader writes it. Usage (the worker's)::

        ledger = Ledger(lambda: election.zookeeper, "/leader-election-work", "service1")
        lease = election.lease()
        ...                                    # the work, which may take time
        outcome = ledger.record(lease.leadership, should_stop)
        if outcome.accepted: log the unit      # else: outcome.detail says why

    Called from one thread (the worker's); every wait is bounded by ``answer_within_s``
    and ends early when ``should_stop()`` turns true.
    """

    def __init__(
        self,
        client_of: Callable[[], KazooClient],
        path: str,
        worker: str,
        *,
        fenced: bool = True,
        keep_units: int = 7200,
        answer_within_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client_of = client_of
        self.path = path
        self._worker = worker
        self.fenced = fenced
        self._keep = max(PRUNE_EVERY, min(keep_units, MAX_KEEP_UNITS))
        self._answer_within_s = answer_within_s
        self._clock = clock
        self._rooted = False
        # The head as this leadership left it: (token, session) -> Head.
        self._head: tuple[tuple[int, int], Head] | None = None
        self.accepted = 0
        self.refused = 0

    @property
    def keep_units(self) -> int:
        return self._keep

    def record(self, lead: Leadership, should_stop: Callable[[], bool]) -> Outcome:
        """Write one unit under ``lead``; the outcome says whether the ensemble took it."""
        deadline = time.monotonic() + self._answer_within_s
        attempt: _Attempt | None = None
        rooted_again = False
        while True:
            if should_stop():
                return self._gave_up(lead, attempt, stopped=True)
            try:
                if attempt is None:
                    attempt = self._prepare(lead)
                    if isinstance(attempt, Outcome):
                        return self._refused(lead, attempt, seq=self._head_seq(lead) + 1)
                else:
                    # The previous try went unanswered: did it land after all?
                    landed = self._landed(attempt.unit)
                    if landed:
                        return self._accepted(lead, attempt.unit, landed_version=None)
                    if not self.fenced:
                        attempt = self._prepare(lead)  # a fresh look at the head
                        assert not isinstance(attempt, Outcome)
                outcome = self._commit(lead, attempt)
                if outcome is not None:
                    return outcome
            except _CONNECTION_ERRORS:
                pass  # no answer: look again once a session is back
            except NoAuthError:
                return self._refused(lead, Outcome(refused=Why.NO_AUTH), seq=0)
            except NoNodeError:
                # The ledger's root is gone (deleted by hand, or by a test): make it
                # again and look afresh; a missing root is not a refusal of the leader.
                self._rooted = False
                self._head = None
                attempt = None
                if rooted_again:
                    return self._refused(lead, Outcome(refused=Why.FAILED), seq=0)
                rooted_again = True
                continue
            except KazooException as error:
                failed = Outcome(refused=Why.FAILED, detail=type(error).__name__)
                return self._refused(lead, failed, seq=0)
            if not self._await_session(deadline, should_stop):
                return self._gave_up(lead, attempt, stopped=should_stop())

    # ------------------------------------------------------------------ the write

    def _prepare(self, lead: Leadership) -> _Attempt | Outcome:
        """The unit to write and the head version it expects, or a local refusal."""
        client = self._client_of()
        if not self._rooted:
            _ensure(client, self.path)
            _ensure(client, f"{self.path}/{REFUSED_DIR}")
            self._rooted = True
        key = (lead.token, lead.session_id)
        if self.fenced and self._head is not None and self._head[0] == key:
            head = self._head[1]
        else:
            head = self._read_head(client)
            if self.fenced:
                self._head = (key, head)
                self._prune_older_than(client, head.seq - self._keep)
        if self.fenced and head.token > lead.token:
            return Outcome(refused=Why.OLDER_TOKEN, newest=head.unit)
        unit = Unit(
            seq=head.seq + 1,
            token=lead.token,
            worker=self._worker,
            session=lead.session_hex,
            time=self._clock(),
            fenced=self.fenced,
        )
        return _Attempt(unit, head.version)

    def _commit(self, lead: Leadership, attempt: _Attempt) -> Outcome | None:
        """Send the transaction; the outcome, or None to try again (unfenced races)."""
        client = self._client_of()
        data = attempt.unit.encode()
        txn = client.transaction()
        if self.fenced:
            txn.check(lead.node, 0)
            txn.set_data(self.path, data, version=attempt.version)
        else:
            txn.set_data(self.path, data)
        txn.create(f"{self.path}/{unit_name(attempt.unit.seq)}", data)
        results = txn.commit_async().get(timeout=_ONE_REQUEST_S)
        failed = [r for r in results if isinstance(r, Exception)]
        if not failed:
            stat = results[1] if self.fenced else results[0]
            return self._accepted(lead, attempt.unit, landed_version=stat.version)
        first = results.index(next(r for r in results if _real_error(r)))
        error = results[first]
        if isinstance(error, NoAuthError) or (first == 1 and isinstance(error, NoNodeError)):
            raise error  # credentials refused, or the ledger's root is gone
        if not self.fenced:
            return None  # another unfenced writer took the number: take the next
        if first == 0:
            why = Why.NODE_GONE if isinstance(error, NoNodeError) else Why.DEPOSED
        else:
            why = Why.SOMEONE_ELSE_WROTE  # BadVersion on the head, or the unit exists
        return self._refused(lead, Outcome(refused=why), seq=attempt.unit.seq)

    def _landed(self, unit: Unit) -> bool:
        """Whether ``unit`` is in the ledger (a write whose answer was lost landed)."""
        client = self._client_of()
        try:
            data, _stat = client.get_async(f"{self.path}/{unit_name(unit.seq)}").get(
                timeout=_ONE_REQUEST_S
            )
        except NoNodeError:
            return False
        stored = Unit.decode(data)
        return stored is not None and (stored.token, stored.session, stored.worker) == (
            unit.token,
            unit.session,
            unit.worker,
        )

    def _gave_up(self, lead: Leadership, attempt: _Attempt | None, *, stopped: bool) -> Outcome:
        """No answer in time, or asked to stop while waiting for one. A unit that was
        sent may have landed: one last look (if a session is there to look with) turns
        it into an accepted unit; otherwise its fate is unknown and the outcome says so
        (``unconfirmed``, with its number), so that the worker's line names it and a
        reader of the ledger can match the unit to that line."""
        if attempt is None:
            detail = "stopping" if stopped else _SAY[Why.UNANSWERED]
            self._head = None
            return Outcome(refused=Why.UNANSWERED, detail=detail, stopped=stopped)
        with contextlib.suppress(*_CONNECTION_ERRORS, KazooException):
            if self._client_of().connected and self._landed(attempt.unit):
                return self._accepted(lead, attempt.unit, landed_version=None)
        self.refused += 1
        self._head = None
        return Outcome(
            refused=Why.UNANSWERED,
            detail=f"{_SAY[Why.UNANSWERED]}; unit {attempt.unit.seq} may have been recorded",
            stopped=stopped,
            unconfirmed=True,
            seq=attempt.unit.seq,
            token=lead.token,
        )

    def _accepted(self, lead: Leadership, unit: Unit, landed_version: int | None) -> Outcome:
        self.accepted += 1
        key = (lead.token, lead.session_id)
        if self.fenced and landed_version is not None:
            self._head = (key, Head(unit, landed_version))
        else:
            self._head = None  # read it again before the next unit
        if unit.seq % PRUNE_EVERY == 0:
            oldest_kept = unit.seq - self._keep
            self._prune_range(self._client_of(), oldest_kept - PRUNE_EVERY, oldest_kept)
        return Outcome(unit=unit)

    def _refused(self, lead: Leadership, outcome: Outcome, *, seq: int) -> Outcome:
        """Count, describe and (best effort) store a refusal; forget the head."""
        self.refused += 1
        self._head = None
        why = outcome.refused or Why.UNANSWERED
        newest = outcome.newest
        if newest is None and why != Why.UNANSWERED:
            newest = self._read_newest()
        detail = _SAY[why].format(node=lead.node, token=lead.token)
        if why == Why.FAILED and outcome.detail:
            detail += f" ({outcome.detail})"
        if newest is not None:
            detail += (
                f"; the ledger's newest is unit {newest.seq}, token {newest.token}, "
                f"by {newest.worker}"
            )
        if why not in (Why.NO_AUTH, Why.FAILED):
            refusal = Refusal(seq, lead.token, self._worker, lead.session_hex, self._clock(), why)
            self._store_refusal(refusal)
        return Outcome(refused=why, detail=detail, newest=newest, seq=seq, token=lead.token)

    # ------------------------------------------------------------------ helpers

    def _head_seq(self, lead: Leadership) -> int:
        if self._head is not None and self._head[0] == (lead.token, lead.session_id):
            return self._head[1].seq
        return 0

    def _read_head(self, client: KazooClient) -> Head:
        data, stat = client.get_async(self.path).get(timeout=_ONE_REQUEST_S)
        return Head(Unit.decode(data), stat.version)

    def _read_newest(self) -> Unit | None:
        with contextlib.suppress(KazooException, KazooTimeoutError):
            return self._read_head(self._client_of()).unit
        return None

    def _await_session(self, deadline: float, should_stop: Callable[[], bool]) -> bool:
        """Wait for a connected session (polled: the worker's thread has nothing else
        to do meanwhile); False at the deadline or when asked to stop."""
        while time.monotonic() < deadline and not should_stop():
            if self._client_of().connected:
                return True
            time.sleep(0.05)
        return False

    def _store_refusal(self, refusal: Refusal) -> None:
        """Keep the refusal where every reader sees it; the oldest beyond
        KEEP_REFUSALS go (refusals are rare: one listing each is cheap)."""
        client = self._client_of()
        base = f"{self.path}/{REFUSED_DIR}"
        with contextlib.suppress(KazooException, KazooTimeoutError):
            client.create_async(f"{base}/{_REFUSAL_PREFIX}", refusal.encode(), sequence=True).get(
                timeout=_ONE_REQUEST_S
            )
            kept = sorted(client.get_children_async(base).get(timeout=_ONE_REQUEST_S))
            for name in kept[: max(0, len(kept) - KEEP_REFUSALS)]:
                client.delete_async(f"{base}/{name}")

    def _prune_older_than(self, client: KazooClient, below: int) -> None:
        """Once per leadership: delete every unit numbered ``below`` or lower."""
        if below <= 0:
            return
        with contextlib.suppress(KazooException, KazooTimeoutError):
            names = client.get_children_async(self.path).get(timeout=_ONE_REQUEST_S)
            for name in names:
                seq = _seq_of(name)
                if seq is not None and seq <= below:
                    client.delete_async(f"{self.path}/{name}")

    def _prune_range(self, client: KazooClient, low: int, high: int) -> None:
        """Delete units numbered (low, high]: fire and forget (a NoNode is fine)."""
        for seq in range(max(low, 0) + 1, high + 1):
            client.delete_async(f"{self.path}/{unit_name(seq)}")


@dataclass(frozen=True)
class _Attempt:
    unit: Unit
    version: int  # the head's version the write expects (fenced)


def _real_error(result: Any) -> bool:
    """The operation that failed a multi (the others report RolledBack/Runtime)."""
    return isinstance(result, Exception) and type(result).__name__ not in (
        "RolledBackError",
        "RuntimeInconsistency",
    )


def _ensure(client: KazooClient, path: str) -> None:
    """Create a persistent node (with the client's default ACL: the election's). Its
    missing parents are open, as the election root's are (common/zkclient.py): a parent
    closed to one identity would refuse every other user of the tree below it."""
    if client.exists(path) is None:
        parent = path.rsplit("/", 1)[0]
        if parent:
            client.ensure_path(parent, acl=OPEN_ACL_UNSAFE)
        with contextlib.suppress(NodeExistsError):
            client.create(path)


def _seq_of(name: str) -> int | None:
    if not name.startswith(UNIT_PREFIX):
        return None
    digits = name[len(UNIT_PREFIX) :]
    return int(digits) if digits.isdigit() and len(digits) == 10 else None


def _json_object(data: bytes | None) -> dict[str, Any]:
    try:
        fields = json.loads(data or b"")
    except (ValueError, UnicodeDecodeError):
        return {}
    return fields if isinstance(fields, dict) else {}


@dataclass(frozen=True)
class History:
    """The ledger as a reader sees it: units in order, refusals, the head."""

    units: list[Unit]
    refusals: list[Refusal]
    head: Unit | None


def read_units(client: KazooClient, path: str, seqs: Iterable[int]) -> list[Unit]:
    """The units numbered ``seqs`` (all requests sent at once), in that order; those
    pruned meanwhile, or unreadable, are left out."""
    replies = [client.get_async(f"{path}/{unit_name(seq)}") for seq in seqs]
    units = []
    for reply in replies:
        with contextlib.suppress(NoNodeError):  # pruned meanwhile
            unit = Unit.decode(reply.get(timeout=_ONE_REQUEST_S)[0])
            if unit is not None:
                units.append(unit)
    return units


def read_history(client: KazooClient, path: str, *, limit: int | None = None) -> History:
    """Every unit still in the ledger (oldest first; the last ``limit`` if given), the
    kept refusals and the head. Read-only: world READ suffices. Raises NoNodeError when
    there is no ledger at ``path``."""
    data, _ = client.get(path)
    names = sorted(n for n in client.get_children(path) if _seq_of(n) is not None)
    if limit is not None:
        names = names[-limit:]
    units = read_units(client, path, [_seq_of(name) or 0 for name in names])
    refusals: list[Refusal] = []
    with contextlib.suppress(NoNodeError):
        base = f"{path}/{REFUSED_DIR}"
        kept = sorted(client.get_children(base))
        for reply in [client.get_async(f"{base}/{name}") for name in kept]:
            with contextlib.suppress(NoNodeError):
                refusal = Refusal.decode(reply.get(timeout=_ONE_REQUEST_S)[0])
                if refusal is not None:
                    refusals.append(refusal)
    return History(units, refusals, Unit.decode(data))
