"""The soak's judge: one history in, a verdict out. Pure: no process, no clock, no I/O.

What it checks, from the workers' ticks and the incidents the runner recorded:

* **E1** (``testbed.checker.violations``): fencing tokens never go down, no two workers
  tick inside one another's leadership window, no token shared.
* **Leaderless bound**: a stretch with no tick for longer than the tick interval plus
  ``slack_s`` must be explained and must end in time. See ``Bounds``: each incident
  has an effect window [start, deadline]. A stretch is *charged* to the fault that
  began it: a *primary* incident (a fault on the then leader, a ZooKeeper server
  killed, a stretch without quorum, a clock stall, start-up) in force when its last
  tick happened or starting before the stretch did; of several, the one whose own
  bound is latest. The stretch must end by that fault's own deadline, which another
  incident may extend only by what it adds: one that starts while the stretch is still
  inside its bound so far (a next-in-line killed or frozen meanwhile, quorum lost, a
  server killed) moves the bound to its own deadline, if later. An incident that
  starts after the bound has passed excuses nothing; a stretch no primary incident
  began, even one a later fault would explain, is a finding. The report lists the ten
  tightest margins and the largest extensions ("excuses"), so a pass can be read too.
* **Clock stalls**: every bound is in the workers' log time, the wall clock. When the
  runner finds that clock jumped forward by more than a second between two of its
  wake-ups 0.1 s apart (the whole machine paused, or the clock stepped), the jump is a
  "stall" incident: a primary cause of its own, and it stretches every other
  incident's deadline it overlaps by its length. It excuses no E1 or exit violation,
  and the report counts stalls apart.
* **Exits**: the runner's list of exits nobody asked for and slow SIGTERM exits.
* **The ledger** (``testbed.ledger.judge``): what ZooKeeper accepted, beside the
  workers' word: tokens never down in the ledger's order, no interleaved leaderships,
  no more than one unit per tick interval per leadership, every ``processing`` line
  held to its unit and every unit to its line (a killed worker's last unit of a
  leadership may lack its line). When the log judge and the ledger judge disagree (one
  finds an E1 violation, the other none), that is a finding of its own.

Takeover times (fault on the leader -> the first tick under a new fencing token for
SIGTERM, SIGKILL and depose, the first tick by anyone for freeze and cut) are reported
per kind.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from common.ledger import Unit
from soak.plan import ENSEMBLE_KINDS, HOSTILE_KINDS, WORKER_KINDS, Fault, SoakConfig
from testbed.checker import Tick, format_time, violations
from testbed.ledger import Logged
from testbed.ledger import judge as judge_ledger


@dataclass(frozen=True)
class Bounds:
    """How long each incident may keep the workers leaderless; all in seconds.

    S = session timeout, T = ZooKeeper tick. A session whose client went silent at t
    is expired by the servers by t + S + T (expiry is checked once per tick), later if
    the ensemble lost quorum meanwhile (then S + T counts from quorum's return, when the
    new ZooKeeper leader renews every session).
    """

    slack_s: float  # a tick later than tick interval + slack starts a leaderless stretch
    expiry_s: float  # S + T
    watch_s: float  # expiry noticed -> successor's first tick (watch, re-rank, confirm)
    reconnect_s: float  # back on the network -> ticking: backoff cap + connect + re-check
    startup_s: float  # a (re)started worker: interpreter, connect, join, first tick
    handoff_s: float  # SIGTERM or a node deleted by hand: the successor ticks

    @classmethod
    def of(cls, config: SoakConfig) -> Bounds:
        # A trickling endpoint in the host list can hold one connection attempt for a
        # frame deadline (common.zkclient) before kazoo moves on to a real server.
        trickle = (
            min(config.session_timeout_s / 3, config.connect_timeout_s)
            if config.hostile_host
            else 0.0
        )
        return cls(
            slack_s=1.0,
            expiry_s=config.session_timeout_s + config.tick_ms / 1000,
            watch_s=1.5,
            reconnect_s=config.retry_max_delay_s + config.connect_timeout_s + 1.5 + trickle,
            startup_s=6.0 + trickle,
            handoff_s=2.0,
        )


# -- what happened ----------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """Something that happened, in epoch seconds, as the judge needs it."""

    kind: str  # a fault kind, "no_quorum", "stall", "startup", "restart", "thaw", "uncut"
    target: str
    start: float
    end: float | None = None  # heal time, if it has one


@dataclass
class Timeline:
    """What the runner did and saw: incidents for the judge, lines for people."""

    started: float = 0.0
    ended: float = 0.0
    incidents: list[Incident] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # human log of what was done
    skipped: list[str] = field(default_factory=list)


# -- the judge (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A leaderless stretch and its verdict.

    ``charged_to``: the fault that began it (None: nothing did); ``base_until``: that
    fault's own deadline; ``excuses``: (incident, seconds it added) for every incident
    that moved the bound later; ``allowed_until``: the bound with them (None when
    nothing began it); ``later``: incidents that started inside the stretch but too late
    to excuse anything (for the reader: the old judge counted these)."""

    start: float  # when it became leaderless: last tick + interval + slack
    end: float  # the next tick (or the end of the soak)
    allowed_until: float | None
    causes: tuple[str, ...]  # what the bound rests on: the charged fault, then excuses
    charged_to: str | None = None
    base_until: float | None = None
    excuses: tuple[tuple[str, float], ...] = ()
    later: tuple[str, ...] = ()

    @property
    def excess(self) -> float:
        limit = self.start if self.allowed_until is None else self.allowed_until
        return self.end - limit

    @property
    def excused_s(self) -> float:
        return sum(added for _what, added in self.excuses)

    def describe(self) -> str:
        span = (
            f"leaderless {format_time(self.start)} .. {format_time(self.end)} "
            f"({self.end - self.start:.1f} s)"
        )
        if self.charged_to is None:
            if self.later:
                return f"{span}: only a later fault explains it ({'; '.join(self.later)})"
            return f"{span}: no fault explains it"
        text = f"{span}: charged to {self.charged_to}"
        if self.excuses:
            text += ", extended by " + "; ".join(f"{w} (+{a:.1f} s)" for w, a in self.excuses)
        if self.excess > 0:
            return f"{text}; {self.excess:.1f} s past its bound"
        return f"{text}; margin {-self.excess:.1f} s"


