"""The measured scenarios: one contender, one run. Definitions of every figure.

Usage::

    trial = Trial(contender, ensemble, config, logdir, run=1)
    try:
        handoff = run_handoff(trial)             # alone: it measures milliseconds
        gate = threading.Event()                 # then these two side by side:
        many = run_many(trial, gate)             #   twenty candidates (counts only)
        faults = run_faults(trial, gate)         #   kill, freeze, cut (seconds-scale)
    finally:
        trial.stop_all()
    # ZooKeeper's own faults hit everyone: all contenders' pairs at once.
    by_key = run_ensemble_faults([trial, ...], random.Random(run))
    # Growth, alone: a hundred candidates of one contender.
    scale = run_many(trial, scenario="scale", count=100, stagger_s=0.25)

Times: the bench takes ``time.time()`` just before it sends a signal or flips the
proxy; tick times come from the workers' own log lines. Same host, same clock.

* **handoff_s**: SIGTERM to the leader -> the first tick of another candidate.
* **gap_s** (SIGTERM): the old leader's last tick -> the new leader's first tick: the
  gap a reader of the merged log sees (up to one tick interval of it is the phase of
  the loop at the moment of the signal).
* **silence_s** (SIGKILL, freeze, cut): the longest stretch without any tick by anyone,
  from 1.5 s before the fault to the end of the observation.
* **takeover_s** (SIGKILL, freeze, cut): the fault -> the first tick of another candidate.
  The servers count the session timeout from the last packet they heard, and expire
  sessions once per tick (2 s): so a takeover lands between S - (time since the
  leader's last packet) and S + 2 s after the fault. A leader that sends nothing but
  pings (every S/3) can be expired sooner after the fault than one that reads each tick.
* **stale_ticks**: the old leader's ticks strictly after the new leader's first tick,
  until the end of the observation (``observe_s`` after the freeze or cut ended);
  ``still_ticking`` when the last of them is within 1.5 s of that end (it never stops).
* **packets_s / requests_s**: per candidate, from the servers' ``cons`` counters over
  ``steady_s`` seconds: packets in and out (requests, responses, pings, notifications);
  requests = growth of ``lcxid`` (every request but pings).
* **watchers_notified**: sessions, other than the leader's, holding a watch that the
  leader's node deletion fires (on the node itself, or a child watch on the election
  root), read from ``wchp`` just before SIGTERM. The server-side count of wake-ups.
* **readers**: candidates, other than the old leader, whose ``lcxid`` grew between
  SIGTERM and 2 s after the new leader's first tick: everyone who read the election
  in that window, woken or polling. For ours, ``watch_fired`` lines are counted too.
* **rss_mb / cpu_s_per_min** (two candidates, over the ``steady_s`` window): the leader's
  and the follower's resident set at the end of the window (``VmRSS``), and the CPU
  seconds (user + system, every thread) they used in it, per minute of wall time.
* **old_exit**: the exit status of the SIGTERM'd leader (143 is 128 + SIGTERM: a JVM
  that ran its shutdown hooks); **old_exceptions**: what it printed besides JSON lines.
* ZooKeeper faults (``run_ensemble_faults``; every contender's pair at once):
  **silence_s** (longest stretch without any tick, 1.5 s before the fault to the end),
  **ticks_during** (ticks from 1 s after the fault until a quorum serves again: work
  nobody could know was still the leader's), **resume_s** (quorum serving again -> the
  first tick), **moved** (the one ticking at the end is, or is not, the one ticking
  before the fault; "two leaders": both tick at the end; "none": nobody does),
  **two_leaders_s** (time after the fault in which both candidates' runs of ticks
  overlap: two leaders at once), **sessions_kept** (sessions that owned an election
  node before the fault and still own one at the end).
* **scale**: the twenty-candidate figures again with ``scale`` candidates (ours and
  kazoo's), started ``scale_stagger_s`` apart, alone on the box.
"""

from __future__ import annotations

import random
import re
import signal
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.contenders import Contender
from common.logs import Event
from testbed.checker import (
    Tick,
    first_tick_after,
    longest_silence,
    parse_time,
    recovery,
    ticks_after,
    ticks_from_events,
)
from testbed.ensemble import Ensemble
from testbed.faultproxy import FaultProxy
from testbed.processes import WorkerProcess, wait_until
from testbed.procstats import ProcSample, cpu_seconds_per_minute
from testbed.zkstats import Connection, ZkProbe


