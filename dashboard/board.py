"""What the page shows, as one JSON object: pure logic, fed by the server's threads.

    board = Board("/leader-election", servers, interval_s=1.0)
    board.take_view(view, at=time.time())     # an observer.ElectionView
    board.take_roles(roles, at=time.time())   # status.probe_all(servers)
    page = board.snapshot(at=time.time())     # a dict, sent as JSON

The work strip. Where there is no ledger of work units (LEDGER_PATH=off, or no unit
recorded yet), the strip is drawn from ZooKeeper's own view: a *span* is a stretch
during which one candidate's node was the lowest (the leader, by its fencing token)
while the ensemble had a quorum and this observer was connected; the page draws one mark
per tick interval inside it. A *silence* is a stretch without a span longer than
``SILENCE_INTERVALS`` intervals, with its length and why (no quorum, no candidate, this
page cut off). That is who *may* work, not who did: a killed leader's node outlives it
until its session expires, so ZooKeeper's view still names it; a ledger shows the units
themselves.

The ledger (common/ledger.py) comes in through ``take_units``: each accepted unit and
each kept refusal (``Unit``: seq, token, worker, session, time, refused), as the
server's ``LedgerWatch`` reads them; once units have come in, ``work.source`` is
``ledger``, the strip draws one mark per unit, coloured by token (a refused one marked
as such) and silences are measured between accepted units instead.

Everything read from ZooKeeper (identities) is already escaped by the observer; the
page shows every string as text, never as markup.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from common.observer import Candidate, ElectionView
from common.roles import Role, Server
from common.status import changes

__all__ = ["Board", "Silence", "Span", "Unit", "quorum", "silences_between"]

# Modes of a server that serves clients (within a quorum, or alone).
_SERVING = ("leader", "follower", "standalone")
# A stretch without work longer than this many tick intervals is a silence (as in
# workshop.timeline).
SILENCE_INTERVALS = 1.5
# How much history the strip may show, and how much the board keeps.
WINDOW_S = 60.0
_KEEP_S = 2 * WINDOW_S
_CHANGES_KEPT = 8
# Why nobody may work, the most telling first.
_REASONS = ("no quorum", "no candidate", "page not connected to ZooKeeper", "no leader yet")
# Token colours: indexes into the page's palette (Okabe-Ito, without the vermillion
# the page keeps for trouble).
PALETTE_SIZE = 6


@dataclass(frozen=True)
class Span:
    """One leadership as ZooKeeper showed it: ``end`` None while it lasts."""

    token: int
    worker: str
    session: int
    start: float
    end: float | None = None


@dataclass(frozen=True)
class Unit:
    """One unit of work as the fenced ledger records it, or a refused one."""

    seq: int
    token: int
    worker: str
    session: int
    time: float
    refused: bool = False


@dataclass(frozen=True)
class Silence:
    start: float
    end: float | None
    reason: str


def quorum(roles: Sequence[Role], size: int) -> tuple[int, bool]:
    """(servers serving, whether they are a majority of ``size``)."""
    serving = sum(1 for role in roles if role.mode in _SERVING)
    return serving, serving * 2 > size


def silences_between(
    covered: Sequence[tuple[float, float | None]],
    since: float,
    now: float,
    shortest_s: float,
) -> list[tuple[float, float | None]]:
    """The gaps longer than ``shortest_s`` between ``covered`` stretches (start, end or
    None: still going), from ``since`` to ``now``; a gap still open at ``now`` has end
    None and counts once it is long enough."""
    gaps = []
    edge = since
    for start, end in sorted(covered, key=lambda c: c[0]):
        if start - edge > shortest_s:
            gaps.append((edge, start))
        edge = max(edge, now if end is None else end)
    if now - edge > shortest_s:
        gaps.append((edge, None))
    return gaps


class Board:
    """The dashboard's state. Not thread-safe: the server calls it under one lock."""

    def __init__(
        self,
        election: str,
        servers: Sequence[Server],
        interval_s: float = 1.0,
        started: float = 0.0,
    ) -> None:
        self._election = election
        self._servers = tuple(servers)
        self._interval = interval_s
        self._started = started
        self._view = ElectionView("CONNECTING", None)
        self._roles: tuple[Role, ...] | None = None
        self._spans: list[Span] = []
        self._units: list[Unit] = []
        # Why nobody may work, from when (the latest last; enough for the kept window).
        self._reasons: deque[tuple[float, str]] = deque(maxlen=256)
        self._colours: dict[int, int] = {}
        self._changes: deque[tuple[float, str]] = deque(maxlen=_CHANGES_KEPT)
        self._gone: dict[str, tuple[Candidate, float]] = {}  # identity -> last node, when
        self._since: dict[str, float] = {}  # node -> first seen

    # ------------------------------------------------------------------ news in

    def take_view(self, view: ElectionView, at: float) -> None:
        old = self._view
        self._view = view
        if old.connection != view.connection and not (
            old.connection == "CONNECTING" and view.connection == "CONNECTED"
        ):
            self._say(at, f"this page's ZooKeeper connection: {view.connection}")
        if view.candidates is not None:
            for text in changes(old.candidates, view.candidates):
                self._say(at, text)
            now_nodes = {c.node for c in view.candidates}
            for c in old.candidates or ():
                if c.node not in now_nodes:
                    self._gone[c.identity] = (c, at)
                    self._since.pop(c.node, None)
            for c in view.candidates:
                self._since.setdefault(c.node, at)
                self._gone.pop(c.identity, None)
        self._account(at)

    def take_roles(self, roles: Sequence[Role], at: float) -> None:
        roles = tuple(roles)
        old = self._roles
        self._roles = roles
        if old is not None:
            for before, now in zip(old, roles, strict=True):
                if before.mode != now.mode:
                    self._say(at, f"{_server_name(now.server)} is {now.text}")
            had = quorum(old, len(self._servers))[1]
            serving, has = quorum(roles, len(self._servers))
            if had and not has:
                self._say(at, f"NO QUORUM: {serving} of {len(self._servers)} servers serve")
            elif has and not had:
                self._say(at, f"quorum: {serving} of {len(self._servers)} servers serve")
        self._account(at)

    def take_units(self, units: Sequence[Unit], at: float) -> None:
        """The ledger's units, oldest first (all of them, or the newest window)."""
        self._units = [u for u in units if u.time >= at - _KEEP_S]
        for unit in self._units:
            self._colour(unit.token)

    def _say(self, at: float, text: str) -> None:
        self._changes.append((at, text))

    # ------------------------------------------------------------------ the strip

    def _may_work(self) -> tuple[Candidate | None, str]:
        """The leader who may work now, or None and why nobody may."""
        if self._roles is not None and not quorum(self._roles, len(self._servers))[1]:
            return None, "no quorum"
        if self._view.connection != "CONNECTED":
            return None, "page not connected to ZooKeeper"
        if not self._view.candidates:
            return None, "no candidate"
        return self._view.candidates[0], ""

    def _account(self, at: float) -> None:
        leader, why = self._may_work()
        current = self._spans[-1] if self._spans and self._spans[-1].end is None else None
        if current is not None and (
            leader is None or (leader.czxid, leader.session_id) != (current.token, current.session)
        ):
            self._spans[-1] = Span(
                current.token, current.worker, current.session, current.start, at
            )
            current = None
        if leader is not None and current is None:
            self._spans.append(Span(leader.czxid, leader.identity, leader.session_id, at))
            self._colour(leader.czxid)
        if leader is None and (not self._reasons or self._reasons[-1][1] != why):
            self._reasons.append((at, why))
        self._spans = [s for s in self._spans if s.end is None or s.end >= at - _KEEP_S]

    def _colour(self, token: int) -> int:
        if token not in self._colours:
            self._colours[token] = len(self._colours) % PALETTE_SIZE
        return self._colours[token]

    def _reason(self, start: float, end: float | None) -> str:
        """Why nobody worked in a silence: of the reasons in force during it, the one
        that explains most (a lost quorum also cuts this page off; say the quorum)."""
        during = []
        for moment, why in self._reasons:
            if moment <= start + 1e-6:
                during = [why]  # in force at the start
            elif end is None or moment <= end:
                during.append(why)
        return min(during, key=_REASONS.index, default=_REASONS[-1])

    def silences(self, at: float) -> list[Silence]:
        since = max(self._started, at - _KEEP_S)
        if self._units:
            covered = [(u.time, u.time) for u in self._units if not u.refused]
            shortest = SILENCE_INTERVALS * self._interval
        else:
            covered = [(s.start, s.end) for s in self._spans]
            shortest = SILENCE_INTERVALS * self._interval
        return [
            Silence(start, end, self._reason(start, end))
            for start, end in silences_between(covered, since, at, shortest)
        ]

    # ------------------------------------------------------------------ news out

    def snapshot(self, at: float) -> dict[str, Any]:
        view = self._view
        candidates = list(view.candidates or ())
        leader, why = self._may_work()
        size = len(self._servers)
        serving, has_quorum = quorum(self._roles or (), size)
        return {
            "time": at,
            "election": self._election,
            "connection": view.connection,
            "error": view.error,
            "leader": self._candidate(candidates[0], 1) if candidates else None,
            "may_work": leader is not None,
            "why_not": why,
            "candidates": [self._candidate(c, rank) for rank, c in enumerate(candidates, 1)],
            "servers": [
                {
                    "name": _server_name(r.server),
                    "address": r.server.address,
                    "mode": r.mode,
                    "text": r.text,
                }
                for r in (self._roles or tuple(Role(s, None, "asking...") for s in self._servers))
            ],
            "quorum": {
                "known": self._roles is not None,
                "serving": serving,
                "size": size,
                "has": has_quorum if self._roles is not None else None,
            },
            "sessions": self._sessions(candidates, has_quorum, at),
            "work": self._work(at),
            "changes": [{"time": t, "text": text} for t, text in reversed(self._changes)],
        }

    def _candidate(self, c: Candidate, rank: int) -> dict[str, Any]:
        return {
            "rank": rank,
            "role": "leader" if rank == 1 else "candidate",
            "identity": c.identity,
            "node": c.node.rsplit("/", 1)[-1],
            "token": f"0x{c.czxid:x}",
            "colour": self._colour(c.czxid),
            "session": f"0x{c.session_id:x}",
            "since": self._since.get(c.node),
        }

    def _sessions(
        self, candidates: list[Candidate], has_quorum: bool, at: float
    ) -> list[dict[str, Any]]:
        """Each candidate's session: open (frozen: no quorum to expire or confirm it),
        and what it does; sessions whose node went (closed or expired) for a while."""
        rows = []
        held = "open" if has_quorum or self._roles is None else "frozen"
        for rank, c in enumerate(candidates, 1):
            role = "leads" if rank == 1 else f"waits, {_ordinal(rank)}"
            rows.append(
                {
                    "worker": c.identity,
                    "session": f"0x{c.session_id:x}",
                    "state": f"{held} · {role}",
                    "live": True,
                    "since": self._since.get(c.node),
                }
            )
        live = {c.identity for c in candidates}
        for identity, (c, gone_at) in sorted(self._gone.items()):
            if identity in live or gone_at < at - _KEEP_S:
                continue
            rows.append(
                {
                    "worker": identity,
                    "session": f"0x{c.session_id:x}",
                    "state": "ended: node gone",
                    "live": False,
                    "since": gone_at,
                }
            )
        return rows

    def _work(self, at: float) -> dict[str, Any]:
        return {
            "source": "ledger" if self._units else "election",
            "interval_s": self._interval,
            "window_s": WINDOW_S,
            "spans": [
                {
                    "token": f"0x{s.token:x}",
                    "colour": self._colour(s.token),
                    "worker": s.worker,
                    "start": s.start,
                    "end": s.end,
                }
                for s in self._spans
            ],
            "units": [
                {
                    "seq": u.seq,
                    "token": f"0x{u.token:x}",
                    "colour": self._colour(u.token),
                    "worker": u.worker,
                    "session": f"0x{u.session:x}",
                    "time": u.time,
                    "refused": u.refused,
                }
                for u in self._units
            ],
            "silences": [
                {
                    "start": s.start,
                    "end": s.end,
                    "seconds": None if s.end is None else round(s.end - s.start, 1),
                    "reason": s.reason,
                }
                for s in self.silences(at)
            ],
        }


def _server_name(server: Server) -> str:
    return server.name or server.address.rsplit(":", 1)[0]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
