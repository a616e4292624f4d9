"""What a benchmark run's data says, as Markdown: the table, the run's provenance, the
outcomes besides the numbers.

Usage::

    data = {"run": {...}, "contenders": {key: label}, "floors": {...}, "summary": {...}}
    print(table(data))                  # one row per figure, its floor, one column each
    print(run_paragraph(data))          # commit, date, runs, machine, load, versions
    write_results(Path("bench/results"), data, records)   # results.json, .md, chart.png

``data`` is what ``python -m bench`` publishes (``bench/published/bench.json``, see
``bench/publish.py``): summaries only, so every table here can be drawn again from the
committed file alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.ledger_summary import summarize_ledger
from bench.metrics import METRICS, Metric, Record

# The contenders every ratio is taken to.
BASE = "ours"


def counts_of(data: dict[str, Any]) -> dict[str, Any]:
    """What the labels name: the run's candidate counts."""
    config = data["run"].get("config", {})
    return {
        "many": config.get("many", 20),
        "scale": config.get("scale", 1000),
        "per_process": config.get("crowd_per_process", 250),
    }


def fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def cell(stats: dict[str, Any] | None, metric: Metric, show_ratio: bool = True) -> str:
    """median [min-max] (failures) **xratio**, or a tally "v ×n", or "-" (not measured)."""
    if stats is None or not stats["of"]:
        return "-"
    if metric.tally:
        return ", ".join(f"{value} ×{count}" for value, count in stats["tally"].items())
    if stats["median"] is None:
        return f"{metric.missing} ({stats['of']}/{stats['of']})"
    text = fmt(stats["median"], metric.digits)
    if stats["n"] > 1 and stats["min"] != stats["max"]:
        text += f" [{fmt(stats['min'], metric.digits)}-{fmt(stats['max'], metric.digits)}]"
    if stats["n"] < stats["of"]:
        text += f" ({stats['of'] - stats['n']} of {stats['of']} {metric.missing})"
    if show_ratio and metric.ratio and stats.get("ratio") is not None:
        text += f" **x{_ratio(stats['ratio'])}**"
    return text


def ours_ledger(run: dict[str, Any]) -> str:
    """Whether ours recorded its units in the ledger in this run, in words. A run that
    does not say measured a worker without one: the key came with the ledger's phase,
    and the data published before it was measured on a commit before the ledger."""
    state = run.get("ours_ledger")
    if state is None:
        return "no ledger: measured before it existed"
    return f"ledger {state}"


def labels(data: dict[str, Any]) -> dict[str, str]:
    """Contender key -> its column's name; ours says whether its ledger was on."""
    names = dict(data["contenders"])
    if "ours" in names:
        names["ours"] = f"{names['ours']}, {ours_ledger(data['run'])}"
    return names


def table(data: dict[str, Any]) -> str:
    """One row per figure: its floor, then each contender; a bold row opens a section."""
    counts = counts_of(data)
    contenders = labels(data)
    metrics = data["summary"]["metrics"]
    rows = [
        "| figure | floor | " + " | ".join(contenders.values()) + " |",
        "|---|---|" + "---|" * len(contenders),
    ]
    section = None
    for metric in (m for m in METRICS if m.table):
        if metric.section != section:
            section = metric.section
            rows.append(f"| **{section.format(**counts)}** | |" + " |" * len(contenders))
        cells = [cell(metrics[key].get(metric.key), metric, key != BASE) for key in contenders]
        label = f"{metric.label.format(**counts)} ({metric.unit})"
        rows.append(
            f"| {label} | {metric.floor_text(data['floors'])} | " + " | ".join(cells) + " |"
        )
    return "\n".join(rows)


def run_paragraph(data: dict[str, Any]) -> str:
    """Which run this is: the command, commit, date, runs, machine, load and versions."""
    run = data["run"]
    load = run.get("load", {})
    versions = "; ".join(f"{name} {version}" for name, version in run["versions"].items())
    quick = (
        " **A smoke run (`--quick`): one run, short windows (5 s of steady state, so packet "
        "rates come in steps of 0.2 a second), the handoff side by side with the faults. A "
        "placeholder until the full run replaces it; its figures are not for quoting.**"
        if run.get("quick")
        else ""
    )
    return (
        f"`{run['command']}` on commit {run['commit']}, {run['started']}, "
        f"{run['runs']} run{'s' if run['runs'] != 1 else ''} "
        f"(phases: {', '.join(run['phases'])}), {run['duration_min']:.1f} minutes, "
        f"on {run['machine']}. Load average, read each minute: "
        f"{fmt(load.get('min'), 1)} to {fmt(load.get('max'), 1)} "
        f"(mean {fmt(load.get('mean'), 1)}; {load.get('before', '?').split()[0]} when the run "
        f"started, {load.get('after', '?').split()[0]} when it ended), the benchmark's own "
        f"processes included. Versions: {versions}.{quick}"
    )


def outcomes(data: dict[str, Any]) -> str:
    """One bullet per contender: what happened besides the numbers."""
    lines = []
    for key, label in labels(data).items():
        notes = data["summary"]["outcomes"].get(key) or ["nothing unusual"]
        lines.append(f"- **{label}**: " + "; ".join(notes))
    return "\n".join(lines)


