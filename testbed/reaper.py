"""``python -m testbed.reaper CMD...``: run CMD, and when it ends, say what it left running.

For the tests that interrupt the soak and the benchmark: did they stop every process
they started? The reaper marks itself a child subreaper (Linux ``prctl``), so a process
CMD started, at any depth, that outlives its parent is adopted by the reaper instead of
by init. Once CMD has exited, the processes still adopted are what it left behind: the
reaper prints them, kills them (SIGKILL, by PID), reaps them and exits with CMD's exit
code (128 + N when a signal N ended it).

Two JSON lines on stderr, among anything CMD wrote there:

    {"reaper": "started", "pid": 1234}
    {"reaper": "ended", "exit": 130, "left": [[1301, "java ... QuorumPeerMain ..."]],
     "seen": {"1301": "state S, in futex_wait_queue; fds 0 /dev/null, 1 pipe:[4127], ..."}}

The first comes as soon as CMD runs, so a test can signal CMD by its PID. The reaper
ignores the stop signals itself: they are for CMD. ``Reaped`` is the test's side:

    run = Reaped(["python", "-m", "soak", ...], tmp / "soak.log")
    os.kill(run.pid, signal.SIGINT)         # CMD's PID, not the reaper's
    ended, output = run.finish(timeout=60)  # ended["left"]: what CMD left running
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .processes import REPO_ROOT, children_of, wait_until

__all__ = ["Reaped", "describe", "main"]

_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>


def _reap_zombies() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m testbed.reaper CMD [ARG...]", file=sys.stderr)
        return 2
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"reaper: prctl: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_IGN)
    # CMD gets the default actions back: an ignored signal stays ignored across exec.
    child = subprocess.Popen(argv, restore_signals=True, preexec_fn=_default_signals)
    print(json.dumps({"reaper": "started", "pid": child.pid}), file=sys.stderr, flush=True)
    code = child.wait()
    code = 128 - code if code < 0 else code
    _reap_zombies()
    # A process already in its exit is not left running, it is ending: a bash process
    # substitution, say, that CMD cannot wait for. CMD may well have waited for the
    # end of its output (a pipe's reader sees EOF when the writer's files are closed,
    # in the middle of the writer's exit), so such a child can still be there for a
    # moment: not counted, and waited for below.
    left = children_of(os.getpid(), exiting=False)
    seen = {str(pid): describe(pid) for pid, _cmd in left}
    for pid, _cmd in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid, _cmd in left:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    left += _await_exits(_EXITING_WITHIN_S)
    report: dict[str, Any] = {"reaper": "ended", "exit": code, "left": left}
    if seen:
        report["seen"] = seen
    print(json.dumps(report), file=sys.stderr, flush=True)
    return code


# How long a child already in its exit may take to become a zombie: the rest of the
# kernel's do_exit, some milliseconds even with both cores busy.
_EXITING_WITHIN_S = 10.0


def _await_exits(within_s: float) -> list[tuple[int, str]]:
    """Reap the children that were ending; those still there after ``within_s`` (none
    should be) are killed and returned."""
    deadline = time.monotonic() + within_s
    while (ending := children_of(os.getpid())) and time.monotonic() < deadline:
        time.sleep(0.01)
        _reap_zombies()
    for pid, _cmd in ending:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return ending


def describe(pid: int, proc: Path = Path("/proc")) -> str:
    """What a process left running was doing, for the report: its state, where it
    waits in the kernel, and its open files ("state S, in pipe_read; fds 0 pipe:[123],
    1 /tmp/x"). Read before it is killed; "" once it is gone."""
    base = proc / str(pid)
    try:
        fields = (base / "stat").read_text().rsplit(")", 1)[1].split()
        wchan = (base / "wchan").read_text().strip() or "-"
        fds = []
        for fd in sorted((base / "fd").iterdir(), key=lambda entry: int(entry.name)):
            with contextlib.suppress(OSError):
                fds.append(f"{fd.name} {os.readlink(fd)}")
    except OSError:
        return ""
    return f"state {fields[0]}, in {wchan}; fds {', '.join(fds)}"


def _default_signals() -> None:
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)


class Reaped:
    """A command run under the reaper, its output in ``log`` (stdout) and ``log``.stderr."""

    def __init__(
        self,
        argv: list[str],
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.log = log
        self._err_path = log.with_suffix(".stderr")
        with open(log, "wb") as out, open(self._err_path, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "testbed.reaper", *argv],
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, CMD's too: Ctrl-C is killpg
            )
        self.pid: int = wait_until(
            lambda: self._report("started").get("pid"), 30, message="the reaper's command"
        )
        self.started = time.monotonic()

    def output(self) -> str:
        """What CMD wrote so far, stdout then stderr (the reaper's lines left out)."""
        err = [
            line
            for line in self._err_path.read_text(errors="replace").splitlines(keepends=True)
            if not line.startswith('{"reaper"')
        ]
        return self.log.read_text(errors="replace") + "".join(err)

    def _report(self, kind: str) -> dict[str, Any]:
        for line in self._err_path.read_text(errors="replace").splitlines():
            if line.startswith('{"reaper"'):
                report = json.loads(line)
                if report["reaper"] == kind:
                    return report
        return {}

    def finish(self, timeout: float) -> tuple[dict[str, Any], str]:
        """Once it has ended: the reaper's last report ({} if the reaper had to be
        killed) and everything CMD wrote."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        return self._report("ended"), self.output()

    def kill(self) -> None:
        """SIGKILL the reaper's process group, CMD's with it (a test's last resort)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
