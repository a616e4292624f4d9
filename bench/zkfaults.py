"""ZooKeeper's own faults, every contender at once: the ensemble phase.

Usage::

    by_key = run_ensemble_faults([trial, ...], random.Random(run))
    by_key["ours"]["quorum"]["two_leaders_s"]

A server fault hits every client of the ensemble, so it cannot be given to one
contender alone without stopping the others' scenarios; instead every contender gets a
fresh pair and the same fault at the same instant. The figures (``silence_s``,
``ticks_during``, ``resume_s``, ``moved``, ``two_leaders_s``, ``sessions_kept``) are
defined in ``bench/scenarios.py``; the judgement is ``testbed.checker.recovery``.
"""

from __future__ import annotations

import random
import time
from typing import Any

from bench.trial import Config, ScenarioError, Trial, outcome, sleep_until, ticks_of
from testbed.checker import recovery
from testbed.ensemble import Ensemble
from testbed.processes import WorkerProcess, wait_until

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
    sleep_until(fault + config.ensemble_observe_s)
    return {"fault": fault, "back": back, "end": time.time(), "down_s": back - fault}


def _lose_quorum(ensemble: Ensemble, config: Config) -> dict[str, Any]:
    followers = [s for s in ensemble.servers if s.mode() == "follower"]
    victims = [ensemble.leader(), followers[0]]
    fault = time.time()
    for server in victims:
        server.kill()
    sleep_until(fault + config.quorum_down_s)
    for server in victims:
        server.start()
    back = _wait_serving(ensemble, timeout=120)
    sleep_until(back + config.ensemble_observe_s)
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
