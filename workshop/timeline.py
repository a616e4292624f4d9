"""`make timeline`: who led when, drawn from the workers' logs, as a PNG and as text.

    python -m workshop.timeline                      # the compose project's logs
    python -m workshop.timeline a.log b.log          # saved logs, any format
    python -m workshop.timeline --last 60 --mark "12:00:01 docker compose stop service1"

Reads the workers' log lines (``docker compose logs --timestamps``, or files: JSON or
text format, with or without Compose's prefixes; see workshop.records) and, for the
compose project, Docker's own events for its containers (kill, die, stop, pause,
network disconnect), which say what the logs cannot: a killed worker logs nothing.

The picture: one lane per worker; a tick for each "Processing...", coloured by its
fencing token; the lane shaded by the worker's ZooKeeper connection state
(connecting, connected, SUSPENDED, LOST, not running) and hatched while Docker had it
paused or cut off the network; every silence (no tick from anyone for longer than 1.5
tick intervals) marked with its length and its cause, as the logs and Docker tell it:
a mark given with --mark, a container event, the old leader's ``leadership_lost``
reason or ``shutdown``, a connection state change. The title says what happened; the
x axis counts seconds from the first event.

The data (``build``) is pure logic over Records, tested in tests/test_timeline.py; the
PNG needs matplotlib (requirements-dev.txt), imported only to draw it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import textwrap
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from common.logs import rfc3339
from common.settings import wants_color

from .compose import ComposeError, Container, compose_command, containers, run
from .records import LineReader, Record, read_lines

__all__ = [
    "Episode",
    "Happening",
    "Run",
    "Span",
    "Tick",
    "Timeline",
    "build",
    "main",
    "parse_mark",
    "render_png",
    "render_text",
]

WORKERS = ("service1", "service2")
DEFAULT_OUT = Path(".build/timeline.png")
# A silence is a stretch without any tick longer than this many tick intervals.
SILENCE_INTERVALS = 1.5
_DEFAULT_INTERVAL_S = 1.0
_TEXT_BUCKET_S = 0.5

# Connection states as the lanes show them, and their text characters.
CONNECTING, CONNECTED, SUSPENDED, LOST, DOWN = (
    "CONNECTING",
    "CONNECTED",
    "SUSPENDED",
    "LOST",
    "DOWN",
)
FROZEN, CUT = "FROZEN", "CUT"  # what Docker did to the container, over the above
_STATE_CHAR = {CONNECTING: ".", CONNECTED: "-", SUSPENDED: "~", LOST: "!", DOWN: " "}
_OVER_CHAR = {FROZEN: "=", CUT: "x"}
_STATE_TEXT = {
    CONNECTING: "connecting",
    CONNECTED: "connected, not leading",
    SUSPENDED: "connection SUSPENDED",
    LOST: "session LOST",
    DOWN: "not running",
    FROZEN: "frozen (docker pause)",
    CUT: "cut off (network disconnect)",
}


@dataclass(frozen=True)
class Tick:
    time: float
    lane: str
    token: int | None


@dataclass(frozen=True)
class Run:
    """Consecutive ticks of one worker under one token, without a silence."""

    lane: str
    token: int | None
    start: float
    end: float
    count: int


@dataclass(frozen=True)
class Span:
    """A worker in one state from `start` to `end`."""

    lane: str
    state: str
    start: float
    end: float


@dataclass(frozen=True)
class Happening:
    """Something that may explain a silence: `kind` is mark, docker, lost, shutdown or zk."""

    time: float
    lane: str | None
    kind: str
    text: str


@dataclass(frozen=True)
class Episode:
    """From tick `before` to tick `after`: a change of leader or token, or a silence."""

    before: Tick
    after: Tick | None  # None: nobody ticked again before the logs end
    end: float
    cause: str
    outcome: str
    silent: bool

    @property
    def start(self) -> float:
        return self.before.time

    @property
    def gap(self) -> float:
        return self.end - self.before.time

    def short(self) -> str:
        """`cause -> who leads after how long`, for a title that lists several."""
        if self.after is None:
            return f"{self.cause} -> nobody leads ({_seconds(self.gap)} to the end)"
        who = "leads on" if self.after.lane == self.before.lane else "leads"
        return f"{self.cause} -> {self.after.lane} {who} after {_seconds(self.gap)}"

    def sentence(self) -> str:
        if self.after is None:
            return f"{self.cause}; {self.outcome} ({_seconds(self.gap)} to the end)"
        return f"{self.cause}; {self.outcome}, {_seconds(self.gap)} after the last tick"


@dataclass(frozen=True)
class Timeline:
    t0: float
    t1: float
    lanes: tuple[str, ...]
    ticks: tuple[Tick, ...]
    runs: tuple[Run, ...]
    spans: tuple[Span, ...]  # connection states
    overlays: tuple[Span, ...]  # FROZEN, CUT
    happenings: tuple[Happening, ...]
    episodes: tuple[Episode, ...]
    interval: float
    tokens: tuple[int | None, ...]  # in order of first use
    title: str

    @property
    def silences(self) -> tuple[Episode, ...]:
        return tuple(e for e in self.episodes if e.silent)

    def holder(self, token: int | None) -> str:
        return next((t.lane for t in self.ticks if t.token == token), "?")


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 1 else f"{value:.1f} s"


def _hex(token: int | None) -> str:
    return "no token" if token is None else f"0x{token:x}"


# ------------------------------------------------------------------------- building


def tick_interval(ticks: Sequence[Tick]) -> float:
    """The median spacing of one worker's consecutive ticks under one token."""
    spacings = []
    last: dict[str, Tick] = {}
    for tick in ticks:
        prev = last.get(tick.lane)
        if prev is not None and prev.token == tick.token:
            spacings.append(tick.time - prev.time)
        last[tick.lane] = tick
    return statistics.median(spacings) if spacings else _DEFAULT_INTERVAL_S


