"""One contender in one run: the harness every scenario shares.

Usage::

    trial = Trial(contender, ensemble, Config(), logdir, run=1)
    try:
        leader = trial.spawn("handoff", 1)       # a candidate process, remembered
        trial.wait_first_tick(leader)
        counts = trial.steady("handoff")         # packets per candidate, from the servers
    finally:
        trial.stop_all()

``Config`` holds what every scenario shares (the article's session, a default server's
tick, the windows); the figures themselves are defined in ``bench/scenarios.py``.
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
from testbed.checker import Tick, first_tick_after, ticks_from_events
from testbed.ensemble import Ensemble
from testbed.processes import WorkerProcess, wait_until
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
    scale: int = 1000  # candidates for the growth row (ours and kazoo's only)
    crowd_per_process: int = 250  # the growth row's followers, this many to a process
    crowd_stagger_s: float = 0.01  # between starts of a crowd process's candidates
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

    def spawn(
        self,
        scenario: str,
        index: int,
        connect: str | None = None,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        name = f"{self.contender.key}-{scenario}-{index}"
        worker = self.contender.candidate(
            name=name,
            connect=connect or self.ensemble.connect_string(),
            path=self.path(scenario),
            log=self.logdir / f"{name}.log",
            session_timeout_s=self.config.session_timeout_s,
            behind_proxy=connect is not None,
            env=env,
        )
        with self._lock:
            self._workers.append(worker)
        worker.start()
        return worker

    def spawn_crowd(self, scenario: str, first: int, count: int) -> WorkerProcess:
        """A started process hosting ``count`` candidates, numbered from ``first``."""
        prefix = f"{self.contender.key}-{scenario}-"
        worker = self.contender.crowd(
            prefix,
            first,
            count,
            self.ensemble.connect_string(),
            self.path(scenario),
            self.logdir / f"{prefix}{first}-{first + count - 1}.log",
            self.config.session_timeout_s,
            self.config.crowd_stagger_s,
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
            "follower_packets_s": mean_of([f[0] for f in followers]),
            "follower_requests_s": mean_of([f[1] for f in followers]),
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


def mean_of(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def sleep_until(epoch: float) -> None:
    delay = epoch - time.time()
    if delay > 0:
        time.sleep(delay)
