"""From the raw records of every trial to results.json, results.md and chart.png.

Usage::

    summary = summarize(records, contenders)
    write_results(Path("bench/results"), meta, records, summary)

Every figure is the median over its samples with min and max; a sample that could not
be taken (a candidate died, nobody took over) is counted and shown, never dropped
silently. Ratios are a baseline's median over ours, so "x10" means ten times ours.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.contenders import Contender

Record = dict[str, Any]


def _section(record: Record, *keys: str) -> Any:
    value: Any = record
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _one(*keys: str) -> Callable[[Record], list[float | None]]:
    return lambda record: [_section(record, *keys)]


def _handoffs(field: str) -> Callable[[Record], list[float | None]]:
    def extract(record: Record) -> list[float | None]:
        samples = _section(record, "handoff", "handoffs")
        if not samples:
            return [None]
        return [sample.get(field) for sample in samples]

    return extract


def _died(kind: str) -> Callable[[Record], list[float | None]]:
    """1 if the fault's old leader had exited by the end of the observation, else 0."""

    def extract(record: Record) -> list[float | None]:
        old = _section(record, "faults", kind, "old")
        if not isinstance(old, dict):
            return [None]
        return [0.0 if old.get("exit") is None else 1.0]

    return extract


def _fault_silence(record: Record) -> list[float | None]:
    """The longest of the three faults' silences in one run (None if none measured)."""
    values = [_section(record, "faults", kind, "silence_s") for kind in ("crash", "freeze", "cut")]
    known = [v for v in values if v is not None]
    return [max(known) if known else None]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    extract: Callable[[Record], list[float | None]]
    digits: int = 2
    ratio: bool = True  # show "xN" against ours
    chart: str | None = None  # panel name, if charted
    table: bool = True  # a row of results.md (else JSON and chart only)


METRICS: tuple[Metric, ...] = (
    Metric(
        "handoff_s",
        "SIGTERM handoff: signal -> new leader's first tick",
        "s",
        _handoffs("handoff_s"),
        3,
        chart="handoff",
    ),
    Metric(
        "handoff_gap_s",
        "SIGTERM: old leader's last tick -> new leader's first",
        "s",
        _handoffs("gap_s"),
        2,
    ),
    Metric(
        "crash_s",
        "SIGKILL takeover: signal -> new leader's first tick",
        "s",
        _one("faults", "crash", "takeover_s"),
        2,
        chart="takeover",
    ),
    Metric(
        "freeze_takeover_s",
        "SIGSTOP 2x session: signal -> new leader's first tick",
        "s",
        _one("faults", "freeze", "takeover_s"),
        2,
        chart="takeover",
    ),
    Metric(
        "freeze_stale_ticks",
        "SIGSTOP 2x session: old leader's ticks after takeover",
        "ticks",
        _one("faults", "freeze", "stale_ticks"),
        0,
        ratio=False,
        chart="stale",
    ),
    Metric(
        "cut_takeover_s",
        "cut off 2x session: cut -> new leader's first tick",
        "s",
        _one("faults", "cut", "takeover_s"),
        2,
        chart="takeover",
    ),
    Metric(
        "cut_stale_ticks",
        "cut off 2x session: old leader's ticks after takeover",
        "ticks",
        _one("faults", "cut", "stale_ticks"),
        0,
        ratio=False,
        chart="stale",
    ),
    Metric(
        "cut_worked_on_s",
        "cut off: old leader's last tick after the cut (before takeover)",
        "s",
        _one("faults", "cut", "old_last_tick_after_fault_s"),
        1,
        ratio=False,
    ),
    Metric(
        "fault_silence_s",
        "longest silence (no tick by anyone) around SIGKILL, SIGSTOP or cut",
        "s",
        _fault_silence,
        2,
    ),
    Metric(
        "follower_packets_2",
        "packets/s per follower, 2 candidates",
        "pkt/s",
        _one("handoff", "steady", "follower_packets_s"),
        2,
        chart="packets",
    ),
    Metric(
        "follower_requests_2",
        "requests/s per follower, 2 candidates",
        "req/s",
        _one("handoff", "steady", "follower_requests_s"),
        2,
    ),
    Metric(
        "leader_packets_2",
        "packets/s of the leader, 2 candidates",
        "pkt/s",
        _one("handoff", "steady", "leader_packets_s"),
        2,
    ),
    Metric(
        "follower_packets_20",
        "packets/s per follower, 20 candidates",
        "pkt/s",
        _one("many", "steady", "follower_packets_s"),
        2,
        chart="packets",
    ),
    Metric(
        "follower_requests_20",
        "requests/s per follower, 20 candidates",
        "req/s",
        _one("many", "steady", "follower_requests_s"),
        2,
    ),
    Metric(
        "leader_packets_20",
        "packets/s of the leader, 20 candidates",
        "pkt/s",
        _one("many", "steady", "leader_packets_s"),
        2,
    ),
    Metric(
        "watchers_notified_20",
        "wake-ups per leader change, 20 candidates (watches fired)",
        "sessions",
        _one("many", "change", "watchers_notified"),
        0,
        ratio=False,
    ),
    Metric(
        "readers_20",
        "candidates reading the election around a change, 20 candidates",
        "sessions",
        _one("many", "change", "readers"),
        0,
        ratio=False,
    ),
    Metric(
        "handoff_20_s",
        "SIGTERM handoff with 20 candidates",
        "s",
        _one("many", "change", "handoff_s"),
        3,
    ),
    Metric(
        "freeze_old_died",
        "SIGSTOP: old leader exited",
        "runs",
        _died("freeze"),
        0,
        ratio=False,
        table=False,
    ),
    Metric(
        "cut_old_died", "cut: old leader exited", "runs", _died("cut"), 0, ratio=False, table=False
    ),
)


