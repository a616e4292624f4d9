"""Building the timeline from Records: ticks into runs, lines into connection states,
Docker's events into overlays, and each silence or handoff into an Episode with its
likeliest cause. Pure logic (tests/test_timeline.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from common.logreader import Record, Tick, ticks_of
from common.logs import Event, Reason

from ..compose import DOCKER_EVENTS
from .model import (
    CAUSE_ORDER,
    CONNECTED,
    CONNECTING,
    CUT,
    DOWN,
    FROZEN,
    LOST,
    SILENCE_INTERVALS,
    SUSPENDED,
    Episode,
    Happening,
    Run,
    Span,
    Timeline,
    token_hex,
)

__all__ = ["build", "tick_interval"]

# One Processing... a second, when the logs have too few ticks to tell.
_DEFAULT_INTERVAL_S = 1.0


def tick_interval(ticks: Sequence[Tick]) -> float:
    """The median spacing of one worker's consecutive ticks under one token."""
    spacings = []
    last: dict[str, Tick] = {}
    for tick in ticks:
        prev = last.get(tick.service)
        if prev is not None and prev.token == tick.token:
            spacings.append(tick.time - prev.time)
        last[tick.service] = tick
    return statistics.median(spacings) if spacings else _DEFAULT_INTERVAL_S


def _runs(ticks: Sequence[Tick], limit: float) -> list[Run]:
    runs: list[Run] = []
    open_runs: dict[str, Run] = {}
    for tick in ticks:
        run_ = open_runs.get(tick.service)
        if run_ is not None and run_.token == tick.token and tick.time - run_.end <= limit:
            open_runs[tick.service] = Run(
                run_.lane, run_.token, run_.start, tick.time, run_.count + 1
            )
            continue
        if run_ is not None:
            runs.append(run_)
        open_runs[tick.service] = Run(tick.service, tick.token, tick.time, tick.time, 1)
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
        if not e.startswith(DOCKER_EVENTS):
            last_line[r.service] = r.time
        if e in (Event.STARTED, Event.RETRY, "container_start"):
            enter(r.service, CONNECTING, r.time)
        elif e == Event.ZK_STATE and r.fields.get("state") in (CONNECTED, SUSPENDED, LOST):
            enter(r.service, str(r.fields["state"]), r.time)
        elif e in (Event.SHUTDOWN, "container_die"):
            enter(r.service, DOWN, r.time)
            finish(r.service, FROZEN, r.time)
        elif e in (Event.PROCESSING, Event.LEADER_ELECTED, Event.JOINED, Event.FOLLOWING) and (
            r.service not in state or state[r.service][0] in (DOWN, CONNECTING)
        ):
            enter(r.service, CONNECTED, r.time)  # the log began after its zk_state line
        elif e == "container_pause":
            begin(r.service, FROZEN, r.time)
        elif e == "container_unpause":
            finish(r.service, FROZEN, r.time, thaw=True)
        elif e == "network_disconnect":
            begin(r.service, CUT, r.time)
        elif e == "network_connect":
            finish(r.service, CUT, r.time)
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
            values = {"lane": r.service, **r.fields}
            killed = r.event == "container_die" and str(r.fields.get("exit_code")) == "137"
            try:
                text = _DOCKER_TEXT["container_killed" if killed else r.event].format(**values)
            except KeyError:  # no exit code known: it was started again since
                text = _DOCKER_TEXT[r.event].split(" (")[0].format(lane=r.service)
                text = text.replace(" exited", "'s container exited")
            found.append(Happening(r.time, r.service, "docker", text))
        elif r.event == Event.LEADERSHIP_LOST:
            reason = r.fields.get("reason", "?")
            text = (
                f"{r.service} resigned (shutting down)"
                if reason == Reason.SHUTDOWN
                else f"{r.service} lost leadership ({reason})"
            )
            found.append(Happening(r.time, r.service, "lost", text))
        elif r.event == Event.UNIT_REFUSED:
            text = (
                f"{r.service}'s unit {r.fields.get('unit', '?')} REFUSED by ZooKeeper "
                f"({r.fields.get('reason', '?')}), token {token_hex(r.token)}"
            )
            found.append(Happening(r.time, r.service, "refused", text))
        elif r.event == Event.LEASE_LAPSED:
            text = f"{r.service}'s lease ran out (no word from ZooKeeper)"
            found.append(Happening(r.time, r.service, "lost", text))
        elif r.event == Event.SHUTDOWN:
            signal_name = r.fields.get("signal", "?")
            found.append(
                Happening(r.time, r.service, "stop", f"{r.service} shut down ({signal_name})")
            )
        elif r.event == Event.ZK_STATE and r.fields.get("state") in (SUSPENDED, LOST):
            state = r.fields["state"]
            found.append(Happening(r.time, r.service, "zk", f"{r.service}: ZooKeeper {state}"))
    return sorted(found, key=lambda h: h.time)


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
        if h.lane == before.service
        and h.kind != "refused"
        and (h.kind != "docker" or any(word in h.text for word in _DOCKER_CAUSES))
    ]
    if own:
        best = min(own, key=lambda h: (CAUSE_ORDER[h.kind], h.time))
        if best.kind == "lost":  # a shutdown says more than "lost leadership (shutdown)"
            down = [h for h in own if h.kind == "stop"]
            return down[0].text if down and "(shutting down)" in best.text else best.text
        return best.text
    others = [h for h in window if h.kind == "zk"]
    if others:
        return others[0].text
    if next_line is None:
        return f"{before.service} wrote nothing more (killed? gone?)"
    if next_line > end:
        return f"{before.service} wrote nothing for {next_line - before.time:.1f} s (frozen?)"
    return f"{before.service} went quiet; no log line or container event says why"