def _runs(ticks: Sequence[Tick], limit: float) -> list[Run]:
    runs: list[Run] = []
    open_runs: dict[str, Run] = {}
    for tick in ticks:
        run_ = open_runs.get(tick.lane)
        if run_ is not None and run_.token == tick.token and tick.time - run_.end <= limit:
            open_runs[tick.lane] = Run(run_.lane, run_.token, run_.start, tick.time, run_.count + 1)
            continue
        if run_ is not None:
            runs.append(run_)
        open_runs[tick.lane] = Run(tick.lane, tick.token, tick.time, tick.time, 1)
    runs += open_runs.values()
    return sorted(runs, key=lambda r: (r.start, r.lane))


def _states(records: Sequence[Record], lanes: Sequence[str], t1: float):
    """Connection-state spans and Docker overlays per lane, from the records in order."""
    spans: list[Span] = []
    overlays: list[Span] = []
    state: dict[str, tuple[str, float]] = {}
    over: dict[str, dict[str, float]] = {lane: {} for lane in lanes}

    def enter(lane: str, new: str, at: float) -> None:
        old = state.get(lane)
        if old is not None and old[0] == new:
            return
        if old is not None and at > old[1]:
            spans.append(Span(lane, old[0], old[1], at))
        state[lane] = (new, at)

    def begin(lane: str, kind: str, at: float) -> None:
        over[lane].setdefault(kind, at)

    last_line: dict[str, float] = {}  # the worker's own last log line

    def finish(lane: str, kind: str, at: float, thaw: bool = False) -> None:
        since = over[lane].pop(kind, None)
        if since is None and thaw:
            # Docker's event buffer forgot the pause: a frozen worker writes nothing,
            # so it was frozen from its last line on at the latest.
            since = last_line.get(lane)
        if since is not None and at > since:
            overlays.append(Span(lane, kind, since, at))

    for r in records:
        e = r.event
        if not e.startswith(("container_", "network_")):
            last_line[r.lane] = r.time
        if e in ("started", "retry", "container_start"):
            enter(r.lane, CONNECTING, r.time)
        elif e == "zk_state" and r.fields.get("state") in (CONNECTED, SUSPENDED, LOST):
            enter(r.lane, str(r.fields["state"]), r.time)
        elif e in ("shutdown", "container_die"):
            enter(r.lane, DOWN, r.time)
            finish(r.lane, FROZEN, r.time)
        elif e in ("processing", "leader_elected", "joined", "following") and (
            r.lane not in state or state[r.lane][0] in (DOWN, CONNECTING)
        ):
            enter(r.lane, CONNECTED, r.time)  # the log began after its zk_state line
        elif e == "container_pause":
            begin(r.lane, FROZEN, r.time)
        elif e == "container_unpause":
            finish(r.lane, FROZEN, r.time, thaw=True)
        elif e == "network_disconnect":
            begin(r.lane, CUT, r.time)
        elif e == "network_connect":
            finish(r.lane, CUT, r.time)
    for lane, (name, since) in state.items():
        if t1 > since:
            spans.append(Span(lane, name, since, t1))
    for lane, kinds in over.items():
        for kind, since in kinds.items():
            if t1 > since:
                overlays.append(Span(lane, kind, since, t1))
    return sorted(spans, key=lambda s: (s.lane, s.start)), sorted(
        overlays, key=lambda s: (s.lane, s.start)
    )


