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
    # ZooKeeper's own faults hit everyone: all contenders' pairs at once
    # (bench/zkfaults.py); growth, alone: a thousand candidates (bench/growth.py).
    by_key = run_ensemble_faults([trial, ...], random.Random(run))
    scale = run_growth(trial)

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
* **scale** (``bench/growth.py``): the twenty-candidate figures again with ``scale``
  candidates (ours and kazoo's), the leader a process of its own and the followers
  ``crowd_per_process`` to a process, each with its own session; and while they join,
  from the servers' ``mntr`` after an ``srst``: **outstanding_max** (the highest
  ``zk_outstanding_requests`` of any server, sampled every 0.5 s), **latency_avg_ms**
  (the servers' mean request latency, weighted by the packets each received) and
  **latency_max_ms** (the longest any server saw), **seconds** (the first follower
  started -> every node registered) and **idle_latency_ms** (the mean latency over 3 s
  before, with one leader: the floor).
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from bench.trial import (
    Trial,
    logged_exceptions,
    outcome,
    sequence,
    sleep_until,
    ticks_of,
)
from common.logs import Event
from testbed.checker import first_tick_after, longest_silence, parse_time, ticks_after
from testbed.faultproxy import FaultProxy
from testbed.processes import WorkerProcess
from testbed.procstats import ProcSample, cpu_seconds_per_minute
from testbed.zkstats import Connection


def _costs(before: ProcSample | None, after: ProcSample | None) -> dict[str, float | None]:
    return {
        "rss_mb": None if after is None else after.rss_mb,
        "cpu_s_per_min": cpu_seconds_per_minute(before, after),
    }


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
        sleep_until(started["crash"] + config.hold_s)
        ended = {"freeze": time.time()}
        leaders["freeze"].resume()
        ended["cut"] = time.time()
        proxy.forward()
        sleep_until(max(ended.values()) + config.observe_s)
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


def run_many(trial: Trial, gate: threading.Event | None = None) -> dict[str, Any]:
    """``many`` candidate processes: steady-state counts, then one SIGTERM and who woke
    up. ``gate`` is set once they are all registered (or could not be)."""
    count = trial.config.many
    try:
        leader = trial.spawn("many", 1)
        trial.wait_first_tick(leader)
        others = [trial.spawn("many", i) for i in range(2, count + 1)]
        trial.wait_registered("many", count, timeout=120 + 2 * count)
    finally:
        if gate is not None:
            gate.set()
    try:
        return measure_change(trial, "many", leader, others, count)
    finally:
        trial.stop_all([leader, *others])


def measure_change(
    trial: Trial,
    scenario: str,
    leader: WorkerProcess,
    others: list[WorkerProcess],
    count: int,
    crowd: bool = False,
) -> dict[str, Any]:
    """With ``count`` candidates registered under ``scenario``, ``leader`` (a process of
    its own) leading and ``others`` (processes of one candidate each, or ``crowd``
    processes of many) following: steady-state counts, then SIGTERM to the leader and
    who woke up, read from the servers (``steady``, ``change``)."""
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
        sleep_until(new.time + 2.0)
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
        # A crowd process logs no watch_fired lines: the servers' counts say it.
        "watch_fired_lines": fired if trial.contender.kind == "ours" and not crowd else None,
        "window_s": window_end - signalled,
        "deaths": deaths,
    }
    if new is None:
        result["change"]["error"] = "no takeover"
    return result


def _event_time(event: dict[str, Any]) -> float:
    try:
        return parse_time(str(event.get("time")))
    except ValueError:
        return 0.0
