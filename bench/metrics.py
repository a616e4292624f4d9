"""The rows of the benchmark's table: what each figure is, where its samples come from,
and the floor it sits beside.

Usage::

    for metric in METRICS:
        samples = [v for record in records for v in metric.extract(record)]
        floor = metric.floor_text(floors)      # "0.002", "[10.0, 12.0]", "0", "-"

A record is one contender's figures in one run (``bench/__main__.py`` builds them; the
definitions of the figures are in ``bench/scenarios.py``). A floor is what no recipe on
this ensemble can beat: the protocol's round trips measured on loopback, the servers'
session expiry ``[S, S + tickTime]``, or a count (no stale tick, one wake-up). The
floors' inputs (``Floors``) are measured once per run (``bench/floors.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]
Floors = dict[str, Any]  # bench.floors.Floors.to_json(): rtt, session and tick lengths


def section_of(record: Record, *keys: str) -> Any:
    """``record[k1][k2]...``, or None where a level is missing."""
    value: Any = record
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _one(*keys: str) -> Callable[[Record], list[Any]]:
    """One sample per record; none at all when the record lacks the phase (``keys[0]``):
    a phase skipped, or not run for this contender, is no failed sample."""
    return lambda record: [section_of(record, *keys)] if keys[0] in record else []


def _handoffs(field: str) -> Callable[[Record], list[Any]]:
    def extract(record: Record) -> list[Any]:
        if "handoff" not in record:
            return []
        samples = section_of(record, "handoff", "handoffs")
        if not samples:
            return [None]
        return [sample.get(field) for sample in samples]

    return extract


def _flag(kind: str, field: str, when: Callable[[Any], bool]) -> Callable[[Record], list[Any]]:
    """1 or 0 per record: whether ``faults.<kind>`` shows ``field`` as ``when`` says."""

    def extract(record: Record) -> list[Any]:
        if "faults" not in record:
            return []
        fault = section_of(record, "faults", kind)
        if not isinstance(fault, dict):
            return [None]
        return [1.0 if when(fault.get(field)) else 0.0]

    return extract


def _fault_silence(record: Record) -> list[Any]:
    """The longest of the three faults' silences in one run (None if none measured)."""
    if "faults" not in record:
        return []
    values = [
        section_of(record, "faults", kind, "silence_s") for kind in ("crash", "freeze", "cut")
    ]
    known = [v for v in values if v is not None]
    return [max(known) if known else None]


# -- floors ------------------------------------------------------------------------------


def _floor(text: Callable[..., str], *fields: str) -> Callable[[Floors], str]:
    """A floor drawn from the run's ``fields`` ("rtt.read_s" looks inside "rtt"): ``text``
    of their values, or "-" when the run lacks one."""

    def render(floors: Floors) -> str:
        values = [section_of(floors, *field.split(".")) for field in fields]
        return "-" if None in values else text(*values)

    return render


_handoff_floor = _floor(lambda h: f"{h:.4f}", "rtt.handoff_s")
_resume_floor = _floor(lambda r: f"{2 * r:.4f}", "rtt.read_s")  # a reconnect and one read
_expiry_floor = _floor(lambda s, t: f"[{s:.1f}, {s + t:.1f}]", "session_timeout_s", "zk_tick_s")
_silence_floor = _floor(
    lambda s, t, i: f"[{s:.1f}, {s + t + i:.1f}]", "session_timeout_s", "zk_tick_s", "interval_s"
)
_interval_floor = _floor(lambda i: f"{i:.2f}", "interval_s")
_ping_floor = _floor(lambda s: f"{2 / (s / 3):.2f}", "session_timeout_s")  # a ping, a reply
_before_takeover = _floor(lambda s: f"< {s:.1f}", "session_timeout_s")
_idle_latency = _floor(lambda ms: f"{ms:.1f}", "idle_latency_ms")