_DOCKER_TEXT = {
    "container_kill": "{lane} got {signal}",  # what docker stop (SIGTERM) and kill send
    "container_die": "{lane} exited (code {exit_code})",
    "container_killed": "{lane} killed (exit {exit_code}: SIGKILL)",
    "container_stop": "{lane} stopped by Docker",
    "container_pause": "{lane} frozen (docker pause)",
    "container_unpause": "{lane} thawed (docker unpause)",
    "container_start": "{lane} started",
    "network_disconnect": "{lane} cut off the network",
    "network_connect": "{lane} back on the network",
}


def _happenings(records: Sequence[Record], marks: Sequence[Happening]) -> list[Happening]:
    found = list(marks)
    for r in records:
        if r.event in _DOCKER_TEXT:
            values = {"lane": r.lane, **r.fields}
            killed = r.event == "container_die" and str(r.fields.get("exit_code")) == "137"
            try:
                text = _DOCKER_TEXT["container_killed" if killed else r.event].format(**values)
            except KeyError:  # no exit code known: it was started again since
                text = _DOCKER_TEXT[r.event].split(" (")[0].format(lane=r.lane)
                text = text.replace(" exited", "'s container exited")
            found.append(Happening(r.time, r.lane, "docker", text))
        elif r.event == "leadership_lost":
            reason = r.fields.get("reason", "?")
            text = (
                f"{r.lane} resigned (shutting down)"
                if reason == "shutdown"
                else f"{r.lane} lost leadership ({reason})"
            )
            found.append(Happening(r.time, r.lane, "lost", text))
        elif r.event == "lease_lapsed":
            text = f"{r.lane}'s lease ran out (no word from ZooKeeper)"
            found.append(Happening(r.time, r.lane, "lost", text))
        elif r.event == "shutdown":
            signal_name = r.fields.get("signal", "?")
            found.append(
                Happening(r.time, r.lane, "shutdown", f"{r.lane} shut down ({signal_name})")
            )
        elif r.event == "zk_state" and r.fields.get("state") in (SUSPENDED, LOST):
            state = r.fields["state"]
            found.append(Happening(r.time, r.lane, "zk", f"{r.lane}: ZooKeeper {state}"))
    return sorted(found, key=lambda h: h.time)


