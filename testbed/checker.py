"""The E1 judge: was there ever more than one leader? Pure logic over tick logs.

Usage::

    ticks = ticks_from_events(w1.events() + w2.events())
    assert violations(ticks) == [], summary(ticks)

A *tick* is one Processing... log line (``common.logreader.Tick``): the worker did
leader work at ``time`` under ``token`` (the fencing token, the czxid of its election
node). A *window* is a run of
consecutive ticks of one service under one token: one leadership term as the logs show
it. Baseline workers log no token (None); for them a term ends where the service's own
ticks pause for more than ``gap_s`` seconds.

What counts as a violation (each a human-readable line):

1. **token down**: in time order, a tick carries a lower fencing token than one
   already seen. ZooKeeper's czxids only grow, so a lower token means a stale leader
   acted after a newer one was elected.
2. **overlap**: a window of one service overlaps in time a window of another: a
   worker ticked while another one was leading.
3. **shared token**: two services ticked under one token; a token names one node of
   one session, so two holders mean the token is not what it claims.

Times come from the logs (UTC RFC 3339 with microseconds), never from the test's
clock, so a slow test machine cannot make a correct history look wrong or the reverse.
All workers run on one host, so their clocks agree.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# The log format's own Tick, time parser and silence (common/logreader.py), re-exported:
# they are this module's vocabulary too.
from common.logreader import Tick, longest_silence, parse_time, record_of, ticks_of

__all__ = [
    "Recovery",
    "Tick",
    "Window",
    "first_tick_after",
    "format_time",
    "longest_silence",
    "parse_time",
    "recovery",
    "spacings",
    "summary",
    "ticks_after",
    "ticks_between",
    "ticks_from_events",
    "violations",
    "windows",
]


def _by_time(ticks: Iterable[Tick]) -> list[Tick]:
    """Time order; ties keep their input order (a stable sort)."""
    return sorted(ticks, key=lambda tick: tick.time)


@dataclass(frozen=True)
class Window:
    """A leadership term as the logs show it: ticks of one service under one token."""

    service: str
    token: int | None
    start: float
    end: float
    count: int

    def overlaps(self, other: Window) -> bool:
        return self.start <= other.end and other.start <= self.end

    def describe(self) -> str:
        return (
            f"{self.service} token={self.token} "
            f"[{format_time(self.start)} .. {format_time(self.end)}] ({self.count} ticks)"
        )


def format_time(epoch: float) -> str:
    """Epoch seconds -> ``10:00:00.123Z``-style text for messages (UTC, full date)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ticks_from_events(
    events: Iterable[Mapping[str, Any]], service: str | None = None
) -> list[Tick]:
    """The 'processing' events (JSON lines' objects) as Ticks, sorted by time.

    ``service`` overrides the event's own "service" field (for logs of workers that
    share a name).
    """
    records = (record_of(event, service) for event in events)
    return ticks_of(r for r in records if r is not None)


def windows(ticks: Iterable[Tick], gap_s: float | None = None) -> list[Window]:
    """Leadership windows, sorted by start.

    A window ends where the service's token changes or, when ``gap_s`` is given, where
    the service is silent for more than ``gap_s`` seconds.
    """
    by_service: dict[str, list[Tick]] = defaultdict(list)
    for tick in _by_time(ticks):
        by_service[tick.service].append(tick)
    result = []
    for service, own in by_service.items():
        first = last = own[0]
        count = 1
        for tick in own[1:]:
            gap_exceeded = gap_s is not None and tick.time - last.time > gap_s
            if tick.token != first.token or gap_exceeded:
                result.append(Window(service, first.token, first.time, last.time, count))
                first, count = tick, 0
            last = tick
            count += 1
        result.append(Window(service, first.token, first.time, last.time, count))
    return sorted(result, key=lambda w: (w.start, w.service))


def violations(ticks: Iterable[Tick], gap_s: float | None = None) -> list[str]:
    """Every breach of E1 (see the module doc); [] for a correct history."""
    ordered = _by_time(ticks)
    return _tokens_down(ordered) + _overlaps(windows(ordered, gap_s)) + _shared_tokens(ordered)


def _tokens_down(ordered: list[Tick]) -> list[str]:
    found = []
    reported: set[tuple[str, int, int]] = set()
    highest: Tick | None = None
    for tick in ordered:
        if tick.token is None:
            continue
        if highest is not None and tick.token < highest.token:  # type: ignore[operator]
            key = (tick.service, tick.token, highest.token)  # type: ignore[arg-type]
            if key not in reported:
                reported.add(key)
                found.append(
                    f"fencing token went down: {tick.service} ticked with token {tick.token} "
                    f"at {format_time(tick.time)}, after {highest.service} ticked with "
                    f"token {highest.token} at {format_time(highest.time)}"
                )
        elif highest is None or tick.token > highest.token:  # type: ignore[operator]
            highest = tick
    return found


