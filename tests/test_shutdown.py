"""common/shutdown.py and the test bed's signal tools, without ZooKeeper: a small program
that catches the stop signals is sprayed with them at random moments, on a busy machine.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from common.shutdown import STOP_SIGNALS, StopSignals, Wakeup, signal_name
from testbed.ensemble import free_ports
from testbed.load import CpuHogs, alive, catches, spray_signals
from testbed.processes import REPO_ROOT, children_of, wait_until
from testbed.reaper import Reaped

# A program shaped like the worker: threads that post news, a main thread that waits on
# the self-pipe, a "shutdown" that takes a moment, then exit_now(0).
_PROGRAM = textwrap.dedent(
    """
    import sys, threading, time
    from common.shutdown import StopSignals, Wakeup, exit_now
    wakeup = Wakeup()
    stop = StopSignals(wakeup).install()
    lock = threading.Lock()
    def chatter():
        while True:
            with lock:
                time.sleep(0.001)
            wakeup.notify()
    for _ in range(3):
        threading.Thread(target=chatter, daemon=True).start()
    print("ready", flush=True)
    while not stop.requested:
        wakeup.wait(None)
        with lock:
            pass
    time.sleep(0.05)  # a shutdown that takes a moment: more signals arrive meanwhile
    print(f"stopped by {stop.name}", flush=True)
    exit_now(0)
    """
)


def test_wakeup_is_woken_by_another_thread_and_times_out_otherwise() -> None:
    wakeup = Wakeup()
    try:
        assert wakeup.wait(0.01) is False
        threading.Timer(0.05, wakeup.notify).start()
        started = time.monotonic()
        assert wakeup.wait(5) is True
        assert time.monotonic() - started < 4
        for _ in range(100_000):  # far more than the pipe holds: never blocks
            wakeup.notify()
        assert wakeup.wait(0) is True
        assert wakeup.wait(0) is False  # every pending wake-up was consumed
    finally:
        wakeup.close()


def test_stop_signals_refuse_a_thread_other_than_main() -> None:
    errors: list[BaseException] = []

    def install() -> None:
        try:
            StopSignals(Wakeup()).install()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join(5)
    assert errors and "main thread" in str(errors[0])


def test_signal_name() -> None:
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(None) == "none"


@pytest.mark.parametrize("seed", range(10))
def test_signals_at_random_moments_end_in_exit_0_without_a_traceback(seed: int) -> None:
    rng = random.Random(seed)
    with CpuHogs(2):
        process = subprocess.Popen(
            [sys.executable, "-c", _PROGRAM],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(lambda: catches(process.pid, STOP_SIGNALS), 10, interval=0.002)
            time.sleep(rng.uniform(0, 0.2))
            sent = spray_signals(
                process.pid,
                STOP_SIGNALS,
                rng,
                until=lambda: process.poll() is not None,
                within_s=10,
                gap_s=(0, 0.005),  # denser than elsewhere: many land during the shutdown
            )
            out, err = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    assert process.returncode == 0, f"exit {process.returncode} after {sent} signals: {err}"
    assert err == "", err
    assert out.startswith("ready\nstopped by SIG"), out


def test_cpu_hogs_run_until_stopped() -> None:
    hogs = CpuHogs(2).start()
    pids = hogs.pids
    try:
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
    finally:
        hogs.stop()
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(ValueError):
        CpuHogs(-1)


def test_reaper_reports_and_stops_what_a_command_leaves_behind(tmp_path: Path) -> None:
    """A command that starts a grandchild and exits: the reaper adopts it, lists it,
    kills it, and exits with the command's code."""
    # The command exits once its grandchild is `sleep`, asleep: until its exec, a forked
    # child is still `sh -c ...` (with both cores busy the reaper once found it so).
    asleep = 'until [ "$(cut -d" " -f2,3 /proc/$!/stat)" = "(sleep) S" ]; do :; done'
    run = Reaped(["sh", "-c", f"sleep 300 </dev/null & {asleep}; exit 3"], tmp_path / "run.log")
    ended, _output = run.finish(timeout=30)
    assert ended["exit"] == 3
    assert [command for _pid, command in ended["left"]] == ["sleep 300 "]
    assert not alive(ended["left"][0][0])
    # What it was doing when found: asleep, its open files named.
    seen = ended["seen"][str(ended["left"][0][0])]
    assert seen.startswith("state S, in ") and "fds 0 /dev/null, 1 " in seen, seen