class ScenarioError(Exception):
    """A scenario could not be measured (a candidate died at start, a wait ran out)."""


@dataclass(frozen=True)
class Config:
    """What every scenario shares; the defaults are the article's and a default server's."""

    session_timeout_s: float = 10.0  # the article's ZooKeeper(..., 10000, ...)
    tick_ms: int = 2000  # zoo.cfg's tickTime in Debian's and the official image's defaults
    handoffs: int = 2  # SIGTERM handoffs per run (each a sample)
    hold_s: float = 20.0  # freeze / cut length: twice the session timeout
    observe_s: float = 5.0  # watched after the freeze or cut ended
    steady_s: float = 12.0  # window for packet counts (pings come every ~3.3 s)
    settle_s: float = 2.0  # after the last candidate registered, before anything is counted
    many: int = 20  # candidates for the herd and the 20-candidate packet counts
    scale: int = 100  # candidates for the growth row (ours and kazoo's only)
    scale_stagger_s: float = 0.25  # between starts of the scale row's candidates
    quorum_down_s: float = 10.0  # two of three servers down this long
    side_by_side: bool = False  # the handoff beside the faults too (smoke runs only)

    @property
    def ensemble_observe_s(self) -> float:
        """Watched after a ZooKeeper fault: long enough for a session to expire and a
        successor to tick (session + one server tick + a JVM's reaction)."""
        return self.session_timeout_s + self.tick_ms / 1000 + 8.0

    @property
    def takeover_timeout_s(self) -> float:
        """Longer than any correct takeover: session, one server tick, room for a JVM."""
        return self.session_timeout_s + self.tick_ms / 1000 + 15.0


class Trial:
    """One contender in one run: starts candidates, remembers them, stops them all."""

    def __init__(
        self, contender: Contender, ensemble: Ensemble, config: Config, logdir: Path, run: int
    ) -> None:
        self.contender = contender
        self.ensemble = ensemble
        self.config = config
        self.logdir = logdir
        self.run = run
        self.probe = ZkProbe(ensemble)
        self._phase = random.Random(f"{contender.key}-{run}")
        self._workers: list[WorkerProcess] = []
        self._lock = threading.Lock()

    def random_phase(self) -> None:
        """Sleep 0..1 s (seeded): a fault lands at a random point of the once-a-second
        loop, so a polling candidate's luck averages out over the samples."""
        time.sleep(self._phase.uniform(0.0, 1.0))

    def path(self, scenario: str) -> str:
        """A flat root per scenario: the Java recipe creates only the last level."""
        return f"/bench-{self.contender.key}-r{self.run}-{scenario}"

    def spawn(self, scenario: str, index: int, connect: str | None = None) -> WorkerProcess:
        name = f"{self.contender.key}-{scenario}-{index}"
        worker = self.contender.candidate(
            name=name,
            connect=connect or self.ensemble.connect_string(),
            path=self.path(scenario),
            log=self.logdir / f"{name}.log",
            session_timeout_s=self.config.session_timeout_s,
            behind_proxy=connect is not None,
        )
        with self._lock:
            self._workers.append(worker)
        worker.start()
        return worker

    def stop_all(self, workers: list[WorkerProcess] | None = None) -> None:
        """SIGTERM (and SIGCONT) to all at once, then reap; SIGKILL stragglers by PID."""
        with self._lock:
            targets = list(self._workers if workers is None else workers)
        for worker in targets:
            worker.signal(signal.SIGTERM)
            worker.signal(signal.SIGCONT)
        for worker in targets:
            worker.stop(timeout=5)

    # -- waiting ----------------------------------------------------------------------

    def wait_first_tick(self, worker: WorkerProcess, timeout: float = 60.0) -> None:
        def ticking() -> bool:
            if worker.returncode is not None:
                raise ScenarioError(
                    f"{worker.name} exited with {worker.returncode} before its first tick: "
                    f"{worker.log_text()[-600:]}"
                )
            return any(e.get("event") == Event.PROCESSING for e in worker.events())

        wait_until(ticking, timeout, 0.1, f"{worker.name}'s first tick")

    def wait_registered(self, scenario: str, count: int, timeout: float = 90.0) -> None:
        """Until ``count`` candidates' nodes exist under the scenario's election root."""
        path = self.path(scenario)
        wait_until(
            lambda: len(self.probe.ephemerals(path)) >= count,
            timeout,
            0.25,
            f"{count} candidates registered under {path}",
        )

    def wait_takeover(
        self, old: WorkerProcess, others: list[WorkerProcess], after: float
    ) -> Tick | None:
        """The first tick by any of ``others`` after ``after``; None after the timeout."""
        deadline = time.monotonic() + self.config.takeover_timeout_s
        while time.monotonic() < deadline:
            tick = first_tick_after(ticks_of(others), after, exclude_service=old.name)
            if tick is not None:
                return tick
            time.sleep(0.05)
        return None

    # -- server-side counts -------------------------------------------------------------

    def steady(self, scenario: str) -> dict[str, Any]:
        """Packets and requests per second of the leader and the followers (mean)."""
        owners = self.probe.ephemerals(self.path(scenario))
        leader_session = owners[min(owners, key=sequence)]
        before = self.probe.connections()
        started = time.monotonic()
        time.sleep(self.config.steady_s)
        after = self.probe.connections()
        seconds = time.monotonic() - started
        rates: dict[str, tuple[float, float]] = {}
        for session in owners.values():
            if session in before and session in after:
                counts = Connection.delta(before[session], after[session])
                if counts is not None:
                    rates[session] = (counts.packets / seconds, counts.requests / seconds)
        followers = [rate for session, rate in rates.items() if session != leader_session]
        leader = rates.get(leader_session)
        return {
            "seconds": round(seconds, 2),
            "candidates": len(owners),
            "followers_measured": len(followers),
            "leader_packets_s": leader[0] if leader else None,
            "leader_requests_s": leader[1] if leader else None,
            "follower_packets_s": _mean([f[0] for f in followers]),
            "follower_requests_s": _mean([f[1] for f in followers]),
            "follower_packets_s_max": max((f[0] for f in followers), default=None),
        }


