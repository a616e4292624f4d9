"""From the records of every trial to a summary: per contender, per figure, the median,
min and max over the samples, the ratio to ours, and what happened besides the numbers.

Usage::

    summary = summarize(records, ["ours", "kazoo", ...])
    summary["metrics"]["kazoo"]["handoff_s"]   # {"n", "of", "median", "min", "max", "ratio", ...}
    summary["outcomes"]["kazoo"]               # ["cut: old leader still ticking ...", ...]

A sample that could not be taken (a candidate died, nobody took over) is counted and
shown, never dropped silently. Ratios are a contender's median over ours, so "x10" means
ten times ours.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from typing import Any

from bench.metrics import METRICS, Record, section_of


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


def spread(values: list[float | None]) -> dict[str, Any]:
    """Median, min and max of the samples taken; ``of`` counts the ones that failed too."""
    good = [float(v) for v in values if v is not None]
    return {
        "n": len(good),
        "of": len(values),
        "median": statistics.median(good) if good else None,
        "min": min(good) if good else None,
        "max": max(good) if good else None,
        "samples": [None if v is None else round(float(v), 4) for v in values],
    }


def summarize(records: list[Record], keys: list[str]) -> dict[str, Any]:
    """contender key -> metric key -> stats (and "ratio" to ours), plus outcome notes."""
    summary: dict[str, Any] = {"metrics": {}, "outcomes": {}}
    for key in keys:
        mine = [r for r in records if r["contender"] == key]
        per_metric = {}
        for metric in METRICS:
            values: list[Any] = []
            for record in mine:
                values += metric.extract(record)
            per_metric[metric.key] = _tally(values) if metric.tally else spread(values)
        summary["metrics"][key] = per_metric
        summary["outcomes"][key] = _outcomes(mine)
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
        for sample in section_of(record, "handoff", "handoffs") or []:
            for text in sample.get("old_exceptions") or []:
                notes[f"SIGTERM: the leader logged `{_generic(text)}`"] += 1
        for kind in ("crash", "freeze", "cut"):
            fault = section_of(record, "faults", kind)
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
            got = section_of(record, "ensemble", fault)
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
            for death in section_of(record, section, "change", "deaths") or []:
                error = _generic(death.get("error"))
                notes[f"{section}: a follower died (exit {death.get('exit')}: {error})"] += 1
        for section in ("handoff", "faults", "many", "scale"):
            error = section_of(record, section, "error")
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
