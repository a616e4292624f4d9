"""Stop signals at random moments on the host tools that follow a compose project: `make
logs`, `make watch`, and a demo with its log followers, on each Compose generation.

Each command runs under ``testbed.reaper``, which reports whatever it leaves running
(a `docker compose logs -f`, a `docker logs -f` follower, the demo's printer). The test
waits until the command catches the stop signals and is doing its work, waits a random
moment more, then sprays SIGTERM, SIGINT, SIGHUP and SIGQUIT at it, 0 to 50 ms apart
(seeded), both cores kept busy by the test. And as a terminal's Ctrl-C does: SIGINT to
the whole process group (`make`, Python, Compose). Judged: the exit code each one
promises, how long it took, nothing left running, no traceback, and for the demo, the
project put back as it was (every container running and healthy, one worker leading).
"""

from __future__ import annotations

import random
import signal
import sys
import time
from pathlib import Path

import pytest

from common.shutdown import STOP_SIGNALS
from testbed.load import catches, spray_signals
from testbed.processes import wait_until
from testbed.reaper import Reaped
from tests.e2e.compose_project import ComposeProject

pytestmark = pytest.mark.e2e

_BAD_OUTPUT = ("Traceback", "ignored due to race condition", "Exception ignored")
# `make logs` lets Compose's `logs -f` end (SIGTERM, up to 2 s, then SIGKILL); `make
# watch` gives the observer's session half a second. Both are bounded waits, a few
# milliseconds of CPU besides: the scheduler gives them their share among the hogs.
LOGS_EXIT_S = 3.0
WATCH_EXIT_S = 1.0


def _python_tool(project: ComposeProject, *args: str) -> list[str]:
    return [sys.executable, "-m", *args, "--compose", project.command_words]


def _spray(run: Reaped, rng: random.Random, *, group: bool) -> tuple[float, int]:
    """Signals until the command ends: (seconds from the first to its end, how many)."""
    first = time.monotonic()
    if group:  # Ctrl-C at a terminal: SIGINT to the foreground process group
        sent = spray_signals(
            -run.process.pid,  # the reaper's process group: it ignores SIGINT, CMD does not
            (signal.SIGINT,),
            rng,
            until=lambda: run.process.poll() is not None,
            within_s=150,
        )
    else:
        sent = spray_signals(
            run.pid, STOP_SIGNALS, rng, until=lambda: run.process.poll() is not None, within_s=150
        )
    return time.monotonic() - first, sent


def _judge(ended: dict, output: str, took: float, bound_s: float, sent: int) -> None:
    assert ended, f"the reaper was killed: the command hung\n{output[-4000:]}"
    assert ended["left"] == [], (
        f"left running: {ended['left']}, seen as {ended.get('seen')}\n{output[-4000:]}"
    )
    assert took <= bound_s, f"{took:.2f} s to end after {sent} signals\n{output[-2000:]}"
    for bad in _BAD_OUTPUT:
        assert bad not in output, f"wrote {bad!r}:\n{output[-4000:]}"


@pytest.mark.parametrize("group", [False, True], ids=["signals", "ctrl-c"])
@pytest.mark.parametrize("tool", ["logs", "watch"])
def test_host_tool_signals_at_random_moments_exit_0(
    project: ComposeProject, busy_machine, tmp_path: Path, tool: str, group: bool
) -> None:
    rng = random.Random(f"{tool}-{group}-{project.generation}")
    project.wait_steady()
    if tool == "logs":
        argv, bound, started = _python_tool(project, "workshop.logs"), LOGS_EXIT_S, "Processing"
    else:
        argv = [*_python_tool(project, "workshop.status"), "--watch"]
        bound, started = WATCH_EXIT_S, "leader"
    run = Reaped(argv, tmp_path / f"{tool}.log", env=project.env)
    try:
        wait_until(lambda: catches(run.pid, STOP_SIGNALS), 30, interval=0.005, message="handlers")
        wait_until(lambda: started in run.output(), 60, message=f"{tool} at work")
        time.sleep(rng.uniform(0, 2.0))  # a random moment of its work, not a wait
        took, sent = _spray(run, rng, group=group)
        ended, output = run.finish(timeout=30)
    finally:
        run.kill()
    _judge(ended, output, took, bound, sent)
    assert ended["exit"] == 0, f"exit {ended['exit']} after {sent} signals\n{output[-4000:]}"


@pytest.mark.parametrize("group", [False, True], ids=["signals", "ctrl-c"])
def test_demo_signals_at_random_moments_put_back_and_leave_nothing(
    project: ComposeProject, busy_machine, tmp_path: Path, group: bool
) -> None:
    """The stop demo interrupted at a random moment: it puts back what it changed (the
    stopped worker started again), stops its log followers and its printer, and exits
    130 with one line saying so, however many signals come meanwhile."""
    rng = random.Random(f"demo-{group}-{project.generation}")
    project.wait_steady()
    run = Reaped(
        ["docker/demo.sh", "stop"],
        tmp_path / "demo.log",
        env={**project.env, "COMPOSE": project.command_words},
    )
    try:
        wait_until(lambda: "==> " in run.output(), 120, message="the demo under way")
        time.sleep(rng.uniform(0, 4.0))  # somewhere in the demo: before, during, after the stop
        took, sent = _spray(run, rng, group=group)
        ended, output = run.finish(timeout=180)
    finally:
        run.kill()
    # Putting back may start a worker again and wait for it: bounded by the demo's waits.
    _judge(ended, output, took, 150.0, sent)
    if ended["exit"] == 130:
        assert "demo: interrupted; put back what it had changed" in output, output[-4000:]
    else:  # the signals came as it returned: it had finished, and put back, by itself
        assert ended["exit"] == 0, f"exit {ended['exit']}\n{output[-4000:]}"
    # Put back, not waited for: a Ctrl-C ends the demo promptly, and a restarted worker's
    # health check passes a few seconds later.
    wait_until(
        lambda: not project.not_running_and_healthy(),
        90,
        interval=0.5,
        message=f"every container running and healthy after the interrupted demo\n{output[-4000:]}",
    )
    project.wait_steady(timeout=120)