def sequence(node: str) -> int:
    """The sequence suffix of ``n_0000000007`` or kazoo's ``<uuid>__lock__0000000007``."""
    match = re.search(r"(\d+)$", node)
    return int(match.group(1)) if match else 1 << 62


def ticks_of(workers: list[WorkerProcess]) -> list[Tick]:
    ticks: list[Tick] = []
    for worker in workers:
        ticks += ticks_from_events(worker.events(), service=worker.name)
    return sorted(ticks, key=lambda tick: tick.time)


def outcome(worker: WorkerProcess) -> dict[str, Any]:
    """How a candidate ended: its exit code and, if it crashed, the error it logged."""
    crashed = [e for e in worker.events() if e.get("event") == "crashed"]
    return {
        "exit": worker.returncode,
        "error": crashed[-1].get("message") if crashed else None,
    }


# The first line of an exception as a JVM or Python prints it: "java.lang.X: message",
# "EndOfStreamException: ...", "kazoo.exceptions.X"; never a stack frame ("\tat ...").
_EXCEPTION_LINE = re.compile(r"^(?:[\w$]+\.)*[\w$]*(?:Exception|Error)\b(?::\s?.*)?$")
_HEX = re.compile(r"0x[0-9a-f]+")


def logged_exceptions(worker: WorkerProcess) -> list[str]:
    """Distinct exceptions a candidate printed outside its JSON lines, in order: what a
    library logged on its own (Curator's and ZooKeeper's warnings, a Python traceback's
    last line). Session ids become ``0x…``, so equal exceptions group across runs."""
    found: dict[str, None] = {}
    for line in worker.log_text().splitlines():
        line = line.strip()
        if line.startswith("{") or not _EXCEPTION_LINE.match(line):
            continue
        found[_HEX.sub("0x…", line)[:240]] = None
    return list(found)


def _costs(before: ProcSample | None, after: ProcSample | None) -> dict[str, float | None]:
    return {
        "rss_mb": None if after is None else after.rss_mb,
        "cpu_s_per_min": cpu_seconds_per_minute(before, after),
    }


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _sleep_until(epoch: float) -> None:
    delay = epoch - time.time()
    if delay > 0:
        time.sleep(delay)


# -- the scenarios ----------------------------------------------------------------------


