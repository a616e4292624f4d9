"""From the raw records of every trial to results.json, results.md and chart.png.

Usage::

    summary = summarize(records, contenders)
    write_results(Path("bench/results"), meta, records, summary, contenders)

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


def _one(*keys: str) -> Callable[[Record], list[Any]]:
    """One sample per record; none at all when the record lacks the phase (``keys[0]``):
    a phase skipped, or not run for this contender, is no failed sample."""
    return lambda record: [_section(record, *keys)] if keys[0] in record else []


def _handoffs(field: str) -> Callable[[Record], list[Any]]:
    def extract(record: Record) -> list[Any]:
        if "handoff" not in record:
            return []
        samples = _section(record, "handoff", "handoffs")
        if not samples:
            return [None]
        return [sample.get(field) for sample in samples]

    return extract


def _died(kind: str) -> Callable[[Record], list[Any]]:
    """1 if the fault's old leader had exited by the end of the observation, else 0."""

    def extract(record: Record) -> list[Any]:
        if "faults" not in record:
            return []
        old = _section(record, "faults", kind, "old")
        if not isinstance(old, dict):
            return [None]
        return [0.0 if old.get("exit") is None else 1.0]

    return extract


def _fault_silence(record: Record) -> list[Any]:
    """The longest of the three faults' silences in one run (None if none measured)."""
    if "faults" not in record:
        return []
    values = [_section(record, "faults", kind, "silence_s") for kind in ("crash", "freeze", "cut")]
    known = [v for v in values if v is not None]
    return [max(known) if known else None]


@dataclass(frozen=True)
class Metric:
    """One row. ``label`` may name ``{many}`` and ``{scale}``: the run's candidate counts.
    A ``tally`` row counts its values ("143 x8") instead of taking a median."""

    key: str
    section: str
    label: str
    unit: str
    extract: Callable[[Record], list[Any]]
    digits: int = 2
    ratio: bool = True  # show "xN" against ours
    chart: str | None = None  # panel name, if charted
    table: bool = True  # a row of results.md (else JSON and chart only)
    tally: bool = False
    short: str = ""  # the bar group's name in the chart
    missing: str = "failed"  # what a sample without a value means


_SIGTERM = "SIGTERM to the leader (2 candidates, alone)"
_LEADER_FAULTS = "Faults on the leader (a pair each, 2x the session)"
_ZK_FAULTS = "ZooKeeper faults (one pair of every contender at once)"
_TRAFFIC = "Traffic and wake-ups"
_COST = "Cost per candidate process (2 candidates, steady state)"
_GROWTH = "Growth: {scale} candidates (ours and kazoo's only)"

