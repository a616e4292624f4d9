"""`make logs`: both workers' log lines, merged by time, one short line each.

    python -m workshop.logs [--compose "docker compose"] [--tail 20] [--no-follow]

Runs ``<compose> logs -f --no-color --timestamps --tail N service1 service2`` and
prints every worker event as

    10:00:01.234  service1  Processing... token 0x100000003

whichever LOG_FORMAT the workers use: JSON lines are shortened to the same text view
as LOG_FORMAT=text (common.logs). Compose interleaves the two containers' streams as
they arrive, and prints each one's --tail backlog in a block; this holds every line
back 0.3 s and lets them out in the order of their own timestamps, so a takeover reads
top to bottom. Each worker has its colour, a new leader and a lost leadership stand
out; NO_COLOR, TERM=dumb and pipes get none. Other lines (Compose's own) pass as they
are. Ctrl-C exits 0.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TextIO

from common.logs import Event, rfc3339
from common.settings import wants_color
from common.shutdown import StopSignals, Wakeup, exit_now

from .compose import ComposeError, compose_command
from .records import LineReader, Record

__all__ = ["format_record", "main"]

WORKERS = ("service1", "service2")
HOLD_S = 0.3
# How long Compose's `logs` gets to end after SIGTERM (then SIGKILL), or to end by itself
# once its output has ended.
_CHILD_EXIT_S = 2.0
_RESET = "\x1b[0m"
_LANE_COLOURS = ("36", "35", "33", "34")  # cyan, magenta, yellow, blue
_EVENT_COLOURS = {Event.LEADER_ELECTED: "1;32", Event.LEADERSHIP_LOST: "1;31", Event.SHUTDOWN: "1"}
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def format_record(record: Record, lanes: Sequence[str] = WORKERS, color: bool = False) -> str:
    """`10:00:01.234  service1  Processing... token 0x100000003` (with colours if asked)."""
    clock = rfc3339(record.time, 3)[11:23]
    width = max(len(lane) for lane in lanes)
    level = "" if record.level == "INFO" else f"{record.level} "
    lane, text = f"{record.service:<{width}}", f"{level}{record.text}"
    if color:
        index = lanes.index(record.service) if record.service in lanes else len(lanes)
        lane = f"\x1b[{_LANE_COLOURS[index % len(_LANE_COLOURS)]}m{lane}{_RESET}"
        tint = _EVENT_COLOURS.get(record.event) or ("33" if record.level != "INFO" else "")
        if tint:
            text = f"\x1b[{tint}m{text}{_RESET}"
    return f"{clock}  {lane}  {text}"


class _Merger:
    """Lines in, in arrival order; records out, in time order, each held back HOLD_S."""

    def __init__(self, out: TextIO, color: bool) -> None:
        self._out = out
        self._color = color
        self._reader = LineReader(services=WORKERS)
        self._held: list[tuple[float, int, float, Record]] = []  # (time, seq, arrived, record)
        self._seq = itertools.count()

    def take(self, line: str, arrived: float) -> None:
        record = self._reader.read(line)
        if record is None:
            plain = _ANSI.sub("", line).rstrip()
            if plain and not plain.startswith("Attaching to"):
                self._write(plain)
            return
        heapq.heappush(self._held, (record.time, next(self._seq), arrived, record))

    def release(self, now: float, everything: bool = False) -> None:
        while self._held and (everything or self._held[0][2] + HOLD_S <= now):
            _time, _seq, _arrived, record = heapq.heappop(self._held)
            self._write(format_record(record, WORKERS, self._color))

    def next_due(self, now: float) -> float | None:
        return max(0.0, self._held[0][2] + HOLD_S - now) if self._held else None

    def _write(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()


def _pump(stream: TextIO, lines: deque[tuple[float, str | None]], wakeup: Wakeup) -> None:
    """The reader thread: each line of the child's output, stamped, then None at its end."""
    for line in stream:
        lines.append((time.monotonic(), line))
        wakeup.notify()
    lines.append((time.monotonic(), None))
    wakeup.notify()


def follow(compose: list[str], tail: int, follow_on: bool, out: TextIO) -> int:
    """Print the merged lines until Compose ends (--no-follow) or a stop signal (exit 0).

    The main thread waits on one self-pipe for lines and for a signal alike
    (common/shutdown.py), so Ctrl-C or SIGTERM ends it at once, whatever the reader
    thread is doing; the Compose child, in a session of its own, is stopped by PID.
    """
    wakeup = Wakeup()
    signals = StopSignals(wakeup)
    if threading.current_thread() is threading.main_thread():
        signals.install()  # for good: the program ends with exit_now
    argv = [*compose, "logs", "--no-color", "--timestamps", f"--tail={tail}"]
    argv += ["-f"] if follow_on else []
    try:
        child = subprocess.Popen(
            [*argv, *WORKERS],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            errors="replace",
            start_new_session=True,  # Ctrl-C is ours to handle; the child is stopped by PID
        )
    except FileNotFoundError:
        print(f"logs: `{compose[0]}` is not installed", file=sys.stderr)
        return 1
    assert child.stdout is not None
    lines: deque[tuple[float, str | None]] = deque()
    threading.Thread(target=_pump, args=(child.stdout, lines, wakeup), daemon=True).start()
    merger = _Merger(out, wants_color(out))
    try:
        while not signals.requested:
            if not lines:
                wakeup.wait(merger.next_due(time.monotonic()))
            while lines and not signals.requested:
                arrived, line = lines.popleft()
                if line is None:  # Compose's output ended: so has Compose, or nearly
                    merger.release(time.monotonic(), everything=True)
                    code = _reaped(child, _CHILD_EXIT_S)
                    return 1 if code is None else code
                merger.take(line, arrived)
            merger.release(time.monotonic())
        return 0
    except BrokenPipeError:
        return 0  # `| head`: the reader has seen enough
    finally:
        if child.poll() is None:
            child.terminate()
            if _reaped(child, _CHILD_EXIT_S) is None:
                child.kill()
                _reaped(child, _CHILD_EXIT_S)


def _reaped(child: subprocess.Popen[str], within_s: float) -> int | None:
    """The child's exit code once it has ended, None if it is still running after
    ``within_s``."""
    try:
        return child.wait(timeout=within_s)
    except subprocess.TimeoutExpired:
        return None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        print(f"logs: {message} (see python -m workshop.logs --help)", file=sys.stderr)
        sys.exit(2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="logs", description="Both workers' logs, merged by time, short.")
    parser.add_argument("--compose", help="the Compose command (default: detect v2, else v1)")
    parser.add_argument("--tail", type=int, default=20, help="lines of history per worker")
    parser.add_argument("--no-follow", action="store_true", help="print and exit")
    args = parser.parse_args(argv)
    if args.tail < 0:
        parser.error(f"--tail must be 0 or more, got {args.tail}")
    try:
        compose = compose_command(args.compose)
    except ComposeError as exc:
        print(f"logs: {exc}", file=sys.stderr)
        return 1
    return follow(compose, args.tail, not args.no_follow, sys.stdout)


if __name__ == "__main__":
    exit_now(main())