def _stats(values: list[float | None]) -> dict[str, Any]:
    good = [float(v) for v in values if v is not None]
    return {
        "n": len(good),
        "of": len(values),
        "median": statistics.median(good) if good else None,
        "min": min(good) if good else None,
        "max": max(good) if good else None,
        "samples": [None if v is None else round(float(v), 4) for v in values],
    }


def summarize(records: list[Record], contenders: list[Contender]) -> dict[str, Any]:
    """contender key -> metric key -> stats (and "ratio" to ours), plus outcome notes."""
    summary: dict[str, Any] = {"metrics": {}, "outcomes": {}}
    for contender in contenders:
        mine = [r for r in records if r["contender"] == contender.key]
        per_metric = {}
        for metric in METRICS:
            values: list[float | None] = []
            for record in mine:
                values += metric.extract(record)
            per_metric[metric.key] = _stats(values)
        summary["metrics"][contender.key] = per_metric
        summary["outcomes"][contender.key] = _outcomes(mine)
    ours = summary["metrics"].get("ours", {})
    for per_metric in summary["metrics"].values():
        for metric in METRICS:
            stats = per_metric[metric.key]
            base = ours.get(metric.key, {}).get("median")
            stats["ratio"] = (
                stats["median"] / base
                if metric.ratio and base and stats["median"] is not None
                else None
            )
    return summary


