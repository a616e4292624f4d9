"""The worker's Prometheus metrics (METRICS_PORT), in a registry of their own.

The election knows nothing of them (common/election.py imports no prometheus, so it
stays copyable on its own); the worker wires the two together: ``WorkerMetrics`` reads
the election through three functions it is given, and the worker tells it about the
units it wrote. What is read at scrape time is never stale:

    leader_election_leading                       1 while this worker leads, else 0
    leader_election_fencing_token                 the leadership's fencing token; 0 if none
    leader_election_lease_remaining_seconds       the lease's time left; 0 without one
    leader_election_zookeeper_connection{state}   1 for the connection's state, 0 others
    leader_election_leadership_changes_total{change}     elected / lost
    leader_election_units_recorded_total          units the ledger accepted
    leader_election_units_refused_total{reason}   refusals, by common.ledger.Why

The server is a small threaded WSGI server on a thread of its own ("metrics"), started
by ``serve(port)`` and stopped by ``close()`` within a fraction of a second. A port that
cannot be bound is one ERROR line (``metrics_failed``); the worker goes on without
metrics. Requests are not logged. docs/metrics.md describes each metric.
"""

from __future__ import annotations

import logging
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .leadership import Leadership, Lease
from .ledger import Why
from .logs import Event, log_event

__all__ = ["CONNECTION_STATES", "REFUSAL_REASONS", "WorkerMetrics"]

log = logging.getLogger(__name__)

PREFIX = "leader_election"
# The ``state`` label of leader_election_zookeeper_connection: kazoo's three states,
# lower-cased, and the worker's own before its first session and after closing it.
CONNECTION_STATES = ("connecting", "connected", "suspended", "lost", "closed")
# Every ``reason`` a refusal can have: all are shown, at 0 until one happens.
REFUSAL_REASONS = tuple(v for k, v in vars(Why).items() if k.isupper())
# How often the server's loop looks for a shutdown request: close() waits at most this.
_POLL_S = 0.1
_JOIN_S = 0.5


class WorkerMetrics:
    """One worker's metrics. Usage (the worker's)::

        metrics = WorkerMetrics(lambda: election.leadership, election.lease, connection)
        metrics.serve(settings.metrics_port)   # 0: off, nothing is opened
        ... metrics.observe()                  # whenever leadership may have changed
        ... metrics.unit_recorded() / metrics.unit_refused(outcome.refused)
        metrics.close()

    ``leadership`` and ``lease`` are the election's local views (no round trip);
    ``connection`` answers one of CONNECTION_STATES. All three are called from the
    server's thread at each scrape, and must not block.
    """

    def __init__(
        self,
        leadership: Callable[[], Leadership | None],
        lease: Callable[[], Lease | None],
        connection: Callable[[], str],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leadership = leadership
        self._lease = lease
        self._connection = connection
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: Leadership | None = None
        # Counters as plain numbers, under the lock: read at scrape time like the rest,
        # with no `_created` series beside them.
        self._changes = dict.fromkeys(("elected", "lost"), 0)
        self._recorded = 0
        self._refused = dict.fromkeys(REFUSAL_REASONS, 0)
        self.registry = CollectorRegistry()
        self.registry.register(_Now(self))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ events

    def observe(self) -> None:
        """Count a change of leadership since the last look (any thread).

        Called whenever the election says what ``lease()`` answers may have changed,
        and at each scrape. A leadership replaced by another between two looks counts
        as one lost and one elected, as it was."""
        with self._lock:  # the read too: two threads' looks must not cross
            current = self._leadership()
            seen, self._seen = self._seen, current
            if current == seen:
                return
            if seen is not None:
                self._changes["lost"] += 1
            if current is not None:
                self._changes["elected"] += 1

    def unit_recorded(self) -> None:
        with self._lock:
            self._recorded += 1

    def unit_refused(self, reason: str | None) -> None:
        with self._lock:
            key = reason or Why.UNANSWERED
            self._refused[key] = self._refused.get(key, 0) + 1

    # ------------------------------------------------------------------ serving

    def serve(self, port: int, host: str = "0.0.0.0") -> tuple[str, int] | None:
        """Serve the metrics on ``host:port`` from a thread of our own; the address,
        or None when ``port`` is 0 (off) or cannot be bound (said in one line)."""
        if not port or self._server is not None:
            return None
        try:
            server = _Server((host, port), _QuietHandler)
        except OSError as exc:
            log_event(
                log,
                Event.METRICS_FAILED,
                f"Cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
                "going on without them",
                level=logging.ERROR,
                host=host,
                port=port,
                error=str(exc.strerror or exc),
            )
            return None
        server.set_app(make_wsgi_app(self.registry))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_S},
            name="metrics",
            daemon=True,
        )
        self._thread.start()
        bound_host, bound_port = server.server_address[:2]
        log_event(
            log,
            Event.METRICS_SERVING,
            f"Serving metrics on http://{bound_host}:{bound_port}/metrics",
            host=bound_host,
            port=bound_port,
        )
        return str(bound_host), int(bound_port)

    def close(self) -> None:
        """Stop serving (within about 0.1 s) and free the port. Idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=_JOIN_S)

    # ------------------------------------------------------------------ scrape

    def _collect_now(self) -> Iterator[Metric]:
        self.observe()
        lead = self._leadership()
        lease = self._lease()
        left = max(0.0, lease.deadline - self._clock()) if lease is not None else 0.0
        yield GaugeMetricFamily(
            f"{PREFIX}_leading", "1 while this worker leads the election, else 0", 1 if lead else 0
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_fencing_token",
            "The fencing token (czxid of the election node) of the leadership; 0 if none",
            lead.token if lead else 0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_lease_remaining_seconds",
            "Seconds left on the lease ZooKeeper last confirmed; 0 without a valid lease",
            left,
        )
        state = self._connection()
        family = GaugeMetricFamily(
            f"{PREFIX}_zookeeper_connection",
            "1 for the state of the ZooKeeper connection, 0 for the others",
            labels=["state"],
        )
        for name in CONNECTION_STATES:
            family.add_metric([name], 1 if name == state else 0)
        yield family
        with self._lock:
            changes, recorded, refused = dict(self._changes), self._recorded, dict(self._refused)
        family = CounterMetricFamily(
            f"{PREFIX}_leadership_changes",
            "Times this worker started (change=elected) or stopped (change=lost) leading",
            labels=["change"],
        )
        for change, count in changes.items():
            family.add_metric([change], count)
        yield family
        yield CounterMetricFamily(
            f"{PREFIX}_units_recorded",
            "Units of work the ledger accepted from this worker",
            recorded,
        )
        family = CounterMetricFamily(
            f"{PREFIX}_units_refused",
            "Units of work ZooKeeper refused to record, by reason (common.ledger.Why)",
            labels=["reason"],
        )
        for reason, count in refused.items():
            family.add_metric([reason], count)
        yield family


class _Now(Collector):
    """What is read at scrape time, from the election's local views."""

    def __init__(self, metrics: WorkerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics._collect_now()


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per request (a slow client holds up no one), none kept at close."""

    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer's would look up the host's DNS name (socket.getfqdn): a wait on a
        # resolver for a name nothing here uses.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()


class _QuietHandler(WSGIRequestHandler):
    """No line per request: the worker's stdout is its JSON log."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass
