"""Randomized fault soak: three of our workers, a real ensemble, faults piling up.

Usage::

    python -m bench.soak --minutes 10 --seed 7      # exit 0: no violation; 1: violations

    soak = Soak(ensemble, workdir, SoakConfig(minutes=1.5, seed=7))   # from a test
    report = soak.run()
    assert report.ok, report.text()

What happens: ``workers`` workers (``python -m service1``, named w1, w2, ...) each talk
to the ensemble through their own FaultProxy. Every 1.5 to 5 s (seeded) a fault starts,
with a random length: SIGTERM then restart, SIGKILL then restart, SIGSTOP then SIGCONT,
a blackholing cut, each shorter or longer than the session timeout (longer = the
session expires), a worker's node deleted by hand while its session lives ("depose",
what an operator does to force an election), a ZooKeeper server killed and
restarted, or two of three servers killed (quorum lost) and restarted. Worker faults
target the current leader 60% of the time. At most two workers and one ensemble fault
are in trouble at once. The plan (times, kinds, lengths, target roles) depends on the
seed only and is printed first; which worker "the leader" is depends on the run and is
printed as it happens.

The checker judges the whole history afterwards, from the workers' logs:

* **E1**: ``tests.support.checker.violations``: fencing tokens never go down, no two
  workers tick inside one another's leadership window, no token shared.
* **Leaderless bound**: a stretch with no tick for longer than the tick interval plus
  ``slack_s`` must be explained and must end in time. See ``Bounds``: each incident
  has an effect window [start, deadline]; a gap is explained only if a *primary*
  incident (a fault on the then leader, a ZooKeeper server killed, a stretch without
  quorum, start-up) overlaps it; it must then end by the latest deadline of all the
  incidents overlapping it, primary or not (a frozen next-in-line delays a takeover).
  A gap with no primary incident must not exist at all.
* **Exits**: a SIGTERM'd worker exits 0 (within the fault's length + 5 s), and no
  worker exits unless a fault made it.

Takeover times (fault on the leader -> the first tick under a new fencing token for
SIGTERM, SIGKILL and depose, the first tick by anyone for freeze and cut) are reported
per kind.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import secrets
import shutil
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from common.election import Unavailable, read_candidates
from common.logs import quiet_kazoo
from tests.support.checker import (
    Tick,
    format_time,
    parse_time,
    summary,
    ticks_from_events,
    violations,
)
from tests.support.ensemble import MISSING_MESSAGE, Ensemble, Server, find_zookeeper
from tests.support.procs import WorkerProcess
from tests.support.proxy import FaultProxy

RESULTS = Path(__file__).resolve().parent / "results"

WORKER_KINDS = ("term", "kill", "freeze", "cut", "depose")
ENSEMBLE_KINDS = ("server_kill", "quorum_loss")
_WEIGHTS = {
    "term": 1.0,
    "kill": 1.0,
    "freeze": 1.5,
    "cut": 1.5,
    "depose": 0.75,
    "server_kill": 1.0,
    "quorum_loss": 0.5,
}


@dataclass(frozen=True)
class SoakConfig:
    minutes: float = 10.0
    seed: int = 1
    workers: int = 3
    session_timeout_s: float = 4.0  # ZK_SESSION_TIMEOUT_S: expiries in seconds, not tens
    tick_ms: int = 500  # the ensemble's tickTime (sessions may be 1..10 s)
    tick_interval_s: float = 0.5  # TICK_INTERVAL_S: denser ticks, finer judgement
    retry_max_delay_s: float = 2.0  # ZK_RETRY_MAX_DELAY_S: reconnect backoff cap
    connect_timeout_s: float = 2.0  # ZK_CONNECT_TIMEOUT_S: one start-up attempt
    warmup_s: float = 8.0  # before the first fault
    gap_min_s: float = 1.5  # between fault starts
    gap_max_s: float = 5.0


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
        return cls(
            slack_s=1.0,
            expiry_s=config.session_timeout_s + config.tick_ms / 1000,
            watch_s=1.5,
            reconnect_s=config.retry_max_delay_s + config.connect_timeout_s + 1.5,
            startup_s=6.0,
            handoff_s=2.0,
        )


@dataclass(frozen=True)
class Fault:
    """One planned fault: seconds after the start, what, on whom (a role), how long."""

    at: float
    kind: str
    target: str  # "leader" | "any" (a worker) | "zk-leader" | "zk-follower" | "majority"
    length: float

    def describe(self) -> str:
        return f"t+{self.at:6.1f}s {self.kind:<11} {self.target:<11} for {self.length:5.1f}s"


def plan(config: SoakConfig) -> list[Fault]:
    """The seeded fault sequence. Pure: the same config gives the same plan."""
    rng = random.Random(config.seed)
    S = config.session_timeout_s
    expiry = S + config.tick_ms / 1000
    duration = config.minutes * 60
    faults: list[Fault] = []
    worker_busy: list[float] = []  # heal times (+ restart margin) of worker faults
    ensemble_free_at = 0.0
    t = config.warmup_s
    while True:
        t += rng.uniform(config.gap_min_s, config.gap_max_s)
        if t >= duration:
            return faults
        worker_busy = [end for end in worker_busy if end > t]
        allowed = []
        if len(worker_busy) < min(2, config.workers - 1):
            allowed += WORKER_KINDS
        if t >= ensemble_free_at:
            allowed += ENSEMBLE_KINDS
        if not allowed:
            continue
        kind = rng.choices(allowed, [_WEIGHTS[k] for k in allowed])[0]
        long_one = rng.random() < 0.5
        if kind == "depose":
            length = 0.0  # one deletion; the worker joins again by itself
        elif kind == "term":
            length = rng.uniform(0.5, 3.0)
        elif kind == "kill":
            length = rng.uniform(0.5, 3.0 + S)
        elif kind in ("freeze", "cut"):
            length = rng.uniform(1.2 * expiry, 2.5 * S) if long_one else rng.uniform(0.3, 0.7 * S)
        elif kind == "server_kill":
            length = rng.uniform(1.0, 10.0)
        else:
            length = rng.uniform(1.0, 2.5 * S)
        if kind in WORKER_KINDS:
            target = "leader" if rng.random() < 0.6 else "any"
            worker_busy.append(t + length + 1.0)
        else:
            target = (
                "majority" if kind == "quorum_loss" else rng.choice(["zk-leader", "zk-follower"])
            )
            ensemble_free_at = t + length + 8.0  # room for the restarted server to sync
        faults.append(Fault(round(t, 2), kind, target, round(length, 2)))


# -- what happened ----------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """Something that happened, in epoch seconds, as the judge needs it."""

    kind: str  # a fault kind, "no_quorum", "startup", "restart", "thaw", "uncut"
    target: str
    start: float
    end: float | None = None  # heal time, if it has one


@dataclass
class Timeline:
    started: float = 0.0
    ended: float = 0.0
    incidents: list[Incident] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # human log of what was done
    skipped: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        line = f"{format_time(time.time())[11:23]} {text}"
        self.lines.append(line)
        print("  " + line, flush=True)


# -- the judge (pure) -------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    start: float  # when it became leaderless: last tick + interval + slack
    end: float  # the next tick (or the end of the soak)
    allowed_until: float | None  # None: nothing explains it
    causes: tuple[str, ...]

    @property
    def excess(self) -> float:
        limit = self.start if self.allowed_until is None else self.allowed_until
        return self.end - limit


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


def _was_leader(ticks: list[Tick], target: str, t: float, window: float) -> bool:
    return any(tick.service == target and t - window <= tick.time <= t for tick in ticks)


def effect_windows(
    incidents: list[Incident], ticks: list[Tick], bounds: Bounds, tick_interval_s: float
) -> list[tuple[float, float, bool, str]]:
    """Each incident -> (start, deadline, primary, description)."""
    no_quorum = [i for i in incidents if i.kind == "no_quorum"]
    lead_window = tick_interval_s + bounds.slack_s
    result = []
    for inc in incidents:
        primary = False
        if inc.kind in WORKER_KINDS:
            primary = _was_leader(ticks, inc.target, inc.start, lead_window)
        if inc.kind in ("term", "depose"):
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
        elif inc.kind == "restart":
            deadline = inc.start + bounds.startup_s
        elif inc.kind in ("thaw", "uncut"):
            deadline = inc.start + bounds.reconnect_s
        else:
            continue
        role = " (leader)" if primary and inc.kind in WORKER_KINDS else ""
        text = f"{inc.kind} {inc.target}{role} at {format_time(inc.start)[11:23]}"
        result.append((inc.start, deadline, primary, text))
    return result


def leaderless_gaps(
    ticks: list[Tick],
    incidents: list[Incident],
    bounds: Bounds,
    tick_interval_s: float,
    started: float,
    ended: float,
) -> list[Gap]:
    """Every stretch without ticks longer than interval + slack, with what excuses it."""
    windows = effect_windows(incidents, ticks, bounds, tick_interval_s)
    times = [started] + [t.time for t in ticks if started <= t.time <= ended] + [ended]
    gaps = []
    for last, nxt in zip(times, times[1:], strict=False):
        begin = last + tick_interval_s + bounds.slack_s
        if nxt <= begin:
            continue
        overlapping = [w for w in windows if w[0] <= nxt and w[1] >= begin]
        if any(w[2] for w in overlapping):
            allowed = max(w[1] for w in overlapping)
            causes = tuple(w[3] for w in overlapping)
        else:
            allowed, causes = None, tuple(w[3] for w in overlapping)
        gaps.append(Gap(begin, nxt, allowed, causes))
    return gaps


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


# -- running it -------------------------------------------------------------------------


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

    @property
    def violations(self) -> list[str]:
        late = [
            f"leaderless {format_time(g.start)} .. {format_time(g.end)} "
            f"({g.end - g.start:.1f} s): "
            + (
                f"{g.excess:.1f} s past its bound (causes: {'; '.join(g.causes)})"
                if g.allowed_until is not None
                else "no fault explains it"
                + (f" (near: {'; '.join(g.causes)})" if g.causes else "")
            )
            for g in self.gaps
            if g.excess > 0
        ]
        return [f"E1: {v}" for v in self.e1] + late + [f"exit: {v}" for v in self.process_faults]

    @property
    def ok(self) -> bool:
        return not self.violations

    def text(self) -> str:
        kinds = Counter(i.kind for i in self.timeline.incidents)
        lines = [
            f"soak: seed {self.config.seed}, {self.config.minutes:g} min, "
            f"{self.config.workers} workers, session {self.config.session_timeout_s:g} s, "
            f"ZooKeeper tick {self.config.tick_ms} ms, tick interval "
            f"{self.config.tick_interval_s:g} s",
            f"faults planned {len(self.faults)}, injected: "
            + ", ".join(f"{k} {kinds[k]}" for k in (*WORKER_KINDS, *ENSEMBLE_KINDS))
            + f"; stretches without quorum {kinds['no_quorum']}; skipped "
            f"{len(self.timeline.skipped)}",
            f"ticks {self.ticks}; leaderless stretches {len(self.gaps)}, longest "
            + (f"{max(g.end - g.start for g in self.gaps):.1f} s" if self.gaps else "-"),
            "bounds (s): " + ", ".join(f"{k}={v:g}" for k, v in asdict(self.bounds).items()),
            "takeover after a fault on the leader (s): "
            + (
                "; ".join(
                    f"{kind} n={len(v)} median {statistics.median(v):.2f} max {max(v):.2f}"
                    for kind, v in sorted(self.takeover_s.items())
                )
                or "none"
            ),
            f"violations: {len(self.violations)}",
        ]
        lines += ["  " + v for v in self.violations]
        lines += self.excerpts
        return "\n".join(lines)

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
            "takeover_s": self.takeover_s,
            "ticks": self.ticks,
        }


def judge(
    config: SoakConfig,
    faults: list[Fault],
    timeline: Timeline,
    ticks: list[Tick],
    process_faults: list[str],
) -> SoakReport:
    """The verdict on one history (pure): E1, leaderless bounds, exits, takeovers."""
    ticks = sorted(ticks, key=lambda t: t.time)
    bounds = Bounds.of(config)
    gaps = leaderless_gaps(
        ticks, timeline.incidents, bounds, config.tick_interval_s, timeline.started, timeline.ended
    )
    return SoakReport(
        config,
        bounds,
        faults,
        timeline,
        violations(ticks),
        gaps,
        takeovers(ticks, timeline.incidents, bounds, config.tick_interval_s),
        len(ticks),
        [],
        list(process_faults),
    )


def rejudge(out: Path) -> SoakReport:
    """Judge a finished soak again from its report.json and the workers' logs."""
    saved = json.loads((out / "report.json").read_text())
    config = SoakConfig(**saved["config"])
    incidents = [Incident(**i) for i in saved["incidents"]]
    ticks: list[Tick] = []
    for log in sorted((out / "workers").glob("w*.log")):
        worker = WorkerProcess("service1", {}, log, name=log.name.split(".")[0])
        ticks += ticks_from_events(worker.events(), service=worker.name)
    started = saved.get("started") or min(i.start for i in incidents if i.kind == "startup")
    ended = saved.get("ended") or max(
        [t.time for t in ticks] + [g["end"] for g in saved.get("gaps", [])]
    )
    timeline = Timeline(started, ended, incidents, saved["done"], saved["skipped"])
    exits = [v.removeprefix("exit: ") for v in saved["violations"] if v.startswith("exit: ")]
    return judge(config, plan(config), timeline, ticks, exits)