def _next_line(records: Sequence[Record], tick: Tick) -> float | None:
    """When the worker of `tick` wrote its next line after it (its own, not Docker's)."""
    return next(
        (
            r.time
            for r in records
            if r.service == tick.service
            and r.time > tick.time
            and not r.event.startswith(DOCKER_EVENTS)
        ),
        None,
    )


def _outcome(before: Tick, after: Tick | None) -> str:
    if after is None:
        return "nobody led again"
    tokens = f"token {token_hex(before.token)} -> {token_hex(after.token)}"
    if after.service == before.service and after.token == before.token:
        return f"{after.service} led on, same token {token_hex(after.token)}"
    if after.service == before.service:
        return f"{after.service} led again, {tokens}"
    return f"{after.service} took over, {tokens}"


def _title(episodes: Sequence[Episode], ticks: Sequence[Tick]) -> str:
    if not ticks:
        return "Nobody led: not one Processing... in these logs"
    if not episodes:
        lanes = sorted({t.service for t in ticks})
        return f"{', '.join(lanes)} led throughout, token {token_hex(ticks[0].token)}"
    if len(episodes) == 1:
        return episodes[0].sentence()
    if len(episodes) <= 3:
        return "; ".join(e.short() for e in episodes)
    changes = sum(1 for e in episodes if e.after is None or e.after.service != e.before.service)
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
    seen = {r.service for r in everything if not r.event.startswith(DOCKER_EVENTS)}
    lane_names = tuple(lanes) if lanes else tuple(sorted(seen))
    everything = [r for r in everything if r.service in lane_names]
    ordered = [r for r in everything if since is None or r.time >= since]
    marks = [m for m in marks if since is None or m.time >= since]
    if not ordered:
        raise ValueError("no worker log lines to draw in that window")
    t0 = min([ordered[0].time, *[m.time for m in marks]])
    if since is not None:
        t0 = max(since, everything[0].time)
    t1 = max([ordered[-1].time, *[m.time for m in marks]])
    ticks = tuple(ticks_of(ordered))
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
        if silent or after.service != before.service or after.token != before.token:
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
