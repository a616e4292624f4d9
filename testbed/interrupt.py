"""Ctrl-C and SIGTERM for the long runs (the soak, the benchmark): everything they
started is stopped by its PID, and the exit says why.

    if __name__ == "__main__":
        run_interruptibly("soak", main)     # never returns

The run's body goes on a thread of its own; the main thread only waits, on one
self-pipe, for the body to end or for a stop signal (common/shutdown.py). A signal is
never raised into the body: a ZooKeeper server half-started, a worker half-stopped or
a lock held cannot turn an interruption into a hang or a traceback. On a stop signal
the main thread closes the test bed to new processes (the body may be restarting a
worker that very moment), kills every ZooKeeper server, worker, load and compiler
process the run had started (all go through testbed.processes.start_process) and any
other child, reaps them, says so in one line on stderr and exits 128 + the signal's
number (130 for Ctrl-C, 143 for SIGTERM), as a shell does. Which signal, when several
come at once, is the interpreter's choice: it runs pending handlers in number order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import NoReturn

from common.shutdown import StopSignals, Wakeup, exit_now

from .processes import children_of, stop_every_process

__all__ = ["run_interruptibly", "stop_everything_started"]


# How long the last sweep looks for children started outside the test bed's own
# start_process (a `git` or `java -version` of the benchmark's), until one comes up empty.
_SWEEP_S = 2.0


def stop_everything_started() -> int:
    """Close the test bed to new processes, kill and reap every one it started (servers,
    workers, load, compilers), then any other child of this process; how many."""
    stopped = stop_every_process()
    deadline = time.monotonic() + _SWEEP_S
    while (others := children_of(os.getpid())) and time.monotonic() < deadline:
        for pid, _command in others:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid, _command in others:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)  # a Popen's own wait() may reap it first: ECHILD
        stopped += len(others)
    return stopped


def run_interruptibly(program: str, body: Callable[[], int]) -> NoReturn:
    """Run ``body`` (returns the exit code) until it ends or a stop signal comes; then
    end the process. Call it from the main thread, once."""
    wakeup = Wakeup()
    signals = StopSignals(wakeup).install()
    outcome: dict[str, object] = {}
    # Set before the wake-up: the thread is still alive for a moment after notify(), so
    # a loop on is_alive() could wake, see it alive, and wait again for good.
    done = threading.Event()

    def run_body() -> None:
        try:
            outcome["code"] = body()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = exc
        finally:
            done.set()
            wakeup.notify()

    thread = threading.Thread(target=run_body, name=program, daemon=True)
    thread.start()
    while not done.is_set() and not signals.requested:
        wakeup.wait(None)
    if signals.requested:
        # What the body's thread does from here on (an error from a process that was
        # just killed under it) is not news.
        threading.excepthook = lambda _args: None
        stopped = stop_everything_started()
        print(
            f"{program}: {signals.name}: stopped; {stopped} process(es) it had started "
            "are stopped too",
            file=sys.stderr,
        )
        exit_now(128 + (signals.received or 0))
    stop_everything_started()  # what the body forgot (atexit hooks do not run)
    error = outcome.get("error")
    if isinstance(error, SystemExit):  # argparse's usage errors, sys.exit in the body
        if error.code is None or isinstance(error.code, int):
            exit_now(error.code or 0)
        print(error.code, file=sys.stderr)
        exit_now(1)
    if isinstance(error, BaseException):
        traceback.print_exception(error)
        exit_now(1)
    code = outcome.get("code")
    exit_now(code if isinstance(code, int) else 0)
