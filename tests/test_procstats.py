"""testbed.procstats: /proc parsing for the benchmark's memory and CPU rows."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from testbed.procstats import (
    ProcSample,
    cpu_seconds_per_minute,
    cpu_ticks,
    rss_kb,
    schedstat_ns,
)

# A JVM's stat line, the command name holding a space and parentheses.
_STAT = (
    "4242 (java (main) x) S 1 4242 4242 0 -1 4194560 9055 0 3 0 "
    "123 45 0 0 20 0 27 0 51588 3133440000 14870 18446744073709551615 1 1 0 0 0 0 0"
)
_STATUS = "Name:\tjava\nState:\tS (sleeping)\nVmHWM:\t   61000 kB\nVmRSS:\t   59392 kB\n"


def test_cpu_ticks_counts_fields_from_the_last_parenthesis() -> None:
    assert cpu_ticks(_STAT) == 123 + 45


def test_rss_kb_reads_vmrss_and_none_for_a_zombie() -> None:
    assert rss_kb(_STATUS) == 59392
    assert rss_kb("Name:\tjava\nState:\tZ (zombie)\n") is None


def test_schedstat_ns_is_the_first_field() -> None:
    assert schedstat_ns("190966401 11827855 390\n") == 190966401


def _fake_proc(root: Path, threads: dict[str, str]) -> None:
    base = root / "4242"
    (base / "task").mkdir(parents=True)
    (base / "stat").write_text(_STAT)
    (base / "status").write_text(_STATUS)
    for tid, schedstat in threads.items():
        (base / "task" / tid).mkdir()
        (base / "task" / tid / "stat").write_text(_STAT)
        (base / "task" / tid / "schedstat").write_text(schedstat)


def test_sample_reads_a_fake_proc_and_none_for_a_missing_pid(tmp_path: Path) -> None:
    _fake_proc(tmp_path, {"4242": "2000000 5 7\n", "4250": "500000 1 2\n"})
    sample = ProcSample.read(4242, proc=tmp_path)
    assert sample is not None
    assert (sample.cpu_ticks, sample.rss_kb, sample.rss_mb) == (168, 59392, 58.0)
    assert sample.cpu_ns == 2_500_000  # both threads
    assert ProcSample.read(4243, proc=tmp_path) is None
    assert ProcSample.read(None, proc=tmp_path) is None


def test_sample_without_schedstat_keeps_the_ticks(tmp_path: Path) -> None:
    _fake_proc(tmp_path, {"4242": "1 1 1\n"})
    (tmp_path / "4242" / "task" / "4242" / "schedstat").unlink()
    sample = ProcSample.read(4242, proc=tmp_path)
    assert sample is not None and sample.cpu_ns is None and sample.cpu_ticks == 168


def test_cpu_seconds_per_minute_prefers_nanoseconds_then_ticks() -> None:
    before = ProcSample(7, 100.0, cpu_ticks=1000, rss_kb=1, threads_ns=((7, 10_000_000),))
    after = ProcSample(7, 112.0, cpu_ticks=1001, rss_kb=1, threads_ns=((7, 16_000_000),))
    # 6 ms in 12 s: 0.03 s per minute (one 10 ms tick would have said 0.05).
    assert cpu_seconds_per_minute(before, after) == pytest.approx(0.03)
    ticks_only = ProcSample(7, monotonic=112.0, cpu_ticks=1012, rss_kb=1)
    # 12 ticks of 1/100 s in 12 s: 0.01 s per second, 0.6 s per minute.
    assert cpu_seconds_per_minute(before, ticks_only, clock_ticks=100) == pytest.approx(0.6)
    assert cpu_seconds_per_minute(before, None) is None
    assert cpu_seconds_per_minute(before, ProcSample(8, 112.0, 1012, 1)) is None
    assert cpu_seconds_per_minute(after, after) is None


def test_cpu_seconds_per_minute_sums_thread_by_thread() -> None:
    # Thread 8 (a JVM's compiler thread, 2 s of start-up) retires inside the window,
    # thread 9 is born in it: 3 ms + 9's 1 ms, not the total's drop below zero.
    before = ProcSample(7, 100.0, 0, 1, threads_ns=((7, 5_000_000), (8, 2_000_000_000)))
    after = ProcSample(7, 112.0, 0, 1, threads_ns=((7, 8_000_000), (9, 1_000_000)))
    assert cpu_seconds_per_minute(before, after) == pytest.approx(0.004 / 12 * 60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_sample_of_this_process_is_plausible() -> None:
    sample = ProcSample.read(os.getpid())
    assert sample is not None and sample.rss_mb is not None
    assert 5 < sample.rss_mb < 2000
    assert sample.cpu_ticks > 0
    assert sample.cpu_ns is None or sample.cpu_ns > 0
