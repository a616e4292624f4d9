"""The timeline as terminal rows: a character per half second (or more, to fit), one
row per worker, the silences under them, a legend, then each episode in words."""

from __future__ import annotations

import textwrap

from common.logs import rfc3339

from .model import (
    CONNECTED,
    CONNECTING,
    CUT,
    DOWN,
    FROZEN,
    LOST,
    STATE_TEXT,
    SUSPENDED,
    Timeline,
    duration,
    token_hex,
)

__all__ = ["render_text"]

_TEXT_BUCKET_S = 0.5
_STATE_CHAR = {CONNECTING: ".", CONNECTED: "-", SUSPENDED: "~", LOST: "!", DOWN: " "}
_OVER_CHAR = {FROZEN: "=", CUT: "x"}
_SYMBOLS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_AXIS_STEPS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)
_ANSI_COLOURS = ("32", "34", "35", "36", "33", "31")


def _symbol(timeline: Timeline, token: int | None) -> str:
    return _SYMBOLS[timeline.tokens.index(token) % len(_SYMBOLS)]


def render_text(timeline: Timeline, width: int = 100, color: bool = False) -> list[str]:
    """The timeline as terminal rows: a character per bucket (0.5 s, or more so that
    it fits `width`), one row per worker, silences under them, then a legend."""
    label = max(len(lane) for lane in (*timeline.lanes, "silence")) + 2
    span = max(timeline.t1 - timeline.t0, _TEXT_BUCKET_S)
    columns = max(10, width - label - 1)
    bucket = max(_TEXT_BUCKET_S, span / (columns - 1))
    count = int(span / bucket) + 1

    def col(t: float) -> int:
        return min(count - 1, max(0, int((t - timeline.t0) / bucket)))

    def paint(char: str, token: int | None) -> str:
        if not color or char in " -.~!=x":
            return char
        return f"\x1b[1;{_ANSI_COLOURS[timeline.tokens.index(token) % 6]}m{char}\x1b[0m"

    lines = textwrap.wrap(timeline.title, width) or [""]
    lines.append("")
    axis = [" "] * count
    step = next((s for s in _AXIS_STEPS_S if s / bucket >= 8), _AXIS_STEPS_S[-1])
    k = 0
    while k * step <= span:
        text, at = f"{k * step:g}s", col(timeline.t0 + k * step)
        if at + len(text) <= count and all(
            ch == " " for ch in axis[max(0, at - 1) : at + len(text)]
        ):
            axis[at : at + len(text)] = list(text)
        k += 1
    lines.append(" " * label + "".join(axis).rstrip())
    for lane in timeline.lanes:
        row: list[tuple[str, int | None]] = [(" ", None)] * count
        for s in (s for s in timeline.spans if s.lane == lane):
            for c in range(col(s.start), col(s.end) + 1):
                row[c] = (_STATE_CHAR[s.state], None)
        for s in (s for s in timeline.overlays if s.lane == lane):
            for c in range(col(s.start), col(s.end) + 1):
                row[c] = (_OVER_CHAR[s.state], None)
        for r in (r for r in timeline.runs if r.lane == lane):
            for c in range(col(r.start), col(r.end) + 1):
                row[c] = (_symbol(timeline, r.token), r.token)
        lines.append(f"{lane:<{label}}" + "".join(paint(ch, tok) for ch, tok in row).rstrip())
    marks = [h for h in timeline.happenings if h.kind == "mark"]
    if marks:
        row_marks = [" "] * count
        for n, mark in enumerate(marks, 1):
            row_marks[col(mark.time)] = "^" if n > 9 else str(n)
        lines.append(f"{'marks':<{label}}" + "".join(row_marks).rstrip())
    if timeline.silences:
        row_gaps = [" "] * count
        for e in timeline.silences:
            a, b = col(e.start), col(e.end)
            text = duration(e.gap).replace(" ", "")
            inner = max(0, b - a - 1)
            body = f"{text:-^{inner}}" if len(text) <= inner else "-" * inner
            row_gaps[a : b + 1] = list(("[" + body + "]")[: b - a + 1])
        lines.append(f"{'silence':<{label}}" + "".join(row_gaps).rstrip())
    lines.append("")
    legend = [
        f"{paint(_symbol(timeline, tok), tok)} token {token_hex(tok)} ({timeline.holder(tok)})"
        for tok in timeline.tokens
    ]
    used = {s.state for s in timeline.spans} | {s.state for s in timeline.overlays}
    legend += [
        f"'{(_STATE_CHAR | _OVER_CHAR)[state]}' {STATE_TEXT[state]}"
        for state in (CONNECTING, CONNECTED, SUSPENDED, LOST, DOWN, FROZEN, CUT)
        if state in used
    ]
    legend.append(f"one character = {bucket:.2g} s; [..] a silence: no Processing from anyone")
    lines += (
        textwrap.wrap("   ".join(legend), width, break_on_hyphens=False)
        if not color
        else ["   ".join(legend)]
    )
    lines.append("")
    for n, mark in enumerate(marks, 1):
        lines.append(f"mark {n}  +{mark.time - timeline.t0:.1f} s  {mark.text}")
    for e in timeline.episodes:
        clock = rfc3339(e.start, 3)[11:23]
        kind = "silence" if e.silent else "handoff"
        lines += textwrap.wrap(
            f"+{e.start - timeline.t0:.1f} s ({clock} UTC) {kind}: {e.sentence()}",
            width,
            subsequent_indent="    ",
        )
    for h in (h for h in timeline.happenings if h.kind == "refused"):
        clock = rfc3339(h.time, 3)[11:23]
        lines += textwrap.wrap(
            f"+{h.time - timeline.t0:.1f} s ({clock} UTC) refused: {h.text}",
            width,
            subsequent_indent="    ",
        )
    return lines