class _QuorumMonitor:
    """Polls the servers' modes; records every stretch without a serving quorum."""

    def __init__(self, ensemble: Ensemble, timeline: Timeline) -> None:
        self._ensemble = ensemble
        self._timeline = timeline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quorum-monitor", daemon=True)
        self.lost_at: float | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.lost_at is not None:
            self._record(time.time())

    def _serving(self) -> bool:
        modes = [s.mode() for s in self._ensemble.servers]
        return modes.count("leader") == 1 and modes.count("follower") >= 1

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            now = time.time()
            serving = self._serving()
            if not serving and self.lost_at is None:
                self.lost_at = now
            elif serving and self.lost_at is not None:
                self._record(now)

    def _record(self, now: float) -> None:
        assert self.lost_at is not None
        self._timeline.incidents.append(Incident("no_quorum", "ensemble", self.lost_at, now))
        self._timeline.note(f"no quorum for {now - self.lost_at:.1f} s")
        self.lost_at = None


class Soak:
    """Runs a plan against an ensemble (started, tickTime = config.tick_ms) and judges it."""

    def __init__(self, ensemble: Ensemble, workdir: Path, config: SoakConfig) -> None:
        self.ensemble = ensemble
        self.workdir = Path(workdir)
        self.config = config
        self.bounds = Bounds.of(config)
        self.faults = plan(config)
        self.timeline = Timeline()
        self._path = f"/soak-{config.seed}-{secrets.token_hex(3)}"
        self._names = [f"w{i + 1}" for i in range(config.workers)]
        self._proxies: dict[str, FaultProxy] = {}
        self._current: dict[str, WorkerProcess] = {}
        self._all: list[WorkerProcess] = []
        self._busy: set[str] = set()
        self._zk_down: list[Server] = []
        self._choice = random.Random(config.seed + 1)  # runtime choices: reproducible order
        self._restarts: Counter[str] = Counter()
        self.process_faults: list[str] = []  # exits nobody asked for, slow SIGTERM exits

    # -- workers ------------------------------------------------------------------------

    def _spawn(self, name: str) -> None:
        self._restarts[name] += 1
        env = {
            "ZK_HOSTS": self._proxies[name].connect_string(),
            "SERVICE_NAME": name,
            "ELECTION_PATH": self._path,
            "ZK_SESSION_TIMEOUT_S": f"{self.config.session_timeout_s:g}",
            "TICK_INTERVAL_S": f"{self.config.tick_interval_s:g}",
            "ZK_RETRY_MAX_DELAY_S": f"{self.config.retry_max_delay_s:g}",
            "ZK_CONNECT_TIMEOUT_S": f"{self.config.connect_timeout_s:g}",
            "LOG_FORMAT": "json",
        }
        log = self.workdir / f"{name}.{self._restarts[name]}.log"
        worker = WorkerProcess("service1", env, log, name=name)
        self._current[name] = worker
        self._all.append(worker)
        worker.start()

    def _leader(self) -> str | None:
        """The worker with the latest tick, if that tick is recent."""
        latest: tuple[float, str] | None = None
        for name, worker in self._current.items():
            ticks = ticks_from_events(worker.events(), service=name)
            if ticks and (latest is None or ticks[-1].time > latest[0]):
                latest = (ticks[-1].time, name)
        window = self.config.tick_interval_s + self.bounds.slack_s
        if latest is not None and time.time() - latest[0] <= window:
            return latest[1]
        return None

    def _pick_worker(self, role: str) -> str | None:
        free = [n for n in self._names if n not in self._busy]
        if not free:
            return None
        leader = self._leader()
        if role == "leader" and leader in free:
            return leader
        others = [n for n in free if n != leader] or free
        return self._choice.choice(others)

    # -- faults -------------------------------------------------------------------------

    def _inject(self, fault: Fault, schedule: Callable[[float, Callable[[], None]], None]) -> None:
        if fault.kind in WORKER_KINDS:
            self._inject_worker(fault, schedule)
        else:
            self._inject_ensemble(fault, schedule)

    def _inject_worker(self, fault: Fault, schedule: Callable[..., None]) -> None:
        name = self._pick_worker(fault.target)
        if name is None:
            self.timeline.skipped.append(fault.describe())
            self.timeline.note(f"skip {fault.kind}: no free worker")
            return
        role = "leader" if name == self._leader() else "follower"
        worker = self._current[name]
        if fault.kind == "depose":
            self._depose(name, role)
            return
        self._busy.add(name)
        now = time.time()
        self.timeline.note(f"{fault.kind} {name} ({role}) for {fault.length:.1f} s")
        if fault.kind == "term":
            worker.signal(signal.SIGTERM)
        elif fault.kind == "kill":
            worker.kill()
        elif fault.kind == "freeze":
            worker.pause()
        else:
            self._proxies[name].blackhole()
        heal_at = now + fault.length

        def heal() -> None:
            healed = time.time()
            if fault.kind in ("term", "kill"):
                code = worker.stop(timeout=5)  # reaps; SIGKILL if SIGTERM did not end it
                if fault.kind == "term" and code != 0:
                    self.process_faults.append(
                        f"{name} did not exit 0 within {fault.length + 5:.1f} s of SIGTERM "
                        f"(exit code {code}; log {worker.log_path})"
                    )
                self.timeline.note(f"restart {name} (exit code was {code})")
                self._spawn(name)
                self.timeline.incidents.append(Incident("restart", name, healed))
            elif fault.kind == "freeze":
                worker.resume()
                self.timeline.note(f"thaw {name}")
                self.timeline.incidents.append(Incident("thaw", name, healed))
            else:
                self._proxies[name].forward()
                self.timeline.note(f"uncut {name}")
                self.timeline.incidents.append(Incident("uncut", name, healed))
            self.timeline.incidents.append(Incident(fault.kind, name, now, healed))
            self._busy.discard(name)

        schedule(heal_at, heal)

    def _depose(self, name: str, role: str) -> None:
        """Delete ``name``'s node from a client of our own, its session left alone."""
        hosts = self.ensemble.connect_string()
        try:
            nodes = [c.node for c in read_candidates(hosts, self._path) if c.identity == name]
            if not nodes:
                raise Unavailable(f"{name} has no node under {self._path} now")
            _delete(hosts, nodes[0])
        except Unavailable as exc:
            self.timeline.skipped.append(f"depose {name}: {exc}")
            self.timeline.note(f"skip depose {name}: {exc}")
            return
        now = time.time()
        self.timeline.note(f"depose {name} ({role}): deleted {nodes[0]}")
        self.timeline.incidents.append(Incident("depose", name, now, now))

    def _inject_ensemble(self, fault: Fault, schedule: Callable[..., None]) -> None:
        running = [s for s in self.ensemble.servers if s.is_running()]
        modes = {s.id: s.mode() for s in running}
        leaders = [s for s in running if modes[s.id] == "leader"]
        followers = [s for s in running if modes[s.id] == "follower"]
        if fault.kind == "quorum_loss":
            victims = (leaders + followers + running)[:2]
            victims = list(dict.fromkeys(victims))
        elif fault.target == "zk-leader":
            victims = (leaders or running)[:1]
        else:
            victims = (followers or running)[:1]
        if not victims or (fault.kind == "quorum_loss" and len(victims) < 2):
            self.timeline.skipped.append(fault.describe())
            self.timeline.note(f"skip {fault.kind}: servers {modes}")
            return
        now = time.time()
        ids = ",".join(f"zk{s.id}({modes.get(s.id)})" for s in victims)
        self.timeline.note(f"{fault.kind} {ids} for {fault.length:.1f} s")
        for server in victims:
            server.kill()
        self._zk_down += victims

        def heal() -> None:
            for server in victims:
                server.start()
                self._zk_down.remove(server)
            self.timeline.note(f"restart {ids}")
            self.timeline.incidents.append(Incident(fault.kind, ids, now, time.time()))

        schedule(now + fault.length, heal)

    # -- the run ------------------------------------------------------------------------

    def run(self) -> SoakReport:
        self.workdir.mkdir(parents=True, exist_ok=True)
        print(f"soak plan (seed {self.config.seed}, {len(self.faults)} faults):", flush=True)
        for fault in self.faults:
            print("  " + fault.describe(), flush=True)
        monitor = _QuorumMonitor(self.ensemble, self.timeline)
        upstreams = [("127.0.0.1", s.client_port) for s in self.ensemble.servers]
        try:
            for name in self._names:
                self._proxies[name] = FaultProxy(upstreams)
                self._proxies[name].start()
            self.timeline.started = time.time()
            self.timeline.incidents.append(Incident("startup", "all", self.timeline.started))
            for name in self._names:
                self._spawn(name)
            monitor.start()
            self._execute()
            self._heal_everything()
            time.sleep(self.bounds.expiry_s + self.bounds.startup_s + self.bounds.reconnect_s)
            self.timeline.ended = time.time()
        finally:
            monitor.stop()
            for worker in self._all:
                worker.stop(timeout=5)
            for fault_proxy in self._proxies.values():
                fault_proxy.close()
            for server in self._zk_down:
                server.start()
        return self._judge()

    def _execute(self) -> None:
        """Inject each fault at its time; heals are scheduled by the injections."""
        queue: list[tuple[float, int, Callable[[], None]]] = []
        counter = iter(range(1 << 30))

        def schedule(at: float, action: Callable[[], None]) -> None:
            heapq.heappush(queue, (at, next(counter), action))

        start = self.timeline.started
        for fault in self.faults:
            schedule(start + fault.at, lambda f=fault: self._inject(f, schedule))
        while queue:
            at, _, action = heapq.heappop(queue)
            delay = at - time.time()
            if delay > 0:
                time.sleep(delay)
            self._check_crashes()
            action()

    def _check_crashes(self) -> None:
        """A worker that exited although no fault asked it to is a finding; restart it."""
        for name, worker in list(self._current.items()):
            if name in self._busy or worker.is_running():
                continue
            self.process_faults.append(
                f"{name} exited on its own with code {worker.returncode} (log {worker.log_path})"
            )
            self.timeline.note(f"{name} exited on its own ({worker.returncode}): restart")
            self._spawn(name)
            self.timeline.incidents.append(Incident("restart", name, time.time()))

    def _heal_everything(self) -> None:
        """After the last fault: every server up, every worker running."""
        for server in list(self._zk_down):
            server.start()
            self._zk_down.remove(server)
        self._check_crashes()

    def _judge(self) -> SoakReport:
        ticks: list[Tick] = []
        for worker in self._all:
            ticks += ticks_from_events(worker.events(), service=worker.name)
        report = judge(self.config, self.faults, self.timeline, ticks, self.process_faults)
        for gap in [g for g in report.gaps if g.excess > 0][:5]:
            report.excerpts.append(self._excerpt(gap.start - 6, gap.end + 2))
        if report.e1:
            report.excerpts.append(self._excerpt_e1(sorted(ticks, key=lambda t: t.time)))
        return report

    def _excerpt(self, start: float, end: float) -> str:
        lines = [f"--- log excerpt {format_time(start)} .. {format_time(end)} ---"]
        rows: list[tuple[float, str]] = []
        for worker in self._all:
            for event in worker.events():
                try:
                    t = parse_time(str(event.get("time")))
                except ValueError:
                    continue
                if start <= t <= end:
                    extra = {
                        k: v
                        for k, v in event.items()
                        if k not in ("time", "level", "service", "event", "message")
                    }
                    rows.append(
                        (
                            t,
                            f"{format_time(t)[11:23]} {worker.name:<3} "
                            f"{event.get('event')}: {event.get('message')} {extra}",
                        )
                    )
        for note in self.timeline.lines:
            rows.append((_note_time(note, start), f"             bench: {note}"))
        rows = sorted(r for r in rows if start <= r[0] <= end)
        lines += [text for _, text in rows[:80]]
        return "\n".join(lines)

    def _excerpt_e1(self, ticks: list[Tick]) -> str:
        return "--- E1 windows ---\n" + summary(ticks)