# How much a kind of happening explains a silence of the leader: lower first.
_CAUSE_ORDER = {"mark": 0, "docker": 1, "shutdown": 2, "lost": 3, "zk": 4}
_DOCKER_CAUSES = ("got SIG", "killed", "exited", "stopped", "frozen", "cut off")


def _cause(
    before: Tick, end: float, happenings: Sequence[Happening], next_line: float | None
) -> str:
    """The likeliest reason for the stretch from tick `before` to `end`; `next_line` is
    when `before`'s worker wrote its next line, if it did."""
    window = [h for h in happenings if before.time - 1.0 <= h.time <= end]
    marks = [h for h in happenings if h.kind == "mark" and before.time - 2.0 <= h.time <= end]
    if marks:
        return marks[0].text
    own = [
        h
        for h in window
        if h.lane == before.lane
        and (h.kind != "docker" or any(word in h.text for word in _DOCKER_CAUSES))
    ]
    if own:
        best = min(own, key=lambda h: (_CAUSE_ORDER[h.kind], h.time))
        if best.kind == "lost":  # a shutdown says more than "lost leadership (shutdown)"
            down = [h for h in own if h.kind == "shutdown"]
            return down[0].text if down and "(shutting down)" in best.text else best.text
        return best.text
    others = [h for h in window if h.kind == "zk"]
    if others:
        return others[0].text
    if next_line is None:
        return f"{before.lane} wrote nothing more (killed? gone?)"
    if next_line > end:
        return f"{before.lane} wrote nothing for {next_line - before.time:.1f} s (frozen?)"
    return f"{before.lane} went quiet; no log line or container event says why"


def _next_line(records: Sequence[Record], tick: Tick) -> float | None:
    """When the worker of `tick` wrote its next line after it (its own, not Docker's)."""
    return next(
        (
            r.time
            for r in records
            if r.lane == tick.lane
            and r.time > tick.time
            and not r.event.startswith(("container_", "network_"))
        ),
        None,
    )


def _outcome(before: Tick, after: Tick | None) -> str:
    if after is None:
        return "nobody led again"
    if after.lane == before.lane and after.token == before.token:
        return f"{after.lane} led on, same token {_hex(after.token)}"
    if after.lane == before.lane:
        return f"{after.lane} led again, token {_hex(before.token)} -> {_hex(after.token)}"
    return f"{after.lane} took over, token {_hex(before.token)} -> {_hex(after.token)}"


def _title(episodes: Sequence[Episode], ticks: Sequence[Tick]) -> str:
    if not ticks:
        return "Nobody led: not one Processing... in these logs"
    if not episodes:
        lanes = sorted({t.lane for t in ticks})
        return f"{', '.join(lanes)} led throughout, token {_hex(ticks[0].token)}"
    if len(episodes) == 1:
        return episodes[0].sentence()
    if len(episodes) <= 3:
        return "; ".join(e.short() for e in episodes)
    changes = sum(1 for e in episodes if e.after is None or e.after.lane != e.before.lane)
    silences = sum(1 for e in episodes if e.silent)
    longest = max(episodes, key=lambda e: e.gap)
    return (
        f"{changes} leader change{'s' * (changes != 1)}, {silences} "
        f"silence{'s' * (silences != 1)}; the longest: {longest.sentence()}"
    )


