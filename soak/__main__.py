"""Randomized fault soak: ``python -m soak --minutes 10 --seed 7``.

Exit 0: no violation; 1: violations (listed, with log excerpts); 2: it could not run.
The plan is in soak/plan.py, the judge in soak/judge.py, the runner in soak/run.py;
``--rejudge DIR`` judges a finished soak again from its report.json and logs;
``--publish`` writes what docs/numbers.md quotes of the run (its summary, commit, machine
and load) to soak/published/soak.json, for ``python -m bench report``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from common.logs import quiet_kazoo
from soak.judge import SoakReport
from soak.plan import SoakConfig
from soak.run import RESULTS, Soak, rejudge
from testbed import provenance
from testbed.ensemble import MISSING_MESSAGE, Ensemble, find_zookeeper
from testbed.interrupt import run_interruptibly

PUBLISHED = Path(__file__).resolve().parent / "published" / "soak.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="default soak/results/soak-<seed>")
    parser.add_argument("--rejudge", type=Path, default=None, help="judge a finished soak again")
    parser.add_argument(
        "--publish", action="store_true", help=f"write the run's summary to {PUBLISHED}"
    )
    args = parser.parse_args(argv)
    quiet_kazoo()  # the soak's own clients (depose) would narrate every refused connection
    if args.rejudge is not None:
        try:
            report = rejudge(args.rejudge)
        except (OSError, KeyError, ValueError) as err:
            print(f"cannot judge {args.rejudge} again: {err!r}", file=sys.stderr)
            return 2
        print(report.text())
        return 0 if report.ok else 1
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    config = SoakConfig(minutes=args.minutes, seed=seed, workers=args.workers)
    install = find_zookeeper()
    if install is None:
        print(MISSING_MESSAGE, file=sys.stderr)
        return 2
    out = args.out or RESULTS / f"soak-{seed}"
    shutil.rmtree(out, ignore_errors=True)
    ensemble = Ensemble(out / "zookeeper", size=3, tick_ms=config.tick_ms, install=install)
    load = provenance.LoadWatch()
    load.start()
    try:
        ensemble.start(timeout=120)
        report = Soak(ensemble, out / "workers", config).run()
    finally:
        ensemble.stop()
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    if args.publish:
        _publish(report, load.stop(), f"python -m soak --minutes {args.minutes:g} --seed {seed}")
    print(report.text())
    print(
        f"(logs and report.json in {out}; reproduce: python -m soak "
        f"--minutes {args.minutes:g} --seed {seed})"
    )
    return 0 if report.ok else 1


def _publish(report: SoakReport, load: dict[str, object], command: str) -> None:
    measured = provenance.commit(("common", "service1", "soak", "testbed"))
    run = {
        "command": command,
        "commit": measured["commit"] + (" (with uncommitted changes)" if measured["dirty"] else ""),
        "started": datetime.fromtimestamp(report.timeline.started, UTC).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "duration_min": (report.timeline.ended - report.timeline.started) / 60,
        "machine": provenance.machine(),
        "load": load,
    }
    PUBLISHED.parent.mkdir(parents=True, exist_ok=True)
    PUBLISHED.write_text(json.dumps({"run": run, **report.summary()}, indent=1) + "\n")
    print(f"published: {PUBLISHED} (python -m bench report writes docs/numbers.md from it)")


if __name__ == "__main__":
    run_interruptibly("soak", main)