def _outcomes(records: list[Record]) -> list[str]:
    """What happened besides the numbers: exits, crashes, stale leaders, errors."""
    notes: Counter[str] = Counter()
    for record in records:
        for sample in _section(record, "handoff", "handoffs") or []:
            notes[f"SIGTERM: old leader exit code {sample.get('old_exit')}"] += 1
        for kind in ("crash", "freeze", "cut"):
            fault = _section(record, "faults", kind)
            if not isinstance(fault, dict):
                continue
            old = fault.get("old") or {}
            if kind != "crash" and old.get("exit") is not None:
                error = _generic(old.get("error")) or "no error logged"
                notes[f"{kind}: old leader died (exit {old['exit']}: {error})"] += 1
            if fault.get("still_ticking"):
                notes[f"{kind}: old leader still ticking at the end of the observation"] += 1
            if fault.get("error"):
                notes[f"{kind}: {fault['error']}"] += 1
        for death in _section(record, "many", "change", "deaths") or []:
            notes[
                f"20 candidates: a follower died (exit {death.get('exit')}: {death.get('error')})"
            ] += 1
        for section in ("handoff", "faults", "many"):
            error = _section(record, section, "error")
            if error:
                notes[f"{section} not measured: {error.splitlines()[0][:200]}"] += 1
    return [
        f"{text} ({count} times)" if count > 1 else text for text, count in sorted(notes.items())
    ]


def _generic(text: str | None) -> str | None:
    """An error message without the scenario's election root, so equal errors group."""
    return None if text is None else re.sub(r"/bench-[\w-]+", "<root>", text)


