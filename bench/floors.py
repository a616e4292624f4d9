"""The floors the figures sit beside: what no recipe on this ensemble can beat.

Usage::

    rtt = round_trips(ensemble.connect_string())    # once per run, before the trials
    floors = summarize_floors([rtt, ...], records, config)
    floors["rtt"]["handoff_s"]                      # the handoff's floor on this machine

A handoff needs, after the old leader's SIGTERM, its node's deletion to commit (a write
through the ensemble's leader and a quorum), the notification of that deletion to reach
the successor, and one read by the successor to see that it is now the lowest: measured
here with two kazoo clients on the ensemble itself (``write_notify_s``: the delete sent
-> the watcher's callback; ``read_s``: an ``exists`` round trip), ``samples`` times each.
The floor is the fastest of each (a floor no handoff on this machine can beat); the
medians are kept beside them, to show how much the machine's load adds. A session's
expiry, the floor of every crash, freeze and cut takeover, is the protocol's:
``[S, S + tickTime]`` after the servers last heard from the session.
"""

from __future__ import annotations

import secrets
import statistics
import threading
import time
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from bench.metrics import Record, section_of

_SAMPLES = 20
_WAIT_S = 5.0


def round_trips(connect: str, samples: int = _SAMPLES) -> dict[str, Any]:
    """The fastest and the median of ``samples`` reads and of ``samples``
    delete-to-notification times; ``handoff_s`` is the sum of the two fastest."""
    writer = KazooClient(hosts=connect, timeout=10)
    watcher = KazooClient(hosts=connect, timeout=10)
    root = f"/bench-floor-{secrets.token_hex(4)}"
    try:
        writer.start(timeout=30)
        watcher.start(timeout=30)
        writer.ensure_path(root)
        reads = []
        for _ in range(samples):
            sent = time.perf_counter()
            watcher.exists(root)
            reads.append(time.perf_counter() - sent)
        notified = [_delete_to_notification(writer, watcher, root) for _ in range(samples)]
        writer.delete(root, recursive=True)
    except (KazooException, KazooTimeoutError, OSError) as err:
        return {"error": f"{type(err).__name__}: {err}"}
    finally:
        for client in (writer, watcher):
            client.stop()
            client.close()
    return {
        "read_s": min(reads),
        "write_notify_s": min(notified),
        "handoff_s": min(reads) + min(notified),
        "read_median_s": statistics.median(reads),
        "write_notify_median_s": statistics.median(notified),
        "samples": samples,
    }


def _delete_to_notification(writer: KazooClient, watcher: KazooClient, root: str) -> float:
    node = writer.create(f"{root}/n_", ephemeral=True, sequence=True)
    fired: list[float] = []
    done = threading.Event()

    def on_delete(_event: object) -> None:
        fired.append(time.perf_counter())
        done.set()

    watcher.exists(node, watch=on_delete)
    sent = time.perf_counter()
    writer.delete(node)
    if not done.wait(_WAIT_S):
        raise KazooTimeoutError(f"no notification of {node}'s deletion in {_WAIT_S:g} s")
    return fired[0] - sent


def summarize_floors(
    rtts: list[dict[str, Any]], records: list[Record], config: dict[str, Any]
) -> dict[str, Any]:
    """The run's floors: round trips (the fastest of every run's, and the median of their
    medians), the session and tick lengths, the tick interval, the idle ensemble's
    latency (the growth rows)."""
    good = [r for r in rtts if "error" not in r]

    def fastest(field: str) -> float | None:
        return min(r[field] for r in good) if good else None

    def median_of(field: str) -> float | None:
        return statistics.median(r[field] for r in good) if good else None

    idle = [
        v
        for record in records
        if (v := section_of(record, "scale", "join", "idle_latency_ms")) is not None
    ]
    return {
        "rtt": {
            "read_s": fastest("read_s"),
            "write_notify_s": fastest("write_notify_s"),
            "handoff_s": fastest("handoff_s"),
            "read_median_s": median_of("read_median_s"),
            "write_notify_median_s": median_of("write_notify_median_s"),
            "samples": sum(r["samples"] for r in good),
            "runs": len(good),
        },
        "session_timeout_s": config["session_timeout_s"],
        "zk_tick_s": config["tick_ms"] / 1000,
        "interval_s": 1.0,
        "idle_latency_ms": statistics.median(idle) if idle else None,
    }