METRICS: tuple[Metric, ...] = (
    Metric(
        "handoff_s",
        _SIGTERM,
        "SIGTERM handoff: signal -> new leader's first tick",
        "s",
        _handoffs("handoff_s"),
        3,
        chart="handoff",
        short="2 candidates",
    ),
    Metric(
        "handoff_gap_s",
        _SIGTERM,
        "SIGTERM: old leader's last tick -> new leader's first",
        "s",
        _handoffs("gap_s"),
        2,
    ),
    Metric(
        "sigterm_exit",
        _SIGTERM,
        "exit status of the SIGTERM'd leader",
        "code",
        _handoffs("old_exit"),
        ratio=False,
        tally=True,
    ),
    Metric(
        "crash_s",
        _LEADER_FAULTS,
        "SIGKILL takeover: signal -> new leader's first tick",
        "s",
        _one("faults", "crash", "takeover_s"),
        2,
        chart="takeover",
        short="SIGKILL",
    ),
    Metric(
        "freeze_takeover_s",
        _LEADER_FAULTS,
        "SIGSTOP: signal -> new leader's first tick",
        "s",
        _one("faults", "freeze", "takeover_s"),
        2,
        chart="takeover",
        short="SIGSTOP",
    ),
    Metric(
        "freeze_stale_ticks",
        _LEADER_FAULTS,
        "SIGSTOP: old leader's ticks after takeover",
        "ticks",
        _one("faults", "freeze", "stale_ticks"),
        0,
        ratio=False,
        chart="stale",
        short="SIGSTOP:\nafter takeover",
    ),
    Metric(
        "cut_takeover_s",
        _LEADER_FAULTS,
        "cut off: cut -> new leader's first tick",
        "s",
        _one("faults", "cut", "takeover_s"),
        2,
        chart="takeover",
        short="cut",
    ),
    Metric(
        "cut_stale_ticks",
        _LEADER_FAULTS,
        "cut off: old leader's ticks after takeover",
        "ticks",
        _one("faults", "cut", "stale_ticks"),
        0,
        ratio=False,
        chart="stale",
        short="cut:\nafter takeover",
    ),
    Metric(
        "cut_worked_on_s",
        _LEADER_FAULTS,
        "cut off: old leader's last tick after the cut (before takeover)",
        "s",
        _one("faults", "cut", "old_last_tick_after_fault_s"),
        1,
        ratio=False,
    ),
    Metric(
        "fault_silence_s",
        _LEADER_FAULTS,
        "longest silence (no tick by anyone) around SIGKILL, SIGSTOP or cut",
        "s",
        _fault_silence,
        2,
    ),
    Metric(
        "zk_leader_silence_s",
        _ZK_FAULTS,
        "ZooKeeper leader killed: longest silence (no tick by anyone)",
        "s",
        _one("ensemble", "zk_leader", "silence_s"),
        2,
        chart="ensemble",
        short="ZooKeeper leader killed:\nlongest silence",
    ),
    Metric(
        "zk_leader_two_leaders_s",
        _ZK_FAULTS,
        "ZooKeeper leader killed: time with two leaders ticking",
        "s",
        _one("ensemble", "zk_leader", "two_leaders_s"),
        1,
        ratio=False,
        chart="ensemble",
        short="ZooKeeper leader killed:\ntwo leaders",
    ),
    Metric(
        "zk_leader_sessions_kept",
        _ZK_FAULTS,
        "ZooKeeper leader killed: candidates that kept their session (of 2)",
        "sessions",
        _one("ensemble", "zk_leader", "sessions_kept"),
        0,
        ratio=False,
    ),
    Metric(
        "zk_leader_moved",
        _ZK_FAULTS,
        "ZooKeeper leader killed: who leads at the end (kept, moved, two leaders, none)",
        "runs",
        _one("ensemble", "zk_leader", "moved"),
        ratio=False,
        tally=True,
    ),
    Metric(
        "quorum_ticks_during",
        _ZK_FAULTS,
        "quorum lost 10 s: ticks while no quorum served",
        "ticks",
        _one("ensemble", "quorum", "ticks_during"),
        0,
        ratio=False,
        chart="stale",
        short="quorum lost:\nwithout quorum",
    ),
    Metric(
        "quorum_resume_s",
        _ZK_FAULTS,
        "quorum lost 10 s: quorum back -> first tick",
        "s",
        _one("ensemble", "quorum", "resume_s"),
        2,
        chart="ensemble",
        short="quorum lost 10 s:\nquorum back -> first tick",
        missing="never",
    ),
    Metric(
        "quorum_two_leaders_s",
        _ZK_FAULTS,
        "quorum lost 10 s: time with two leaders ticking",
        "s",
        _one("ensemble", "quorum", "two_leaders_s"),
        1,
        ratio=False,
        chart="ensemble",
        short="quorum lost 10 s:\ntwo leaders",
    ),
    Metric(
        "quorum_moved",
        _ZK_FAULTS,
        "quorum lost 10 s: who leads at the end (kept, moved, two leaders, none)",
        "runs",
        _one("ensemble", "quorum", "moved"),
        ratio=False,
        tally=True,
    ),
    Metric(
        "quorum_sessions_kept",
        _ZK_FAULTS,
        "quorum lost 10 s: candidates that kept their session (of 2)",
        "sessions",
        _one("ensemble", "quorum", "sessions_kept"),
        0,
        ratio=False,
    ),
    Metric(
        "follower_packets_2",
        _TRAFFIC,
        "packets/s per follower, 2 candidates",
        "pkt/s",
        _one("handoff", "steady", "follower_packets_s"),
        2,
        chart="packets",
        short="2 candidates",
    ),
    Metric(
        "follower_requests_2",
        _TRAFFIC,
        "requests/s per follower, 2 candidates",
        "req/s",
        _one("handoff", "steady", "follower_requests_s"),
        2,
    ),
    Metric(
        "leader_packets_2",
        _TRAFFIC,
        "packets/s of the leader, 2 candidates",
        "pkt/s",
        _one("handoff", "steady", "leader_packets_s"),
        2,
    ),
    Metric(
        "follower_packets_20",
        _TRAFFIC,
        "packets/s per follower, {many} candidates",
        "pkt/s",
        _one("many", "steady", "follower_packets_s"),
        2,
        chart="packets",
        short="{many} candidates",
    ),
    Metric(
        "follower_requests_20",
        _TRAFFIC,
        "requests/s per follower, {many} candidates",
        "req/s",
        _one("many", "steady", "follower_requests_s"),
        2,
    ),
    Metric(
        "leader_packets_20",
        _TRAFFIC,
        "packets/s of the leader, {many} candidates",
        "pkt/s",
        _one("many", "steady", "leader_packets_s"),
        2,
    ),
    Metric(
        "watchers_notified_20",
        _TRAFFIC,
        "wake-ups per leader change, {many} candidates (watches fired)",
        "sessions",
        _one("many", "change", "watchers_notified"),
        0,
        ratio=False,
    ),
    Metric(
        "readers_20",
        _TRAFFIC,
        "candidates reading the election around a change, {many} candidates",
        "sessions",
        _one("many", "change", "readers"),
        0,
        ratio=False,
    ),
    Metric(
        "handoff_20_s",
        _TRAFFIC,
        "SIGTERM handoff with {many} candidates",
        "s",
        _one("many", "change", "handoff_s"),
        3,
        chart="handoff",
        short="{many} candidates",
    ),
    Metric(
        "leader_rss_mb",
        _COST,
        "resident memory (RSS) of the leader",
        "MB",
        _one("handoff", "costs", "leader", "rss_mb"),
        0,
        chart="rss",
        short="leader",
    ),
    Metric(
        "follower_rss_mb",
        _COST,
        "resident memory (RSS) of the follower",
        "MB",
        _one("handoff", "costs", "follower", "rss_mb"),
        0,
        chart="rss",
        short="follower",
    ),
    Metric(
        "leader_cpu_s_min",
        _COST,
        "CPU seconds per minute, the leader",
        "s/min",
        _one("handoff", "costs", "leader", "cpu_s_per_min"),
        2,
        chart="cpu",
        short="leader",
    ),
    Metric(
        "follower_cpu_s_min",
        _COST,
        "CPU seconds per minute, the follower",
        "s/min",
        _one("handoff", "costs", "follower", "cpu_s_per_min"),
        2,
        chart="cpu",
        short="follower",
    ),
    Metric(
        "follower_packets_scale",
        _GROWTH,
        "packets/s per follower, {scale} candidates",
        "pkt/s",
        _one("scale", "steady", "follower_packets_s"),
        2,
        chart="packets",
        short="{scale} candidates",
    ),
    Metric(
        "watchers_notified_scale",
        _GROWTH,
        "wake-ups per leader change, {scale} candidates (watches fired)",
        "sessions",
        _one("scale", "change", "watchers_notified"),
        0,
        ratio=False,
    ),
    Metric(
        "readers_scale",
        _GROWTH,
        "candidates reading the election around a change, {scale} candidates",
        "sessions",
        _one("scale", "change", "readers"),
        0,
        ratio=False,
    ),
    Metric(
        "handoff_scale_s",
        _GROWTH,
        "SIGTERM handoff with {scale} candidates",
        "s",
        _one("scale", "change", "handoff_s"),
        3,
        chart="handoff",
        short="{scale} candidates",
    ),
    Metric(
        "freeze_old_died",
        _LEADER_FAULTS,
        "SIGSTOP: old leader exited",
        "runs",
        _died("freeze"),
        0,
        ratio=False,
        table=False,
    ),
    Metric(
        "cut_old_died",
        _LEADER_FAULTS,
        "cut: old leader exited",
        "runs",
        _died("cut"),
        0,
        ratio=False,
        table=False,
    ),
)


