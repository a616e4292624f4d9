"""SIGTERM and SIGINT for the dashboard: set a flag and wake a pipe, nothing else.

Installed first thing in ``python -m dashboard``, before kazoo is imported, so a stop
signal at any moment after that ends in the same orderly exit 0. The handler takes no
lock and does no I/O of its own: ``signal.set_wakeup_fd`` writes the signal's number
to the pipe, and the main thread, which sleeps in ``wait`` (select on that pipe),
wakes up. A signal that arrives before ``wait`` is called is already in the pipe, so
it cannot be missed; more signals while shutting down only set the flag again.
"""

from __future__ import annotations

import os
import select
import signal
from types import FrameType

__all__ = ["StopSignal"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignal:
    """``stop = StopSignal.install()``; later ``stop.wait()`` returns the signal's name."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self.received: int | None = None

    @classmethod
    def install(cls) -> StopSignal:
        stop = cls()
        for signum in STOP_SIGNALS:
            signal.signal(signum, stop._on_signal)
        signal.set_wakeup_fd(stop._write, warn_on_full_buffer=False)
        return stop

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signum

    def wait(self, timeout: float | None = None) -> str | None:
        """Sleep until a stop signal (its name) or ``timeout`` (None)."""
        while self.received is None:
            ready, _, _ = select.select([self._read], [], [], timeout)
            if ready:
                try:
                    while os.read(self._read, 512):
                        pass
                except BlockingIOError:
                    pass
            elif timeout is not None:
                break
        return signal.Signals(self.received).name if self.received else None

    def ignore_from_now_on(self) -> None:
        """After the shutdown: a repeated signal must not turn exit 0 into death by
        signal while the interpreter finalizes (it restores the default actions of the
        signals it handled, but leaves ignored ones ignored)."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