# -- output ---------------------------------------------------------------------------


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def _ratio(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _cell(stats: dict[str, Any], metric: Metric, show_ratio: bool) -> str:
    if stats["median"] is None:
        return f"failed ({stats['of']}/{stats['of']})" if stats["of"] else "-"
    text = _fmt(stats["median"], metric.digits)
    if stats["n"] > 1 and stats["min"] != stats["max"]:
        text += f" [{_fmt(stats['min'], metric.digits)}-{_fmt(stats['max'], metric.digits)}]"
    if stats["n"] < stats["of"]:
        text += f" ({stats['of'] - stats['n']} of {stats['of']} failed)"
    if show_ratio and stats.get("ratio") is not None:
        text += f" **x{_ratio(stats['ratio'])}**"
    return text


def markdown(meta: dict[str, Any], summary: dict[str, Any], contenders: list[Contender]) -> str:
    head = "| figure | " + " | ".join(contender.label for contender in contenders) + " |"
    rule = "|---|" + "---|" * len(contenders)
    rows = [head, rule]
    for metric in (m for m in METRICS if m.table):
        cells = [
            _cell(summary["metrics"][contender.key][metric.key], metric, contender.key != "ours")
            for contender in contenders
        ]
        rows.append(f"| {metric.label} ({metric.unit}) | " + " | ".join(cells) + " |")
    lines = [
        "# Failover benchmark",
        "",
        f"`{meta['command'].strip()}` at commit {meta.get('commit', 'unknown')}, "
        f"{meta['started']} ({meta['runs']} runs, "
        f"{meta['duration_min']:.1f} min; load average before/after: "
        f"{meta['load_before']} / {meta['load_after']}; {meta['cpus']} CPUs).",
        f"One local three-server ensemble, tickTime {meta['tick_ms']} ms; session timeout "
        f"{meta['session_timeout_s']:g} s for every contender (the article's).",
        "",
        "Cells: median [min-max] over all samples; **xN** is the median divided by ours.",
        "",
        *rows,
        "",
        "## Outcomes besides the numbers",
        "",
    ]
    for contender in contenders:
        notes = summary["outcomes"][contender.key] or ["nothing unusual"]
        lines.append(f"- **{contender.label}**: " + "; ".join(notes))
    lines += ["", "## Claims of issue 4", ""]
    lines += [f"- {claim}" for claim in claims(summary)]
    lines += ["", "Definitions: see `bench/scenarios.py` (module docstring).", ""]
    return "\n".join(lines)


def claims(summary: dict[str, Any]) -> list[str]:
    """The issue's acceptance figures, each with its measured value and a verdict."""
    metrics = summary["metrics"]
    ours = metrics.get("ours")
    if ours is None:
        return ["ours not measured"]
    result = []
    for key in ("article_close", "article_as_written"):
        if key not in metrics:
            continue
        theirs = metrics[key]
        ratio = theirs["handoff_s"].get("ratio")
        verdict = "holds" if ratio is not None and ratio >= 10 else "does NOT hold"
        result.append(f"handoff at least 10x faster than {key}: x{_fmt(ratio, 1)} -> {verdict}")
        ratio = theirs["follower_packets_2"].get("ratio")
        verdict = "holds" if ratio is not None and ratio >= 5 else "does NOT hold"
        result.append(
            f"follower packets at most a fifth of {key}'s (2 candidates): ours are "
            f"1/{_fmt(ratio, 1)} -> {verdict}"
        )
    stale = [v for key in ("freeze_stale_ticks", "cut_stale_ticks") for v in ours[key]["samples"]]
    clean = bool(stale) and all(v == 0 for v in stale)
    result.append(
        f"ours: zero ticks after takeover in every fault ({len(stale)} samples: {stale}) -> "
        + ("holds" if clean else "does NOT hold")
    )
    return result


def chart(path: Path, summary: dict[str, Any], contenders: list[Contender]) -> None:
    """Four panels: handoff, takeovers, stale ticks, follower packets. Min-max whiskers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("handoff", "SIGTERM handoff (s, log)", True),
        ("takeover", "takeover after SIGKILL / freeze / cut (s)", False),
        ("stale", "old leader's ticks after takeover", False),
        ("packets", "packets/s per follower, 2 and 20 candidates (log)", True),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    colours = ["#2b8a3e", "#1c7ed6", "#f08c00", "#c92a2a"]
    for ax, (panel, title, log) in zip(axes.flat, panels, strict=True):
        metrics = [m for m in METRICS if m.chart == panel]
        width = 0.8 / max(len(contenders), 1)
        for i, contender in enumerate(contenders):
            medians, lows, highs = [], [], []
            for metric in metrics:
                stats = summary["metrics"][contender.key][metric.key]
                med = stats["median"] if stats["median"] is not None else 0.0
                medians.append(med)
                lows.append(med - (stats["min"] if stats["min"] is not None else med))
                highs.append((stats["max"] if stats["max"] is not None else med) - med)
            xs = [j + i * width for j in range(len(metrics))]
            bars = ax.bar(
                xs,
                medians,
                width,
                label=contender.label,
                color=colours[i % len(colours)],
                yerr=[lows, highs],
                capsize=3,
            )
            labels = [
                _bar_label(summary, contender, metric, med)
                for metric, med in zip(metrics, medians, strict=True)
            ]
            ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
        ax.set_xticks([j + width * (len(contenders) - 1) / 2 for j in range(len(metrics))])
        ax.set_xticklabels([_short(m) for m in metrics], fontsize=8)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Leader election failover: ours vs kazoo Election vs the article's recipe")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bar_label(summary: dict[str, Any], contender: Contender, metric: Metric, median: float) -> str:
    """The median on the bar; for stale ticks, say so when the old leader had died."""
    text = f"{median:.{metric.digits}f}" if median >= 0.1 or metric.digits == 0 else f"{median:.3f}"
    if metric.key in ("freeze_stale_ticks", "cut_stale_ticks"):
        died = summary["metrics"][contender.key][metric.key.split("_")[0] + "_old_died"]
        if died["n"] and died["min"] == 1.0:
            text += "\n(died)"
    return text


def _short(metric: Metric) -> str:
    return {
        "handoff_s": "SIGTERM",
        "crash_s": "SIGKILL",
        "freeze_takeover_s": "SIGSTOP",
        "cut_takeover_s": "cut",
        "freeze_stale_ticks": "SIGSTOP",
        "cut_stale_ticks": "cut",
        "follower_packets_2": "2 candidates",
        "follower_packets_20": "20 candidates",
    }.get(metric.key, metric.key)


def write_results(
    outdir: Path,
    meta: dict[str, Any],
    records: list[Record],
    summary: dict[str, Any],
    contenders: list[Contender],
) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "summary": summary, "records": records}
    (outdir / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    (outdir / "results.md").write_text(markdown(meta, summary, contenders))
    chart(outdir / "chart.png", summary, contenders)
