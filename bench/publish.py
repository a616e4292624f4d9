"""Published numbers: committed data in, the pages' generated passages out.

Usage::

    python -m bench report            # rewrite every generated passage from the data
    python -m bench report --check    # exit 1, naming each passage that differs

Two data files, both committed and both small (summaries, not log lines):

* ``bench/published/bench.json``: what ``python -m bench`` wrote for the run behind
  docs/numbers.md and the README's "How it compares" (``write_published``): the run
  (command, commit, date, runs, machine, load, versions), the contenders, the floors and
  the summary (per contender, per figure: median, min, max, samples, ratio to ours).
* ``bench/published/demo-numbers.json``: what ``make demo-numbers`` wrote (every
  sample of every demo, and the run's commit, date, rounds and machine), behind the
  ranges the README's exercises quote.
* ``soak/published/soak.json``: what ``python -m soak --publish`` wrote (the judge's
  summary: counts, takeovers, the tightest margins, the largest excuses), behind
  docs/numbers.md's soak table.

``python -m bench report`` also draws ``docs/bench-chart.png`` from the benchmark's data
(its title names the run); ``--check`` compares the text passages only.

A generated passage sits between ``<!-- n:KEY -->`` and ``<!-- /n -->`` in one of
``PAGES``; ``phrases()`` says what each KEY holds. Nothing between the markers is
written by hand: the check fails on a page that says anything else, on a KEY it does
not know, and on a passage whose data is missing.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path
from typing import Any

from bench import report
from bench.metrics import by_key

REPO_ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = REPO_ROOT / "bench" / "published"
BENCH_DATA = PUBLISHED / "bench.json"
DEMO_DATA = PUBLISHED / "demo-numbers.json"
SOAK_DATA = REPO_ROOT / "soak" / "published" / "soak.json"
CHART = REPO_ROOT / "docs" / "bench-chart.png"
PAGES = ("README.md", "docs/numbers.md", "docs/demos.md", "docs/workshop.md")
_MARKER = re.compile(r"<!-- n:([\w.:-]+) -->(.*?)<!-- /n -->", re.DOTALL)
# Passages that stand on lines of their own (the rest sit inside a sentence).
_BLOCKS = (
    "bench.run",
    "bench.table",
    "bench.floors",
    "bench.outcomes",
    "bench.ledger",
    "soak.run",
)


def write_published(path: Path, data: dict[str, Any]) -> None:
    """The run's data, floats rounded to four places so the file stays small and diffs
    read; nothing a page needs is dropped."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_rounded(data), indent=1, sort_keys=False) + "\n")


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


# -- what the markers hold ---------------------------------------------------------------


def phrases(
    bench: dict[str, Any] | None,
    demos: dict[str, Any] | None,
    soak: dict[str, Any] | None = None,
) -> dict[str, str]:
    """KEY -> the text between its markers, for every KEY the data can fill."""
    found: dict[str, str] = {}
    if soak is not None:
        found["soak.run"] = soak_passage(soak)
    if bench is not None:
        found["bench.run"] = report.run_paragraph(bench)
        found["bench.table"] = report.table(bench)
        found["bench.floors"] = report.floors_paragraph(bench)
        found["bench.outcomes"] = report.outcomes(bench)
        found["bench.compare"] = compare_sentence(bench)
        if "ledger" in bench:
            found["bench.ledger"] = report.ledger_passage(bench)
        for key in bench["contenders"]:
            for metric in ("handoff_s", "quorum_two_leaders_s", "quorum_moved"):
                found[f"bench.{key}.{metric}"] = figure(bench, key, metric)
    if demos is not None:
        found.update(demo_phrases(demos))
    return {key: (f"\n{text}\n" if key in _BLOCKS else text) for key, text in found.items()}


