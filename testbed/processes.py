"""Worker processes under test, and polling with a deadline.

Usage::

    worker = WorkerProcess("service1", {"ZK_HOSTS": hosts}, tmp / "w1.log", name="w1")
    worker.start()
    elected = worker.wait_for_event(lambda e: e["event"] == Event.LEADER_ELECTED, timeout=15)
    assert worker.stop() == 0          # SIGTERM, then SIGKILL by PID after the deadline

A worker runs exactly as its container does (``python -m service1`` from the repo
root); stdout and stderr go to one log file that the tests read as JSON lines. Every
process is signalled by its own PID, never by name, and an ``atexit`` hook kills any
a caller forgot.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from common.logreader import Record, parse_json_line, record_of
from common.shutdown import STOP_SIGNALS

REPO_ROOT = Path(__file__).resolve().parents[1]

# The modules (``python -m``) that unblock the stop signals themselves: the workers
# (common/shutdown.py, once its handlers are in place) and bench/crowd.py (sigwait).
UNBLOCKS_STOP_SIGNALS = frozenset({"service1", "service2", "bench.crowd"})

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float, interval: float = 0.05, message: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy; return that value.

    Raises AssertionError naming ``message`` and the seconds waited when the deadline
    passes (the predicate is tried once more at the deadline).
    """
    started = time.monotonic()
    deadline = started + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            waited = time.monotonic() - started
            raise AssertionError(f"timed out after {waited:.1f} s waiting for: {message}")
        time.sleep(interval)


class WorkerProcess:
    """One worker process: start, signal by PID, stop, and read its JSON log lines."""

    def __init__(
        self,
        module: str,
        env: dict[str, str],
        log_path: Path,
        name: str,
        cwd: Path = REPO_ROOT,
        argv: list[str] | None = None,
        stderr_path: Path | None = None,
    ) -> None:
        self.module = module
        self.env = {k: str(v) for k, v in env.items()}
        self.log_path = Path(log_path)
        self.stderr_path = stderr_path  # None: stderr goes to log_path too
        self.name = name
        self.cwd = cwd
        self.argv = argv or [sys.executable, "-m", module]
        self._process: subprocess.Popen[bytes] | None = None
        self._events: list[dict[str, Any]] = []
        self._read_offset = 0
        self._partial = b""
        self.started_at: float | None = None  # epoch seconds, just before Popen
        # Where its ledger can be read (the whole ensemble, whatever ZK_HOSTS points
        # through): set by whoever starts it next to an ensemble.
        self.ledger_hosts: str | None = None

    def __repr__(self) -> str:
        return f"WorkerProcess({self.name!r}, module={self.module!r}, pid={self.pid})"

    @property
    def unblocks_stop_signals(self) -> bool:
        """Whether the program unblocks the stop signals itself once it can take them:
        ours (common/shutdown.py; bench/crowd.py takes them with sigwait), which are
        therefore started with them blocked."""
        return self.argv == [sys.executable, "-m", self.module] and (
            self.module in UNBLOCKS_STOP_SIGNALS
        )

    # -- life cycle ----------------------------------------------------------------

    def start(self) -> WorkerProcess:
        if self._process is not None:
            raise RuntimeError(f"worker {self.name} already started (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.started_at = time.time()
        with open(self.log_path, "wb") as out:
            err = open(self.stderr_path, "wb") if self.stderr_path else None  # noqa: SIM115
            try:
                # Own session: Ctrl-C on the test run must not reach the workers
                # (a test decides which signal each one gets). Our Python workers start
                # with the stop signals blocked, so that one sent while the interpreter
                # starts waits for their handlers (common/shutdown.py unblocks them)
                # instead of killing them by its default action. Only ours: any other
                # program (the kazoo baseline) never unblocks them, and would never
                # see a SIGTERM at all.
                blocked = self.unblocks_stop_signals
                with stop_signals_blocked() if blocked else contextlib.nullcontext():
                    self._process = start_process(
                        self.argv,
                        cwd=self.cwd,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=err if err is not None else subprocess.STDOUT,
                        start_new_session=True,
                    )
            finally:
                if err is not None:
                    err.close()
        _LIVE_WORKERS.add(self)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def returncode(self) -> int | None:
        return self._process.poll() if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to this worker's PID (no-op once it has exited)."""
        if self.is_running():
            assert self._process is not None
            self._process.send_signal(sig)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def kill(self) -> int | None:
        """SIGKILL and reap; the exit code (-9), or the earlier one if it had exited."""
        self.signal(signal.SIGKILL)
        return self.wait(timeout=10)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if still running after ``timeout`` seconds."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (and SIGCONT, in case it is paused); SIGKILL after ``timeout``."""
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            self._process.send_signal(signal.SIGCONT)
            if self.wait(timeout) is None:
                self._process.kill()
                self._process.wait(timeout=10)
        return self._process.returncode

    # -- the log -------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_text(self) -> str:
        if self.stderr_path is None:
            return self.log_text()
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def records(self) -> list[Record]:
        """``events()`` as common.logreader Records, under this worker's name."""
        return [r for e in self.events() if (r := record_of(e, service=self.name)) is not None]

    def events(self) -> list[dict[str, Any]]:
        """Every JSON object logged so far, in order; other lines are skipped.

        Reads only what was appended since the last call (twenty workers are polled
        twenty times a second in some tests).
        """
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._read_offset)
                chunk = log.read()
        except FileNotFoundError:
            return list(self._events)
        self._read_offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an unfinished last line waits for its newline
        for line in lines:
            event = parse_json_line(line)
            if event is not None:
                self._events.append(event)
        return list(self._events)

    def wait_for_event(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float, message: str = ""
    ) -> dict[str, Any]:
        """The first event (oldest first) for which ``pred`` holds; poll until timeout."""

        def first_match() -> dict[str, Any] | None:
            return next((e for e in self.events() if pred(e)), None)

        try:
            return wait_until(first_match, timeout, message=message or f"an event in {self.name}")
        except AssertionError as err:
            raise AssertionError(
                f"{err} (worker {self.name}, pid {self.pid}, returncode {self.returncode})"
            ) from None


