"""The failover benchmark: ours, kazoo's Election, Curator's two recipes and the article's.

Usage::

    python -m bench                 # default: 4 runs, about 45 minutes on 2 cores
    python -m bench --quick         # a smoke run: the failover phase once, 5 candidates,
                                    # short windows, all side by side: about 2 minutes
    python -m bench --quick --phases ensemble --only ours,kazoo
    python -m bench --runs 5 --only ours,curator_latch --phases failover,ensemble

One local three-server ZooKeeper ensemble (tickTime 2000 ms, a default server's),
session timeout 10 s for everyone (the article's). Each run has three phases; in the
first, every contender goes in turn, in an order rotated from run to run, so that drift
in the machine's load spreads over all of them:

1. ``failover``, per contender: two candidates, alone on the box: steady-state packet
   counts, memory and CPU, then SIGTERM handoffs (they measure milliseconds); then side
   by side: twenty candidates (packet counts, one SIGTERM, who woke up), and three pairs
   hit at once by SIGKILL, SIGSTOP for twice the session timeout, and a blackholing
   proxy cut for as long (their figures are seconds-scale and counts).
2. ``ensemble``: one pair of every contender at once, through a ZooKeeper leader
   killed, then through the loss of quorum for 10 s (a server fault hits everyone).
3. ``scale``: a hundred candidates of ours, then of kazoo's, alone (growth).

Definitions of every figure: ``bench/scenarios.py``. Outputs in ``bench/results/``:
``results.json`` (every sample), ``results.md`` (the table), ``chart.png``, and the
logs of every candidate and server under ``logs/``. A candidate that crashes, or a
takeover that never comes, is a measured outcome, not a crash of the benchmark.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import random
import re
import shutil
import subprocess
import sys
import threading
import time
import traceback
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.contenders import JAVA_PROGRAMS, Contender, all_contenders
from bench.report import summarize, write_results
from bench.scenarios import (
    Config,
    ScenarioError,
    Trial,
    run_ensemble_faults,
    run_faults,
    run_handoff,
    run_many,
)
from testbed.ensemble import MISSING_MESSAGE, Ensemble, find_zookeeper
from testbed.interrupt import run_interruptibly
from testbed.java_candidates import JAR_DIR, JavaCandidateBuild

RESULTS = Path(__file__).resolve().parent / "results"
PHASES = ("failover", "ensemble", "scale")
# The growth row is measured for the two contenders whose followers only wait for a
# watch; the polling ones' cost at twenty already says where a hundred goes.
SCALE_CONTENDERS = ("ours", "kazoo")

# What a scenario may fail with and still leave the benchmark running.
_MEASUREMENT_ERRORS = (ScenarioError, AssertionError, OSError, RuntimeError, KeyError, ValueError)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="runs per contender (4)")
    parser.add_argument("--handoffs", type=int, default=2, help="SIGTERM handoffs per run (2)")
    parser.add_argument("--candidates", type=int, default=20, help="the 'many' scenario (20)")
    parser.add_argument("--scale", type=int, default=100, help="the growth row's candidates (100)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run, about 2 minutes: 1 run of the failover phase only, 5 candidates, "
        "short windows, the handoff side by side with the faults (so its milliseconds are "
        "not for publishing); the ensemble and scale rows stay empty unless --phases names them",
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated keys: ours, kazoo, curator_latch, curator_selector, "
        "article_close, article_as_written",
    )
    parser.add_argument(
        "--phases",
        default="",
        help=f"comma-separated phases to run: {','.join(PHASES)} (default: all; --quick: failover)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.handoffs < 1 or args.candidates < 2 or args.scale < 2:
        parser.error("--runs and --handoffs must be >= 1, --candidates and --scale >= 2")
    wanted = {phase for phase in args.phases.split(",") if phase}
    if wanted - set(PHASES):
        parser.error(f"--phases: no such phase {sorted(wanted - set(PHASES))}")
    if not wanted:
        wanted = {"failover"} if args.quick else set(PHASES)
    args.phases = [phase for phase in PHASES if phase in wanted]
    return args


def _config(args: argparse.Namespace) -> Config:
    config = Config(handoffs=args.handoffs, many=args.candidates, scale=args.scale)
    if args.quick:
        # Still longer than session + one server tick (12 s): a freeze must expire.
        config = replace(
            config,
            handoffs=1,
            many=5,
            hold_s=13.0,
            observe_s=3.0,
            steady_s=5.0,
            settle_s=1.0,
            side_by_side=True,
        )
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
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix=contender.key) as pool:
            # Alone on the box (it measures milliseconds), except in a smoke run.
            handoff = pool.submit(_guard, "handoff", run_handoff, trial)
            if not config.side_by_side:
                handoff.result()
            gate = threading.Event()
            many = pool.submit(_guard, "many", run_many, trial, gate)
            faults = pool.submit(_guard, "faults", run_faults, trial, gate)
            record["handoff"] = handoff.result()
            record["many"] = many.result()
            record["faults"] = faults.result()
    finally:
        trial.stop_all()
    record["seconds"] = round(time.monotonic() - started, 1)
    record["load_after"] = _load()
    return record


def _run_ensemble(
    contenders: list[Contender], ensemble: Ensemble, config: Config, logdir: Path, run: int
) -> dict[str, dict[str, Any]]:
    """The ensemble phase: contender key -> its figures (or the error that stopped it)."""
    trials = [
        Trial(contender, ensemble, config, logdir / f"run{run}" / contender.key, run)
        for contender in contenders
    ]
    try:
        return run_ensemble_faults(trials, random.Random(f"ensemble-{run}"))
    except _MEASUREMENT_ERRORS as err:
        print(f"    ensemble: not measured: {err!s:.300}", flush=True)
        failed = {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}
        return {contender.key: failed for contender in contenders}
    finally:
        for trial in trials:
            trial.stop_all()


def _run_scale(
    contender: Contender, ensemble: Ensemble, config: Config, logdir: Path, run: int
) -> dict[str, Any]:
    trial = Trial(contender, ensemble, config, logdir / f"run{run}" / contender.key, run)
    try:
        return _guard(
            "scale",
            lambda: run_many(
                trial, scenario="scale", count=config.scale, stagger_s=config.scale_stagger_s
            ),
        )
    finally:
        trial.stop_all()


def _commit() -> str:
    """The code measured: the repository's HEAD, and whether the tree had changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "common", "service1", "bench", "testbed"],
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