def _delete(hosts: str, node: str, timeout_s: float = 3.0) -> None:
    """Delete one node with a short-lived client; Unavailable if that fails."""
    client = KazooClient(hosts=hosts, timeout=10.0)
    try:
        client.start(timeout=timeout_s)
        client.delete_async(node).get(timeout=timeout_s)
    except (KazooException, KazooTimeoutError) as exc:
        raise Unavailable(f"deleting {node} failed: {exc!r}") from exc
    finally:
        client.stop()
        client.close()


def _note_time(note: str, near: float) -> float:
    """The epoch time of a timeline note (HH:MM:SS.mmm), on the day of ``near``."""
    day = format_time(near)[:11]
    try:
        return parse_time(f"{day}{note[:12]}000Z")
    except ValueError:
        return 0.0


# -- command line -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="default bench/results/soak-<seed>")
    parser.add_argument("--rejudge", type=Path, default=None, help="judge a finished soak again")
    args = parser.parse_args(argv)
    quiet_kazoo()  # the soak's own clients (depose) would narrate every refused connection
    if args.rejudge is not None:
        try:
            report = rejudge(args.rejudge)
        except (OSError, KeyError, ValueError) as err:
            print(f"cannot judge {args.rejudge} again: {err!r}", file=sys.stderr)
            return 2
        print(report.text())
        return 0 if report.ok else 1
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    config = SoakConfig(minutes=args.minutes, seed=seed, workers=args.workers)
    install = find_zookeeper()
    if install is None:
        print(MISSING_MESSAGE, file=sys.stderr)
        return 2
    out = args.out or RESULTS / f"soak-{seed}"
    shutil.rmtree(out, ignore_errors=True)
    ensemble = Ensemble(out / "zookeeper", size=3, tick_ms=config.tick_ms, install=install)
    try:
        ensemble.start(timeout=120)
        report = Soak(ensemble, out / "workers", config).run()
    finally:
        ensemble.stop()
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    print(report.text())
    print(
        f"(logs and report.json in {out}; reproduce: python -m bench.soak "
        f"--minutes {args.minutes:g} --seed {seed})"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
