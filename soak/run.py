"""The soak's runner: three of our workers, a real ensemble, the plan's faults piling up.

Usage (from a test; the command line is ``python -m soak``)::

    soak = Soak(ensemble, workdir, SoakConfig(minutes=1.5, seed=7))
    report = soak.run()
    assert report.ok, report.text()

Each worker (``python -m service1``, named w1, w2, ...) runs with ZK_AUTH and talks
to the ensemble through its own FaultProxy, with a trickling endpoint
(``testbed.hostile``) beside the proxy's addresses in its ZK_HOSTS. The runner injects
each planned fault at its time on the role the plan names, records what it did as
incidents, heals everything after the last fault, then hands the history to
``soak.judge``. A client without the credentials that manages to change the election
during a storm or a squat is a violation of its own. Beside the faults, ``ClockWatch``
records every forward jump of the wall clock over a second (the machine paused, or its
clock stepped), which the judge allows for and the report counts.
"""

from __future__ import annotations

import heapq
import json
import random
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoAuthError, NodeExistsError, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from common.logreader import Record
from common.observer import Unavailable, depose, read_candidates
from common.zkclient import new_client, stop_within
from soak.evidence import load_evidence, read_evidence
from soak.judge import Bounds, Incident, SoakReport, Timeline, judge
from soak.plan import HOSTILE_KINDS, WORKER_KINDS, Fault, SoakConfig, plan
from testbed.checker import Tick, format_time, parse_time, summary, ticks_from_events
from testbed.ensemble import Ensemble, Server
from testbed.faultproxy import FaultProxy
from testbed.hostile import HostileEndpoint
from testbed.processes import WorkerProcess

RESULTS = Path(__file__).resolve().parent / "results"


def rejudge(out: Path) -> SoakReport:
    """Judge a finished soak again from its report.json and the workers' logs."""
    saved = json.loads((out / "report.json").read_text())
    config = SoakConfig(**saved["config"])
    incidents = [Incident(**i) for i in saved["incidents"]]
    ticks: list[Tick] = []
    records: list[Record] = []
    for log in sorted((out / "workers").glob("w*.log")):
        worker = WorkerProcess("service1", {}, log, name=log.name.split(".")[0])
        ticks += ticks_from_events(worker.events(), service=worker.name)
        records += worker.records()
    started = saved.get("started") or min(i.start for i in incidents if i.kind == "startup")
    ended = saved.get("ended") or max(
        [t.time for t in ticks] + [g["end"] for g in saved.get("gaps", [])]
    )
    timeline = Timeline(started, ended, incidents, saved["done"], saved["skipped"])
    exits = [v.removeprefix("exit: ") for v in saved["violations"] if v.startswith("exit: ")]
    evidence = load_evidence(out / "workers", records, timeline)
    return judge(config, plan(config), timeline, ticks, exits, evidence)


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
        _tell(self._timeline, f"no quorum for {now - self.lost_at:.1f} s")
        self.lost_at = None


def clock_jump(
    wall: tuple[float, float], mono: tuple[float, float], period_s: float, limit_s: float = 1.0
) -> tuple[Incident, str] | None:
    """A wake-up ``period_s`` after the last one that the wall clock says came more than
    ``limit_s`` late: the stall incident (wall times) and how to tell it, else None.
    The monotonic clock says which: it runs late too when this process (or the whole
    machine) was stopped, and does not when only the wall clock was stepped."""
    late = wall[1] - wall[0] - period_s
    if late <= limit_s:
        return None
    stopped = mono[1] - mono[0] - period_s > limit_s
    how = "the runner was stopped, or the whole machine" if stopped else "the clock stepped"
    text = f"clock stall: {late:.1f} s lost between two wake-ups {period_s:g} s apart ({how})"
    return Incident("stall", "machine", wall[0] + period_s, wall[1]), text


