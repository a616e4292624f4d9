"""What a process costs: resident memory and CPU time, read from Linux's ``/proc``.

Usage::

    before = ProcSample.read(worker.pid)       # None once the process is gone
    time.sleep(12)
    after = ProcSample.read(worker.pid)
    after.rss_mb, cpu_seconds_per_minute(before, after)

Why ``/proc`` and not ``ps`` or psutil: a few small files per sample, no dependency,
and the kernel's own counters. CPU time comes from ``/proc/<pid>/task/*/schedstat``,
whose first field is the nanoseconds each thread has run: an idle follower uses a few
milliseconds in a 12 s window, far below the 10 ms clock tick in which ``stat``'s
``utime + stime`` count (fields 14 and 15). Threads come and go (a JVM retires idle
compiler threads, taking their start-up seconds with them), so the window's CPU time
is summed thread by thread: each thread's growth, or all of a thread born inside the
window; a thread that ends inside the window takes its share with it, so this can
only under-count. Where ``schedstat`` is missing (a kernel without CONFIG_SCHED_INFO)
the ticks are used.
``VmRSS`` of ``status`` is the resident set in kB, shared pages (the JVM's class data
archive, libpython) included.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_ticks(stat: str) -> int:
    """``utime + stime`` from the text of ``/proc/<pid>/stat``.

    The second field, the command name in parentheses, may itself hold spaces and
    parentheses ("(java (x))"): the fields are counted from the last ")".
    """
    end = stat.rindex(")")
    fields = stat[end + 1 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return int(fields[11]) + int(fields[12])


def schedstat_ns(text: str) -> int:
    """The nanoseconds on a CPU from the text of one thread's ``schedstat``."""
    return int(text.split()[0])


def rss_kb(status: str) -> int | None:
    """``VmRSS`` in kB from the text of ``/proc/<pid>/status`` (None for a zombie)."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


@dataclass(frozen=True)
class ProcSample:
    """One reading of one process: when, its CPU ticks so far, its resident set."""

    pid: int
    monotonic: float
    cpu_ticks: int
    rss_kb: int | None
    threads_ns: tuple[tuple[int, int], ...] | None = None  # (tid, ns on a CPU) per thread

    @property
    def cpu_ns(self) -> int | None:
        return None if self.threads_ns is None else sum(ns for _, ns in self.threads_ns)

    @classmethod
    def read(cls, pid: int | None, proc: Path = _PROC) -> ProcSample | None:
        """A sample of ``pid`` now; None if there is no such process (or no pid)."""
        if pid is None:
            return None
        base = proc / str(pid)
        try:
            stat = (base / "stat").read_text()
            status = (base / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return None
        return cls(pid, time.monotonic(), cpu_ticks(stat), rss_kb(status), _threads_ns(base))

    @property
    def rss_mb(self) -> float | None:
        return None if self.rss_kb is None else self.rss_kb / 1024


def _threads_ns(base: Path) -> tuple[tuple[int, int], ...] | None:
    found = []
    try:
        tasks = list((base / "task").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return None
    for task in tasks:
        try:
            found.append((int(task.name), schedstat_ns((task / "schedstat").read_text())))
        except (FileNotFoundError, ProcessLookupError):
            if not (task / "stat").exists():
                continue  # the thread ended after the listing
            return None  # no schedstat on this kernel
    return tuple(sorted(found))


def cpu_seconds_per_minute(
    before: ProcSample | None, after: ProcSample | None, clock_ticks: int = _CLOCK_TICKS
) -> float | None:
    """CPU seconds the process used per minute of wall time between two samples."""
    if before is None or after is None or before.pid != after.pid:
        return None
    wall = after.monotonic - before.monotonic
    if wall <= 0:
        return None
    if before.threads_ns is not None and after.threads_ns is not None:
        earlier = dict(before.threads_ns)
        used = sum(max(ns - earlier.get(tid, 0), 0) for tid, ns in after.threads_ns) / 1e9
    else:
        used = (after.cpu_ticks - before.cpu_ticks) / clock_ticks
    return used / wall * 60
