"""The timeline's data: who ticked when, in which state, and why each silence happened.

Built from Records (``build``, workshop/timeline/build.py) and drawn by the text and
PNG renderers; everything here is plain data, tested in tests/test_timeline.py. A
*tick* is ``common.logreader.Tick``: one "Processing..." of one worker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from common.logreader import Tick

# A silence is a stretch without any tick longer than this many tick intervals.
SILENCE_INTERVALS = 1.5

# Connection states as the lanes show them.
CONNECTING, CONNECTED, SUSPENDED, LOST, DOWN = (
    "CONNECTING",
    "CONNECTED",
    "SUSPENDED",
    "LOST",
    "DOWN",
)
FROZEN, CUT = "FROZEN", "CUT"  # what Docker did to the container, over the above
STATE_TEXT = {
    CONNECTING: "connecting",
    CONNECTED: "connected, not leading",
    SUSPENDED: "connection SUSPENDED",
    LOST: "session LOST",
    DOWN: "not running",
    FROZEN: "frozen (docker pause)",
    CUT: "cut off (network disconnect)",
}


@dataclass(frozen=True)
class Run:
    """Consecutive ticks of one worker under one token, without a silence."""

    lane: str
    token: int | None
    start: float
    end: float
    count: int


@dataclass(frozen=True)
class Span:
    """A worker in one state from `start` to `end`."""

    lane: str
    state: str
    start: float
    end: float


@dataclass(frozen=True)
class Happening:
    """Something that may explain a silence: `kind` is mark, docker, stop (the worker
    shut down), lost (leadership or its lease) or zk (a connection state). A unit the
    ledger refused is no cause (it follows a silence): it is a UnitMark."""

    time: float
    lane: str | None
    kind: str
    text: str


# How much a kind of happening explains a silence of the leader: lower first.
CAUSE_ORDER = {"mark": 0, "docker": 1, "stop": 2, "lost": 3, "zk": 4}


@dataclass(frozen=True)
class Episode:
    """From tick `before` to tick `after`: a change of leader or token, or a silence."""

    before: Tick
    after: Tick | None  # None: nobody ticked again before the logs end
    end: float
    cause: str
    outcome: str
    silent: bool

    @property
    def start(self) -> float:
        return self.before.time

    @property
    def gap(self) -> float:
        return self.end - self.before.time

    def short(self) -> str:
        """`cause -> who leads after how long`, for a title that lists several."""
        if self.after is None:
            return f"{self.cause} -> nobody leads ({duration(self.gap)} to the end)"
        who = "leads on" if self.after.service == self.before.service else "leads"
        return f"{self.cause} -> {self.after.service} {who} after {duration(self.gap)}"

    def sentence(self) -> str:
        if self.after is None:
            return f"{self.cause}; {self.outcome} ({duration(self.gap)} to the end)"
        return f"{self.cause}; {self.outcome}, {duration(self.gap)} after the last tick"


@dataclass(frozen=True)
class UnitMark:
    """A unit of work as a worker logged it: recorded in the ledger (``processing``
    with its ``unit`` number) or refused by ZooKeeper (``unit_refused``, ``reason``)."""

    lane: str
    time: float
    seq: int | None
    token: int | None
    refused: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Timeline:
    t0: float
    t1: float
    lanes: tuple[str, ...]
    ticks: tuple[Tick, ...]
    runs: tuple[Run, ...]
    spans: tuple[Span, ...]  # connection states
    overlays: tuple[Span, ...]  # FROZEN, CUT
    happenings: tuple[Happening, ...]
    episodes: tuple[Episode, ...]
    interval: float
    tokens: tuple[int | None, ...]  # in order of first use
    title: str
    units: tuple[UnitMark, ...] = ()  # recorded in the ledger (absent with no ledger)
    refusals: tuple[UnitMark, ...] = ()  # refused by ZooKeeper

    @property
    def silences(self) -> tuple[Episode, ...]:
        return tuple(e for e in self.episodes if e.silent)

    def holder(self, token: int | None) -> str:
        return next((t.service for t in self.ticks if t.token == token), "?")

    def unit_range(self, token: int | None) -> str:
        """``units 12-40`` recorded under ``token``; empty when the logs name none."""
        seqs = [u.seq for u in self.units if u.token == token and u.seq is not None]
        if not seqs:
            return ""
        low, high = min(seqs), max(seqs)
        return f"unit {low}" if low == high else f"units {low}-{high}"

    def legend(self, token: int | None) -> str:
        """``token 0x100000003 (service1, units 1-5)``."""
        units = self.unit_range(token)
        return f"token {token_hex(token)} ({self.holder(token)}{', ' + units if units else ''})"


def refusal_text(mark: UnitMark) -> str:
    """``service1's unit 12 (token 0x100000003) REFUSED by ZooKeeper: node_gone``."""
    unit = f"unit {mark.seq}" if mark.seq else "unit"
    return (
        f"{mark.lane}'s {unit} (token {token_hex(mark.token)}) REFUSED by ZooKeeper: "
        f"{mark.reason or '?'}"
    )


def duration(value: float) -> str:
    return f"{value:.2f} s" if value < 1 else f"{value:.1f} s"


def token_hex(token: int | None) -> str:
    return "no token" if token is None else f"0x{token:x}"


def parse_mark(text: str, near: float) -> Happening:
    """`"12:00:01[.5] what happened"` -> a mark on the day of `near` (UTC); ValueError."""
    found = re.match(r"^\s*(\d{1,2}):(\d\d):(\d\d(?:\.\d+)?)\s+(\S.*)$", text)
    if not found:
        raise ValueError(f"--mark wants 'HH:MM:SS[.fff] what happened' (UTC), got {text!r}")
    hours, minutes, seconds, what = found.groups()
    if int(hours) > 23 or int(minutes) > 59 or float(seconds) >= 60:
        raise ValueError(f"--mark has no such time of day: {text!r}")
    day = datetime.fromtimestamp(near, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    at = day.timestamp() + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if at - near > 12 * 3600:
        at -= 86400
    elif near - at > 12 * 3600:
        at += 86400
    return Happening(at, None, "mark", what.strip())
