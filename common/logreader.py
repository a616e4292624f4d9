"""Reading the worker log back: lines of either format into Records, ticks, silences.

The one reader of the format common/logs.py writes. Everything that judges a run from
its logs (the testbed's checker, the workshop's timeline and numbers, the soak, the
benchmark, the tests) reads through here, so a line means one thing everywhere:

    reader = LogReader(service="service1")
    records = [r for r in map(reader.read, lines) if r is not None]
    ticks = ticks_of(records)                 # the Processing... lines, in time order
    longest_silence(ticks, start, end)        # the longest stretch nobody ticked

A JSON line (LOG_FORMAT=json) carries its date, service and every field; a text line
(LOG_FORMAT=text) only a clock and what its text view shows (``logs.parse_text``), so
the reader dates it from a timestamp given with it (Docker's), else from the last line
it read, else from a given day. Pure functions and one small class: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .logs import Event, parse_text, render_text

__all__ = [
    "LogReader",
    "Record",
    "Tick",
    "longest_silence",
    "parse_json_line",
    "parse_time",
    "record_of",
    "ticks_of",
]

# Fields of a JSON line that a Record keeps apart from the event's own.
_RECORD_HEAD = ("time", "level", "event", "service")
# A text line's clock that runs back (or ahead) by more than this is another day.
_DAY_TURN_S = 12 * 3600


@dataclass(frozen=True)
class Record:
    """One worker event: when (epoch seconds, UTC), whose, which, and its fields."""

    time: float
    service: str
    event: str
    fields: dict[str, Any] = field(default_factory=dict)
    level: str = "INFO"

    @property
    def text(self) -> str:
        """The event's short text (common.logs' text view), whatever format it came in."""
        return render_text(self.event, str(self.fields.get("message", "")), self.fields)

    @property
    def token(self) -> int | None:
        value = self.fields.get("fencing_token")
        return int(value) if isinstance(value, int | float | str) and value != "" else None


@dataclass(frozen=True)
class Tick:
    """One Processing... line: ``service`` did leader work at ``time`` under ``token``
    (the fencing token; None from a worker that logs none, like the baselines)."""

    service: str
    time: float  # epoch seconds: the line's, or its unit's sending for a late line
    token: int | None


def parse_time(text: str) -> float:
    """``2026-11-26T10:00:00.123456Z`` (or any ISO 8601 offset) -> epoch seconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the log contract says UTC
    return moment.timestamp()


def parse_json_line(line: str | bytes) -> dict[str, Any] | None:
    """One JSON log line as its object; None for anything else (a traceback, a line a
    kill cut short, another program's output)."""
    text = line.strip()
    if not text.startswith(b"{" if isinstance(text, bytes) else "{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def record_of(
    body: Mapping[str, Any], service: str | None = None, default: str = "worker"
) -> Record | None:
    """A JSON line's object as a Record; None without an event or a readable time.

    ``service`` overrides the line's own (workers that share a name, a Compose prefix);
    ``default`` names a line that has none.
    """
    if "event" not in body or "time" not in body:
        return None
    try:
        when = parse_time(str(body["time"]))
    except ValueError:
        return None
    fields = {k: v for k, v in body.items() if k not in _RECORD_HEAD}
    who = service or (str(body["service"]) if body.get("service") else default)
    return Record(when, who, str(body["event"]), fields, str(body.get("level", "INFO")))


class LogReader:
    """Reads the lines of one worker's log, JSON or text; remembers the last date seen.

    A text line carries only a clock (UTC). Its date comes from ``stamp`` (Docker's
    timestamp of the same line) when given, else from the last line read, else from
    ``date`` (default: today, UTC); a clock that runs back by more than 12 hours is the
    next day.
    """

    def __init__(self, service: str = "worker", date: datetime | None = None) -> None:
        self._service = service
        start = date or datetime.now(UTC)
        self._day = datetime(start.year, start.month, start.day, tzinfo=UTC)
        self._last: float | None = None

    def read(
        self, line: str, service: str | None = None, stamp: float | None = None
    ) -> Record | None:
        """``line`` as a Record, or None when it is not a worker event. ``service``
        names its writer (a JSON line's own service field wins only over the default)."""
        text = line.strip()
        if text.startswith("{"):
            body = parse_json_line(text)
            record = None if body is None else record_of(body, service, self._service)
        else:
            record = self._text(text, service or self._service, stamp)
        if record is not None:
            self._last = record.time
        return record

    def _text(self, text: str, service: str, stamp: float | None) -> Record | None:
        parsed = parse_text(text)
        if parsed is None:
            return None
        hours, minutes, seconds = parsed.clock.split(":")
        clock = timedelta(hours=int(hours), minutes=int(minutes), seconds=float(seconds))
        reference = stamp if stamp is not None else self._last
        if reference is not None:
            day = datetime.fromtimestamp(reference, UTC).replace(
                hour=0, minute=0, second=0, microsecond=0
            )
        else:
            day = self._day
        when = (day + clock).timestamp()
        if reference is not None:
            if when < reference - _DAY_TURN_S:
                when += 86400
            elif when > reference + _DAY_TURN_S:
                when -= 86400
        return Record(when, service, parsed.event, dict(parsed.fields), parsed.level)


def ticks_of(records: Iterable[Record]) -> list[Tick]:
    """The Processing... records as Ticks, in time order (ties keep their order)."""
    ticks = [
        Tick(r.service, _work_time(r), r.token) for r in records if r.event == Event.PROCESSING
    ]
    return sorted(ticks, key=lambda tick: tick.time)


def _work_time(record: Record) -> float:
    """When a Processing line's work was done: its line's time, or, for a unit whose
    answer came after its lease ended (``confirmed_after_s``), when it was sent."""
    late = record.fields.get("confirmed_after_s")
    if isinstance(late, int | float) and not isinstance(late, bool) and 0 <= late < 86400:
        return record.time - float(late)
    return record.time


def longest_silence(
    ticks: Iterable[Tick], start: float, end: float, *, ended_in_window: bool = False
) -> float | None:
    """The longest silence seen from the window [start, end]: a stretch with no tick by
    anyone, from one tick (anyone's) to the next.

    By default the window's own edges bound a silence too: a test or a benchmark that
    watched only [start, end] knows nothing outside it, so a silence runs from ``start``
    to the first tick, and from the last tick to ``end`` (no tick at all: the whole
    window). With ``ended_in_window`` a silence counts only when a tick inside the
    window ends it, and then whole, however long before ``start`` it began: what a
    demo's audience sees from the last tick before the fault to the first after it.
    None when no tick in the window ends one.
    """
    times = sorted(tick.time for tick in ticks)
    if ended_in_window:
        gaps = [b - a for a, b in zip(times, times[1:], strict=False) if start <= b <= end]
        return max(gaps) if gaps else None
    inside = [start] + [t for t in times if start <= t <= end] + [end]
    return max(b - a for a, b in zip(inside, inside[1:], strict=False))
