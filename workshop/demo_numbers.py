"""`make demo-numbers`: the ranges the README quotes for the demos, measured.

    python -m workshop.demo_numbers [--rounds 10] [--compose "docker compose"]
                                    [--timelines docs]

On a running project (`make up`), each round runs the demos back to back, as a
workshop does, in the order of docker/demos.txt: `make demo-stop`, `demo-kill`,
`demo-pause`, `demo-partition`, `demo-quorum`, then `demo-zk-leader` right after the
quorum came back. Then it reads the workers' logs (`docker compose logs --timestamps`,
either log format) for each demo's window and reports, per demo, the figures its line
in docker/demos.txt names:

``handoff``   the old leader's resignation (``leadership_lost``, reason ``shutdown``)
              to the other's first ``Processing...`` (stop).
``silence``   the longest stretch without a ``Processing...`` from anyone, what the
              room sees (every demo). For stop it is the whole handoff, command included.
``stale``     ticks of the old leader under its old fencing token after another
              token's first tick (must be 0; pause and partition).

Prints min, median and max over the rounds, and writes every sample, with the run's
commit, date, rounds, Compose and images, to ``bench/published/demo-numbers.json``
(committed: ``python -m bench report`` regenerates the README's ranges from it; see
``bench/publish.py``). With ``--timelines DIR`` it also draws each demo of the first
round (``make timeline``): ``DIR/timeline-<demo>.png`` and ``.txt``. A demo verb that
fails ends the run with its exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from common import logreader
from common.logs import Event, Reason
from testbed.provenance import commit, machine

from .compose import ComposeError, compose_command, run
from .records import Record, read_lines

# The list of demos (docker/demos.txt): verb|title|help|figures, one line each.
DEMO_LIST = Path(__file__).resolve().parent.parent / "docker" / "demos.txt"
_OUT = Path(__file__).resolve().parents[1] / "bench" / "published" / "demo-numbers.json"


@dataclass(frozen=True)
class Demo:
    """One line of docker/demos.txt."""

    verb: str  # `make demo-<verb>`, `docker/demo.sh <verb>`
    title: str  # the README's name for the exercise
    help: str  # what `make help` says
    figures: tuple[str, ...]  # what demo-numbers measures: silence, handoff, stale


def read_demos(path: Path = DEMO_LIST) -> tuple[Demo, ...]:
    """The demos, in the workshop's order."""
    demos = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            verb, title, help_, figures = line.split("|")
            demos.append(Demo(verb, title, help_, tuple(figures.split())))
    return tuple(demos)


_LISTED = read_demos()
DEMOS = tuple(demo.verb for demo in _LISTED)
_FIGURES = {demo.verb: demo.figures for demo in _LISTED}


@dataclass(frozen=True)
class Sample:
    round: int
    demo: str
    started: float
    ended: float
    silence_s: float | None
    handoff_s: float | None = None
    stale_ticks: int | None = None


def _ticks(records: Sequence[Record]) -> list[Record]:
    return [r for r in records if r.event == Event.PROCESSING]


def longest_silence(records: Sequence[Record], start: float, end: float) -> float | None:
    """The longest gap between two ticks (anyone's) with the second in [start, end]:
    the silence the room saw, whole (common.logreader.longest_silence)."""
    ticks = logreader.ticks_of(records)
    return logreader.longest_silence(ticks, start, end, ended_in_window=True)


def handoff(records: Sequence[Record], start: float, end: float) -> float | None:
    """Resignation (leadership_lost, shutdown) -> another worker's first tick after it."""
    for lost in records:
        if not (start <= lost.time <= end and lost.event == Event.LEADERSHIP_LOST):
            continue
        if lost.fields.get("reason") != Reason.SHUTDOWN:
            continue
        after = [t for t in _ticks(records) if t.time > lost.time and t.service != lost.service]
        return after[0].time - lost.time if after else None
    return None


def stale_ticks(records: Sequence[Record], start: float, end: float) -> int:
    """Ticks under an older token after a newer token's first tick, in [start, end]."""
    ticks = [t for t in _ticks(records) if start <= t.time <= end and t.token is not None]
    newest, count = None, 0
    for tick in ticks:
        assert tick.token is not None
        if newest is not None and tick.token < newest:
            count += 1
        newest = tick.token if newest is None else max(newest, tick.token)
    return count


def judge(round_: int, demo: str, records: Sequence[Record], start: float, end: float) -> Sample:
    figures = _FIGURES.get(demo, ("silence",))
    return Sample(
        round_,
        demo,
        start,
        end,
        longest_silence(records, start, end) if "silence" in figures else None,
        handoff(records, start, end) if "handoff" in figures else None,
        stale_ticks(records, start, end) if "stale" in figures else None,
    )


