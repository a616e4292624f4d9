"""The timeline as a PNG: one lane per worker, ticks coloured by token (the legend
says which ledger units each token recorded), refused units crossed out on their lane
with the reason, connection states shaded, Docker's freezes and cuts hatched, silences
measured. Needs matplotlib
(requirements-dev.txt), imported only to draw."""

from __future__ import annotations

import textwrap
from pathlib import Path

from common.logs import rfc3339

from .model import (
    CAUSE_ORDER,
    CONNECTED,
    CONNECTING,
    CUT,
    DOWN,
    FROZEN,
    LOST,
    STATE_TEXT,
    SUSPENDED,
    Happening,
    Timeline,
    duration,
)

__all__ = ["png_size", "render_png"]

_STATE_COLOURS = {
    CONNECTING: "#d6e6f5",
    CONNECTED: "#eeeeee",
    SUSPENDED: "#ffcc80",
    LOST: "#ef9a9a",
    DOWN: "#9e9e9e",
}
_OVER_STYLE = {FROZEN: ("#5c6bc0", "xx"), CUT: ("#8e24aa", "//")}
_REFUSED = "#b71c1c"  # a refused unit: the page's trouble colour
PNG_SIZE_IN = (12.0, 2.6)  # width, height before the lanes
PNG_LANE_IN = 1.0
PNG_DPI = 100


def png_size(timeline: Timeline) -> tuple[int, int]:
    """Pixels (width, height) of the PNG for `timeline`."""
    height = PNG_SIZE_IN[1] + PNG_LANE_IN * len(timeline.lanes)
    return int(PNG_SIZE_IN[0] * PNG_DPI), int(round(height * PNG_DPI))


def _labelled(timeline: Timeline) -> list[Happening]:
    """The happenings worth a label on a lane: of each cluster (one lane, close in
    time), the one that says most (a container event before a shutdown before a lost
    leadership before a connection state)."""
    close = max(0.5, (timeline.t1 - timeline.t0) * 0.04)
    chosen: list[Happening] = []
    cluster: list[Happening] = []
    lane_events = [h for h in timeline.happenings if h.kind != "mark" and h.lane in timeline.lanes]
    for h in sorted(lane_events, key=lambda h: (str(h.lane), h.time)):
        if cluster and (h.lane != cluster[0].lane or h.time - cluster[-1].time > close):
            chosen.append(min(cluster, key=lambda c: (CAUSE_ORDER[c.kind], c.time)))
            cluster = []
        cluster.append(h)
    if cluster:
        chosen.append(min(cluster, key=lambda c: (CAUSE_ORDER[c.kind], c.time)))
    return chosen