def _counts(meta: dict[str, Any]) -> dict[str, Any]:
    config = meta.get("config", {})
    return {"many": config.get("many", 20), "scale": config.get("scale", 100)}


def _tally(values: list[Any]) -> dict[str, Any]:
    counts = Counter("still running" if v is None else str(v) for v in values)
    return {
        "n": len(values),
        "of": len(values),
        "median": None,
        "min": None,
        "max": None,
        "tally": dict(counts.most_common()),
        "samples": values,
    }


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
            values: list[Any] = []
            for record in mine:
                values += metric.extract(record)
            per_metric[metric.key] = _tally(values) if metric.tally else _stats(values)
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
            for text in sample.get("old_exceptions") or []:
                notes[f"SIGTERM: the leader logged `{_generic(text)}`"] += 1
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
        for fault, name in (("zk_leader", "ZooKeeper leader killed"), ("quorum", "quorum lost")):
            got = _section(record, "ensemble", fault)
            if not isinstance(got, dict):
                continue
            if got.get("error"):
                notes[f"{name}: not measured: {_generic(got['error'].splitlines()[0])[:200]}"] += 1
            if got.get("two_leaders_at_end"):
                notes[f"{name}: two leaders still ticking at the end of the observation"] += 1
            for death in got.get("deaths") or []:
                error = _generic(death.get("error")) or "no error logged"
                notes[f"{name}: a candidate died (exit {death.get('exit')}: {error})"] += 1
        for section in ("many", "scale"):
            for death in _section(record, section, "change", "deaths") or []:
                error = _generic(death.get("error"))
                notes[f"{section}: a follower died (exit {death.get('exit')}: {error})"] += 1
        for section in ("handoff", "faults", "many", "scale"):
            error = _section(record, section, "error")
            if error:
                notes[f"{section} not measured: {error.splitlines()[0][:200]}"] += 1
    return [
        f"{text} ({count} times)" if count > 1 else text for text, count in sorted(notes.items())
    ]