# -- the rows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One row. ``label`` may name ``{many}``, ``{scale}`` and ``{per_process}``: the
    run's candidate counts. A ``tally`` row counts its values ("143 ×8") instead of
    taking a median. ``floor``: the row's floor as text, fixed or from the run's floors."""

    key: str
    section: str
    label: str
    unit: str
    extract: Callable[[Record], list[Any]]
    digits: int = 2
    ratio: bool = True  # show "xN" against ours
    chart: str | None = None  # panel name, if charted
    table: bool = True  # a row of the table (else data and chart only)
    tally: bool = False
    short: str = ""  # the bar group's name in the chart
    missing: str = "failed"  # what a sample without a value means
    floor: str | Callable[[Floors], str] = "-"

    def floor_text(self, floors: Floors) -> str:
        return self.floor if isinstance(self.floor, str) else self.floor(floors)


_SIGTERM = "SIGTERM to the leader (2 candidates, alone)"
_LEADER_FAULTS = "Faults on the leader (a pair each, 2x the session)"
_ZK_FAULTS = "ZooKeeper faults (one pair of every contender at once)"
_TRAFFIC = "Traffic and wake-ups"
_COST = "Cost per candidate process (2 candidates, steady state)"
_GROWTH = (
    "Growth: {scale} candidates, up to {per_process} to a process, each with its own "
    "session (ours and kazoo's)"
)
_WHO = "who leads at the end (kept, moved, two leaders, none)"


def _change(phase: str, suffix: str, section: str) -> tuple[Metric, ...]:
    """Around one SIGTERM among many candidates (``phase``: "many" or "scale"): who woke
    up, who read the election, the handoff."""
    count = "{" + phase + "}"
    return (
        Metric(f"watchers_notified_{suffix}", section,
               f"wake-ups per leader change, {count} candidates (watches fired)", "sessions",
               _one(phase, "change", "watchers_notified"), 0, ratio=False, floor="1"),
        Metric(f"readers_{suffix}", section,
               f"candidates reading the election around a change, {count} candidates",
               "sessions", _one(phase, "change", "readers"), 0, ratio=False, floor="1"),
        Metric(f"handoff_{suffix}_s", section, f"SIGTERM handoff with {count} candidates", "s",
               _one(phase, "change", "handoff_s"), 3, chart="handoff",
               short=f"{count} candidates", floor=_handoff_floor),
    )  # fmt: skip


# fmt: off
METRICS: tuple[Metric, ...] = (
    Metric("handoff_s", _SIGTERM, "SIGTERM handoff: signal -> new leader's first tick", "s",
           _handoffs("handoff_s"), 3, chart="handoff", short="2 candidates",
           floor=_handoff_floor),
    Metric("handoff_gap_s", _SIGTERM, "SIGTERM: old leader's last tick -> new leader's first",
           "s", _handoffs("gap_s"), 2, floor=_handoff_floor),
    Metric("sigterm_exit", _SIGTERM, "exit status of the SIGTERM'd leader", "code",
           _handoffs("old_exit"), ratio=False, tally=True, floor="0"),
    Metric("crash_s", _LEADER_FAULTS, "SIGKILL takeover: signal -> new leader's first tick",
           "s", _one("faults", "crash", "takeover_s"), 2, chart="takeover", short="SIGKILL",
           floor=_expiry_floor),
    Metric("freeze_takeover_s", _LEADER_FAULTS, "SIGSTOP: signal -> new leader's first tick",
           "s", _one("faults", "freeze", "takeover_s"), 2, chart="takeover", short="SIGSTOP",
           floor=_expiry_floor),
    Metric("freeze_stale_ticks", _LEADER_FAULTS, "SIGSTOP: old leader's ticks after takeover",
           "ticks", _one("faults", "freeze", "stale_ticks"), 0, ratio=False, chart="stale",
           short="SIGSTOP:\nafter takeover", floor="0"),
    Metric("cut_takeover_s", _LEADER_FAULTS, "cut off: cut -> new leader's first tick", "s",
           _one("faults", "cut", "takeover_s"), 2, chart="takeover", short="cut",
           floor=_expiry_floor),
    Metric("cut_stale_ticks", _LEADER_FAULTS, "cut off: old leader's ticks after takeover",
           "ticks", _one("faults", "cut", "stale_ticks"), 0, ratio=False, chart="stale",
           short="cut:\nafter takeover", floor="0"),
    Metric("cut_worked_on_s", _LEADER_FAULTS,
           "cut off: old leader's last tick after the cut (before takeover)", "s",
           _one("faults", "cut", "old_last_tick_after_fault_s"), 1, ratio=False,
           floor=_before_takeover),
    Metric("fault_silence_s", _LEADER_FAULTS,
           "longest silence (no tick by anyone) around SIGKILL, SIGSTOP or cut", "s",
           _fault_silence, 2, floor=_silence_floor),
    Metric("zk_leader_silence_s", _ZK_FAULTS,
           "ZooKeeper leader killed: longest silence (no tick by anyone)", "s",
           _one("ensemble", "zk_leader", "silence_s"), 2, chart="ensemble",
           short="ZooKeeper leader killed:\nlongest silence", floor=_interval_floor),
    Metric("zk_leader_two_leaders_s", _ZK_FAULTS,
           "ZooKeeper leader killed: time with two leaders ticking", "s",
           _one("ensemble", "zk_leader", "two_leaders_s"), 1, ratio=False, chart="ensemble",
           short="ZooKeeper leader killed:\ntwo leaders", floor="0"),
    Metric("zk_leader_sessions_kept", _ZK_FAULTS,
           "ZooKeeper leader killed: candidates that kept their session (of 2)", "sessions",
           _one("ensemble", "zk_leader", "sessions_kept"), 0, ratio=False, floor="2"),
    Metric("zk_leader_moved", _ZK_FAULTS, f"ZooKeeper leader killed: {_WHO}", "runs",
           _one("ensemble", "zk_leader", "moved"), ratio=False, tally=True, floor="kept"),
    Metric("quorum_ticks_during", _ZK_FAULTS, "quorum lost 10 s: ticks while no quorum served",
           "ticks", _one("ensemble", "quorum", "ticks_during"), 0, ratio=False, chart="stale",
           short="quorum lost:\nwithout quorum", floor="0"),
    Metric("quorum_resume_s", _ZK_FAULTS, "quorum lost 10 s: quorum back -> first tick", "s",
           _one("ensemble", "quorum", "resume_s"), 2, chart="ensemble",
           short="quorum lost 10 s:\nquorum back -> first tick", missing="never",
           floor=_resume_floor),
    Metric("quorum_two_leaders_s", _ZK_FAULTS, "quorum lost 10 s: time with two leaders ticking",
           "s", _one("ensemble", "quorum", "two_leaders_s"), 1, ratio=False, chart="ensemble",
           short="quorum lost 10 s:\ntwo leaders", floor="0"),
    Metric("quorum_moved", _ZK_FAULTS, f"quorum lost 10 s: {_WHO}", "runs",
           _one("ensemble", "quorum", "moved"), ratio=False, tally=True, floor="kept"),
    Metric("quorum_sessions_kept", _ZK_FAULTS,
           "quorum lost 10 s: candidates that kept their session (of 2)", "sessions",
           _one("ensemble", "quorum", "sessions_kept"), 0, ratio=False, floor="2"),
    Metric("follower_packets_2", _TRAFFIC, "packets/s per follower, 2 candidates", "pkt/s",
           _one("handoff", "steady", "follower_packets_s"), 2, chart="packets",
           short="2 candidates", floor=_ping_floor),
    Metric("follower_requests_2", _TRAFFIC, "requests/s per follower, 2 candidates", "req/s",
           _one("handoff", "steady", "follower_requests_s"), 2, floor="0"),
    Metric("leader_packets_2", _TRAFFIC, "packets/s of the leader, 2 candidates", "pkt/s",
           _one("handoff", "steady", "leader_packets_s"), 2, floor=_ping_floor),
    Metric("follower_packets_20", _TRAFFIC, "packets/s per follower, {many} candidates",
           "pkt/s", _one("many", "steady", "follower_packets_s"), 2, chart="packets",
           short="{many} candidates", floor=_ping_floor),
    Metric("follower_requests_20", _TRAFFIC, "requests/s per follower, {many} candidates",
           "req/s", _one("many", "steady", "follower_requests_s"), 2, floor="0"),
    Metric("leader_packets_20", _TRAFFIC, "packets/s of the leader, {many} candidates",
           "pkt/s", _one("many", "steady", "leader_packets_s"), 2, floor=_ping_floor),
    *_change("many", "20", _TRAFFIC),
    Metric("leader_rss_mb", _COST, "resident memory (RSS) of the leader", "MB",
           _one("handoff", "costs", "leader", "rss_mb"), 0, chart="rss", short="leader"),
    Metric("follower_rss_mb", _COST, "resident memory (RSS) of the follower", "MB",
           _one("handoff", "costs", "follower", "rss_mb"), 0, chart="rss", short="follower"),
    Metric("leader_cpu_s_min", _COST, "CPU seconds per minute, the leader", "s/min",
           _one("handoff", "costs", "leader", "cpu_s_per_min"), 2, chart="cpu", short="leader"),
    Metric("follower_cpu_s_min", _COST, "CPU seconds per minute, the follower", "s/min",
           _one("handoff", "costs", "follower", "cpu_s_per_min"), 2, chart="cpu",
           short="follower"),
    Metric("scale_join_s", _GROWTH, "all {scale} joined: first start -> last node registered",
           "s", _one("scale", "join", "seconds"), 1),
    Metric("scale_outstanding_max", _GROWTH,
           "while they join: the servers' outstanding requests, highest sample", "requests",
           _one("scale", "join", "outstanding_max"), 0, ratio=False, floor="0"),
    Metric("scale_latency_avg_ms", _GROWTH,
           "while they join: the servers' mean request latency", "ms",
           _one("scale", "join", "latency_avg_ms"), 1, floor=_idle_latency),
    Metric("scale_latency_max_ms", _GROWTH,
           "while they join: the servers' longest request latency", "ms",
           _one("scale", "join", "latency_max_ms"), 0),
    Metric("follower_packets_scale", _GROWTH, "packets/s per follower, {scale} candidates",
           "pkt/s", _one("scale", "steady", "follower_packets_s"), 2, chart="packets",
           short="{scale} candidates", floor=_ping_floor),
    *_change("scale", "scale", _GROWTH),
    # Data and chart only: what the bars and the README's sentence need besides the rows.
    Metric("freeze_old_died", _LEADER_FAULTS, "SIGSTOP: old leader exited", "runs",
           _flag("freeze", "old", lambda old: (old or {}).get("exit") is not None), 0,
           ratio=False, table=False),
    Metric("cut_old_died", _LEADER_FAULTS, "cut: old leader exited", "runs",
           _flag("cut", "old", lambda old: (old or {}).get("exit") is not None), 0,
           ratio=False, table=False),
    Metric("freeze_still_ticking", _LEADER_FAULTS,
           "SIGSTOP: old leader still ticking when the observation ended", "runs",
           _flag("freeze", "still_ticking", bool), 0, ratio=False, table=False),
    Metric("cut_still_ticking", _LEADER_FAULTS,
           "cut: old leader still ticking when the observation ended", "runs",
           _flag("cut", "still_ticking", bool), 0, ratio=False, table=False),
)
# fmt: on


def by_key(key: str) -> Metric:
    for metric in METRICS:
        if metric.key == key:
            return metric
    raise KeyError(key)
