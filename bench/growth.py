"""Growth: a thousand candidates of one contender (ours or kazoo's), alone on the box.

Usage::

    trial = Trial(contender, ensemble, Config(scale=1000), logdir, run=1)
    try:
        figures = run_growth(trial)
    finally:
        trial.stop_all()
    figures["join"]["outstanding_max"], figures["change"]["watchers_notified"]

The leader is a candidate process of its own (``python -m service1``, or the kazoo
worker), so that SIGTERM hands off as in every other row; the other ``scale - 1`` are
followers hosted ``crowd_per_process`` to a process (``bench/crowd.py``), each with a
session, a node and a watch of its own. While they join, the servers' own gauges are
sampled (``mntr``, after ``srst``): the outstanding requests' highest sample, and the
mean and longest request latency over the join; the idle ensemble's mean latency,
just before, is the floor beside them. Then the figures of ``measure_change``: packets
per follower, wake-ups and readers around one SIGTERM, the handoff.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.scenarios import measure_change
from bench.trial import Trial
from testbed.processes import WorkerProcess
from testbed.zkstats import ZkProbe

_SAMPLE_EVERY_S = 0.5
_IDLE_S = 3.0


class _JoinSampler:
    """``mntr`` on every server every half second while the candidates join."""

    def __init__(self, probe: ZkProbe) -> None:
        self._probe = probe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mntr", daemon=True)
        self.outstanding_max = 0.0
        self.samples = 0

    def start(self) -> None:
        self._probe.reset_stats()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                gauges = self._probe.monitor()
            except OSError:
                gauges = {}  # a server slow to answer: the next sample
            for server in gauges.values():
                outstanding = server.get("zk_outstanding_requests", 0.0)
                self.outstanding_max = max(self.outstanding_max, outstanding)
            self.samples += 1
            self._stop.wait(_SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def finish(self) -> dict[str, Any]:
        """Stop sampling; the join's figures from the servers' counts since ``start``."""
        self.stop()
        return {"outstanding_max": self.outstanding_max, "samples": self.samples} | latency(
            self._probe.monitor()
        )


def latency(gauges: dict[int, dict[str, float]]) -> dict[str, float | None]:
    """Mean latency over the servers, each weighted by the packets it received, and the
    longest any of them saw (ms), since their last ``srst``."""
    weights = {sid: g.get("zk_packets_received", 0.0) for sid, g in gauges.items()}
    total = sum(weights.values())
    mean = (
        sum(g.get("zk_avg_latency", 0.0) * weights[sid] for sid, g in gauges.items()) / total
        if total
        else None
    )
    longest = max((g.get("zk_max_latency", 0.0) for g in gauges.values()), default=None)
    return {"latency_avg_ms": mean, "latency_max_ms": longest}


def _idle_latency_ms(probe: ZkProbe) -> float | None:
    """The ensemble's mean latency over a few quiet seconds: one leader, its pings."""
    probe.reset_stats()
    time.sleep(_IDLE_S)
    return latency(probe.monitor())["latency_avg_ms"]


def run_growth(trial: Trial) -> dict[str, Any]:
    """``scale`` candidates: the join, then ``measure_change``. Stops what it started."""
    config = trial.config
    count = config.scale
    leader = trial.spawn("scale", 1)
    crowds: list[WorkerProcess] = []
    sampler = _JoinSampler(trial.probe)
    try:
        trial.wait_first_tick(leader)
        idle = _idle_latency_ms(trial.probe)
        sampler.start()
        started = time.time()
        for first in range(2, count + 1, config.crowd_per_process):
            crowds.append(
                trial.spawn_crowd("scale", first, min(config.crowd_per_process, count + 1 - first))
            )
        trial.wait_registered("scale", count, timeout=120 + 0.2 * count)
        joined = time.time()
        join = {**sampler.finish(), "seconds": joined - started, "idle_latency_ms": idle}
        result = measure_change(trial, "scale", leader, crowds, count, crowd=True)
        return {**result, "join": join, "processes": 1 + len(crowds)}
    finally:
        sampler.stop()
        trial.stop_all([leader, *crowds])