@dataclass(frozen=True)
class Window:
    """What one incident allows: leaderless until ``deadline`` from ``start``."""

    start: float
    deadline: float
    primary: bool  # it can begin a stretch (else it can only extend one)
    text: str


def _expiry(t: float, no_quorum: list[Incident], expiry_s: float) -> float:
    """When the servers expire a session silent since t, quorum losses considered."""
    deadline = t + expiry_s
    changed = True
    while changed:
        changed = False
        for outage in no_quorum:
            assert outage.end is not None
            if outage.start < deadline and outage.end > t and outage.end + expiry_s > deadline:
                deadline = outage.end + expiry_s
                changed = True
    return deadline


def _stretched(start: float, deadline: float, stalls: list[Incident]) -> float:
    """``deadline`` pushed back by the length of every clock stall inside [start, it]."""
    counted: set[int] = set()
    changed = True
    while changed:
        changed = False
        for k, stall in enumerate(stalls):
            assert stall.end is not None
            if k not in counted and stall.start < deadline and stall.end > start:
                deadline += stall.end - stall.start
                counted.add(k)
                changed = True
    return deadline


def _was_leader(ticks: list[Tick], target: str, t: float, window: float) -> bool:
    return any(tick.service == target and t - window <= tick.time <= t for tick in ticks)