class ClockWatch:
    """Wakes every 0.1 s; records every jump of the wall clock (the time every log and
    every bound is read in) over a second as a "stall" incident (see ``clock_jump``)."""

    PERIOD_S = 0.1

    def __init__(self, timeline: Timeline) -> None:
        self._timeline = timeline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="clock-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        wall, mono = time.time(), time.monotonic()
        stopping = False
        while not stopping:
            stopping = self._stop.wait(self.PERIOD_S)  # the last stretch is judged too
            now_wall, now_mono = time.time(), time.monotonic()
            found = clock_jump((wall, now_wall), (mono, now_mono), self.PERIOD_S)
            if found is not None:
                self._timeline.incidents.append(found[0])
                _tell(self._timeline, found[1])
            wall, mono = now_wall, now_mono


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
        self._trickle: HostileEndpoint | None = None
        self.process_faults: list[str] = []  # exits nobody asked for, slow SIGTERM exits

    # -- workers ------------------------------------------------------------------------

    def _spawn(self, name: str) -> None:
        self._restarts[name] += 1
        hosts = self._proxies[name].connect_string()
        if self._trickle is not None:
            hosts += "," + self._trickle.connect_string()
        env = {
            "ZK_HOSTS": hosts,
            "ZK_AUTH": self.config.auth,
            "SERVICE_NAME": name,
            "ELECTION_PATH": self._path,
            "ZK_SESSION_TIMEOUT_S": f"{self.config.session_timeout_s:g}",
            "TICK_INTERVAL_S": f"{self.config.tick_interval_s:g}",
            "WORK_S": f"{self.config.work_s:g}",
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
        if fault.kind == "resign":
            self._resign()
        elif fault.kind in WORKER_KINDS:
            self._inject_worker(fault, schedule)
        elif fault.kind in HOSTILE_KINDS:
            self._inject_hostile(fault, schedule)
        else:
            self._inject_ensemble(fault, schedule)

    def _inject_worker(self, fault: Fault, schedule: Callable[..., None]) -> None:
        name = self._pick_worker(fault.target)
        if name is None:
            self.timeline.skipped.append(fault.describe())
            _tell(self.timeline, f"skip {fault.kind}: no free worker")
            return
        role = "leader" if name == self._leader() else "follower"
        worker = self._current[name]
        if fault.kind == "depose":
            self._depose(name, role)
            return
        self._busy.add(name)
        now = time.time()
        _tell(self.timeline, f"{fault.kind} {name} ({role}) for {fault.length:.1f} s")
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
                _tell(self.timeline, f"restart {name} (exit code was {code})")
                self._spawn(name)
                self.timeline.incidents.append(Incident("restart", name, healed))
            elif fault.kind == "freeze":
                worker.resume()
                _tell(self.timeline, f"thaw {name}")
                self.timeline.incidents.append(Incident("thaw", name, healed))
            else:
                self._proxies[name].forward()
                _tell(self.timeline, f"uncut {name}")
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
            _delete(hosts, nodes[0], self.config.auth)
        except Unavailable as exc:
            self.timeline.skipped.append(f"depose {name}: {exc}")
            _tell(self.timeline, f"skip depose {name}: {exc}")
            return
        now = time.time()
        _tell(self.timeline, f"depose {name} ({role}): deleted {nodes[0]}")
        self.timeline.incidents.append(Incident("depose", name, now, now))

    def _resign(self) -> None:
        """Ask the leader to resign, as an operator does (``make depose``)."""
        asked = time.time()
        try:
            done = depose(self.ensemble.connect_string(), self._path, self.config.auth, 3.0)
        except Unavailable as exc:
            self.timeline.skipped.append(f"resign: {exc}")
            _tell(self.timeline, f"skip resign: {exc}")
            return
        name = done.leader.identity
        how = "resigned" if done.resigned else "asked; not resigned within 3 s"
        _tell(self.timeline, f"resign {name}: {how}")
        self.timeline.incidents.append(Incident("resign", name, asked, asked))

    def _inject_hostile(self, fault: Fault, schedule: Callable[..., None]) -> None:
        """A client without the credentials attacks; all it tries must be refused."""
        stranger = new_client(self.ensemble.connect_string(), 10.0)
        try:
            stranger.start(timeout=5)
        except KazooTimeoutError:
            stop_within(stranger, 1.0)
            self.timeline.skipped.append(f"{fault.describe()}: no session for the attacker")
            return
        started, stop = time.time(), threading.Event()
        tally: Counter[str] = Counter()
        squatter: list[str] = []
        if fault.kind == "storm":
            thread = threading.Thread(
                target=self._storm, args=(stranger, stop, tally), name="storm", daemon=True
            )
            thread.start()
        else:
            thread = None
            self._squat(stranger, tally, squatter)
        _tell(self.timeline, f"{fault.kind} for {fault.length:.1f} s")

        def heal() -> None:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)
            stop_within(stranger, 1.0)
            for node in squatter:
                try:
                    _delete(self.ensemble.connect_string(), node, self.config.auth)
                except Unavailable as exc:
                    _tell(self.timeline, f"squatter {node} stays: {exc}")
            if tally["allowed"]:
                self.process_faults.append(
                    f"{fault.kind}: a client without the credentials changed the election "
                    f"{tally['allowed']} time(s)"
                )
            counts = ", ".join(f"{k} {v}" for k, v in sorted(tally.items()))
            _tell(self.timeline, f"{fault.kind} over ({counts})")
            self.timeline.incidents.append(Incident(fault.kind, "election", started, time.time()))

        schedule(started + fault.length, heal)

    def _storm(self, client: KazooClient, stop: threading.Event, tally: Counter[str]) -> None:
        """Delete every child of the root, again and again, until ``stop``."""
        while not stop.is_set():
            try:
                names = client.get_children(self._path)
            except KazooException:
                stop.wait(0.1)
                continue
            for name in names:
                try:
                    client.delete(f"{self._path}/{name}")
                    tally["allowed"] += 1
                except NoAuthError:
                    tally["refused"] += 1
                except (NoNodeError, KazooException):
                    tally["failed"] += 1

    def _squat(self, stranger: KazooClient, tally: Counter[str], made: list[str]) -> None:
        """The stranger tries to put a squatter first (refused); a holder of the
        credentials puts one just below the lowest candidate (kept until the heal)."""
        try:
            stranger.create(f"{self._path}/n_0000000000", b"squatter")
            tally["allowed"] += 1
            made.append(f"{self._path}/n_0000000000")
        except NoAuthError:
            tally["refused"] += 1
        except KazooException:
            tally["failed"] += 1
        try:
            lowest = read_candidates(self.ensemble.connect_string(), self._path)[0].sequence
        except (Unavailable, IndexError):
            return
        if lowest == 0:
            return
        node = f"{self._path}/n_{lowest - 1:010d}"
        insider = new_client(self.ensemble.connect_string(), 10.0, auth=self.config.auth)
        try:
            insider.start(timeout=5)
            insider.create(node, b"squatter with the credentials")
            made.append(node)
            tally["squatter"] += 1
        except (KazooException, KazooTimeoutError, NodeExistsError):
            tally["failed"] += 1
        finally:
            stop_within(insider, 1.0)

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
            _tell(self.timeline, f"skip {fault.kind}: servers {modes}")
            return
        now = time.time()
        ids = ",".join(f"zk{s.id}({modes.get(s.id)})" for s in victims)
        _tell(self.timeline, f"{fault.kind} {ids} for {fault.length:.1f} s")
        for server in victims:
            server.kill()
        self._zk_down += victims

        def heal() -> None:
            for server in victims:
                server.start()
                self._zk_down.remove(server)
            _tell(self.timeline, f"restart {ids}")
            self.timeline.incidents.append(Incident(fault.kind, ids, now, time.time()))

        schedule(now + fault.length, heal)

    # -- the run ------------------------------------------------------------------------

    def run(self) -> SoakReport:
        self.workdir.mkdir(parents=True, exist_ok=True)
        print(f"soak plan (seed {self.config.seed}, {len(self.faults)} faults):", flush=True)
        for fault in self.faults:
            print("  " + fault.describe(), flush=True)
        monitor = _QuorumMonitor(self.ensemble, self.timeline)
        clock = ClockWatch(self.timeline)
        upstreams = [("127.0.0.1", s.client_port) for s in self.ensemble.servers]
        try:
            if self.config.hostile_host:
                self._trickle = HostileEndpoint("trickle")
            for name in self._names:
                self._proxies[name] = FaultProxy(upstreams)
                self._proxies[name].start()
            self.timeline.started = time.time()
            self.timeline.incidents.append(Incident("startup", "all", self.timeline.started))
            for name in self._names:
                self._spawn(name)
            monitor.start()
            clock.start()
            self._execute()
            self._heal_everything()
            time.sleep(self.bounds.expiry_s + self.bounds.startup_s + self.bounds.reconnect_s)
            self.timeline.ended = time.time()
        finally:
            monitor.stop()
            clock.stop()
            for worker in self._all:
                worker.stop(timeout=5)
            for fault_proxy in self._proxies.values():
                fault_proxy.close()
            if self._trickle is not None:
                self._trickle.close()
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
            _tell(self.timeline, f"{name} exited on its own ({worker.returncode}): restart")
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
        records = []
        for worker in self._all:
            ticks += ticks_from_events(worker.events(), service=worker.name)
            records += worker.records()
        evidence = read_evidence(
            self.ensemble.connect_string(),
            f"{self._path}-work",
            self.workdir,
            records,
            self.timeline,
        )
        if isinstance(evidence, str):  # said in the report: no judgement from the store
            _tell(self.timeline, evidence)
            evidence = None
        report = judge(
            self.config, self.faults, self.timeline, ticks, self.process_faults, evidence
        )
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
            rows.append((_note_time(note, start), f"             soak: {note}"))
        rows = sorted(r for r in rows if start <= r[0] <= end)
        lines += [text for _, text in rows[:80]]
        return "\n".join(lines)

    def _excerpt_e1(self, ticks: list[Tick]) -> str:
        return "--- E1 windows ---\n" + summary(ticks)


def _delete(hosts: str, node: str, auth: str, timeout_s: float = 3.0) -> None:
    """Delete one node with a short-lived client holding ``auth``; Unavailable if that
    fails."""
    client = new_client(hosts, 10.0, auth=auth)
    try:
        client.start(timeout=timeout_s)
        client.delete_async(node).get(timeout=timeout_s)
    except (KazooException, KazooTimeoutError) as exc:
        raise Unavailable(f"deleting {node} failed: {exc!r}") from exc
    finally:
        stop_within(client, 1.0)


def _tell(timeline: Timeline, text: str) -> None:
    """Record what the runner did, with the time, and print it as it happens."""
    line = f"{format_time(time.time())[11:23]} {text}"
    timeline.lines.append(line)
    print("  " + line, flush=True)


def _note_time(note: str, near: float) -> float:
    """The epoch time of a timeline note (HH:MM:SS.mmm), on the day of ``near``."""
    day = format_time(near)[:11]
    try:
        return parse_time(f"{day}{note[:12]}000Z")
    except ValueError:
        return 0.0