def _overlaps(terms: list[Window]) -> list[str]:
    found = []
    for i, first in enumerate(terms):
        for second in terms[i + 1 :]:
            if second.start > first.end:
                break  # sorted by start: no later window can overlap `first`
            if second.service != first.service and first.overlaps(second):
                found.append(
                    f"two leaders at once: {first.describe()} overlaps {second.describe()}"
                )
    return found


def _shared_tokens(ordered: list[Tick]) -> list[str]:
    holders: dict[int, list[str]] = defaultdict(list)
    for tick in ordered:
        if tick.token is not None and tick.service not in holders[tick.token]:
            holders[tick.token].append(tick.service)
    return [
        f"fencing token {token} used by {len(names)} services: {', '.join(names)}"
        for token, names in holders.items()
        if len(names) > 1
    ]


def first_tick_after(
    ticks: Iterable[Tick],
    t: float,
    exclude_service: str | None = None,
    other_token_than: int | None = None,
) -> Tick | None:
    """The earliest tick strictly after ``t``, optionally of another service/token."""
    for tick in _by_time(ticks):
        if tick.time <= t:
            continue
        if exclude_service is not None and tick.service == exclude_service:
            continue
        if other_token_than is not None and tick.token == other_token_than:
            continue
        return tick
    return None


def ticks_after(ticks: Iterable[Tick], service: str, t: float) -> list[Tick]:
    """``service``'s ticks strictly after ``t``, in time order."""
    return [tick for tick in _by_time(ticks) if tick.service == service and tick.time > t]


def ticks_between(ticks: Iterable[Tick], start: float, end: float) -> list[Tick]:
    """Every tick with ``start <= time <= end``, in time order."""
    return [tick for tick in _by_time(ticks) if start <= tick.time <= end]


def spacings(ticks: Iterable[Tick], service: str) -> list[float]:
    """Seconds between ``service``'s consecutive ticks."""
    times = [tick.time for tick in _by_time(ticks) if tick.service == service]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def summary(ticks: Iterable[Tick], gap_s: float | None = None) -> str:
    """One line per window, then the violations: for assertion messages."""
    ordered = _by_time(ticks)
    lines = [f"{len(ordered)} ticks by {len({t.service for t in ordered})} services:"]
    lines += ["  " + w.describe() for w in windows(ordered, gap_s)]
    found = violations(ordered, gap_s)
    lines += [f"{len(found)} violations:"] + ["  " + v for v in found]
    return "\n".join(lines)


@dataclass(frozen=True)
class Recovery:
    """How leadership came through a fault that every candidate saw (a ZooKeeper one).

    ``moved``: "kept" when the one ticking at the end is the one that ticked last before
    the fault, "moved" when it is another, "two leaders" when more than one ticks at the
    end, "none" when nobody does, "unknown" when nobody ticked before the fault.
    """

    leader_before: str | None
    leader_after: str | None
    moved: str
    ticks_during: int  # ticks between fault + settle and back: work without a serving ensemble
    resume_s: float | None  # back -> the first tick after it
    silence_s: float  # the longest stretch without a tick, 1.5 s before the fault to the end
    two_leaders_s: float  # time after the fault in which two candidates' windows overlap
    two_leaders_at_end: bool  # more than one candidate ticked in the final tail_s


def recovery(
    ticks: Iterable[Tick],
    fault: float,
    back: float,
    end: float,
    settle_s: float = 1.0,
    tail_s: float = 3.0,
) -> Recovery:
    """Judge ``ticks`` around a fault at ``fault``, the ensemble serving again at ``back``,
    watched until ``end``. A tick within ``settle_s`` after the fault may have been
    confirmed before it, so it does not count as work during the fault; the leader at the
    end is whoever ticked last in the final ``tail_s`` seconds (ticks come each second).

    Two leaders: the candidates' windows (``windows`` with a 1.5 s gap: ticks a second
    apart are one term) from the fault on, and the summed time in which two overlap."""
    ordered = _by_time(ticks)
    before = [t for t in ordered if t.time <= fault]
    leader_before = before[-1].service if before else None
    tail = [t for t in ordered if end - tail_s < t.time <= end]
    leader_after = tail[-1].service if tail else None
    if leader_before is None:
        moved = "unknown"
    elif leader_after is None:
        moved = "none"
    elif len({t.service for t in tail}) > 1:
        moved = "two leaders"
    else:
        moved = "kept" if leader_after == leader_before else "moved"
    first_back = first_tick_after(ordered, back)
    terms = windows([t for t in ordered if fault < t.time <= end], gap_s=1.5)
    overlap = sum(
        max(0.0, min(a.end, b.end) - max(a.start, b.start))
        for i, a in enumerate(terms)
        for b in terms[i + 1 :]
        if a.service != b.service
    )
    return Recovery(
        leader_before=leader_before,
        leader_after=leader_after,
        moved=moved,
        ticks_during=len([t for t in ordered if fault + settle_s < t.time < back]),
        resume_s=None if first_back is None or first_back.time > end else first_back.time - back,
        silence_s=longest_silence(ordered, fault - 1.5, end),
        two_leaders_s=overlap,
        two_leaders_at_end=len({t.service for t in tail}) > 1,
    )
