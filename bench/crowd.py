"""Many candidates in one process, each with its own session: the growth row's followers.

Usage::

    python -m bench.crowd --kind ours --connect 127.0.0.1:2181 --root /bench-scale \\
        --prefix ours-scale- --first 2 --count 250 [--session-timeout-s 10] [--stagger-s 0.01]

A thousand candidates do not fit two cores as a thousand interpreters, and they need
not: what the growth row measures is what the ensemble and one follower see, and every
candidate here has a session, a node and a watch of its own, exactly as a process of
its own would. ``--kind ours``: a ``common.election.LeaderElection`` per candidate,
one loop thread asking each one's ``lease()`` when any of them notifies and once a
second, as ``common/worker.py`` does for one. ``--kind kazoo``: a ``KazooClient`` and
``client.Election(root, name).run(work)`` per candidate, on a thread of its own, the
article's loop as ``work`` (``bench/baselines/kazoo_election_worker.py`` for one).

Candidate ``i`` is named ``<prefix><i>`` (``--first`` .. ``--first + count - 1``) and
logs a "processing" JSON line (the project's log contract) for each unit of work while
it leads. SIGTERM or SIGINT: every candidate resigns and closes its session, exit 0.
Both signals are blocked before any thread starts and taken with ``sigwait`` by the
main thread, so no handler ever runs on a thread holding a lock.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from kazoo.client import KazooClient

from common.election import LeaderElection
from common.logs import Event, quiet_kazoo

_STOP = {signal.SIGTERM, signal.SIGINT}
_OUT = threading.Lock()


def _log(service: str, event: str, message: str, **fields: Any) -> None:
    line = {
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "level": "INFO",
        "service": service,
        "event": event,
        "message": message,
        **fields,
    }
    with _OUT:
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


def _processing(service: str, token: int | None) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _log(service, Event.PROCESSING, f"Processing... {stamp}", fencing_token=token)


class _Ours:
    """LeaderElections and the one loop that works for whichever of them leads."""

    def __init__(self, args: argparse.Namespace, stop: threading.Event) -> None:
        self._args = args
        self._stop = stop
        self._wake = threading.Event()
        self._elections: list[tuple[str, LeaderElection]] = []
        self._thread = threading.Thread(target=self._loop, name="work", daemon=True)

    def add(self, name: str) -> None:
        election = LeaderElection(
            self._args.connect,
            self._args.root,
            name,
            session_timeout_s=self._args.session_timeout_s,
            notify=self._wake.set,
        )
        if election.start(self._stop.is_set, self._stop.wait):
            self._elections.append((name, election))
        if not self._thread.is_alive():
            self._thread.start()

    def _loop(self) -> None:
        due: dict[str, tuple[int, float]] = {}  # name -> (token, next tick, monotonic)
        while not self._stop.is_set():
            now = time.monotonic()
            for name, election in list(self._elections):
                lease = election.lease()
                if lease is None:
                    due.pop(name, None)
                    continue
                token, next_tick = due.get(name, (lease.leadership.token, now))
                if token != lease.leadership.token:
                    next_tick = now  # a new leadership works at once
                if now >= next_tick:
                    _processing(name, lease.leadership.token)
                    next_tick = max(next_tick + self._args.interval_s, now)
                due[name] = (lease.leadership.token, next_tick)
            waits = [t - time.monotonic() for _token, t in due.values()]
            self._wake.wait(min([self._args.interval_s, *waits]) if waits else 1.0)
            self._wake.clear()

    def close(self) -> None:
        _in_parallel([election.close for _name, election in self._elections])


class _Kazoo:
    """A KazooClient and an Election per candidate, each run() on a thread of its own."""

    def __init__(self, args: argparse.Namespace, stop: threading.Event) -> None:
        self._args = args
        self._stop = stop
        self._members: list[tuple[KazooClient, Any]] = []

    def add(self, name: str) -> None:
        client = KazooClient(hosts=self._args.connect, timeout=self._args.session_timeout_s)
        client.start(timeout=60)
        election = client.Election(self._args.root, name)

        def work() -> None:  # the article's loop, while run() holds the election
            while not self._stop.is_set():
                _processing(name, None)
                self._stop.wait(self._args.interval_s)

        threading.Thread(target=election.run, args=(work,), name=name, daemon=True).start()
        self._members.append((client, election))

    def close(self) -> None:
        def leave(client: KazooClient, election: Any) -> None:
            election.cancel()
            client.stop()
            client.close()

        _in_parallel([lambda c=c, e=e: leave(c, e) for c, e in self._members])


def _in_parallel(calls: list[Callable[[], object]]) -> None:
    """Each call on a small pool: a thousand closes, each a round trip, in well under 2 s."""
    with ThreadPoolExecutor(max_workers=32, thread_name_prefix="close") as pool:
        for future in [pool.submit(call) for call in calls]:
            future.exception()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crowd", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--kind", choices=("ours", "kazoo"), required=True)
    parser.add_argument("--connect", required=True)
    parser.add_argument("--root", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--session-timeout-s", type=float, default=10.0)
    parser.add_argument("--interval-s", type=float, default=1.0)
    parser.add_argument("--stagger-s", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.count < 1 or args.first < 0 or args.stagger_s < 0 or args.interval_s <= 0:
        parser.error("--count >= 1, --first >= 0, --stagger-s >= 0, --interval-s > 0")
    # Before any thread exists, so that every thread inherits the mask: only sigwait
    # below ever sees these signals.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
    # A thousand threads of kazoo and the elections: small stacks.
    threading.stack_size(512 * 1024)
    quiet_kazoo()
    logging.getLogger("common").setLevel(logging.ERROR)  # "election_open", once per candidate

    stop = threading.Event()
    crowd = _Ours(args, stop) if args.kind == "ours" else _Kazoo(args, stop)
    names = [f"{args.prefix}{i}" for i in range(args.first, args.first + args.count)]
    _log(args.prefix + "crowd", Event.STARTED, f"{args.count} {args.kind} candidates: {names[0]}..")

    def join_all() -> None:
        for name in names:
            if stop.is_set():
                return
            crowd.add(name)
            stop.wait(args.stagger_s)
        _log(args.prefix + "crowd", Event.JOINED, f"{len(names)} candidates started")

    joining = threading.Thread(target=join_all, name="join", daemon=True)
    joining.start()
    received = signal.sigwait(_STOP)
    stop.set()
    joining.join(timeout=5)
    crowd.close()
    _log(
        args.prefix + "crowd",
        Event.SHUTDOWN,
        f"stopped ({signal.Signals(received).name})",
        exit_code=0,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
