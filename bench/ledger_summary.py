"""The ledger's cost, summarised: from the samples of ``bench/ledger_cost.py`` (as
published in ``bench/published/bench.json``) to medians and ranges per mode.

Usage::

    summary = summarize_ledger(data["ledger"]["samples"])
    summary["throughput"]["on"]["ticks_s"]   # {"n", "of", "median", "min", "max", "samples"}
    summary["slowdown"]                      # median ticks/s off over on

Pure: the pages are drawn from the samples each time (``python -m bench report``), so
the summary can never disagree with the data it came from.
"""

from __future__ import annotations

from typing import Any

from bench.summary import spread

MODES = ("off", "on")


def summarize_ledger(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Per mode: ticks per second and requests per unit, the handoff; the slowdown."""
    summary: dict[str, Any] = {"throughput": {}, "handoff": {}, "errors": []}
    for mode in MODES:
        runs = [s for s in samples if s["mode"] == mode and s["kind"] == "throughput"]
        summary["throughput"][mode] = {
            "ticks_s": spread([s.get("ticks_s") for s in runs]),
            "requests_per_unit": spread([s.get("requests_per_unit") for s in runs]),
            "units": sum(s.get("units") or 0 for s in runs),
        }
        handoffs = [s for s in samples if s["mode"] == mode and s["kind"] == "handoff"]
        summary["handoff"][mode] = {"handoff_s": spread([s.get("handoff_s") for s in handoffs])}
    summary["errors"] = [f"{s['mode']} {s['kind']}: {s['error']}" for s in samples if "error" in s]
    on = summary["throughput"]["on"]["ticks_s"]["median"]
    off = summary["throughput"]["off"]["ticks_s"]["median"]
    summary["slowdown"] = off / on if on and off else None
    return summary


def brief(summary: dict[str, Any]) -> str:
    """One progress line."""

    def med(stats: dict[str, Any], digits: int) -> str:
        value = stats["median"]
        return "-" if value is None else f"{value:.{digits}f}"

    through, hand = summary["throughput"], summary["handoff"]
    return (
        f"ticks/s off {med(through['off']['ticks_s'], 0)}, on {med(through['on']['ticks_s'], 0)}; "
        f"requests/unit on {med(through['on']['requests_per_unit'], 2)}; handoff off "
        f"{med(hand['off']['handoff_s'], 3)} s, on {med(hand['on']['handoff_s'], 3)} s"
    )