def effect_windows(
    incidents: list[Incident], ticks: list[Tick], bounds: Bounds, tick_interval_s: float
) -> list[Window]:
    """Each incident that may keep the workers leaderless -> its Window."""
    no_quorum = [i for i in incidents if i.kind == "no_quorum"]
    stalls = [i for i in incidents if i.kind == "stall"]
    lead_window = tick_interval_s + bounds.slack_s
    result = []
    for inc in incidents:
        primary = False
        if inc.kind == "stall":
            # Everything stopped (or the clock jumped) at once: afterwards the leader may
            # reconnect, its session may expire alone, or every session may be renewed
            # as at a start-up. It does not stretch itself.
            assert inc.end is not None
            after = max(bounds.reconnect_s, bounds.expiry_s + bounds.watch_s, bounds.startup_s)
            text = f"stall {inc.end - inc.start:.1f} s at {format_time(inc.start)[11:23]}"
            result.append(Window(inc.start, inc.end + after, True, text))
            continue
        if inc.kind in WORKER_KINDS:
            primary = _was_leader(ticks, inc.target, inc.start, lead_window)
        if inc.kind in ("term", "depose", "resign"):
            deadline = inc.start + bounds.handoff_s
        elif inc.kind == "kill":
            deadline = _expiry(inc.start, no_quorum, bounds.expiry_s) + bounds.watch_s
        elif inc.kind in ("freeze", "cut"):
            expiry = _expiry(inc.start, no_quorum, bounds.expiry_s)
            healed = inc.end if inc.end is not None else float("inf")
            deadline = healed + bounds.reconnect_s if healed < expiry else expiry + bounds.watch_s
        elif inc.kind == "server_kill":
            primary, deadline = True, inc.start + bounds.reconnect_s
        elif inc.kind == "no_quorum":
            assert inc.end is not None
            primary, deadline = True, inc.end + bounds.reconnect_s
        elif inc.kind == "startup":
            primary, deadline = True, inc.start + bounds.startup_s
        else:
            # Storms and squatters must change nothing. A restart, a thaw or a reconnect
            # only brings a candidate back: it delays nobody, and its own fault's window
            # already covers the time that candidate needs to lead again.
            continue
        role = " (leader)" if primary and inc.kind in WORKER_KINDS else ""
        text = f"{inc.kind} {inc.target}{role} at {format_time(inc.start)[11:23]}"
        result.append(Window(inc.start, _stretched(inc.start, deadline, stalls), primary, text))
    return result


def leaderless_gaps(
    ticks: list[Tick],
    incidents: list[Incident],
    bounds: Bounds,
    tick_interval_s: float,
    started: float,
    ended: float,
) -> list[Gap]:
    """Every stretch without ticks longer than interval + slack, charged and bounded."""
    windows = sorted(
        effect_windows(incidents, ticks, bounds, tick_interval_s), key=lambda w: w.start
    )
    times = [started] + [t.time for t in ticks if started <= t.time <= ended] + [ended]
    gaps = []
    for last, nxt in zip(times, times[1:], strict=False):
        begin = last + tick_interval_s + bounds.slack_s
        if nxt > begin:
            gaps.append(_charge(windows, last, begin, nxt))
    return gaps


def _charge(windows: list[Window], last: float, begin: float, end: float) -> Gap:
    """The verdict on one stretch (see the module doc): the fault that began it, what
    later incidents added while it was still in bounds, and what came too late."""
    began = [w for w in windows if w.primary and w.start <= begin and w.deadline >= last]
    inside = [w.text for w in windows if begin < w.start < end]
    if not began:
        return Gap(begin, end, None, (), later=tuple(inside))
    charged = max(began, key=lambda w: w.deadline)
    allowed = charged.deadline
    excuses: list[tuple[str, float]] = []
    for window in windows:  # by start: each may extend only a bound not yet passed
        if window is charged or window.start >= end:
            continue
        if window.start > allowed:
            break
        if window.deadline > allowed:
            excuses.append((window.text, window.deadline - allowed))
            allowed = window.deadline
    counted = {charged.text, *(text for text, _added in excuses)}
    late = tuple(text for text in inside if text not in counted)
    causes = (charged.text, *(text for text, _added in excuses))
    return Gap(begin, end, allowed, causes, charged.text, charged.deadline, tuple(excuses), late)


def takeovers(
    ticks: list[Tick], incidents: list[Incident], bounds: Bounds, tick_interval_s: float
) -> dict[str, list[float]]:
    """Fault on the leader -> the first tick of a new leadership (another fencing
    token, whoever holds it, a restarted victim included) or, after a freeze or cut
    ended, of the victim's own resumed leadership. A cut-off leader's ticks under its
    old token before the cut ended (it works on while its lease lasts) do not count."""
    result: dict[str, list[float]] = {}
    window = tick_interval_s + bounds.slack_s
    for inc in incidents:
        if inc.kind not in WORKER_KINDS or not _was_leader(ticks, inc.target, inc.start, window):
            continue
        own = [t for t in ticks if t.service == inc.target and t.time <= inc.start]
        token = own[-1].token if own else None
        healed = inc.end if inc.kind in ("freeze", "cut") and inc.end is not None else None
        after = [
            t.time
            for t in ticks
            if t.time > inc.start and (t.token != token or (healed is not None and t.time > healed))
        ]
        if after:
            result.setdefault(inc.kind, []).append(after[0] - inc.start)
    return result


