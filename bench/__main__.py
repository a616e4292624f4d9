"""The failover benchmark: ours, kazoo's Election, Curator's recipes and the article's.

Usage::

    python -m bench                 # default: 4 runs, every phase, about 40 minutes on
                                    # 2 cores; publishes, then regenerates the pages
    python -m bench --quick         # a smoke run: the failover phase once, 5 candidates,
                                    # short windows, all side by side: about 3 minutes
                                    # (every phase, 6 minutes: --phases
                                    # failover,ensemble,scale,ledger)
    python -m bench --quick --phases ensemble --only ours,kazoo --no-publish
    python -m bench --runs 5 --only ours,curator_latch_poll --phases failover,ensemble
    python -m bench --quick --phases ledger   # the ledger's cost alone; published into
                                              # bench.json beside the other phases' data
    python -m bench report [--check]   # the pages' passages from the published data

One local three-server ZooKeeper ensemble (tickTime 2000 ms, a default server's),
session timeout 10 s for everyone (the article's). Each run has three phases (a fourth,
the ledger's cost, runs once after the runs); in the first, every contender goes in
turn, in an order rotated from run to run, so that drift in the machine's load spreads
over all of them:

1. ``failover``, per contender: two candidates, alone on the box: steady-state packet
   counts, memory and CPU, then SIGTERM handoffs (they measure milliseconds); then side
   by side: twenty candidates (packet counts, one SIGTERM, who woke up), and three pairs
   hit at once by SIGKILL, SIGSTOP for twice the session timeout, and a blackholing
   proxy cut for as long (their figures are seconds-scale and counts).
2. ``ensemble``: one pair of every contender at once, through a ZooKeeper leader
   killed, then through the loss of quorum for 10 s (a server fault hits everyone).
3. ``scale``: a thousand candidates of ours, then of kazoo's, alone (growth,
   ``bench/growth.py``).
4. ``ledger``: ours alone, the ledger on and off: units per second at
   ``TICK_INTERVAL_S=0.001``, ZooKeeper requests per unit, the SIGTERM handoff
   (``bench/ledger_cost.py``; 5 of each, about 4 minutes; ``--quick``: 3, shorter).
   Everywhere else ours runs with its ledger on, as by default.

Before each run, the round trips that floor the handoff are timed on the ensemble
(``bench/floors.py``). Definitions of every figure: ``bench/scenarios.py``; its floor:
``bench/metrics.py``. Outputs in ``bench/results/`` (not committed): ``results.json``
(every sample), ``results.md`` (the table), ``chart.png``, and the logs of every
candidate and server under ``logs/``; a run of every contender through every phase
publishes its summaries to ``bench/published/bench.json`` (committed: ``bench/publish.py``),
unless ``--no-publish``; a run of the ledger phase alone replaces only its own part of
that file. A candidate that crashes, or
a takeover that never comes, is a measured outcome, not a crash of the benchmark.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.contenders import ALL_PHASES, CURATOR_DIR, JAVA_PROGRAMS, Contender, all_contenders
from bench.floors import round_trips, summarize_floors
from bench.growth import run_growth
from bench.ledger_cost import LedgerConfig, run_ledger_cost
from bench.ledger_summary import brief, summarize_ledger
from bench.publish import BENCH_DATA, regenerate, write_published
from bench.publish import load as load_published
from bench.report import write_results
from bench.scenarios import run_faults, run_handoff, run_many
from bench.summary import summarize
from bench.trial import Config, ScenarioError, Trial
from bench.zkfaults import run_ensemble_faults
from testbed import provenance
from testbed.ensemble import MISSING_MESSAGE, Ensemble, find_zookeeper
from testbed.interrupt import run_interruptibly
from testbed.java_candidates import JAR_DIR, JavaCandidateBuild

RESULTS = Path(__file__).resolve().parent / "results"
# The contenders' phases, then ours alone with its ledger on and off.
PHASES = (*ALL_PHASES, "ledger")

# What a scenario may fail with and still leave the benchmark running.
_MEASUREMENT_ERRORS = (ScenarioError, AssertionError, OSError, RuntimeError, KeyError, ValueError)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=4, help="runs per contender (4)")
    parser.add_argument("--handoffs", type=int, default=2, help="SIGTERM handoffs per run (2)")
    parser.add_argument("--candidates", type=int, default=20, help="the 'many' scenario (20)")
    parser.add_argument(
        "--scale", type=int, default=1000, help="the growth row's candidates (1000)"
    )
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
        help="comma-separated keys: ours, kazoo, curator_latch_listener, curator_latch_poll, "
        "curator_selector, article_close, article_as_written, curator540_latch_poll",
    )
    parser.add_argument(
        "--phases",
        default="",
        help=f"comma-separated phases to run: {','.join(PHASES)} (default: all; --quick: failover)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    parser.add_argument(
        "--publish",
        type=Path,
        default=None,
        help="where the summaries go (default: the committed bench/published/bench.json, "
        "and then the pages are regenerated from it; a run of some contenders or phases "
        "only is published only where this names)",
    )
    parser.add_argument(
        "--no-publish", action="store_true", help="leave bench/published/ and the pages alone"
    )
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
    record: dict[str, Any] = {
        "run": run,
        "contender": contender.key,
        "load_before": provenance.load_text(),
    }
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
    record["load_after"] = provenance.load_text()
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
        return _guard("scale", run_growth, trial)
    finally:
        trial.stop_all()


def _run_ledger(
    contender: Contender, ensemble: Ensemble, config: Config, logdir: Path, quick: bool
) -> dict[str, Any]:
    """The ledger phase: its config, every sample, the summary (``bench/ledger_cost.py``)."""
    ledger_config = LedgerConfig(reps=3, window_s=4.0, warm_s=1.0) if quick else LedgerConfig()
    trial = Trial(contender, ensemble, config, logdir / "ledger" / contender.key, run=1)
    try:
        samples = run_ledger_cost(trial, ledger_config)
    finally:
        trial.stop_all()
    # Samples only: the pages summarise them each time (bench/ledger_summary.py).
    return {"config": asdict(ledger_config), "samples": samples}


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
    join = result.get("join", {})
    handoff = change.get("handoff_s")
    return (
        f"joined in {join.get('seconds') or 0:.1f} s (outstanding <= "
        f"{join.get('outstanding_max')}, latency mean {join.get('latency_avg_ms') or 0:.1f} "
        f"max {join.get('latency_max_ms')} ms), follower "
        f"{steady.get('follower_packets_s') or 0:.2f} pkt/s, woken "
        f"{change.get('watchers_notified')}, handoff "
        f"{'-' if handoff is None else f'{handoff:.3f}'} s"
    )


def _versions(java: JavaCandidateBuild | None) -> dict[str, str]:
    """What was measured: each library's version as its own files say."""
    jars = (
        ("ZooKeeper servers and the article's client", JAR_DIR / "zookeeper.jar", "zookeeper"),
        ("Curator", CURATOR_DIR / "curator-recipes.jar", "curator-recipes"),
        ("Curator's ZooKeeper client", CURATOR_DIR / "zookeeper.jar", "zookeeper"),
        ("Debian 12's Curator", JAR_DIR / "curator-recipes.jar", "curator-recipes"),
    )
    versions = {"kazoo": provenance.dist_version("kazoo")}
    for name, jar, artifact in jars:
        group = "org.apache.curator" if artifact.startswith("curator") else "org.apache.zookeeper"
        versions[name] = provenance.pom_version(jar, f"{group}/{artifact}")
    if java is not None:
        versions["Java"] = provenance.java_version(java.java)
    return versions


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["report"]:
        return _report(argv[1:])
    args = _parse(argv)
    config = _config(args)
    install = find_zookeeper()
    if install is None:
        print(MISSING_MESSAGE, file=sys.stderr)
        return 2
    java = JavaCandidateBuild.find(JAVA_PROGRAMS)
    for program in JAVA_PROGRAMS:
        if java is None or not java.has(program.key):
            print(f"skipping {program.key}: {program.missing_message()}", file=sys.stderr)
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
    load = provenance.LoadWatch()
    load.start()
    measured = provenance.commit()
    run_meta: dict[str, Any] = {
        "command": " ".join(["python -m bench", *argv]).strip(),
        "commit": measured["commit"] + (" (with uncommitted changes)" if measured["dirty"] else ""),
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": 1 if args.quick else args.runs,
        "quick": args.quick,
        "phases": args.phases,
        "machine": provenance.machine(),
        "versions": _versions(java),
        "config": asdict(config),
        # Ours runs as by default: each unit recorded in its ledger (<ELECTION_PATH>-work).
        "ours_ledger": "on",
    }
    print(f"load average {load.before}; results in {out}", flush=True)
    started = time.monotonic()
    ledger: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    rtts: list[dict[str, Any]] = []
    ensemble = Ensemble(logdir / "zookeeper", size=3, tick_ms=config.tick_ms, install=install)
    try:
        ensemble.start(timeout=120)
        for run in range(1, run_meta["runs"] + 1):
            shift = (run - 1) % len(contenders)
            rotated = contenders[shift:] + contenders[:shift]
            mine = {c.key: {"run": run, "contender": c.key} for c in contenders}
            records += mine.values()
            rtts.append(round_trips(ensemble.connect_string()))
            print(f"run {run}/{run_meta['runs']}: round trips {rtts[-1]}", flush=True)
            if "failover" in args.phases:
                for contender in (c for c in rotated if "failover" in c.phases):
                    print(f"run {run}/{run_meta['runs']}: {contender.label} ...", flush=True)
                    mine[contender.key].update(_run_trial(contender, ensemble, config, logdir, run))
                    print(f"    {_brief(mine[contender.key])}", flush=True)
                    ensemble.wait_quorum(timeout=60)
            together = [c for c in rotated if "ensemble" in c.phases]
            if "ensemble" in args.phases and together:
                print(f"run {run}/{run_meta['runs']}: ZooKeeper faults, all at once", flush=True)
                phase_started = time.monotonic()
                for key, figures in _run_ensemble(together, ensemble, config, logdir, run).items():
                    mine[key]["ensemble"] = figures
                    print(f"    {key}: {_brief_ensemble(figures)}", flush=True)
                print(f"    ({time.monotonic() - phase_started:.0f} s)", flush=True)
                ensemble.wait_quorum(timeout=60)
            if "scale" in args.phases:
                for contender in (c for c in rotated if "scale" in c.phases):
                    print(
                        f"run {run}/{run_meta['runs']}: {config.scale} x {contender.label} ...",
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
        ours = next((c for c in contenders if c.key == "ours"), None)
        if "ledger" in args.phases and ours is not None:
            print("ledger: ours alone, the ledger on and off ...", flush=True)
            phase_started = time.monotonic()
            ledger = _run_ledger(ours, ensemble, config, logdir, args.quick)
            print(
                f"    {brief(summarize_ledger(ledger['samples']))} "
                f"({time.monotonic() - phase_started:.0f} s)",
                flush=True,
            )
    finally:
        ensemble.stop()
    run_meta["load"] = load.stop()
    run_meta["duration_min"] = (time.monotonic() - started) / 60
    data = {
        "run": run_meta,
        "contenders": {contender.key: contender.label for contender in contenders},
        "floors": summarize_floors(rtts, records, {**run_meta["config"]}),
        "summary": summarize(records, [contender.key for contender in contenders]),
    }
    data["run"]["round_trips"] = rtts
    if ledger is not None:
        keep = ("command", "commit", "started", "quick", "machine", "load")
        servers = "ZooKeeper servers and the article's client"
        versions = {k: v for k, v in run_meta["versions"].items() if k in ("kazoo", servers)}
        data["ledger"] = {
            "run": {**{k: run_meta[k] for k in keep}, "versions": versions},
            **ledger,
        }
    write_results(out, data, records)
    print((out / "results.md").read_text())
    target = args.publish
    if target is None and not args.no_publish:
        # A partial run must not replace the published data of a whole one.
        whole = not args.only and args.phases == list(PHASES)
        target = BENCH_DATA if whole else None
        if args.phases == ["ledger"] and ledger is not None:
            return _publish_ledger_only(data)
        if not whole:
            print("not published: some contenders or phases only (--publish PATH writes it)")
    if target is not None and not args.no_publish:
        write_published(target, data)
        print(f"published: {target}", flush=True)
        if target.resolve() == BENCH_DATA.resolve():
            for problem in regenerate():
                print(problem, file=sys.stderr)
            print("pages regenerated from it (see git diff)")
    return 0


def _publish_ledger_only(data: dict[str, Any]) -> int:
    """The ledger phase alone: its part of the published data is replaced, the other
    phases' (their own run, commit and date) are kept as they are."""
    published = load_published(BENCH_DATA)
    if published is None:
        print(f"not published: no {BENCH_DATA} to add the ledger's cost to", file=sys.stderr)
        return 0
    published["ledger"] = data["ledger"]
    write_published(BENCH_DATA, published)
    print(f"published: the ledger's cost in {BENCH_DATA}", flush=True)
    for problem in regenerate():
        print(problem, file=sys.stderr)
    print("pages regenerated from it (see git diff)")
    return 0


def _report(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench report",
        description="Regenerate the passages of README.md and docs/numbers.md that quote "
        "numbers, from bench/published/ (the committed data of the last published runs).",
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a page differs"
    )
    parser.add_argument(
        "--root", type=Path, default=None, help="the repository whose pages (default: this one)"
    )
    args = parser.parse_args(argv)
    root = args.root or Path(__file__).resolve().parents[1]
    try:
        problems = regenerate(root, check=args.check)
    except (OSError, ValueError, KeyError) as err:
        print(f"python -m bench report: {err}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        if args.check:
            print("regenerate them: python -m bench report", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_interruptibly("bench", main)