def build(
    records: Iterable[Record],
    marks: Sequence[Happening] = (),
    lanes: Sequence[str] | None = None,
    since: float | None = None,
) -> Timeline:
    """The timeline of `records` (worker events and container events), from `since`."""
    everything = sorted(records, key=lambda r: r.time)
    if not everything:
        raise ValueError("no worker log lines to draw")
    seen = {r.lane for r in everything if not r.event.startswith(("container_", "network_"))}
    lane_names = tuple(lanes) if lanes else tuple(sorted(seen))
    everything = [r for r in everything if r.lane in lane_names]
    ordered = [r for r in everything if since is None or r.time >= since]
    marks = [m for m in marks if since is None or m.time >= since]
    if not ordered:
        raise ValueError("no worker log lines to draw in that window")
    t0 = min([ordered[0].time, *[m.time for m in marks]])
    if since is not None:
        t0 = max(since, everything[0].time)
    t1 = max([ordered[-1].time, *[m.time for m in marks]])
    ticks = tuple(Tick(r.time, r.lane, r.token) for r in ordered if r.event == "processing")
    interval = tick_interval(ticks)
    limit = SILENCE_INTERVALS * interval
    # States come from the whole log (a worker connected before the window still is).
    spans, overlays = (
        tuple(_clip(s, t0) for s in layer if s.end > t0)
        for layer in _states(everything, lane_names, t1)
    )
    happenings = _happenings(ordered, marks)
    for o in overlays:  # a freeze or a cut whose start only the overlay knows
        text = _DOCKER_TEXT["container_pause" if o.state == FROZEN else "network_disconnect"]
        said = text.format(lane=o.lane)
        if not any(h.text == said and abs(h.time - o.start) < 1 for h in happenings):
            happenings.append(Happening(o.start, o.lane, "docker", said))
    happenings.sort(key=lambda h: h.time)
    episodes = []
    for before, after in zip(ticks, ticks[1:], strict=False):
        silent = after.time - before.time > limit
        if silent or after.lane != before.lane or after.token != before.token:
            episodes.append(
                Episode(
                    before,
                    after,
                    after.time,
                    _cause(before, after.time, happenings, _next_line(ordered, before)),
                    _outcome(before, after),
                    silent,
                )
            )
    if ticks and t1 - ticks[-1].time > limit:
        last = ticks[-1]
        episodes.append(
            Episode(
                last,
                None,
                t1,
                _cause(last, t1, happenings, _next_line(ordered, last)),
                _outcome(last, None),
                True,
            )
        )
    tokens = tuple(dict.fromkeys(t.token for t in ticks))
    return Timeline(
        t0,
        t1,
        lane_names,
        ticks,
        tuple(_runs(ticks, limit)),
        tuple(spans),
        tuple(overlays),
        tuple(happenings),
        tuple(episodes),
        interval,
        tokens,
        _title(episodes, ticks),
    )


def _clip(span: Span, t0: float) -> Span:
    return span if span.start >= t0 else Span(span.lane, span.state, t0, span.end)