@dataclass(frozen=True)
class LedgerEvidence:
    """What the ledger held at the end, and what the workers said of it."""

    units: list[Unit]
    logged: list[Logged]
    refusals: dict[str, int]  # reason -> count, as kept under refused/
    crashed: list[str]  # workers killed at least once: a last unit may lack its line


@dataclass(frozen=True)
class LedgerVerdict:
    units: int
    refusals: dict[str, int]
    violations: list[str]
    agree: bool  # the log judge and the ledger judge find the same (none, or some)


@dataclass
class SoakReport:
    config: SoakConfig
    bounds: Bounds
    faults: list[Fault]
    timeline: Timeline
    e1: list[str]
    gaps: list[Gap]
    takeover_s: dict[str, list[float]]
    ticks: int
    excerpts: list[str]
    process_faults: list[str] = field(default_factory=list)
    ledger: LedgerVerdict | None = None

    @property
    def violations(self) -> list[str]:
        late = [g.describe() for g in self.gaps if g.excess > 0]
        found = [f"E1: {v}" for v in self.e1] + late + [f"exit: {v}" for v in self.process_faults]
        if self.ledger is not None:
            found += [f"E1 (ledger): {v}" for v in self.ledger.violations]
            if not self.ledger.agree:
                found.append("judges disagree: the log judge and the ledger judge differ on E1")
        return found

    def tightest(self, count: int = 10) -> list[Gap]:
        """The explained stretches that came closest to their bound (or past it)."""
        bounded = [g for g in self.gaps if g.allowed_until is not None]
        return sorted(bounded, key=lambda g: -g.excess)[:count]

    def largest_excuses(self, count: int = 10) -> list[Gap]:
        """The stretches whose bound later incidents extended the most."""
        excused = [g for g in self.gaps if g.excuses]
        return sorted(excused, key=lambda g: -g.excused_s)[:count]

    @property
    def ok(self) -> bool:
        return not self.violations

    def text(self) -> str:
        kinds = Counter(i.kind for i in self.timeline.incidents)
        stalls = [i.end - i.start for i in self.timeline.incidents if i.kind == "stall" and i.end]
        lines = [
            f"soak: seed {self.config.seed}, {self.config.minutes:g} min, "
            f"{self.config.workers} workers, session {self.config.session_timeout_s:g} s, "
            f"ZooKeeper tick {self.config.tick_ms} ms, tick interval "
            f"{self.config.tick_interval_s:g} s, work {self.config.work_s:g} s per unit",
            f"faults planned {len(self.faults)}, injected: "
            + ", ".join(f"{k} {kinds[k]}" for k in (*WORKER_KINDS, *ENSEMBLE_KINDS, *HOSTILE_KINDS))
            + f"; stretches without quorum {kinds['no_quorum']}; skipped "
            f"{len(self.timeline.skipped)}",
            f"ticks {self.ticks}; leaderless stretches {len(self.gaps)}, longest "
            + (f"{max(g.end - g.start for g in self.gaps):.1f} s" if self.gaps else "-"),
            f"clock stalls (the runner's clock jumped over 1 s): {len(stalls)}"
            + (f", longest {max(stalls):.1f} s" if stalls else ""),
            "bounds (s): " + ", ".join(f"{k}={v:g}" for k, v in asdict(self.bounds).items()),
            "takeover after a fault on the leader (s): "
            + (
                "; ".join(
                    f"{kind} n={len(v)} median {statistics.median(v):.2f} max {max(v):.2f}"
                    for kind, v in sorted(self.takeover_s.items())
                )
                or "none"
            ),
            self._ledger_line(),
            f"violations: {len(self.violations)}",
        ]
        lines += ["  " + v for v in self.violations]
        lines.append(f"tightest margins ({len(self.tightest())} of {len(self.gaps)} stretches):")
        lines += ["  " + g.describe() for g in self.tightest()]
        excused = self.largest_excuses()
        lines.append(
            f"largest excuses (bounds extended by a later incident: {len(excused)} shown, "
            f"{sum(1 for g in self.gaps if g.excuses)} in all):"
        )
        lines += [f"  +{g.excused_s:.1f} s: " + g.describe() for g in excused]
        lines += self.excerpts
        return "\n".join(lines)

    def _ledger_line(self) -> str:
        ledger = self.ledger
        if ledger is None:
            return "ledger: not read (no E1 judgement from the store)"
        refused = ", ".join(f"{k} {v}" for k, v in sorted(ledger.refusals.items())) or "none"
        return (
            f"ledger: {ledger.units} units, refused: {refused}; violations "
            f"{len(ledger.violations)}; log judge and ledger judge "
            + ("agree" if ledger.agree else "DISAGREE")
        )

    def summary(self) -> dict[str, Any]:
        """What a page quotes of this soak (``python -m bench report``): counts, takeover
        times, the ten tightest margins, the largest excuses; no log line."""
        kinds = Counter(i.kind for i in self.timeline.incidents)
        stalls = [i.end - i.start for i in self.timeline.incidents if i.kind == "stall" and i.end]

        def gap(g: Gap) -> dict[str, Any]:
            return {
                "at": format_time(g.start),
                "length_s": g.end - g.start,
                "margin_s": -g.excess,
                "charged_to": g.charged_to,
                "excuses": [list(e) for e in g.excuses],
                "text": g.describe(),
            }

        return {
            "seed": self.config.seed,
            "minutes": self.config.minutes,
            "workers": self.config.workers,
            "session_timeout_s": self.config.session_timeout_s,
            "tick_ms": self.config.tick_ms,
            "tick_interval_s": self.config.tick_interval_s,
            "work_s": self.config.work_s,
            "planned": len(self.faults),
            "injected": {k: kinds[k] for k in (*WORKER_KINDS, *ENSEMBLE_KINDS, *HOSTILE_KINDS)},
            "skipped": len(self.timeline.skipped),
            "no_quorum": kinds["no_quorum"],
            "stalls": {"count": len(stalls), "longest_s": max(stalls, default=None)},
            "ticks": self.ticks,
            "stretches": len(self.gaps),
            "longest_s": max((g.end - g.start for g in self.gaps), default=None),
            "violations": self.violations,
            "e1": len(self.e1),
            "exit_violations": len(self.process_faults),
            "takeover_s": {
                kind: {"n": len(v), "median": statistics.median(v), "max": max(v)}
                for kind, v in sorted(self.takeover_s.items())
            },
            "tightest": [gap(g) for g in self.tightest()],
            "largest_excuses": [
                gap(g) | {"excused_s": g.excused_s} for g in self.largest_excuses()
            ],
            "excused": sum(1 for g in self.gaps if g.excuses),
            "ledger": asdict(self.ledger) if self.ledger is not None else None,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "started": self.timeline.started,
            "ended": self.timeline.ended,
            "bounds": asdict(self.bounds),
            "plan": [asdict(f) for f in self.faults],
            "done": self.timeline.lines,
            "incidents": [asdict(i) for i in self.timeline.incidents],
            "skipped": self.timeline.skipped,
            "violations": self.violations,
            "gaps": [asdict(g) for g in self.gaps],
            "tightest": [asdict(g) for g in self.tightest()],
            "largest_excuses": [asdict(g) for g in self.largest_excuses()],
            "takeover_s": self.takeover_s,
            "ticks": self.ticks,
            "ledger": asdict(self.ledger) if self.ledger is not None else None,
        }