def summary(samples: Sequence[Sample]) -> list[str]:
    lines = ["demo        figure     n   min     median  max"]
    for demo in DEMOS:
        mine = [s for s in samples if s.demo == demo]
        for figure in ("handoff_s", "silence_s", "stale_ticks"):
            values = [getattr(s, figure) for s in mine if getattr(s, figure) is not None]
            if not values:
                continue
            lines.append(
                f"{demo:<11} {figure.removesuffix('_s'):<9} {len(values):>3}   "
                f"{min(values):<7.3g} {statistics.median(values):<7.3g} {max(values):.3g}"
            )
    return lines


def _make(demo: str, compose: str, logs: Path, timeline: Path | None = None) -> None:
    """`make demo-<demo>`. A demo that recreates the workers (demo-mid-work-pause: its
    slow workers and their logs are gone when it returns) writes their logs to ``logs``
    (DEMO_LOGS_OUT) and its run's timeline to ``timeline`` (DEMO_TIMELINE_OUT)."""
    extra = {"DEMO_LOGS_OUT": str(logs)}
    if timeline is not None:
        extra["DEMO_TIMELINE_OUT"] = str(timeline)
    done = subprocess.run(
        ["make", "--no-print-directory", f"demo-{demo}"],
        env={**os.environ, "COMPOSE": compose, **extra},
        stdin=subprocess.DEVNULL,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.returncode)


def _draw(demo: str, compose: list[str], last_s: float, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    png = into / f"timeline-{demo}.png"
    argv = [sys.executable, "-m", "workshop.timeline", "--compose", " ".join(compose)]
    argv += ["--last", f"{last_s:.0f}", "--out", str(png), "--width", "100"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    (into / f"timeline-{demo}.txt").write_text(done.stdout)


def _provenance(compose: list[str], rounds: int, began: float) -> dict[str, object]:
    """Which run the ranges come from: what the README says beside them."""
    version = subprocess.run(
        [*compose, "version", "--short"], capture_output=True, text=True, check=False
    ).stdout.strip()
    images = os.environ.get("ZOOKEEPER_IMAGE") or _dotenv("ZOOKEEPER_IMAGE")
    measured = commit(("common", "service1", "docker", "docker-compose.yml", "workshop"))
    return {
        "commit": measured["commit"] + (" (with uncommitted changes)" if measured["dirty"] else ""),
        "started": time.strftime("%Y-%m-%d", time.gmtime(began)),
        "rounds": rounds,
        "compose": f"`{' '.join(compose)}` {version}".strip(),
        "images": "the stand-in images" if "standin" in images else "the official images",
        "machine": machine(),
    }


def _dotenv(name: str) -> str:
    """``name`` as the project's .env sets it for Compose, or ""."""
    try:
        lines = Path(".env").read_text().splitlines()
    except OSError:
        return ""
    values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return values.get(name, "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo_numbers", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--compose", default=None, help='e.g. "docker-compose" (default: v2)')
    parser.add_argument("--out", type=Path, default=_OUT)
    parser.add_argument("--timelines", type=Path, default=None, help="draw round 1 here")
    args = parser.parse_args(argv)
    try:
        compose = compose_command(args.compose)
    except ComposeError as exc:
        print(f"demo_numbers: {exc}", file=sys.stderr)
        return 1
    samples: list[Sample] = []
    began = time.time()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for round_ in range(1, args.rounds + 1):
        for demo in DEMOS:
            start = time.time()
            drawn = args.timelines / f"timeline-{demo}.png" if args.timelines else None
            saved = args.out.parent / f".demo-logs-{os.getpid()}.txt"
            saved.unlink(missing_ok=True)
            _make(demo, " ".join(compose), saved, drawn if round_ == 1 else None)
            end = time.time()
            # Judged now, from the logs of the workers the demo ran on: a demo that
            # recreates them (mid-work-pause) saved theirs before (DEMO_LOGS_OUT); a
            # read of the new containers would see none of its run.
            if saved.exists():
                logs = saved.read_text(encoding="utf-8", errors="replace")
                saved.unlink()
            else:
                argv = [*compose, "logs", "--no-color", "--timestamps", "service1", "service2"]
                logs = run(argv, 120)
            records = [r for r in read_lines(logs.splitlines()) if r.time >= start]
            samples.append(judge(round_, demo, records, start, end))
            if args.timelines is not None and round_ == 1:
                assert drawn is not None
                if not drawn.exists() or drawn.stat().st_mtime < start:  # not by the demo
                    _draw(demo, compose, time.time() - start + 3, args.timelines)
    meta = _provenance(compose, args.rounds, began)
    payload = {"meta": meta, "samples": [asdict(s) for s in samples]}
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print("\n".join(summary(samples)))
    print(f"({args.rounds} rounds, {' '.join(compose)}; every sample in {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