def figure(data: dict[str, Any], key: str, metric_key: str) -> str:
    """One contender's figure in words: "0.39 s (0.05 to 0.93, 8 samples)", "two leaders
    in 4 of 4 runs", or "not measured"."""
    stats = data["summary"]["metrics"].get(key, {}).get(metric_key)
    if not stats or not stats["of"]:
        return "not measured"
    metric = by_key(metric_key)
    if metric.tally:
        return ", ".join(f"{v} in {n} of {stats['of']} runs" for v, n in stats["tally"].items())
    if stats["median"] is None:
        return f"{metric.missing} ({stats['of']} of {stats['of']})"
    text = f"{report.fmt(stats['median'], metric.digits)} {metric.unit}"
    if stats["n"] > 1 and stats["min"] != stats["max"]:
        low, high = (report.fmt(stats[k], metric.digits) for k in ("min", "max"))
        text += f" ({low} to {high}, {stats['n']} samples)"
    return text


def _median(data: dict[str, Any], key: str, metric: str) -> float | None:
    stats = data["summary"]["metrics"].get(key, {}).get(metric)
    return None if not stats else stats.get("median")


def _seconds(value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _times(value: float | None) -> str:
    if value is None:
        return "not measured"
    return {0: "0 times", 1: "once", 2: "twice"}.get(int(value), f"{value:.0f} times")


def _stale(data: dict[str, Any], key: str, kind: str) -> str:
    """A stale-tick count in words; "at least" when the old leader was still working
    when the observation ended, since then the window cut the count short."""
    count = _median(data, key, f"{kind}_stale_ticks")
    still = data["summary"]["metrics"].get(key, {}).get(f"{kind}_still_ticking") or {}
    if count is None:
        return "not measured"
    if still.get("max"):
        return f"at least {_times(count)}"
    return _times(count)


def compare_sentence(data: dict[str, Any]) -> str:
    """The README's "How it compares" paragraph, from the data alone."""
    run, config = data["run"], data["run"]["config"]
    have = data["contenders"]
    hold = f"{config['hold_s']:g} s"
    ours_handoff = _seconds(_median(data, "ours", "handoff_s"))
    parts = [
        "`make bench` runs ours beside kazoo's `Election`, Curator 5.7.1's `LeaderLatch` "
        "(with its `LeaderLatchListener`, and with `hasLeadership()` polled) and "
        "`LeaderSelector`, and the article's recipe, on one ensemble "
        f"({run['runs']} run{'s' if run['runs'] != 1 else ''}, session "
        f"{config['session_timeout_s']:g} s; commit {run['commit']}, "
        f"{run['started'].split()[0]}"
        + (
            "; a smoke run, a placeholder until the full run replaces it"
            if run.get("quick")
            else ""
        )
        + f"): SIGTERM handoff {ours_handoff}"
    ]
    others = [
        ("curator_latch_listener", "LeaderLatch with its listener"),
        ("curator_latch_poll", "polled"),
        ("curator_selector", "LeaderSelector"),
        ("article_as_written", "the article as written"),
    ]
    handoffs = [
        f"{name} {_seconds(_median(data, key, 'handoff_s'))}" for key, name in others if key in have
    ]
    if handoffs:
        parts[-1] += f" ({', '.join(handoffs)})"
    ours_stale = max(
        _median(data, "ours", "freeze_stale_ticks") or 0,
        _median(data, "ours", "cut_stale_ticks") or 0,
    )
    stale = (
        f"a leader frozen or cut off for {hold} works {_times(ours_stale)} after its successor "
        f"starts"
    )
    if "kazoo" in have:
        cut_short = any(
            (data["summary"]["metrics"]["kazoo"].get(f"{k}_still_ticking") or {}).get("max")
            for k in ("freeze", "cut")
        )
        stale += (
            f"; kazoo's works {_stale(data, 'kazoo', 'freeze')} after the freeze and "
            f"{_stale(data, 'kazoo', 'cut')} after the cut"
        )
        if cut_short:
            stale += (
                f" (lower bounds: it was still working when the observation ended, "
                f"{config['observe_s']:g} s after the fault did)"
            )
    curator = [
        (k, n)
        for k, n in (
            ("curator_latch_listener", "with its listener"),
            ("curator_latch_poll", "polled"),
        )
        if k in have
    ]
    counts = [_stale(data, k, "freeze") for k, _name in curator]
    if len(set(counts)) == 1 and len(curator) > 1:
        stale += (
            f", Curator's LeaderLatch {counts[0]} after the freeze, with its listener or polled"
        )
    elif curator:
        stale += (
            ", Curator's LeaderLatch "
            + " and ".join(
                f"{count} ({name})" for count, (_key, name) in zip(counts, curator, strict=True)
            )
            + " after the freeze"
        )
    parts.append(stale)
    quorum = f"through a {config['quorum_down_s']:g} s quorum loss "
    ours_two = _median(data, "ours", "quorum_two_leaders_s")
    quorum += "no two leaders" if not ours_two else f"two leaders for {ours_two:.1f} s"
    notes = []
    for key, name in (
        ("curator_latch_poll", "Curator 5.7.1's LeaderLatch"),
        ("curator540_latch_poll", "Debian 12's Curator 5.4.0 LeaderLatch"),
    ):
        if key in have:
            two = data["summary"]["metrics"][key].get("quorum_two_leaders_s") or {}
            runs = sum(1 for v in two.get("samples", []) if v)
            notes.append(f"{name}: two leaders in {runs} of {two.get('of', 0)} runs")
    if notes:
        quorum += f" ({'; '.join(notes)}; the 5.4.0 double leader is CURATOR-696, fixed in 5.7.0)"
    parts.append(quorum)
    return "; ".join(parts) + "."


# -- the demos' ranges -------------------------------------------------------------------


_NUMBERS = {6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def _range(values: list[float], unit: str) -> str:
    def show(v: float) -> str:
        return f"{v * 1000:.0f}" if unit == "ms" else f"{v:.1f}"

    low, mid, high = min(values), statistics.median(values), max(values)
    if show(low) == show(high):
        return f"{show(low)} {unit} in each round"
    return f"{show(low)} to {show(high)} {unit} (median {show(mid)} {unit})"


def demo_phrases(demos: dict[str, Any]) -> dict[str, str]:
    """demo.run, and demo.<demo>.<figure> for each figure the samples have."""
    meta, samples = demos["meta"], demos["samples"]
    placeholder = (
        "; a short run, a placeholder until ten rounds replace it" if meta["rounds"] < 10 else ""
    )
    ran = len({s["demo"] for s in samples})
    found = {
        "demo.run": (
            f"{meta['rounds']} round{'s' if meta['rounds'] != 1 else ''} of all "
            f"{_NUMBERS.get(ran, str(ran))} back to "
            f"back on commit {meta['commit']}, {meta['started']} (`make demo-numbers`, "
            f"{meta['compose']}, {meta['images']}, on {meta['machine']}{placeholder})"
        )
    }
    for demo in dict.fromkeys(s["demo"] for s in samples):
        mine = [s for s in samples if s["demo"] == demo]
        for figure_name, unit in (("handoff_s", "ms"), ("silence_s", "s")):
            values = [s[figure_name] for s in mine if s.get(figure_name) is not None]
            if values:
                found[f"demo.{demo}.{figure_name.removesuffix('_s')}"] = _range(values, unit)
        stale = [s["stale_ticks"] for s in mine if s.get("stale_ticks") is not None]
        if stale:
            bad = [n for n in stale if n]
            found[f"demo.{demo}.stale"] = (
                "none in any round"
                if not bad
                else f"{sum(bad)} in {len(bad)} of {len(stale)} rounds"
            )
    return found


# -- the soak ---------------------------------------------------------------------------


def soak_passage(soak: dict[str, Any]) -> str:
    """The soak's table, its tightest margins and its largest excuses."""
    run = soak["run"]
    load_ = run.get("load", {})
    injected = soak["injected"]
    takeovers = "; ".join(
        f"{kind} {v['median']:.2f} s ({v['max']:.2f})" for kind, v in soak["takeover_s"].items()
    )
    late = [v for v in soak["violations"] if v.startswith("leaderless")]
    stretches = f"{soak['stretches']}, " + (
        "**every one inside its bound**" if not late else f"**{len(late)} past their bound**"
    )
    if soak["tightest"]:
        stretches += f"; the tightest ended {soak['tightest'][0]['margin_s']:.2f} s early"
    rows = [
        (
            "run",
            f"`{run['command']}` on commit {run['commit']}, {run['started']}, "
            f"{run['duration_min']:.1f} minutes, on {run['machine']}; load average "
            f"{report.fmt(load_.get('min'), 1)} to {report.fmt(load_.get('max'), 1)}",
        ),
        (
            f"faults injected (of {soak['planned']} planned; {soak['skipped']} skipped)",
            f"{sum(injected.values()):,}: " + ", ".join(f"{n} {k}" for k, n in injected.items()),
        ),
        ("stretches without quorum", f"{soak['no_quorum']}"),
        ("clock stalls (the machine paused)", f"{soak['stalls']['count']}"),
        ("ticks", f"{soak['ticks']:,}"),
        (
            "E1 violations by the workers' lines (token down, two leaders, a shared token)",
            f"**{soak['e1']}**",
        ),
        *_soak_ledger_rows(soak.get("ledger")),
        (
            "SIGTERM not answered by exit 0",
            f"**{soak['exit_violations']}** (of {injected.get('term', 0)})",
        ),
        ("leaderless stretches", stretches),
        ("bounds extended by a later incident", f"{soak['excused']} stretches"),
        ("takeover after a fault on the leader, median (max)", takeovers or "none"),
    ]
    lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
    ledger = soak.get("ledger") or {}
    if ledger.get("violations"):
        lines += ["What the ledger's judge found:", ""]
        lines += [f"- {v}" for v in ledger["violations"]] + [""]
    if soak["minutes"] < 60:
        lines += [
            f"**A short run ({soak['minutes']:g} minutes), a placeholder until the published "
            "hour replaces it.**",
            "",
        ]
    lines.append("The ten tightest margins:")
    lines.append("")
    lines += [f"- {g['text']}" for g in soak["tightest"]] or ["- none"]
    lines += ["", "The largest excuses (how much later incidents moved a bound):", ""]
    lines += [f"- +{g['excused_s']:.1f} s: {g['text']}" for g in soak["largest_excuses"]] or [
        "- none"
    ]
    return "\n".join(lines)


def _soak_ledger_rows(ledger: dict | None) -> list[tuple[str, str]]:
    """The store as judge: what the ledger holds, what it refused, what its judge found,
    and whether the two judges agree (a run from before the ledger has no such rows)."""
    if not ledger:
        return []
    refused = ledger.get("refusals") or {}
    said = ", ".join(f"{n} {why}" for why, n in sorted(refused.items())) or "none"
    found = ledger.get("violations") or []
    return [
        ("units in the ledger (the store as judge)", f"{ledger['units']:,}; refused: {said}"),
        ("findings of the ledger's judge", f"**{len(found)}**" + (" (below)" if found else "")),
        ("the two judges agree on E1", "yes" if ledger.get("agree") else "**no**"),
    ]


# -- pages ------------------------------------------------------------------------------


def render(text: str, known: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with every passage regenerated, and the keys it could not fill."""
    unknown: list[str] = []

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in known:
            unknown.append(key)
            return match.group(0)
        return f"<!-- n:{key} -->{known[key]}<!-- /n -->"

    return _MARKER.sub(fill, text), unknown


def regenerate(root: Path = REPO_ROOT, check: bool = False) -> list[str]:
    """Rewrite (or, with ``check``, compare) every page under ``root``; the problems."""
    known = phrases(
        load(root / BENCH_DATA.relative_to(REPO_ROOT)),
        load(root / DEMO_DATA.relative_to(REPO_ROOT)),
        load(root / SOAK_DATA.relative_to(REPO_ROOT)),
    )
    problems = []
    for page in PAGES:
        path = root / page
        text = path.read_text(encoding="utf-8")
        new, unknown = render(text, known)
        problems += [f"{page}: no data for the passage n:{key}" for key in unknown]
        if new == text:
            continue
        if check:
            old = dict(_MARKER.findall(text))
            for key, body in _MARKER.findall(new):
                if old.get(key) != body:
                    problems.append(f"{page}: the passage n:{key} differs from the data")
        else:
            path.write_text(new, encoding="utf-8")
    bench = load(root / BENCH_DATA.relative_to(REPO_ROOT))
    if not check and bench is not None:
        from bench.chart import chart  # matplotlib: only when drawing

        chart(root / CHART.relative_to(REPO_ROOT), bench)
    return problems
