"""The ledger's cost: what recording each unit in ZooKeeper costs our worker.

Usage::

    trial = Trial(OURS, ensemble, Config(), logdir, run=1)
    try:
        samples = run_ledger_cost(trial, LedgerConfig(reps=3))
    finally:
        trial.stop_all()
    summary = summarize_ledger(samples)      # bench/ledger_summary.py

Ours alone (``python -m service1``), against the benchmark's ensemble, ``reps`` times
with the ledger on (the default, ``LEDGER_PATH=<ELECTION_PATH>-work``) and off
(``LEDGER_PATH=off``), the two modes alternating so that drift in the machine's load
falls on both:

* **ticks_s** (one leader, ``TICK_INTERVAL_S=0.001``): ``processing`` lines per second
  over ``window_s``, after ``warm_s``. The interval is shorter than one ledger write
  (a multi: a round trip through the ZooKeeper leader), so with the ledger the write
  sets the pace; without it the loop's own interval does (at most 1,000 a second).
* **requests_per_unit**: the leader's session's requests (growth of ``lcxid`` in the
  servers' ``cons``: every request but pings) over the same window, divided by the
  units logged in it. With the ledger on, the head is first set to unit
  ``MAX_KEEP_UNITS`` (as a full ledger's is), so the leader prunes as it goes, 64
  deletes every 64 units, as it does in a long-running demo; the lease's renewals
  (one read every few seconds, whatever the tick) are counted too.
* **handoff_s** (two candidates, ``TICK_INTERVAL_S=1`` as in the comparison table):
  SIGTERM to the leader -> the other's first ``processing`` line, which with the
  ledger on is logged once its unit is recorded (so the handoff includes the new
  leader's head read and its first multi).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient

from bench.ledger_summary import MODES
from bench.trial import ScenarioError, Trial, ticks_of
from common.ledger import MAX_KEEP_UNITS, Unit
from testbed.zkstats import Connection

_ENV = {"off": {"LEDGER_PATH": "off"}, "on": {}}


@dataclass(frozen=True)
class LedgerConfig:
    """How much of each: full runs use the defaults, ``--quick`` fewer and shorter."""

    reps: int = 5  # samples of each figure, per mode
    window_s: float = 10.0  # units counted over this long
    warm_s: float = 2.0  # after the first unit, before counting
    tick_interval_s: float = 0.001  # faster than a ledger write: it sets the pace
    handoff_tick_interval_s: float = 1.0  # the comparison table's
    settle_s: float = 1.0  # both candidates registered, before the SIGTERM


def run_ledger_cost(trial: Trial, config: LedgerConfig) -> list[dict[str, Any]]:
    """Every sample, ``{"mode", "kind", ...figures}`` or ``{..., "error"}``."""
    samples: list[dict[str, Any]] = []
    for rep in range(1, config.reps + 1):
        order = MODES if rep % 2 else MODES[::-1]
        for mode in order:
            samples.append(_guarded(mode, "throughput", _throughput, trial, config, mode, rep))
        for mode in order:
            samples.append(_guarded(mode, "handoff", _handoff, trial, config, mode, rep))
    return samples


def _guarded(mode: str, kind: str, func: Any, *args: Any) -> dict[str, Any]:
    """One sample; a failure is a recorded outcome (the benchmark goes on)."""
    try:
        figures = func(*args)
    except (ScenarioError, AssertionError, OSError, RuntimeError, KeyError, ValueError) as err:
        print(f"    ledger {mode} {kind}: not measured: {err!s:.300}", flush=True)
        figures = {"error": f"{type(err).__name__}: {err}"}
    return {"mode": mode, "kind": kind, **figures}


def _seed_full_ledger(trial: Trial, ledger: str) -> None:
    """The ledger's head at unit MAX_KEEP_UNITS: the leader prunes from its first unit on,
    as a ledger that already holds its bound does (the old units are absent; a delete
    of an absent node is one request all the same)."""
    client = KazooClient(hosts=trial.ensemble.connect_string())
    client.start(timeout=15)
    try:
        seed = Unit(seq=MAX_KEEP_UNITS, token=0, worker="bench-seed", session="0x0", time=0.0)
        client.create(ledger, seed.encode(), makepath=True)
    finally:
        client.stop()
        client.close()


def _throughput(trial: Trial, config: LedgerConfig, mode: str, rep: int) -> dict[str, Any]:
    scenario = f"ledger-{mode}-{rep}"
    if mode == "on":
        _seed_full_ledger(trial, f"{trial.path(scenario)}-work")
    env = {**_ENV[mode], "TICK_INTERVAL_S": f"{config.tick_interval_s:g}"}
    leader = trial.spawn(scenario, 1, env=env)
    try:
        trial.wait_first_tick(leader)
        time.sleep(config.warm_s)
        owners = trial.probe.ephemerals(trial.path(scenario))
        if len(owners) != 1:
            raise ScenarioError(f"{len(owners)} candidates under {trial.path(scenario)}, not 1")
        session = next(iter(owners.values()))
        started = time.time()
        before = trial.probe.connections()
        time.sleep(config.window_s)
        after = trial.probe.connections()
        ended = time.time()
    finally:
        trial.stop_all([leader])
    units = sum(1 for tick in ticks_of([leader]) if started <= tick.time < ended)
    counts = (
        Connection.delta(before[session], after[session])
        if session in before and session in after
        else None
    )
    requests = None if counts is None else counts.requests
    return {
        "seconds": ended - started,
        "units": units,
        "requests": requests,
        "ticks_s": units / (ended - started),
        "requests_per_unit": None if requests is None or not units else requests / units,
    }


def _handoff(trial: Trial, config: LedgerConfig, mode: str, rep: int) -> dict[str, Any]:
    scenario = f"ledger-handoff-{mode}-{rep}"
    env = {**_ENV[mode], "TICK_INTERVAL_S": f"{config.handoff_tick_interval_s:g}"}
    leader = trial.spawn(scenario, 1, env=env)
    follower = None
    try:
        trial.wait_first_tick(leader)
        follower = trial.spawn(scenario, 2, env=env)
        trial.wait_registered(scenario, 2)
        time.sleep(config.settle_s)
        trial.random_phase()
        signalled = time.time()
        leader.signal(signal.SIGTERM)
        new = trial.wait_takeover(leader, [follower], signalled)
        exit_code = leader.wait(timeout=5)
    finally:
        trial.stop_all([leader] if follower is None else [leader, follower])
    return {
        "handoff_s": None if new is None else new.time - signalled,
        "old_exit": exit_code,
    }