def run_handoff(trial: Trial) -> dict[str, Any]:
    """Two candidates: steady-state counts, then ``handoffs`` SIGTERM handoffs in a row."""
    leader = trial.spawn("handoff", 1)
    trial.wait_first_tick(leader)
    follower = trial.spawn("handoff", 2)
    trial.wait_registered("handoff", 2)
    time.sleep(trial.config.settle_s)
    costs = {"leader": ProcSample.read(leader.pid), "follower": ProcSample.read(follower.pid)}
    result: dict[str, Any] = {"steady": trial.steady("handoff"), "handoffs": []}
    result["costs"] = {
        "leader": _costs(costs["leader"], ProcSample.read(leader.pid)),
        "follower": _costs(costs["follower"], ProcSample.read(follower.pid)),
    }
    for round_no in range(trial.config.handoffs):
        trial.random_phase()
        signalled = time.time()
        leader.signal(signal.SIGTERM)
        new = trial.wait_takeover(leader, [follower], signalled)
        exit_code = leader.wait(timeout=5)
        sample: dict[str, Any] = {
            "handoff_s": None if new is None else new.time - signalled,
            "old_exit": exit_code,
            "old_error": outcome(leader)["error"],
            "old_exceptions": logged_exceptions(leader),
        }
        if new is None:
            sample["error"] = f"no takeover within {trial.config.takeover_timeout_s:.0f} s"
            result["handoffs"].append(sample)
            break
        before = [t.time for t in ticks_of([leader, follower]) if t.time < new.time]
        sample["gap_s"] = new.time - max(before) if before else None
        result["handoffs"].append(sample)
        if round_no + 1 < trial.config.handoffs:
            leader, follower = follower, trial.spawn("handoff", round_no + 3)
            trial.wait_registered("handoff", 2)
            time.sleep(1.0)
    return result


_FAULTS = ("crash", "freeze", "cut")


def run_faults(trial: Trial, gate: threading.Event | None = None) -> dict[str, Any]:
    """Three pairs, one per fault, hit at once: SIGKILL, SIGSTOP for hold_s, cut for hold_s.

    The cut pair's leader talks to the ensemble through a FaultProxy that blackholes:
    connections stay open, nothing arrives either way, as when a cable is pulled.
    ``gate``: wait for it before the faults (the twenty-candidate start-up is over).
    """
    config = trial.config
    upstreams = [("127.0.0.1", s.client_port) for s in trial.ensemble.servers]
    proxy = FaultProxy(upstreams)
    proxy.start()
    workers: list[WorkerProcess] = []
    try:
        leaders = {
            kind: trial.spawn(kind, 1, proxy.connect_string() if kind == "cut" else None)
            for kind in _FAULTS
        }
        workers += leaders.values()
        for worker in leaders.values():
            trial.wait_first_tick(worker)
        followers = {kind: trial.spawn(kind, 2) for kind in _FAULTS}
        workers += followers.values()
        for kind in _FAULTS:
            trial.wait_registered(kind, 2)
        if gate is not None:
            gate.wait(timeout=240)
        time.sleep(config.settle_s)
        trial.random_phase()
        started = {"crash": time.time()}
        leaders["crash"].signal(signal.SIGKILL)
        started["freeze"] = time.time()
        leaders["freeze"].pause()
        started["cut"] = time.time()
        proxy.blackhole()
        _sleep_until(started["crash"] + config.hold_s)
        ended = {"freeze": time.time()}
        leaders["freeze"].resume()
        ended["cut"] = time.time()
        proxy.forward()
        _sleep_until(max(ended.values()) + config.observe_s)
        end = time.time()
        return {
            kind: _judge_fault(leaders[kind], followers[kind], started[kind], ended.get(kind), end)
            for kind in _FAULTS
        }
    finally:
        trial.stop_all(workers)
        proxy.close()