def _brief_ensemble(figures: dict[str, Any]) -> str:
    def one(fault: str) -> str:
        got = figures.get(fault)
        if not isinstance(got, dict) or "error" in got:
            return f"{fault} not measured"
        resume = got.get("resume_s")
        return (
            f"{fault}: silence {got.get('silence_s', 0):.1f} s, "
            f"resume {'-' if resume is None else f'{resume:.2f}'} s, {got.get('moved')}, "
            f"during {got.get('ticks_during')}, two leaders {got.get('two_leaders_s', 0):.1f} s, "
            f"kept {got.get('sessions_kept')}"
        )

    return "; ".join(one(fault) for fault in ("zk_leader", "quorum"))


def _brief_scale(result: dict[str, Any]) -> str:
    steady = result.get("steady", {})
    change = result.get("change", {})
    handoff = change.get("handoff_s")
    return (
        f"follower {steady.get('follower_packets_s') or 0:.2f} pkt/s, "
        f"woken {change.get('watchers_notified')}, "
        f"handoff {'-' if handoff is None else f'{handoff:.3f}'} s"
    )


def _versions(java: JavaCandidateBuild | None) -> dict[str, str]:
    """What was measured: the libraries' versions as their own files say."""
    versions = {"kazoo": _dist_version("kazoo")}
    for name, jar, group in (
        ("zookeeper", "zookeeper.jar", "org.apache.zookeeper/zookeeper"),
        ("curator", "curator-recipes.jar", "org.apache.curator/curator-recipes"),
    ):
        versions[name] = _pom_version(JAR_DIR / jar, group)
    if java is not None:
        result = subprocess.run(
            [java.java, "-version"], capture_output=True, text=True, check=False
        )
        versions["java"] = (result.stderr.splitlines() or ["?"])[0]
    return versions


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _pom_version(jar: Path, group: str) -> str:
    try:
        with zipfile.ZipFile(jar) as archive:
            text = archive.read(f"META-INF/maven/{group}/pom.properties").decode()
    except (OSError, KeyError, zipfile.BadZipFile):
        return "not installed"
    found = re.search(r"^version=(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else "?"


def _machine() -> str:
    """CPUs, memory and OS, for the table's header."""
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "? GiB"
    system = "unknown OS"
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                system = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {memory}, {system}"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    config = _config(args)
    install = find_zookeeper()
    if install is None:
        print(MISSING_MESSAGE, file=sys.stderr)
        return 2
    java = JavaCandidateBuild.find(JAVA_PROGRAMS)
    for program in JAVA_PROGRAMS:
        if java is None or not java.has(program.main):
            print(f"skipping {program.main}: {program.missing_message()}", file=sys.stderr)
    if java is not None:
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
        "phases": args.phases,
        "machine": _machine(),
        "versions": _versions(java),
    }
    print(f"load average {meta['load_before']}; results in {out}", flush=True)
    started = time.monotonic()
    records: list[dict[str, Any]] = []
    ensemble = Ensemble(logdir / "zookeeper", size=3, tick_ms=config.tick_ms, install=install)
    try:
        ensemble.start(timeout=120)
        for run in range(1, meta["runs"] + 1):
            shift = (run - 1) % len(contenders)
            rotated = contenders[shift:] + contenders[:shift]
            mine = {c.key: {"run": run, "contender": c.key} for c in contenders}
            records += mine.values()
            if "failover" in args.phases:
                for contender in rotated:
                    print(f"run {run}/{meta['runs']}: {contender.label} ...", flush=True)
                    mine[contender.key].update(_run_trial(contender, ensemble, config, logdir, run))
                    print(f"    {_brief(mine[contender.key])}", flush=True)
                    ensemble.wait_quorum(timeout=60)
            if "ensemble" in args.phases:
                print(f"run {run}/{meta['runs']}: ZooKeeper faults, all at once ...", flush=True)
                phase_started = time.monotonic()
                for key, figures in _run_ensemble(rotated, ensemble, config, logdir, run).items():
                    mine[key]["ensemble"] = figures
                    print(f"    {key}: {_brief_ensemble(figures)}", flush=True)
                print(f"    ({time.monotonic() - phase_started:.0f} s)", flush=True)
                ensemble.wait_quorum(timeout=60)
            if "scale" in args.phases:
                for contender in rotated:
                    if contender.key not in SCALE_CONTENDERS:
                        continue
                    print(
                        f"run {run}/{meta['runs']}: {config.scale} x {contender.label} ...",
                        flush=True,
                    )
                    phase_started = time.monotonic()
                    mine[contender.key]["scale"] = result = _run_scale(
                        contender, ensemble, config, logdir, run
                    )
                    print(
                        f"    {_brief_scale(result)} ({time.monotonic() - phase_started:.0f} s)",
                        flush=True,
                    )
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
    run_interruptibly("bench", main)