def floors_paragraph(data: dict[str, Any]) -> str:
    """Where the floors come from, with the round trips this run measured."""
    floors = data["floors"]
    rtt = floors.get("rtt") or {}
    return (
        f"Floors: a handoff needs the old leader's delete to commit and its notification to "
        f"reach the successor ({fmt(rtt.get('write_notify_s'), 4)} s), then one read by the "
        f"successor ({fmt(rtt.get('read_s'), 4)} s): {fmt(rtt.get('handoff_s'), 4)} s, the "
        f"fastest of {rtt.get('samples', 0)} of each on this ensemble's loopback, timed with "
        f"two kazoo clients at the start of each run (their medians: "
        f"{fmt(rtt.get('write_notify_median_s'), 4)} s and {fmt(rtt.get('read_median_s'), 4)} s"
        f"). A session's expiry comes "
        f"S = {floors.get('session_timeout_s', 0):g} s after the servers last heard from it, "
        f"checked once per tickTime ({floors.get('zk_tick_s', 0):g} s): "
        f"[S, S + tickTime] after the last packet (which may precede the fault by up to a "
        f"ping interval, S/3). A follower that only waits sends a ping and gets its reply "
        f"every S/3: {2 / (floors.get('session_timeout_s') or 10) * 3:.2f} packets a second. "
        f"Counts: no stale tick, one wake-up per change. Resuming after quorum returns: a "
        f"reconnect and one read, two round trips. The ensemble's mean latency while idle "
        f"({fmt(floors.get('idle_latency_ms'), 1)} ms, just before the growth row's "
        f"candidates join; the servers count whole milliseconds) is the floor of its latency "
        f"while they join."
    )


def ledger_passage(data: dict[str, Any]) -> str:
    """The ledger's cost: which run, then ours with the ledger off and on, one row per
    figure (``bench/ledger_cost.py`` defines them)."""
    ledger = data["ledger"]
    run, config = ledger["run"], ledger["config"]
    summary = summarize_ledger(ledger["samples"])
    load = run.get("load", {})
    through, hand = summary["throughput"], summary["handoff"]

    def row(stats: dict[str, Any], digits: int) -> str:
        """median [min-max] (k of n not measured), like the table's cells."""
        if not stats["of"]:
            return "-"
        if stats["median"] is None:
            return f"not measured ({stats['of']}/{stats['of']})"
        text = fmt(stats["median"], digits)
        low, high = fmt(stats["min"], digits), fmt(stats["max"], digits)
        if stats["n"] > 1 and low != high:
            text += f" [{low}-{high}]"
        if stats["n"] < stats["of"]:
            text += f" ({stats['of'] - stats['n']} of {stats['of']} not measured)"
        return text

    slowdown = summary.get("slowdown")
    on_ticks = row(through["on"]["ticks_s"], 0)
    if slowdown:
        on_ticks += f" (**{slowdown:.1f} times fewer**)"
    lines = [
        f"`{run['command']}` on commit {run['commit']}, {run['started']}, on "
        f"{run['machine']}; load average {fmt(load.get('min'), 1)} to "
        f"{fmt(load.get('max'), 1)}. Ours alone, {config['reps']} samples of each figure "
        f"per mode, the modes alternating; units counted over {config['window_s']:g} s."
        + (
            " **A smoke run (`--quick`), a placeholder until the full run replaces it; its "
            "figures are not for quoting.**"
            if run.get("quick")
            else ""
        ),
        "",
        "| ours (`python -m service1`) | ledger off (`LEDGER_PATH=off`) | ledger on (the "
        "default) |",
        "|---|---|---|",
        f"| units per second, `TICK_INTERVAL_S={config['tick_interval_s']:g}` | "
        f"{row(through['off']['ticks_s'], 0)} | {on_ticks} |",
        "| ZooKeeper requests per unit (the leader's session; renewals and pruning "
        f"included) | {row(through['off']['requests_per_unit'], 3)} | "
        f"{row(through['on']['requests_per_unit'], 2)} |",
        f"| SIGTERM handoff to the other's first unit (s), "
        f"`TICK_INTERVAL_S={config['handoff_tick_interval_s']:g}` | "
        f"{row(hand['off']['handoff_s'], 3)} | "
        f"{row(hand['on']['handoff_s'], 3)} |",
    ]
    if summary.get("errors"):
        lines += ["", "Not measured: " + "; ".join(summary["errors"]) + "."]
    return "\n".join(lines)


def markdown(data: dict[str, Any]) -> str:
    """results.md: the whole run on one page."""
    return "\n".join(
        [
            "# Failover benchmark",
            "",
            run_paragraph(data),
            "",
            "Cells: median [min-max] over all samples; **xN** is the median divided by ours; "
            '"v ×n": value v in n samples.',
            "",
            table(data),
            "",
            floors_paragraph(data),
            "",
            "## Outcomes besides the numbers",
            "",
            outcomes(data),
            "",
            "Definitions: see `bench/scenarios.py` (module docstring).",
            "",
            *(["## The ledger's cost", "", ledger_passage(data), ""] if "ledger" in data else []),
        ]
    )


def write_results(outdir: Path, data: dict[str, Any], records: list[Record]) -> None:
    """results.json (the data and every record), results.md and chart.png in ``outdir``."""
    from bench.chart import chart  # matplotlib: only when a run writes its results

    outdir.mkdir(parents=True, exist_ok=True)
    payload = {**data, "records": records}
    (outdir / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (outdir / "results.md").write_text(markdown(data))
    chart(outdir / "chart.png", data)
