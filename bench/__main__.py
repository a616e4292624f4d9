"""The failover benchmark: ours, kazoo's Election and the article's recipe, side by side.

Usage::

    python -m bench                 # default: 4 runs, about 15 minutes on 2 cores
    python -m bench --quick         # a smoke run: 1 run, 5 candidates, short windows
    python -m bench --runs 5 --only ours,article_close

One local three-server ZooKeeper ensemble (tickTime 2000 ms, a default server's),
session timeout 10 s for everyone (the article's). Each run goes through every
contender in turn, in an order rotated from run to run, so that drift in the
machine's load spreads over all of them. Per contender and run:

1. two candidates: steady-state packet counts, then SIGTERM handoffs, alone on the box
   (they measure milliseconds);
2. side by side: twenty candidates (packet counts, one SIGTERM, who woke up), and three
   pairs hit at once by SIGKILL, SIGSTOP for twice the session timeout, and a
   blackholing proxy cut for as long (their figures are seconds-scale and counts).

Definitions of every figure: ``bench/scenarios.py``. Outputs in ``bench/results/``:
``results.json`` (every sample), ``results.md`` (the table), ``chart.png``, and the
logs of every candidate and server under ``logs/``. A candidate that crashes, or a
takeover that never comes, is a measured outcome, not a crash of the benchmark.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.contenders import Contender, all_contenders
from bench.report import summarize, write_results
from bench.scenarios import Config, ScenarioError, Trial, run_faults, run_handoff, run_many
from testbed.ensemble import MISSING_MESSAGE, Ensemble, find_zookeeper
from testbed.java_candidates import MISSING_MESSAGE as JAVA_MISSING
from testbed.java_candidates import JavaCandidateBuild

RESULTS = Path(__file__).resolve().parent / "results"

# What a scenario may fail with and still leave the benchmark running.
_MEASUREMENT_ERRORS = (ScenarioError, AssertionError, OSError, RuntimeError, KeyError, ValueError)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="runs per contender (4)")
    parser.add_argument("--handoffs", type=int, default=2, help="SIGTERM handoffs per run (2)")
    parser.add_argument("--candidates", type=int, default=20, help="the 'many' scenario (20)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 run, 5 candidates")
    parser.add_argument("--only", default="", help="comma-separated keys, e.g. ours,kazoo")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.handoffs < 1 or args.candidates < 2:
        parser.error("--runs and --handoffs must be >= 1, --candidates >= 2")
    return args


def _config(args: argparse.Namespace) -> Config:
    config = Config(handoffs=args.handoffs, many=args.candidates)
    if args.quick:
        # Still longer than session + one server tick (12 s): a freeze must expire.
        config = replace(config, handoffs=1, many=5, hold_s=15.0, observe_s=3.0, steady_s=6.0)
    return config


def _guard(label: str, func: Any, *args: Any) -> dict[str, Any]:
    """Run one scenario; its failure becomes a recorded outcome."""
    try:
        return func(*args)
    except _MEASUREMENT_ERRORS as err:
        print(f"    {label}: not measured: {err!s:.300}", flush=True)
        return {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}


def _run_trial(
    contender: Contender, ensemble: Ensemble, config: Config, logdir: Path, run: int
) -> dict[str, Any]:
    trial = Trial(contender, ensemble, config, logdir / f"run{run}" / contender.key, run)
    record: dict[str, Any] = {"run": run, "contender": contender.key, "load_before": _load()}
    started = time.monotonic()
    try:
        record["handoff"] = _guard("handoff", run_handoff, trial)
        gate = threading.Event()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix=contender.key) as pool:
            many = pool.submit(_guard, "many", run_many, trial, gate)
            faults = pool.submit(_guard, "faults", run_faults, trial, gate)
            record["many"] = many.result()
            record["faults"] = faults.result()
    finally:
        trial.stop_all()
    record["seconds"] = round(time.monotonic() - started, 1)
    record["load_after"] = _load()
    return record


def _commit() -> str:
    """The code measured: the repository's HEAD, and whether the tree had changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "common", "service1", "bench"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _brief(record: dict[str, Any]) -> str:
    """One progress line: the headline figures of a trial."""

    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.3g}"

    handoffs = [h.get("handoff_s") for h in record.get("handoff", {}).get("handoffs", [])]
    faults = record.get("faults", {})
    steady = record.get("handoff", {}).get("steady", {})
    return (
        f"handoff {[fmt(h) for h in handoffs]} s, "
        f"kill {fmt(faults.get('crash', {}).get('takeover_s'))} s, "
        f"freeze stale {faults.get('freeze', {}).get('stale_ticks')}, "
        f"cut stale {faults.get('cut', {}).get('stale_ticks')}, "
        f"follower {fmt(steady.get('follower_packets_s'))} pkt/s "
        f"({record['seconds']:.0f} s)"
    )


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    config = _config(args)
    install = find_zookeeper()
    if install is None:
        print(MISSING_MESSAGE, file=sys.stderr)
        return 2
    java = JavaCandidateBuild.find()
    if java is None:
        print(f"skipping the article's recipe: {JAVA_MISSING}", file=sys.stderr)
    else:
        java.compile()
    contenders = all_contenders(java)
    if args.only:
        wanted = set(args.only.split(","))
        contenders = [contender for contender in contenders if contender.key in wanted]
        if not contenders:
            print(f"--only {args.only}: no such contender", file=sys.stderr)
            return 2

    out: Path = args.out
    logdir = out / "logs"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    meta: dict[str, Any] = {
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": 1 if args.quick else args.runs,
        "config": config.__dict__,
        "tick_ms": config.tick_ms,
        "session_timeout_s": config.session_timeout_s,
        "cpus": os.cpu_count(),
        "commit": _commit(),
        "load_before": _load(),
        "contenders": {contender.key: contender.label for contender in contenders},
    }
    print(f"load average {meta['load_before']}; results in {out}", flush=True)
    started = time.monotonic()
    records: list[dict[str, Any]] = []
    ensemble = Ensemble(logdir / "zookeeper", size=3, tick_ms=config.tick_ms, install=install)
    try:
        ensemble.start(timeout=120)
        for run in range(1, meta["runs"] + 1):
            shift = (run - 1) % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                print(f"run {run}/{meta['runs']}: {contender.label} ...", flush=True)
                record = _run_trial(contender, ensemble, config, logdir, run)
                records.append(record)
                print(f"    {_brief(record)}", flush=True)
                ensemble.wait_quorum(timeout=60)
    finally:
        ensemble.stop()
    meta["load_after"] = _load()
    meta["duration_min"] = (time.monotonic() - started) / 60
    summary = summarize(records, contenders)
    write_results(out, meta, records, summary, contenders)
    print((out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