def event_named(name: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    """A predicate: ``event == name`` and every given field equal (for wait_for_event)."""

    def pred(event: dict[str, Any]) -> bool:
        return event.get("event") == name and all(event.get(k) == v for k, v in fields.items())

    return pred


class Closed(RuntimeError):
    """The test bed is stopping every process it started: none may start now."""


# Every process the test bed starts, until it has exited; and whether starting is over.
_STARTING = threading.Lock()
_STARTED: set[subprocess.Popen[Any]] = set()
_closed = False


def hangups_reach_children() -> bool:
    """A session started under ``nohup`` (or by anything else that ignores SIGHUP) still
    starts its programs with SIGHUP at its default action; True when that needed doing.

    An ignored signal stays ignored across fork and exec, and the programs keep it so on
    purpose (common/shutdown.py: ``nohup`` asked them to outlive their terminal); a test
    of what SIGHUP does to them would wait for a handler that never comes. A caught
    signal is reset to its default by exec, so catching SIGHUP here, and doing nothing
    with it, gives every program started from now on its default, by construction,
    while this process goes on ignoring hangups as ``nohup`` asked. Main thread only.
    """
    if signal.getsignal(signal.SIGHUP) != signal.SIG_IGN:
        return False
    signal.signal(signal.SIGHUP, _hangup_ignored)
    return True


def _hangup_ignored(_signum: int, _frame: object) -> None:
    """Caught only so that exec resets it: the session ignores hangups, as asked."""


@contextlib.contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Block the stop signals in this thread while the body runs: a child forked and
    executed meanwhile inherits the mask (exec keeps it), so a stop signal sent to it
    before it installs its handlers stays pending rather than killing it."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def start_process(argv: list[str], **popen: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen(argv, **popen)``, registered for ``stop_every_process``.

    Raises Closed once that has begun: a run being interrupted (testbed.interrupt)
    must not start a worker or a server behind the back of the one stopping them.
    """
    with _STARTING:
        if _closed:
            raise Closed(f"not starting {argv[0]}: every process is being stopped")
        for done in [p for p in _STARTED if p.poll() is not None]:
            _STARTED.discard(done)
        process = subprocess.Popen(argv, **popen)
        _STARTED.add(process)
    return process


def run_process(argv: list[str], timeout: float, **popen: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(argv, capture_output=True, text=True, timeout=...)`` through
    ``start_process``; the process is killed if the timeout passes."""
    process = start_process(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def stop_every_process() -> int:
    """No process may start from now on; SIGKILL (by PID) and reap every one started
    that is still running. How many there were."""
    global _closed
    with _STARTING:
        _closed = True
        running = [p for p in _STARTED if p.poll() is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.kill()  # SIGKILL ends a stopped (SIGSTOPped) process too
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    return len(running)


# The kernel's PF_EXITING (include/linux/sched.h), in /proc/PID/stat's flags field: set
# as a process enters do_exit, before it lets go of its memory and files. From then on
# it ends without running another instruction of its own.
_PF_EXITING = 0x4


def children_of(
    parent: int, *, exiting: bool = True, proc: Path = Path("/proc")
) -> list[tuple[int, str]]:
    """(pid, command line) of each live child of ``parent`` (zombies left out).

    ``exiting=False`` leaves out the children already in their exit, too: past the
    point of no return, and past reading a command line (it reads empty once the
    memory is gone), but not yet zombies.
    """
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp session tty_nr tpgid flags ...: comm may hold
        # spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        state, ppid, flags = fields[0], int(fields[1]), int(fields[6])
        if ppid != parent or state == "Z":
            continue
        if not exiting and flags & _PF_EXITING:
            continue
        found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


_LIVE_WORKERS: weakref.WeakSet[WorkerProcess] = weakref.WeakSet()


@atexit.register
def _kill_leftover_workers() -> None:
    for worker in list(_LIVE_WORKERS):
        if worker.is_running():
            worker.kill()