def _generic(text: str | None) -> str | None:
    """An error message without the scenario's election root or session ids, so equal
    errors group."""
    if text is None:
        return None
    return re.sub(r"0x[0-9a-f]+", "0x…", re.sub(r"/bench-[\w-]+", "<root>", text))


# -- output ---------------------------------------------------------------------------


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def _ratio(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _cell(stats: dict[str, Any], metric: Metric, show_ratio: bool) -> str:
    if metric.tally:
        if not stats["of"]:
            return "-"
        return ", ".join(f"{value} ×{count}" for value, count in stats["tally"].items())
    if stats["median"] is None:
        return f"{metric.missing} ({stats['of']}/{stats['of']})" if stats["of"] else "-"
    text = _fmt(stats["median"], metric.digits)
    if stats["n"] > 1 and stats["min"] != stats["max"]:
        text += f" [{_fmt(stats['min'], metric.digits)}-{_fmt(stats['max'], metric.digits)}]"
    if stats["n"] < stats["of"]:
        text += f" ({stats['of'] - stats['n']} of {stats['of']} {metric.missing})"
    if show_ratio and stats.get("ratio") is not None:
        text += f" **x{_ratio(stats['ratio'])}**"
    return text


def table(meta: dict[str, Any], summary: dict[str, Any], contenders: list[Contender]) -> str:
    """The Markdown table: one row per figure, a bold row before each section."""
    counts = _counts(meta)
    head = "| figure | " + " | ".join(contender.label for contender in contenders) + " |"
    rule = "|---|" + "---|" * len(contenders)
    rows = [head, rule]
    section = None
    for metric in (m for m in METRICS if m.table):
        if metric.section != section:
            section = metric.section
            rows.append(f"| **{section.format(**counts)}** |" + " |" * len(contenders))
        cells = [
            _cell(summary["metrics"][contender.key][metric.key], metric, contender.key != "ours")
            for contender in contenders
        ]
        label = metric.label.format(**counts)
        rows.append(f"| {label} ({metric.unit}) | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def markdown(meta: dict[str, Any], summary: dict[str, Any], contenders: list[Contender]) -> str:
    lines = [
        "# Failover benchmark",
        "",
        f"`{meta['command'].strip()}` at commit {meta.get('commit', 'unknown')}, "
        f"{meta['started']} ({meta['runs']} runs, phases {', '.join(meta.get('phases', []))}; "
        f"{meta['duration_min']:.1f} min; load average before/after: "
        f"{meta['load_before']} / {meta['load_after']}; {meta.get('machine', meta['cpus'])}).",
        f"One local three-server ensemble, tickTime {meta['tick_ms']} ms; session timeout "
        f"{meta['session_timeout_s']:g} s for every contender (the article's). Versions: "
        + ", ".join(f"{name} {version}" for name, version in meta.get("versions", {}).items())
        + ".",
        "",
        "Cells: median [min-max] over all samples; **xN** is the median divided by ours; "
        '"v ×n": value v in n samples.',
        "",
        table(meta, summary, contenders),
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
    if stale:
        clean = all(v == 0 for v in stale)
        result.append(
            f"ours: zero ticks after takeover in every fault ({len(stale)} samples: {stale}) -> "
            + ("holds" if clean else "does NOT hold")
        )
    return result


_PANELS = (
    ("handoff", "SIGTERM handoff (s, log)", True),
    ("takeover", "takeover after SIGKILL / SIGSTOP / cut (s)", False),
    ("stale", "ticks that should not happen", False),
    ("ensemble", "ZooKeeper faults (s)", False),
    ("packets", "packets/s per follower (log)", True),
    ("rss", "resident memory per candidate (MB)", False),
    ("cpu", "CPU seconds per minute per candidate (log)", True),
)
_COLOURS = ("#2b8a3e", "#1c7ed6", "#7048e8", "#e64980", "#f08c00", "#c92a2a")


def chart(
    path: Path, summary: dict[str, Any], contenders: list[Contender], meta: dict[str, Any]
) -> None:
    """One panel per kind of figure (``_PANELS``), medians with min-max whiskers; a
    figure a contender was not measured for has no bar. The eighth cell is the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = _counts(meta)
    fig, axes = plt.subplots(4, 2, figsize=(14, 17))
    for ax, (panel, title, log) in zip(axes.flat, _PANELS, strict=False):
        metrics = [m for m in METRICS if m.chart == panel]
        width = 0.84 / max(len(contenders), 1)
        for i, contender in enumerate(contenders):
            xs, medians, lows, highs, labels = [], [], [], [], []
            for j, metric in enumerate(metrics):
                stats = summary["metrics"][contender.key][metric.key]
                med = stats["median"]
                if med is None:
                    continue
                xs.append(j + i * width)
                medians.append(med)
                lows.append(med - stats["min"])
                highs.append(stats["max"] - med)
                labels.append(_bar_label(summary, contender, metric, med))
            bars = ax.bar(
                xs,
                medians,
                width,
                label=contender.label,
                color=_COLOURS[i % len(_COLOURS)],
                yerr=[lows, highs],
                capsize=2,
            )
            ax.bar_label(bars, labels=labels, fontsize=6, padding=2, rotation=90)
        ax.set_xticks([j + width * (len(contenders) - 1) / 2 for j in range(len(metrics))])
        ax.set_xticklabels([m.short.format(**counts) for m in metrics], fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.margins(y=0.25)
        if log and any(bar.get_height() > 0 for bar in ax.patches):
            ax.set_yscale("log")
    legend = axes.flat[-1]
    legend.axis("off")
    handles, names = axes.flat[0].get_legend_handles_labels()
    legend.legend(handles, names, loc="center", fontsize=10, frameon=False)
    fig.suptitle(
        "Leader election failover: ours vs kazoo Election vs Curator vs the article's recipe"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bar_label(summary: dict[str, Any], contender: Contender, metric: Metric, median: float) -> str:
    """The median on the bar; for stale ticks, say so when the old leader had died."""
    if median == 0 or median >= 0.1 or metric.digits == 0:
        text = f"{median:.{metric.digits}f}"
    else:
        text = f"{median:.3f}"
    if metric.key in ("freeze_stale_ticks", "cut_stale_ticks"):
        died = summary["metrics"][contender.key][metric.key.split("_")[0] + "_old_died"]
        if died["n"] and died["min"] == 1.0:
            text += " (died)"
    return text


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
    chart(outdir / "chart.png", summary, contenders, meta)