def test_children_of_leaves_out_zombies_and_on_request_the_children_in_their_exit(
    tmp_path: Path,
) -> None:
    """/proc as the kernel writes it: a name with spaces and parentheses, a zombie, a
    process of another parent, and one in its exit (PF_EXITING, its command line already
    empty), which the demo's process substitutions can be as the demo returns."""

    def process(pid: int, comm: str, state: str, ppid: int, flags: int, cmdline: bytes) -> None:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(
            f"{pid} ({comm}) {state} {ppid} {pid} {pid} 0 -1 {flags} 0 0 0 0 1 2 3 4 20 0 1\n"
        )
        (tmp_path / str(pid) / "cmdline").write_bytes(cmdline)

    process(11, "sleep", "S", 7, 0x400000, b"sleep\x00300\x00")
    process(12, "odd) (name", "R", 7, 0x400040, b"odd\x00")
    process(13, "bash", "Z", 7, 0x40002C, b"")
    process(14, "bash", "R", 7, 0x40004C, b"")  # PF_EXITING: in do_exit
    process(15, "sleep", "S", 8, 0x400000, b"sleep\x001\x00")
    (tmp_path / "self").mkdir()  # not a process directory
    found = sorted(children_of(7, proc=tmp_path))
    assert found == [(11, "sleep 300 "), (12, "odd "), (14, "")]
    assert sorted(children_of(7, exiting=False, proc=tmp_path)) == [
        (11, "sleep 300 "),
        (12, "odd "),
    ]


def test_reaper_reports_nothing_left_and_a_death_by_signal(tmp_path: Path) -> None:
    run = Reaped([sys.executable, "-c", "import time; time.sleep(300)"], tmp_path / "run.log")
    wait_until(lambda: alive(run.pid), 10)
    os.kill(run.pid, signal.SIGTERM)
    ended, _output = run.finish(timeout=30)
    assert ended == {"reaper": "ended", "exit": 128 + signal.SIGTERM, "left": []}


# Loaded into the program under test (PYTHONPATH): records every handler change of a
# stop signal, and says when the interpreter finalizes (atexit runs then).
_SITECUSTOMIZE = textwrap.dedent(
    """
    import atexit, signal, sys
    _real = signal.signal
    _stop = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
    def _recording(signum, handler):
        if signum in _stop:
            print(f"HANDLER {signal.Signals(signum).name} {handler!r}", file=sys.stderr, flush=True)
        return _real(signum, handler)
    signal.signal = _recording
    atexit.register(lambda: print("FINALIZED", file=sys.stderr, flush=True))
    """
)


@pytest.mark.parametrize(
    "argv",
    [["-m", "service1"], ["-m", "common.status", "--watch"], ["-m", "dashboard", "--port"]],
    ids=["worker", "status-watch", "dashboard"],
)
def test_handlers_are_set_once_and_the_exit_skips_finalization(
    tmp_path: Path, argv: list[str]
) -> None:
    """The race CPython reports as "Signal 15 ignored due to race condition" needs a
    handler change after a signal arrived, and the exit code's race needs finalization
    (which puts back SIG_DFL). Neither may happen: each stop signal's handler is set
    once, and the process ends without finalizing. ZooKeeper is not needed: the
    programs are stopped while they try to connect."""
    (tmp_path / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    if argv[-1] == "--port":
        argv = [*argv, str(free_ports(1)[0])]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{tmp_path}:{REPO_ROOT}",
        "ZK_HOSTS": "127.0.0.1:1",
        "ZK_CONNECT_TIMEOUT_S": "0.5",
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, *argv],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: catches(process.pid, STOP_SIGNALS), 10, interval=0.002)
        time.sleep(0.3)
        for _ in range(3):
            process.send_signal(signal.SIGTERM)
            time.sleep(0.05)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 0, (out, err)
    changes = [line.split()[1] for line in err.splitlines() if line.startswith("HANDLER ")]
    assert sorted(changes) == sorted(signal.Signals(s).name for s in STOP_SIGNALS), err
    assert "FINALIZED" not in err
    assert "Traceback" not in err + out


def _ignoring(*signals: int):
    """A preexec_fn: the child starts with ``signals`` ignored, as a shell without job
    control starts a background job (SIGINT, SIGQUIT) or as nohup does (SIGHUP)."""

    def preexec() -> None:
        for signum in signals:
            signal.signal(signum, signal.SIG_IGN)

    return preexec


@pytest.mark.parametrize(
    ("ignored", "sent", "stops"),
    [
        ((signal.SIGINT, signal.SIGQUIT), signal.SIGINT, True),
        ((signal.SIGINT, signal.SIGQUIT), signal.SIGQUIT, True),
        ((signal.SIGHUP,), signal.SIGHUP, False),
        ((signal.SIGHUP,), signal.SIGTERM, True),
    ],
    ids=["bg-job-sigint", "bg-job-sigquit", "nohup-sighup", "nohup-sigterm"],
)
def test_inherited_ignored_signals(ignored: tuple[int, ...], sent: int, stops: bool) -> None:
    """Started as a background job of a script (SIGINT and SIGQUIT ignored), a command
    still stops on them: the `status --watch` that hung in CI had inherited an ignored
    SIGINT. Started under nohup (SIGHUP ignored), it outlives its terminal."""
    process = subprocess.Popen(
        [sys.executable, "-c", _PROGRAM],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_ignoring(*ignored),  # noqa: PLW1509 - the test is single-threaded here
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        process.send_signal(sent)
        if stops:
            out, err = process.communicate(timeout=10)
            assert process.returncode == 0 and err == "", err
            assert out == f"stopped by {signal.Signals(sent).name}\n"
        else:
            with pytest.raises(subprocess.TimeoutExpired):
                process.wait(timeout=1.0)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
