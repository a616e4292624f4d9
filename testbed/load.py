"""A busy machine on purpose: processes that keep the cores occupied, and signals sprayed
at random moments.

Usage::

    with CpuHogs(2):                       # both cores busy until the block ends
        ...                                # start a command, judge it

    sent = spray_signals(process.pid, (signal.SIGTERM, signal.SIGINT), random.Random(7),
                         until=lambda: process.poll() is not None, within_s=5)

A hog is ``python -c "while True: pass"``: no tool to install, one core each, at the
default priority, in a session of its own, stopped by its PID (and by an ``atexit``
hook, should a caller forget). Timing bugs hide on an idle machine: a test that passes
only there waited for a moment instead of a condition.
"""

from __future__ import annotations

import atexit
import os
import random
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from .processes import start_process

__all__ = ["CpuHogs", "alive", "catches", "spray_signals"]

_HOG = "while True: pass"


class CpuHogs:
    """``count`` processes that each keep one core busy, from ``start()`` to ``stop()``."""

    def __init__(self, count: int) -> None:
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        self.count = count
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes]

    def start(self) -> CpuHogs:
        for _ in range(self.count - len(self._processes)):
            self._processes.append(
                start_process(
                    [sys.executable, "-c", _HOG],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # a Ctrl-C meant for the tests is not theirs
                )
            )
        _LIVE.add(self)
        return self

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
        for process in self._processes:
            process.wait(timeout=10)
        self._processes = []

    def __enter__(self) -> CpuHogs:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()


def spray_signals(
    pid: int,
    signals: Sequence[int],
    rng: random.Random,
    until: Callable[[], bool],
    within_s: float,
    gap_s: tuple[float, float] = (0.0, 0.05),
) -> int:
    """Send ``pid`` signals drawn from ``signals``, ``gap_s`` (seconds, uniform) apart,
    until ``until()`` holds, the process is gone, or ``within_s`` has passed.

    Returns how many were sent. A process that ends meanwhile ends the spray; its
    exit is the caller's to judge.
    """
    sent = 0
    deadline = time.monotonic() + within_s
    while not until() and time.monotonic() < deadline:
        try:
            os.kill(pid, rng.choice(list(signals)))
        except ProcessLookupError:
            break
        sent += 1
        time.sleep(rng.uniform(*gap_s))
    return sent


_LIVE: weakref.WeakSet[CpuHogs] = weakref.WeakSet()


@atexit.register
def _stop_leftover_hogs() -> None:
    for hogs in list(_LIVE):
        hogs.stop()


def catches(pid: int, signals: Sequence[int]) -> bool:
    """True once process ``pid`` has handlers for all of ``signals`` (its SigCgt mask in
    /proc): the moment from which a signal asks it to stop rather than kills it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            caught = int(line.split()[1], 16)
            return all(caught & (1 << (signum - 1)) for signum in signals)
    return False


def alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
