"""Stopping on a signal, race-free by construction, for every long-running command.

SIGTERM (``docker compose stop``), SIGINT (Ctrl-C), SIGHUP (a closed terminal) and
SIGQUIT end the worker, ``status --watch``, ``make logs``, the soak and the benchmark
the same way:

    wakeup = Wakeup()
    stop = StopSignals(wakeup).install()      # the main thread, once
    while not stop.requested:
        wakeup.wait(timeout)                  # news from a thread, or a signal
        ...
    exit_now(0)                               # flush, then end the process

Why each part:

* **The handler only stores the signal's number.** Nothing is raised into what the main
  thread was doing (a lock, a queue, a write to the terminal), so no lock is left held
  and no cleanup half-done; the main thread learns of the signal where it waits.
* **One wait for everything.** Other threads write a byte to a self-pipe when they have
  news (``Wakeup.notify``); the interpreter's C-level handler writes one on a signal
  (``signal.set_wakeup_fd``). One ``select()`` wakes for either: no polling, no wait
  that a signal cannot end.
* **The handler is never changed again**, and the process ends with ``exit_now``: the
  log handlers and standard streams flushed, then ``os._exit``. Interpreter
  finalization does not run, because three things in it break a clean exit: CPython
  puts back the default action of every signal a Python handler had (a SIGTERM from
  then on kills the process: exit 143, not 0); it joins thread-pool threads (a probe in
  flight holds the exit up); and a signal received but not yet handled when a handler
  changes is reported as "Signal 15 ignored due to race condition", with a traceback
  header. However many signals come, whenever they come, they only store a number.
* **A stop signal ignored by inheritance is caught all the same**, but for SIGHUP. A
  shell without job control (a script, a CI runner) starts background jobs with SIGINT
  and SIGQUIT ignored, and Python keeps an inherited SIG_IGN: `status --watch` started
  that way never stopped on the SIGINT a supervisor or a test sent it (Go's os/signal
  makes the same choice). SIGHUP ignored at start is left ignored: ``nohup`` asked for
  the command to outlive its terminal.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
from types import FrameType
from typing import NoReturn

__all__ = ["STOP_SIGNALS", "StopSignals", "Wakeup", "exit_now", "signal_name"]

# Each ends a command the same way. SIGQUIT too: its default (a core dump) is no way to
# leave a ZooKeeper session.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def signal_name(signum: int | None) -> str:
    """``SIGTERM`` for 15; ``none`` for None."""
    if signum is None:
        return "none"
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Wakeup:
    """A self-pipe: ``notify()`` from any thread, or a signal, ends the current ``wait()``."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    @property
    def fd(self) -> int:
        """The write end, for ``signal.set_wakeup_fd``."""
        return self._write

    def notify(self) -> None:
        """Wake the waiter. Never blocks: a full pipe already holds a wake-up."""
        try:
            os.write(self._write, b"\0")
        except BlockingIOError:
            pass

    def wait(self, timeout: float | None) -> bool:
        """Sleep until notified, signalled, or ``timeout`` seconds (None: no limit).

        True when woken, False on the timeout. Every pending wake-up is consumed.
        """
        ready, _, _ = select.select(
            [self._read], [], [], None if timeout is None else max(0.0, timeout)
        )
        if not ready:
            return False
        try:
            while os.read(self._read, 512):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


class StopSignals:
    """The stop signals, caught for the rest of the process: the first one's number.

    ``install()`` must run in the main thread (Python runs handlers only there). After
    it, a stop signal sets ``received`` (the first one's number; later ones change
    nothing) and wakes ``wakeup``. SIGHUP is left alone where it was ignored at start
    (nohup); the others are caught whatever their inherited disposition.
    """

    def __init__(self, wakeup: Wakeup, signals: tuple[int, ...] = STOP_SIGNALS) -> None:
        self._wakeup = wakeup
        self._signals = signals
        self._received: int | None = None

    def install(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("stop signals can only be caught in the main thread")
        signal.set_wakeup_fd(self._wakeup.fd, warn_on_full_buffer=False)
        for signum in self._signals:
            if signum == signal.SIGHUP and signal.getsignal(signum) == signal.SIG_IGN:
                continue  # nohup: asked to outlive the terminal
            signal.signal(signum, self._on_signal)
        # A launcher that cannot know when the handlers are in (a signal sent while the
        # interpreter starts would take the default action: death, no resignation) may
        # start the process with the stop signals blocked; they are held pending, and
        # delivered here, once caught. Unblocking what was not blocked changes nothing.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, self._signals)
        return self

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # No lock, no I/O, no exception: set_wakeup_fd has written to the pipe already.
        if self._received is None:
            self._received = signum

    @property
    def received(self) -> int | None:
        return self._received

    @property
    def requested(self) -> bool:
        return self._received is not None

    @property
    def name(self) -> str:
        return signal_name(self._received)


def exit_now(code: int) -> NoReturn:
    """End the process with ``code``: flush what was written, skip finalization.

    Call it once every thread whose work matters has finished (sessions closed,
    children stopped): threads still running are not waited for.
    """
    for handler in logging.getLogger().handlers:
        try:
            handler.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream: nothing more can reach it
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
