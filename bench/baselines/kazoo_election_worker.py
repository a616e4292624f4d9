"""Baseline: kazoo's own ``Election`` recipe with the article's loop.

Usage::

    ZK_HOSTS=127.0.0.1:2181 SERVICE_NAME=service1 ELECTION_PATH=/kazoo-election \\
        python -m bench.baselines.kazoo_election_worker

What a reasonable kazoo user writes from kazoo's documentation: ``client.Election(path,
identifier).run(func)`` where ``func`` is the article's loop, printing a ``processing``
line (the project's log contract, ``fencing_token`` null) every second for as long as
``run`` holds the election. SIGTERM: leave ``run`` (its ``with lock`` deletes the
node), ``cancel()``, ``client.stop()``, exit 0.

Not handled, on purpose, because kazoo's ``Election`` offers no hook for it: ``run``
never tells ``func`` that the session was suspended or lost, so a cut-off or frozen
holder keeps working while another candidate is elected. The benchmark measures that.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import UTC, datetime
from types import FrameType

from kazoo.client import KazooClient

from common.logs import Event


def _log(service: str, event: str, message: str, **fields: object) -> None:
    now = datetime.now(UTC)
    line = {
        "time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "level": "INFO",
        "service": service,
        "event": event,
        "message": message,
        **fields,
    }
    print(json.dumps(line), flush=True)


def _session(client: KazooClient) -> str | None:
    """The current session, for the log only; None while disconnected (no session)."""
    client_id = client.client_id
    return f"0x{client_id[0]:x}" if client_id else None


def main() -> int:
    hosts = os.environ.get("ZK_HOSTS", "zoo1:2181,zoo2:2181,zoo3:2181")
    service = os.environ.get("SERVICE_NAME", "service1")
    path = os.environ.get("ELECTION_PATH", "/leader-election")
    timeout_s = float(os.environ.get("ZK_SESSION_TIMEOUT_S", "10"))
    interval_s = float(os.environ.get("TICK_INTERVAL_S", "1"))

    client = KazooClient(hosts=hosts, timeout=timeout_s)
    client.start(timeout=60)
    election = client.Election(path, service)

    def on_term(signum: int, frame: FrameType | None) -> None:
        # Raised in the main thread, inside lead() or inside the lock's wait: the
        # ``with lock`` in Election.run deletes our node on the way out.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def lead() -> None:
        while True:
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            _log(
                service,
                Event.PROCESSING,
                f"Processing... {now}",
                fencing_token=None,
                session_id=_session(client),
            )
            time.sleep(interval_s)

    _log(
        service,
        Event.STARTED,
        f"candidate {service} joined {path}",
        session_id=_session(client),
    )
    try:
        election.run(lead)
    finally:
        election.cancel()
        client.stop()
        client.close()
        _log(service, Event.SHUTDOWN, "stopped", exit_code=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
