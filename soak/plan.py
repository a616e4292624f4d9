"""The soak's fault plan: which faults, when, on whom, for how long. Pure and seeded.

``plan(SoakConfig(minutes=10, seed=7))`` is the same list of ``Fault`` on every machine:
every 1.5 to 5 s (seeded) a fault starts, with a random length. Worker faults (on the
current leader 60% of the time): SIGTERM then restart, SIGKILL then restart, SIGSTOP
then SIGCONT, a blackholing cut (each shorter or longer than the session timeout:
longer means the session expires), "depose", the worker's node deleted by hand while
its session lives (by a client holding the election's credentials), and "resign", the
leader asked to resign (``common.observer.depose``). Ensemble faults: a ZooKeeper
server killed and restarted, or two of three (quorum lost). Hostile faults, by clients
that reach ZooKeeper: "storm", every child of the root deleted in a loop by a client
without the credentials, and "squat", a persistent node named like a candidate, made
below the lowest candidate by a client with the credentials (one without them is
refused first). At most two workers, one ensemble fault and one hostile fault are in
play at once. Which worker "the leader" is depends on the run (soak.run decides it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

WORKER_KINDS = ("term", "kill", "freeze", "cut", "depose", "resign")
ENSEMBLE_KINDS = ("server_kill", "quorum_loss")
HOSTILE_KINDS = ("storm", "squat")
_WEIGHTS = {
    "term": 1.0,
    "kill": 1.0,
    "freeze": 1.5,
    "cut": 1.5,
    "depose": 0.5,
    "resign": 0.5,
    "server_kill": 1.0,
    "quorum_loss": 0.5,
    "storm": 0.5,
    "squat": 0.5,
}


@dataclass(frozen=True)
class SoakConfig:
    minutes: float = 10.0
    seed: int = 1
    workers: int = 3
    session_timeout_s: float = 4.0  # ZK_SESSION_TIMEOUT_S: expiries in seconds, not tens
    tick_ms: int = 500  # the ensemble's tickTime (sessions may be 1..10 s)
    tick_interval_s: float = 0.5  # TICK_INTERVAL_S: denser ticks, finer judgement
    # WORK_S: each unit's work between its lease check and its ledger write, so that a
    # freeze of the leader often lands mid-work and the ledger's fences are exercised.
    work_s: float = 0.2
    retry_max_delay_s: float = 2.0  # ZK_RETRY_MAX_DELAY_S: reconnect backoff cap
    connect_timeout_s: float = 2.0  # ZK_CONNECT_TIMEOUT_S: one start-up attempt
    # ZK_AUTH of every worker: the election is closed to clients without it.
    auth: str = "soak:soak-election-secret"
    # A trickling endpoint in every worker's ZK_HOSTS, beside the real servers.
    hostile_host: bool = True
    warmup_s: float = 8.0  # before the first fault
    gap_min_s: float = 1.5  # between fault starts
    gap_max_s: float = 5.0


@dataclass(frozen=True)
class Fault:
    """One planned fault: seconds after the start, what, on whom (a role), how long."""

    at: float
    kind: str
    # "leader" | "any" (a worker) | "zk-leader" | "zk-follower" | "majority" | "election"
    target: str
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
    ensemble_free_at = hostile_free_at = 0.0
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
        if t >= hostile_free_at:
            allowed += HOSTILE_KINDS
        if not allowed:
            continue
        kind = rng.choices(allowed, [_WEIGHTS[k] for k in allowed])[0]
        long_one = rng.random() < 0.5
        if kind in ("depose", "resign"):
            length = 0.0  # one request; the worker joins again by itself
        elif kind == "term":
            length = rng.uniform(0.5, 3.0)
        elif kind == "kill":
            length = rng.uniform(0.5, 3.0 + S)
        elif kind in ("freeze", "cut"):
            length = rng.uniform(1.2 * expiry, 2.5 * S) if long_one else rng.uniform(0.3, 0.7 * S)
        elif kind == "server_kill":
            length = rng.uniform(1.0, 10.0)
        elif kind in HOSTILE_KINDS:
            length = rng.uniform(2.0, 10.0)
        else:
            length = rng.uniform(1.0, 2.5 * S)
        if kind == "resign":
            target = "leader"  # only a leader can be asked to resign
            worker_busy.append(t + 1.0)
        elif kind in WORKER_KINDS:
            target = "leader" if rng.random() < 0.6 else "any"
            worker_busy.append(t + length + 1.0)
        elif kind in HOSTILE_KINDS:
            target = "election"
            hostile_free_at = t + length
        else:
            target = (
                "majority" if kind == "quorum_loss" else rng.choice(["zk-leader", "zk-follower"])
            )
            ensemble_free_at = t + length + 8.0  # room for the restarted server to sync
        faults.append(Fault(round(t, 2), kind, target, round(length, 2)))