def render_png(timeline: Timeline, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    width_px, height_px = png_size(timeline)
    fig, ax = plt.subplots(figsize=(width_px / PNG_DPI, height_px / PNG_DPI), dpi=PNG_DPI)
    n = len(timeline.lanes)
    y_of = {lane: n - 1 - i for i, lane in enumerate(timeline.lanes)}
    cmap = plt.get_cmap("tab10")

    def colour(token: int | None):
        return cmap(timeline.tokens.index(token) % 10)

    def x(t: float) -> float:
        return t - timeline.t0

    for s in timeline.spans:
        ax.broken_barh(
            [(x(s.start), s.end - s.start)],
            (y_of[s.lane] - 0.35, 0.7),
            facecolors=_STATE_COLOURS[s.state],
            edgecolor="none",
            zorder=1,
        )
    for s in timeline.overlays:
        edge, hatch = _OVER_STYLE[s.state]
        ax.broken_barh(
            [(x(s.start), s.end - s.start)],
            (y_of[s.lane] - 0.35, 0.7),
            facecolors="none",
            edgecolor=edge,
            hatch=hatch,
            linewidth=0,
            zorder=2,
        )
    for e in timeline.silences:
        ax.axvspan(x(e.start), x(e.end), color="#e53935", alpha=0.08, zorder=0)
    for token in timeline.tokens:
        mine = [t for t in timeline.ticks if t.token == token]
        ax.vlines(
            [x(t.time) for t in mine],
            [y_of[t.service] - 0.3 for t in mine],
            [y_of[t.service] + 0.3 for t in mine],
            colors=[colour(token)],
            linewidth=2.2,
            zorder=3,
        )
    for m in timeline.refusals:  # a stale write, fenced off: a cross on its lane
        ax.plot(
            x(m.time),
            y_of[m.lane],
            marker="X",
            markersize=13,
            color=_REFUSED,
            markeredgecolor="white",
            linestyle="none",
            zorder=6,
        )
        ax.text(
            x(m.time),
            y_of[m.lane] - 0.33,
            f"unit {m.seq or '?'} refused ({m.reason or '?'})",
            fontsize=8,
            ha="center",
            va="top",
            color=_REFUSED,
            fontweight="bold",
            zorder=6,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
        )
    marks = [h for h in timeline.happenings if h.kind == "mark"]
    for row, h in enumerate(marks):
        ax.axvline(x(h.time), color="black", linestyle="--", linewidth=1, zorder=4)
        right = x(h.time) > 0.7 * (timeline.t1 - timeline.t0)
        ax.text(
            x(h.time),
            n - 0.5 + 0.3 + 0.2 * row,
            f"{row + 1}: {h.text} " if right else f" {row + 1}: {h.text}",
            fontsize=8,
            va="bottom",
            ha="right" if right else "left",
            zorder=5,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5},
        )
    near = (timeline.t1 - timeline.t0) * 0.12
    last_label: dict[str, tuple[float, int]] = {}
    for h in _labelled(timeline):
        lane = str(h.lane)
        short = h.text.removeprefix(f"{lane}'s ").removeprefix(f"{lane} ")
        short = short.removeprefix(f"{lane}: ")
        y = y_of[lane] + 0.36
        previous = last_label.get(lane)
        level = previous[1] + 1 if previous and h.time - previous[0] < near else 0
        last_label[lane] = (h.time, level % 2)
        ax.plot(x(h.time), y, marker="v", color="#424242", markersize=5, zorder=5)
        ax.text(
            x(h.time),
            y + 0.05 + 0.13 * (level % 2),
            short,
            fontsize=7,
            ha="center",
            va="bottom",
            zorder=5,
        )
    top = n - 0.5 + 0.35
    for e in timeline.silences:
        middle = (x(e.start) + x(e.end)) / 2
        ax.annotate(
            "",
            xy=(x(e.start), -0.72),
            xytext=(x(e.end), -0.72),
            arrowprops={"arrowstyle": "<->", "color": "#c62828", "linewidth": 1.4},
            zorder=6,
        )
        ax.text(
            middle,
            -0.8,
            f"{duration(e.gap)} without a leader's tick",
            ha="center",
            va="top",
            fontsize=9,
            color="#c62828",
            fontweight="bold",
        )
        ax.text(middle, -1.02, e.cause, ha="center", va="top", fontsize=7.5, color="#c62828")
    for e in timeline.episodes:
        if not e.silent and e.after is not None:
            ax.axvline(x(e.end), color="#616161", linestyle=":", linewidth=1, zorder=4)
            ax.text(
                x(e.end),
                -0.55,
                f"handoff {duration(e.gap)}",
                ha="center",
                va="top",
                fontsize=8,
                color="#424242",
            )
    ax.set_ylim(-1.3, top + 0.25 + 0.2 * len(marks))
    ax.set_xlim(-0.5, x(timeline.t1) + 0.5)
    ax.set_yticks([y_of[lane] for lane in timeline.lanes], list(timeline.lanes), fontsize=11)
    ax.set_xlabel(
        f"seconds from the first event ({rfc3339(timeline.t0, 3)[11:23]} UTC); "
        f"a tick is one Processing..., about every {timeline.interval:.2g} s"
    )
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#e0e0e0", linewidth=0.6, zorder=0)
    ax.set_title("\n".join(textwrap.wrap(timeline.title, 110)), fontsize=12, loc="left")
    handles: list = [
        Patch(color=colour(tok), label=f"tick, {timeline.legend(tok)}") for tok in timeline.tokens
    ]
    if timeline.refusals:
        handles.append(
            Line2D(
                [],
                [],
                marker="X",
                markersize=9,
                color=_REFUSED,
                linestyle="none",
                label="unit refused by ZooKeeper",
            )
        )
    used = {s.state for s in timeline.spans}
    handles += [
        Patch(facecolor=_STATE_COLOURS[s], edgecolor="#bdbdbd", label=STATE_TEXT[s])
        for s in (CONNECTING, CONNECTED, SUSPENDED, LOST, DOWN)
        if s in used
    ]
    handles += [
        Patch(
            facecolor="white",
            edgecolor=_OVER_STYLE[s][0],
            hatch=_OVER_STYLE[s][1],
            label=STATE_TEXT[s],
        )
        for s in (FROZEN, CUT)
        if s in {o.state for o in timeline.overlays}
    ]
    if timeline.silences:
        handles.append(Patch(color="#e53935", alpha=0.15, label="silence: nobody ticks"))
    fig.legend(
        handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False
    )
    fig.subplots_adjust(
        left=0.09, right=0.98, top=0.86 - 0.02 * (n > 2), bottom=0.14 + 0.35 / (n + 1)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=PNG_DPI)
    plt.close(fig)
    return path
