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
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import TextIO

from common.logs import Event, rfc3339
from common.settings import wants_color

from .compose import ComposeError, compose_command
from .records import LineReader, Record

__all__ = ["format_record", "main"]

WORKERS = ("service1", "service2")
HOLD_S = 0.3
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


class _Stop(Exception):
    pass


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


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


def _pump(stream: TextIO, lines: queue.Queue[tuple[float, str | None]]) -> None:
    for line in stream:
        lines.put((time.monotonic(), line))
    lines.put((time.monotonic(), None))


def follow(compose: list[str], tail: int, follow_on: bool, out: TextIO) -> int:
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
    lines: queue.Queue[tuple[float, str | None]] = queue.Queue()
    threading.Thread(target=_pump, args=(child.stdout, lines), daemon=True).start()
    merger = _Merger(out, wants_color(out))
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        while True:
            try:
                arrived, line = lines.get(timeout=merger.next_due(time.monotonic()))
            except queue.Empty:
                merger.release(time.monotonic())
                continue
            if line is None:
                break
            merger.take(line, arrived)
            merger.release(time.monotonic())
        merger.release(time.monotonic(), everything=True)
        return child.wait(timeout=10)
    except (KeyboardInterrupt, _Stop, BrokenPipeError):
        return 0
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)
        child.stdout.close()


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
    sys.exit(main())
