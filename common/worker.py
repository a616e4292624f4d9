"""The worker: the article's once-per-second loop, made safe.

`run("service1")` is the whole program: read the settings, join the election, and
while leading log "Processing..." once per TICK_INTERVAL_S, each tick under a lease
confirmed by the ensemble (see election.Lease); stop at SIGTERM, SIGINT, SIGHUP (a
closed terminal) or SIGQUIT by resigning and closing the session, then exit 0 within
2 s whatever ZooKeeper does. Returns the exit code.

The main thread sleeps in select() on a self-pipe (common/shutdown.py). Two things
write to it: the election, whenever what lease() answers may have changed (no
polling), and a stop signal, whose handler only stores its number. Followers wake once
per tick interval only to refresh the health file; they send ZooKeeper nothing.

With METRICS_PORT, a thread of its own serves Prometheus metrics (common/metrics.py),
read from the election's local views at each scrape; the election knows nothing of them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time

from .election import LeaderElection
from .leadership import Leadership
from .ledger import Ledger, Outcome
from .logs import Event, Reason, log_event, setup
from .metrics import WorkerMetrics
from .observer import ElectionView, ElectionWatch
from .settings import Settings, describe, load
from .shutdown import StopSignals, Wakeup

__all__ = ["run"]

log = logging.getLogger(__name__)

# The join-order watch's session holds no node: closing it is given a moment.
_WATCH_CLOSE_S = 0.5
# LEDGER_FENCING=off is said again this often while leading: it must not go unnoticed.
_UNFENCED_WARNING_EVERY_S = 60.0


def run(service_name: str) -> int:
    """Run one worker named `service_name` (SERVICE_NAME overrides it). The exit code.

    Call it from the main thread; end the process with ``common.shutdown.exit_now``
    on what it returns (the services' ``__main__`` do), so that no signal can change
    the exit code while the interpreter would otherwise finalize.
    """
    # First, so that a signal at any moment from here on only asks the worker to stop.
    wakeup = Wakeup()
    stop = StopSignals(wakeup).install()
    settings = load(service_name, default_service_name=service_name)
    if settings is None:
        return 2
    setup(settings.service_name, settings.log_format, settings.log_level)
    return _Worker(settings, wakeup, stop).run()


class _Health:
    """Writes the worker's state to HEALTH_FILE (if set), atomically, at most once a tick."""

    def __init__(self, path: str, service: str, every_s: float) -> None:
        self._path = path
        self._service = service
        self._every_s = every_s
        self._state = ""
        self._written = 0.0

    def report(self, state: str, problem: str = "") -> None:
        now = time.monotonic()
        if not self._path or (state == self._state and now - self._written < self._every_s):
            return
        self._state, self._written = state, now
        temp = f"{self._path}.tmp"
        body = {"state": state, "updated": time.time(), "service": self._service}
        if problem:
            body["problem"] = problem
        try:
            with open(temp, "w", encoding="utf-8") as out:
                json.dump(body, out)
            os.replace(temp, self._path)
        except OSError as exc:
            log_event(
                log,
                Event.HEALTH_WRITE_FAILED,
                f"Cannot write {self._path}: {exc}",
                level=logging.WARNING,
                path=self._path,
            )

    def remove_best_effort(self) -> None:
        if self._path:
            with contextlib.suppress(OSError):
                os.unlink(self._path)


class _Worker:
    def __init__(self, settings: Settings, wakeup: Wakeup, stop: StopSignals) -> None:
        self._settings = settings
        self._wakeup = wakeup
        self._stop = stop
        self._health = _Health(
            settings.health_file, settings.service_name, settings.tick_interval_s
        )
        self._ledger: Ledger | None = None
        self._metrics: WorkerMetrics | None = None
        self._connection = "connecting"  # until the first session; "closed" after
        self._unfenced_said = -_UNFENCED_WARNING_EVERY_S

    def run(self) -> int:
        s = self._settings
        log_event(
            log,
            Event.STARTED,
            f"{s.service_name} starting; election {s.election_path} on {s.zk_hosts}",
            settings=describe(s),
            pid=os.getpid(),
        )
        election = LeaderElection(
            s.zk_hosts,
            s.election_path,
            s.service_name,
            session_timeout_s=s.zk_session_timeout_s,
            connect_timeout_s=s.zk_connect_timeout_s,
            retry_max_delay_s=s.zk_retry_max_delay_s,
            auth=s.zk_auth,
            notify=self._on_election_change,
        )
        if s.ledger_path:
            self._ledger = Ledger(
                lambda: election.zookeeper,
                s.ledger_path,
                s.service_name,
                fenced=s.ledger_fencing,
                keep_units=keep_units(s.ledger_keep_s, s.tick_interval_s),
                # A write outlives a lost connection by as long as a session can.
                answer_within_s=s.zk_session_timeout_s,
            )
        # Read by the metrics server's thread at each scrape; the election stays
        # unaware of them (common/metrics.py).
        metrics = WorkerMetrics(
            lambda: election.leadership, election.lease, lambda: self._connection_of(election)
        )
        try:
            self._metrics = metrics
            metrics.serve(s.metrics_port)  # 0: off
            self._health.report("connecting")
            if s.join_after and not self._stopping():
                self._let_join_first(s.join_after, s.join_after_s)
            if not self._stopping() and election.start(self._stopping, self._sleep):
                self._connection = ""  # from now on, the client's own state
                self._loop(election)
        finally:
            election.close()
            self._connection = "closed"
            metrics.close()
            self._health.remove_best_effort()
        name = self._stop.name
        log_event(
            log,
            Event.SHUTDOWN,
            f"{s.service_name} stopped ({name}); session closed",
            exit_code=0,
            signal=name,
        )
        # The handlers stay: a signal from now on (Ctrl-C twice, a supervisor that
        # repeats SIGTERM) only stores a number. The entry point ends the process with
        # shutdown.exit_now, skipping the finalization that would put back the default
        # actions (see common/shutdown.py).
        return 0

    def _stopping(self) -> bool:
        return self._stop.requested

    def _on_election_change(self) -> None:
        """The election's notify (any thread, must not block): wake the loop, and
        let the metrics count a change of leadership."""
        self._wakeup.notify()
        metrics = self._metrics
        if metrics is not None:
            metrics.observe()

    def _connection_of(self, election: LeaderElection) -> str:
        """The ZooKeeper connection's state for the metrics: kazoo's, lower-cased
        (connected, suspended, lost), or connecting / closed around it."""
        return self._connection or str(election.zookeeper.state).lower()

    def _let_join_first(self, candidate: str, within_s: float) -> None:
        """Wait until ``candidate`` has a node in the election, at most ``within_s``.

        The start order is the election's, not the container runtime's: a Compose
        `depends_on` on service1's health failed `docker compose start` and `up` while
        service1 was paused or stopped. Watched (``observer.ElectionWatch``, read-only,
        no credentials needed), not polled; a stop signal ends the wait at once.
        """
        s = self._settings
        log_event(
            log,
            Event.JOIN_WAIT,
            f"Letting {candidate} join the election first (up to {within_s:g} s)",
            candidate=candidate,
            wait_s=within_s,
        )
        present = threading.Event()

        def on_view(view: ElectionView) -> None:
            if any(c.identity == candidate for c in view.candidates or ()):
                present.set()
                self._wakeup.notify()

        watch = ElectionWatch(s.zk_hosts, s.election_path, on_view=on_view)
        watch.start()
        deadline = time.monotonic() + within_s
        try:
            while not present.is_set() and not self._stopping():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._health.report("connecting")
                self._wakeup.wait(min(left, s.tick_interval_s))
        finally:
            watch.close(within_s=_WATCH_CLOSE_S)
        outcome = "is a candidate" if present.is_set() else f"did not join within {within_s:g} s"
        if not self._stopping():
            log_event(
                log,
                Event.JOIN_WAIT_OVER,
                f"{candidate} {outcome}; joining",
                candidate=candidate,
                outcome=outcome,
                found=present.is_set(),
            )

    def _sleep(self, seconds: float) -> None:
        """tenacity's sleep: ends early on a signal, refreshes the health file."""
        deadline = time.monotonic() + seconds
        while not self._stopping() and (left := deadline - time.monotonic()) > 0:
            self._health.report("connecting")
            self._wakeup.wait(min(left, self._settings.tick_interval_s))

    def _loop(self, election: LeaderElection) -> None:
        interval = self._settings.tick_interval_s
        token: int | None = None
        lapsed: int | None = None  # the token whose lease ran out, once said
        next_tick = 0.0
        while not self._stopping():
            now = time.monotonic()
            lead = election.leadership
            if lead is None:
                token = None
                self._health.report(*_health_of(election))
                self._wakeup.wait(interval)
                continue
            self._health.report("leader")
            if lead.token != token:
                token, next_tick = lead.token, now  # the first tick the moment we win
            if now >= next_tick:
                if not self._tick(election):
                    # Leading, but the lease ran out (a thaw, a silent server): no work
                    # until the election renews it or revokes; it notifies either way.
                    # Said once, so the silence that follows has its reason in the log.
                    if lapsed != lead.token:
                        lapsed = lead.token
                        log_event(
                            log,
                            Event.LEASE_LAPSED,
                            "Lease ran out: ZooKeeper has not confirmed the leadership in "
                            "time; no work until it does",
                            level=logging.WARNING,
                            fencing_token=lead.token,
                        )
                    self._wakeup.wait(interval)
                    continue
                lapsed = None
                next_tick += interval
                if next_tick <= now:  # fell behind (a pause): skip, don't burst
                    next_tick = now + interval
            self._wakeup.wait(next_tick - time.monotonic())

    def _tick(self, election: LeaderElection) -> bool:
        """One unit of work under a lease; False when there was no lease to work under."""
        lease = election.lease()  # local; the election thread keeps it renewed
        if lease is None:
            return False
        held = lease.leadership
        ledger = self._ledger
        if ledger is None:  # LEDGER_PATH=off: the work writes nowhere (the article's)
            log_event(
                log,
                Event.PROCESSING,
                "Processing...",
                fencing_token=held.token,
                session_id=held.session_hex,
            )
            return True
        if not ledger.fenced:
            self._say_unfenced()
        work_s = self._settings.work_s
        if work_s > 0:
            # The lease was good when the work began; it may not be when the work is
            # written. The ledger's fences, not this check, decide (common/ledger.py).
            log_event(
                log,
                Event.WORK_STARTED,
                f"Working on the next unit ({work_s:g} s) under token {held.token}",
                work_s=work_s,
                fencing_token=held.token,
            )
            self._work(work_s)
            if self._stopping():
                return True  # the unit is abandoned, not written
        outcome = ledger.record(held, lambda: self._writing(election))
        if outcome.accepted:
            unit = outcome.unit
            assert unit is not None
            if self._metrics is not None:
                self._metrics.unit_recorded()
            message, late = f"Processing... unit {unit.seq} recorded", {}
            if not election.holds(lease):
                # The answer came after the lease ended: the worker was frozen, or the
                # answer slow, while the write was out. The ledger took the unit when it
                # came, under the lease; this line is late, and says by how much, so that
                # a reader places the work when it was sent, not next to a successor's.
                after = max(0.0, round(time.time() - unit.time, 3))
                message += f" (confirmed {after:g} s after it was sent, under the lease)"
                late["confirmed_after_s"] = after
            log_event(
                log,
                Event.PROCESSING,
                message,
                unit=unit.seq,
                fencing_token=held.token,
                session_id=held.session_hex,
                **late,
            )
        elif outcome.unconfirmed:
            if self._metrics is not None:  # counted under its reason, "unanswered"
                self._metrics.unit_refused(outcome.refused)
            self._unconfirmed(election, held, outcome)
        elif not outcome.stopped:
            if self._metrics is not None:
                self._metrics.unit_refused(outcome.refused)
            self._refused(election, held, outcome)
        return True

    def _writing(self, election: LeaderElection) -> bool:
        """While a unit's write waits for an answer (a lost connection: up to a session
        timeout): keep the health file fresh, and say whether to give up (a signal)."""
        if election.leadership is not None:
            self._health.report("leader")
        else:
            self._health.report(*_health_of(election))
        return self._stopping()

    def _work(self, seconds: float) -> None:
        """The unit's work: time passing. Only a stop signal cuts it short; a change of
        leadership does not (that is what the ledger's fences are for)."""
        deadline = time.monotonic() + seconds
        while not self._stopping() and (left := deadline - time.monotonic()) > 0:
            self._wakeup.wait(left)

    def _refused(self, election: LeaderElection, held: Leadership, outcome: Outcome) -> None:
        log_event(
            log,
            Event.UNIT_REFUSED,
            f"Unit refused by ZooKeeper: {outcome.detail}; stepping down",
            level=logging.WARNING,
            unit=outcome.seq,
            reason=outcome.refused,
            fencing_token=outcome.token,
            newest_unit=outcome.newest.seq if outcome.newest else None,
            newest_token=outcome.newest.token if outcome.newest else None,
        )
        election.step_down(held, Reason.REFUSED)

    def _unconfirmed(self, election: LeaderElection, held: Leadership, outcome: Outcome) -> None:
        """The unit was sent and no answer came (or a stop signal cut the wait short):
        it may be in the ledger. Said with its number, so that the unit, if it is there,
        has its line; not a refusal, and no Processing line either."""
        log_event(
            log,
            Event.UNIT_UNCONFIRMED,
            f"Unit {outcome.seq} unconfirmed: {outcome.detail}",
            level=logging.WARNING,
            unit=outcome.seq,
            reason=outcome.refused,
            fencing_token=outcome.token,
        )
        if not outcome.stopped:
            election.step_down(held, Reason.REFUSED)

    def _say_unfenced(self) -> None:
        now = time.monotonic()
        if now - self._unfenced_said < _UNFENCED_WARNING_EVERY_S:
            return
        self._unfenced_said = now
        log_event(
            log,
            Event.LEDGER_UNFENCED,
            "LEDGER_FENCING=off: units are written without checks, so a stale leader's "
            "work is accepted; for teaching only",
            level=logging.WARNING,
        )


def keep_units(keep_s: float, tick_interval_s: float) -> int:
    """Units the ledger keeps to cover ``keep_s``: at most one per tick per leadership,
    so twice the ticks in ``keep_s`` covers a change of leader every tick interval."""
    return math.ceil(2 * keep_s / tick_interval_s)


def _health_of(election: LeaderElection) -> tuple[str, str]:
    """(state, problem) of a worker that does not lead, for the health file."""
    problem = election.problem
    if problem is not None:
        return "failing", problem[0]
    return ("follower" if election.session_hex else "connecting"), ""
