"""Worker log lines, in whatever form they come, as Records: time, worker, event, fields.

Reads what `docker compose logs` prints (with or without ``--timestamps``, Compose v1
or v2 prefixes), what `docker logs` prints, and raw worker output, in either log
format: one JSON object per line (LOG_FORMAT=json) or the short text lines
(LOG_FORMAT=text, read back with ``common.logs.parse_text``). Pure functions; the
timeline and `make logs` both read through here.

    reader = LineReader(default_lane="service1")
    for line in lines:
        record = reader.read(line)   # None for anything that is not a worker event
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from common.logs import parse_text, render_text

from .compose import docker_time

__all__ = ["LineReader", "Record", "read_lines"]

# Compose's colour and erase-line codes (v2 prints `ESC[2K` even with --no-color).
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# `service1-1  | ` (v2), `service1_1  | ` (v1), `demo-service1-1 | ` (v1 on v2 names).
_PREFIX = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*?)\s*\|\s?(?P<rest>.*)$")
_DOCKER_TIME = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (?P<rest>.*)$"
)
_REPLICA = re.compile(r"[-_]\d+$")


@dataclass(frozen=True)
class Record:
    """One worker event: when (epoch seconds, UTC), whose, which, and its fields."""

    time: float
    lane: str
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


def _json_epoch(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class LineReader:
    """Reads lines of one stream; remembers the last date seen, for text lines.

    A text line carries only a clock (UTC). Its date comes from Docker's timestamp on
    the same line when there is one, else from the last one seen in the stream, else
    from `date` (default: today, UTC); a clock that runs back by more than 12 hours
    is the next day.
    """

    def __init__(
        self,
        default_lane: str = "worker",
        services: Sequence[str] = ("service1", "service2"),
        date: datetime | None = None,
    ) -> None:
        self._default_lane = default_lane
        self._services = tuple(services)
        start = date or datetime.now(UTC)
        self._day = datetime(start.year, start.month, start.day, tzinfo=UTC)
        self._last: float | None = None

    def lane_of(self, name: str) -> str:
        """A Compose prefix's container name -> the service it runs."""
        base = _REPLICA.sub("", name)
        for service in self._services:
            if base == service or base.endswith(("-" + service, "_" + service)):
                return service
        return base

    def read(self, line: str) -> Record | None:
        text = _ANSI.sub("", line).rstrip("\r\n")
        lane = self._default_lane
        prefixed = _PREFIX.match(text)
        if prefixed and not text.lstrip().startswith("{"):
            lane, text = self.lane_of(prefixed.group("name")), prefixed.group("rest")
        stamp = None
        stamped = _DOCKER_TIME.match(text)
        if stamped:
            stamp, text = docker_time(stamped.group("stamp")), stamped.group("rest")
        text = text.strip()
        json_line = text.startswith("{")
        record = self._json(text, lane) if json_line else self._text(text, lane, stamp)
        if record is not None:
            self._last = record.time
        return record

    def _json(self, text: str, lane: str) -> Record | None:
        try:
            body = json.loads(text)
        except ValueError:
            return None
        if not isinstance(body, dict) or "event" not in body or "time" not in body:
            return None
        try:
            when = _json_epoch(str(body["time"]))
        except ValueError:
            return None
        fields = {k: v for k, v in body.items() if k not in ("time", "level", "event", "service")}
        service = body.get("service")
        chosen = lane if lane != self._default_lane or not service else str(service)
        return Record(when, chosen, str(body["event"]), fields, str(body.get("level", "INFO")))

    def _text(self, text: str, lane: str, stamp: float | None) -> Record | None:
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
            if when < reference - 12 * 3600:
                when += 86400
            elif when > reference + 12 * 3600:
                when -= 86400
        return Record(when, lane, parsed.event, dict(parsed.fields), parsed.level)


def read_lines(
    lines: Iterable[str],
    default_lane: str = "worker",
    services: Sequence[str] = ("service1", "service2"),
    date: datetime | None = None,
) -> list[Record]:
    """Every worker event in `lines`, in time order (ties keep their order)."""
    reader = LineReader(default_lane, services, date)
    found = [r for r in (reader.read(line) for line in lines) if r is not None]
    return sorted(found, key=lambda r: r.time)