def _judge_fault(
    old: WorkerProcess, new: WorkerProcess, fault: float, healed: float | None, end: float
) -> dict[str, Any]:
    ticks = ticks_of([old, new])
    takeover = first_tick_after(ticks, fault, exclude_service=old.name)
    old_after_fault = ticks_after(ticks, old.name, fault)
    result: dict[str, Any] = {
        "takeover_s": None if takeover is None else takeover.time - fault,
        "silence_s": longest_silence(ticks, fault - 1.5, end),
        # While cut off or frozen, before anyone else took over: how long it went on.
        "old_last_tick_after_fault_s": (
            max(
                (t.time for t in old_after_fault if takeover is None or t.time < takeover.time),
                default=fault,
            )
            - fault
        ),
        "healed_after_s": None if healed is None else healed - fault,
        "observed_until_s": end - fault,
        "old": outcome(old),
    }
    if takeover is None:
        result["stale_ticks"] = None
        result["still_ticking"] = None
        result["error"] = "no takeover"
        return result
    stale = [t for t in old_after_fault if t.time > takeover.time]
    result["stale_ticks"] = len(stale)
    result["still_ticking"] = bool(stale) and stale[-1].time > end - 1.5
    return result


def run_many(
    trial: Trial,
    gate: threading.Event | None = None,
    scenario: str = "many",
    count: int | None = None,
    stagger_s: float = 0.0,
) -> dict[str, Any]:
    """``count`` (default ``many``) candidates: steady-state counts, then one SIGTERM
    and who woke up. ``stagger_s`` between starts keeps a hundred start-ups (each a
    fraction of a CPU second) from all landing on two cores at once."""
    count = count or trial.config.many
    try:
        leader = trial.spawn(scenario, 1)
        trial.wait_first_tick(leader)
        others = []
        for i in range(2, count + 1):
            others.append(trial.spawn(scenario, i))
            time.sleep(stagger_s)
        trial.wait_registered(scenario, count, timeout=120 + 2 * count)
    finally:
        if gate is not None:
            gate.set()
    workers = [leader, *others]
    try:
        time.sleep(trial.config.settle_s + 1.0)
        result: dict[str, Any] = {"candidates": count, "steady": trial.steady(scenario)}
        path = trial.path(scenario)
        owners = trial.probe.ephemerals(path)
        leader_node = min(owners, key=sequence)
        leader_session = owners[leader_node]
        watches = trial.probe.watchers()
        notified = (watches.get(leader_node, set()) | watches.get(path, set())) - {leader_session}
        trial.random_phase()
        before = trial.probe.connections()
        signalled = time.time()
        leader.signal(signal.SIGTERM)
        new = trial.wait_takeover(leader, others, signalled)
        if new is not None:
            _sleep_until(new.time + 2.0)
        after = trial.probe.connections()
        window_end = time.time()
        readers = 0
        for session in set(owners.values()) - {leader_session}:
            if session in before and session in after:
                counts = Connection.delta(before[session], after[session])
                if counts is None or counts.requests > 0:
                    readers += 1  # a reconnect counts as woken
        fired = sum(
            1
            for worker in others
            for e in worker.events()
            if e.get("event") == Event.WATCH_FIRED and signalled <= _event_time(e) <= window_end
        )
        deaths = [{"name": w.name, **outcome(w)} for w in others if w.returncode is not None]
        result["change"] = {
            "handoff_s": None if new is None else new.time - signalled,
            "watchers_notified": len(notified),
            "readers": readers,
            "watch_fired_lines": fired if trial.contender.kind == "ours" else None,
            "window_s": window_end - signalled,
            "deaths": deaths,
        }
        if new is None:
            result["change"]["error"] = "no takeover"
        return result
    finally:
        trial.stop_all(workers)


def _event_time(event: dict[str, Any]) -> float:
    try:
        return parse_time(str(event.get("time")))
    except ValueError:
        return 0.0


# -- ZooKeeper's own faults, every contender at once -----------------------------------

ENSEMBLE_FAULTS = ("zk_leader", "quorum")


