"""`make timeline` (``python -m workshop.timeline``): read the logs, build, draw.

The command's arguments are in ``--help`` and workshop/timeline/__init__.py; wrong
ones end in one line and exit 2.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from common.settings import wants_color

from ..compose import DOCKER_EVENTS, ComposeError, compose_command, docker_events, run
from ..records import LineReader, Record, read_lines
from .build import build
from .model import parse_mark
from .png import render_png
from .text import render_text

__all__ = ["main"]

WORKERS = ("service1", "service2")
DEFAULT_OUT = Path(".build/timeline.png")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        print(f"timeline: {message} (see python -m workshop.timeline --help)", file=sys.stderr)
        sys.exit(2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="timeline",
        description="Who led when, from the workers' logs: a PNG and the same as text.",
    )
    parser.add_argument(
        "files", nargs="*", type=Path, help="log files (default: the compose project's)"
    )
    parser.add_argument(
        "--compose", help="the Compose command (default: docker compose, else docker-compose)"
    )
    parser.add_argument(
        "--mark",
        action="append",
        default=[],
        metavar="'HH:MM:SS text'",
        help="a moment to mark, UTC, e.g. '12:00:01 stop service1' (repeatable)",
    )
    parser.add_argument("--last", type=float, metavar="SECONDS", help="only the last SECONDS")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"the PNG (default {DEFAULT_OUT})"
    )
    parser.add_argument("--no-png", action="store_true", help="text only")
    parser.add_argument("--width", type=int, help="text width (default: the terminal's)")
    args = parser.parse_args(argv)
    if args.last is not None and not args.last > 0:
        parser.error(f"--last must be a positive number of seconds, got {args.last:g}")
    if args.width is not None and args.width < 40:
        parser.error(f"--width must be at least 40, got {args.width}")
    try:
        records = _read(args)
    except (OSError, ComposeError) as exc:
        print(f"timeline: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, ComposeError) else 2
    if not any(not r.event.startswith(DOCKER_EVENTS) for r in records):
        where = ", ".join(map(str, args.files)) or "the compose project's logs"
        print(f"timeline: no worker log lines in {where}", file=sys.stderr)
        return 1
    end = max(r.time for r in records)
    try:
        marks = [parse_mark(text, end) for text in args.mark]
    except ValueError as exc:
        parser.error(str(exc))
    since = end - args.last if args.last is not None else None
    lanes = sorted({r.service for r in records if not r.event.startswith(DOCKER_EVENTS)})
    try:
        timeline = build(records, marks, lanes, since)
    except ValueError as exc:
        print(f"timeline: {exc}", file=sys.stderr)
        return 1
    width = args.width or shutil.get_terminal_size((100, 24)).columns
    print("\n".join(render_text(timeline, width, wants_color(sys.stdout))))
    if not args.no_png:
        path = render_png(timeline, args.out)
        print(f"\nPNG: {path}")
    return 0


def _read(args: argparse.Namespace) -> list[Record]:
    if args.files:
        records: list[Record] = []
        for path in args.files:
            with open(path, encoding="utf-8", errors="replace") as source:
                records += read_lines(source, default_lane=path.stem)
        return sorted(records, key=lambda r: r.time)
    compose = compose_command(args.compose)
    text = run([*compose, "logs", "--no-color", "--timestamps", *WORKERS], timeout=60)
    reader = LineReader(services=WORKERS)
    records = [r for r in map(reader.read, text.splitlines()) if r is not None]
    if records:
        records += docker_events(compose, min(r.time for r in records) - 1, WORKERS)
    return sorted(records, key=lambda r: r.time)


def run_command() -> int:
    """main() as the command runs it: a closed pipe (`| head`) is no error."""
    try:
        return main()
    except BrokenPipeError:  # `| head`: the reader has seen enough
        sys.stderr.close()
        return 0