def judge(
    config: SoakConfig,
    faults: list[Fault],
    timeline: Timeline,
    ticks: list[Tick],
    process_faults: list[str],
    ledger: LedgerEvidence | None = None,
) -> SoakReport:
    """The verdict on one history (pure): E1 by the logs and by the ledger, leaderless
    bounds, exits, takeovers."""
    ticks = sorted(ticks, key=lambda t: t.time)
    e1 = violations(ticks)
    verdict = None
    if ledger is not None:
        found = judge_ledger(
            ledger.units,
            ledger.logged,
            tick_interval_s=config.tick_interval_s,
            crashed=ledger.crashed,
        )
        store_e1 = [f for f in found if not f.startswith(("no line", "no unit"))]
        verdict = LedgerVerdict(
            len(ledger.units), dict(ledger.refusals), found, bool(e1) == bool(store_e1)
        )
    bounds = Bounds.of(config)
    gaps = leaderless_gaps(
        ticks, timeline.incidents, bounds, config.tick_interval_s, timeline.started, timeline.ended
    )
    return SoakReport(
        config,
        bounds,
        faults,
        timeline,
        e1,
        gaps,
        takeovers(ticks, timeline.incidents, bounds, config.tick_interval_s),
        len(ticks),
        [],
        list(process_faults),
        verdict,
    )