def run_ensemble_faults(trials: list[Trial], rng: random.Random) -> dict[str, dict[str, Any]]:
    """One pair per contender, side by side, through each ZooKeeper fault in turn.

    A server fault hits every client of the ensemble, so it cannot be given to one
    contender alone without stopping the others' scenarios; instead every contender
    gets a fresh pair and the same fault at the same instant:

    * ``zk_leader``: SIGKILL to the server in Mode leader; watched for
      ``ensemble_observe_s``; then it is started again.
    * ``quorum``: SIGKILL to the leader and one follower; ``quorum_down_s`` later both
      are started again; "back" is the first moment a leader and a follower serve;
      watched for ``ensemble_observe_s`` after that.

    Returns contender key -> fault -> figures (see ``_judge_recovery``).
    """
    results: dict[str, dict[str, Any]] = {trial.contender.key: {} for trial in trials}
    ensemble = trials[0].ensemble
    for fault in ENSEMBLE_FAULTS:
        pairs: dict[str, list[WorkerProcess]] = {}
        try:
            for trial in trials:
                pairs[trial.contender.key] = [trial.spawn(fault, 1)]
            for trial in list(trials):
                key = trial.contender.key
                try:
                    trial.wait_first_tick(pairs[key][0])
                    pairs[key].append(trial.spawn(fault, 2))
                except (ScenarioError, AssertionError) as err:
                    results[key][fault] = {"error": f"{type(err).__name__}: {err}"}
            ready = [t for t in trials if len(pairs[t.contender.key]) == 2]
            for trial in list(ready):
                try:
                    trial.wait_registered(fault, 2)
                except AssertionError as err:
                    results[trial.contender.key][fault] = {"error": f"AssertionError: {err}"}
                    ready.remove(trial)
            if not ready:
                continue
            time.sleep(trials[0].config.settle_s)
            time.sleep(rng.uniform(0.0, 1.0))  # a random point of the once-a-second loops
            probe = ready[0].probe
            owners = {t.contender.key: probe.ephemerals(t.path(fault)) for t in ready}
            timing = _ZK_FAULTS[fault](ensemble, trials[0].config)
            after = {t.contender.key: probe.ephemerals(t.path(fault)) for t in ready}
            for trial in ready:
                key = trial.contender.key
                results[key][fault] = _judge_recovery(pairs[key], owners[key], after[key], **timing)
        finally:
            for trial in trials:
                trial.stop_all(pairs.get(trial.contender.key, []))
            ensemble.restart_missing(timeout=120)
    return results


def _kill_zk_leader(ensemble: Ensemble, config: Config) -> dict[str, Any]:
    victim = ensemble.leader()
    fault = time.time()
    victim.kill()
    back = _wait_serving(ensemble, timeout=60)
    _sleep_until(fault + config.ensemble_observe_s)
    return {"fault": fault, "back": back, "end": time.time(), "down_s": back - fault}


def _lose_quorum(ensemble: Ensemble, config: Config) -> dict[str, Any]:
    followers = [s for s in ensemble.servers if s.mode() == "follower"]
    victims = [ensemble.leader(), followers[0]]
    fault = time.time()
    for server in victims:
        server.kill()
    _sleep_until(fault + config.quorum_down_s)
    for server in victims:
        server.start()
    back = _wait_serving(ensemble, timeout=120)
    _sleep_until(back + config.ensemble_observe_s)
    return {"fault": fault, "back": back, "end": time.time(), "down_s": back - fault}


_ZK_FAULTS = {"zk_leader": _kill_zk_leader, "quorum": _lose_quorum}


def _wait_serving(ensemble: Ensemble, timeout: float) -> float:
    """Poll ``srvr`` until a leader and at least one follower serve; return that time."""

    def serving() -> bool:
        modes = [server.mode() for server in ensemble.running()]
        return modes.count("leader") == 1 and modes.count("follower") >= 1

    wait_until(serving, timeout, 0.05, "a serving ZooKeeper quorum")
    return time.time()


def _judge_recovery(
    pair: list[WorkerProcess],
    owners_before: dict[str, str],
    owners_after: dict[str, str],
    fault: float,
    back: float,
    end: float,
    down_s: float,
) -> dict[str, Any]:
    """Figures of one pair through one ZooKeeper fault (``testbed.checker.recovery``),
    and ``sessions_kept``: how many of the sessions that owned the pair's election nodes
    before the fault still own one at the end (the servers' ``dump``): a candidate that
    re-created its node on the same session kept it; one that died or opened a new
    session did not."""
    judged = recovery(ticks_of(pair), fault, back, end)
    kept = set(owners_before.values()) & set(owners_after.values())
    return {
        **judged.__dict__,
        "sessions_kept": len(kept),
        "candidates": len(owners_before),
        "down_s": down_s,
        "observed_s": end - fault,
        "deaths": [{"name": w.name, **outcome(w)} for w in pair if w.returncode is not None],
    }