def parse_mark(text: str, near: float) -> Happening:
    """`"12:00:01[.5] what happened"` -> a mark on the day of `near` (UTC); ValueError."""
    found = re.match(r"^\s*(\d{1,2}):(\d\d):(\d\d(?:\.\d+)?)\s+(\S.*)$", text)
    if not found:
        raise ValueError(f"--mark wants 'HH:MM:SS[.fff] what happened' (UTC), got {text!r}")
    hours, minutes, seconds, what = found.groups()
    if int(hours) > 23 or int(minutes) > 59 or float(seconds) >= 60:
        raise ValueError(f"--mark has no such time of day: {text!r}")
    day = datetime.fromtimestamp(near, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    at = day.timestamp() + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if at - near > 12 * 3600:
        at -= 86400
    elif near - at > 12 * 3600:
        at += 86400
    return Happening(at, None, "mark", what.strip())


# ---------------------------------------------------------------------- text output

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
            text = _seconds(e.gap).replace(" ", "")
            inner = max(0, b - a - 1)
            body = f"{text:-^{inner}}" if len(text) <= inner else "-" * inner
            row_gaps[a : b + 1] = list(("[" + body + "]")[: b - a + 1])
        lines.append(f"{'silence':<{label}}" + "".join(row_gaps).rstrip())
    lines.append("")
    legend = [
        f"{paint(_symbol(timeline, tok), tok)} token {_hex(tok)} ({timeline.holder(tok)})"
        for tok in timeline.tokens
    ]
    used = {s.state for s in timeline.spans} | {s.state for s in timeline.overlays}
    legend += [
        f"'{(_STATE_CHAR | _OVER_CHAR)[state]}' {_STATE_TEXT[state]}"
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
    return lines


# ----------------------------------------------------------------------- the picture

_STATE_COLOURS = {
    CONNECTING: "#d6e6f5",
    CONNECTED: "#eeeeee",
    SUSPENDED: "#ffcc80",
    LOST: "#ef9a9a",
    DOWN: "#9e9e9e",
}
_OVER_STYLE = {FROZEN: ("#5c6bc0", "xx"), CUT: ("#8e24aa", "//")}
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
            chosen.append(min(cluster, key=lambda c: (_CAUSE_ORDER[c.kind], c.time)))
            cluster = []
        cluster.append(h)
    if cluster:
        chosen.append(min(cluster, key=lambda c: (_CAUSE_ORDER[c.kind], c.time)))
    return chosen


def render_png(timeline: Timeline, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
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
            [y_of[t.lane] - 0.3 for t in mine],
            [y_of[t.lane] + 0.3 for t in mine],
            colors=[colour(token)],
            linewidth=2.2,
            zorder=3,
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
            f"{_seconds(e.gap)} without a leader's tick",
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
                f"handoff {_seconds(e.gap)}",
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
    handles = [
        Patch(color=colour(tok), label=f"tick, token {_hex(tok)} ({timeline.holder(tok)})")
        for tok in timeline.tokens
    ]
    used = {s.state for s in timeline.spans}
    handles += [
        Patch(facecolor=_STATE_COLOURS[s], edgecolor="#bdbdbd", label=_STATE_TEXT[s])
        for s in (CONNECTING, CONNECTED, SUSPENDED, LOST, DOWN)
        if s in used
    ]
    handles += [
        Patch(
            facecolor="white",
            edgecolor=_OVER_STYLE[s][0],
            hatch=_OVER_STYLE[s][1],
            label=_STATE_TEXT[s],
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


# ------------------------------------------------------------------------ the command


def _docker_records(compose: list[str], since: float) -> list[Record]:
    """The project's container and network events since `since`, as Records."""
    found = containers(compose)
    projects = {c.project for c in found if c.project}
    service_of = {c.id: c.service for c in found}
    out: list[Record] = []
    out += _inspect_records(found, since)
    for project in projects:
        text = run(
            [
                "docker",
                "events",
                "--since",
                f"{since:.3f}",
                "--until",
                f"{time.time():.3f}",
                "--filter",
                f"label=com.docker.compose.project={project}",
                "--format",
                "{{json .}}",
            ]
        )
        for line in text.splitlines():
            record = _docker_record(line, service_of)
            if record is not None and not any(
                o.lane == record.lane and o.event == record.event and abs(o.time - record.time) < 1
                for o in out
            ):
                out.append(record)
    return out


def _inspect_records(found: Sequence[Container], since: float) -> list[Record]:
    """Each worker container's last exit and start, from `docker inspect`: these stay
    when Docker's event buffer (a few hundred events, health checks included) has
    moved on."""
    out = []
    for c in found:
        if c.service not in WORKERS:
            continue
        if c.finished_at is not None and c.finished_at >= since:
            # A container started again has its exit code reset to 0 by Docker.
            code = {} if c.running else {"exit_code": c.exit_code}
            out.append(Record(c.finished_at, c.service, "container_die", code))
        restarted = c.started_at is not None and c.finished_at is not None
        if restarted and c.started_at >= since and c.started_at > c.finished_at:
            out.append(Record(c.started_at, c.service, "container_start", {}))
    return out


def _docker_record(line: str, service_of: dict[str, str]) -> Record | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    kind, action = event.get("Type"), str(event.get("Action", ""))
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    when = int(event.get("timeNano") or 0) / 1e9
    if kind == "container" and action in ("kill", "die", "stop", "pause", "unpause", "start"):
        lane = attributes.get("com.docker.compose.service")
        if not lane:
            return None
        fields: dict[str, object] = {}
        if action == "kill":
            fields["signal"] = _signal_name(attributes.get("signal", "?"))
        if action == "die":
            fields["exit_code"] = attributes.get("exitCode", "?")
        return Record(when, lane, f"container_{action}", fields)
    if kind == "network" and action in ("disconnect", "connect"):
        lane = service_of.get(str(attributes.get("container", "")))
        return Record(when, lane, f"network_{action}", {}) if lane else None
    return None


def _signal_name(number: str) -> str:
    import signal

    try:
        return signal.Signals(int(number)).name
    except ValueError:
        return str(number)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        print(f"timeline: {message} (see python -m workshop.timeline --help)", file=sys.stderr)
        sys.exit(2)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="timeline",
        description="Who led when, from the workers' logs: a PNG and the same as text.",
    )
    parser.add_argument(
        "files", nargs="*", type=Path, help="log files (default: the compose project's)"
    )
    parser.add_argument(
        "--compose", help="the Compose command (default: docker compose, else docker-compose)"
    )
    parser.add_argument(
        "--mark",
        action="append",
        default=[],
        metavar="'HH:MM:SS text'",
        help="a moment to mark, UTC, e.g. '12:00:01 stop service1' (repeatable)",
    )
    parser.add_argument("--last", type=float, metavar="SECONDS", help="only the last SECONDS")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"the PNG (default {DEFAULT_OUT})"
    )
    parser.add_argument("--no-png", action="store_true", help="text only")
    parser.add_argument("--width", type=int, help="text width (default: the terminal's)")
    args = parser.parse_args(argv)
    if args.last is not None and not args.last > 0:
        parser.error(f"--last must be a positive number of seconds, got {args.last:g}")
    if args.width is not None and args.width < 40:
        parser.error(f"--width must be at least 40, got {args.width}")
    try:
        records = _read(args)
    except (OSError, ComposeError) as exc:
        print(f"timeline: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, ComposeError) else 2
    if not any(not r.event.startswith(("container_", "network_")) for r in records):
        where = ", ".join(map(str, args.files)) or "the compose project's logs"
        print(f"timeline: no worker log lines in {where}", file=sys.stderr)
        return 1
    end = max(r.time for r in records)
    try:
        marks = [parse_mark(text, end) for text in args.mark]
    except ValueError as exc:
        parser.error(str(exc))
    since = end - args.last if args.last is not None else None
    lanes = sorted({r.lane for r in records if not r.event.startswith(("container_", "network_"))})
    try:
        timeline = build(records, marks, lanes, since)
    except ValueError as exc:
        print(f"timeline: {exc}", file=sys.stderr)
        return 1
    width = args.width or shutil.get_terminal_size((100, 24)).columns
    print("\n".join(render_text(timeline, width, wants_color(sys.stdout))))
    if not args.no_png:
        path = render_png(timeline, args.out)
        print(f"\nPNG: {path}")
    return 0


def _read(args: argparse.Namespace) -> list[Record]:
    if args.files:
        records: list[Record] = []
        for path in args.files:
            with open(path, encoding="utf-8", errors="replace") as source:
                records += read_lines(source, default_lane=path.stem)
        return sorted(records, key=lambda r: r.time)
    compose = compose_command(args.compose)
    text = run([*compose, "logs", "--no-color", "--timestamps", *WORKERS], timeout=60)
    reader = LineReader(services=WORKERS)
    records = [r for r in map(reader.read, text.splitlines()) if r is not None]
    if records:
        records += _docker_records(compose, min(r.time for r in records) - 1)
    return sorted(records, key=lambda r: r.time)


def _main() -> int:
    try:
        return main()
    except BrokenPipeError:  # `| head`: the reader has seen enough
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(_main())
