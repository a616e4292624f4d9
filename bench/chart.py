"""The benchmark's chart: one panel per kind of figure, a bar per contender.

Usage::

    chart(Path("docs/bench-chart.png"), data)   # data: what bench/published/ holds

Medians with min-max whiskers, from the summary (``bench/summary.py``); a figure a
contender was not measured for has no bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.metrics import METRICS, Metric
from bench.report import counts_of
from bench.report import labels as column_names

_PANELS = (
    ("handoff", "SIGTERM handoff (s, log)", True),
    ("takeover", "takeover after SIGKILL / SIGSTOP / cut (s)", False),
    ("stale", "ticks that should not happen", False),
    ("ensemble", "ZooKeeper faults (s)", False),
    ("packets", "packets/s per follower (log)", True),
    ("rss", "resident memory per candidate (MB)", False),
    ("cpu", "CPU seconds per minute per candidate (log)", True),
)
_COLOURS = ("#2b8a3e", "#1c7ed6", "#4dabf7", "#7048e8", "#e64980", "#f08c00", "#c92a2a", "#868e96")


def chart(path: Path, data: dict[str, Any]) -> None:
    """One panel per kind of figure (``_PANELS``), medians with min-max whiskers; a
    figure a contender was not measured for has no bar. The eighth cell is the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    counts = counts_of(data)
    summary = data["summary"]
    contenders = list(column_names(data).items())
    fig, axes = plt.subplots(4, 2, figsize=(14, 17))
    for ax, (panel, title, log) in zip(axes.flat, _PANELS, strict=False):
        metrics = [m for m in METRICS if m.chart == panel]
        width = 0.84 / max(len(contenders), 1)
        for i, (key, label) in enumerate(contenders):
            xs, medians, lows, highs, labels = [], [], [], [], []
            for j, metric in enumerate(metrics):
                stats = summary["metrics"][key].get(metric.key) or {}
                med = stats.get("median")
                if med is None:
                    continue
                xs.append(j + i * width)
                medians.append(med)
                lows.append(med - stats["min"])
                highs.append(stats["max"] - med)
                labels.append(_bar_label(summary, key, metric, med))
            bars = ax.bar(
                xs,
                medians,
                width,
                label=label,
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
    # Patches of their own: a contender with no bar in the first panel still has a colour.
    handles = [
        Patch(color=_COLOURS[i % len(_COLOURS)], label=label)
        for i, (_key, label) in enumerate(contenders)
    ]
    legend.legend(handles=handles, loc="center", fontsize=10, frameon=False)
    run = data["run"]
    fig.suptitle(
        "Leader election failover: ours vs kazoo Election vs Curator vs the article's recipe\n"
        f"{run['command']} on commit {run['commit']}, {run['started']}, {run['runs']} run(s)"
        + (" (a smoke run: a placeholder)" if run.get("quick") else "")
    )
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bar_label(summary: dict[str, Any], key: str, metric: Metric, median: float) -> str:
    """The median on the bar; for stale ticks, say so when the old leader had died."""
    if median == 0 or median >= 0.1 or metric.digits == 0:
        text = f"{median:.{metric.digits}f}"
    else:
        text = f"{median:.3f}"
    if metric.key in ("freeze_stale_ticks", "cut_stale_ticks"):
        died = summary["metrics"][key][metric.key.split("_")[0] + "_old_died"]
        if died["n"] and died["min"] == 1.0:
            text += " (died)"
    return text
