"""What `docker compose logs` and `docker logs` print, read into worker Records.

Compose wraps each worker line (with or without ``--timestamps``, Compose v1 or v2
prefixes, colour codes); this strips the wrapping, names the lane (the service) from
the prefix and dates text lines from Docker's timestamp, and hands the worker's own
line to the one reader of the log format, ``common.logreader.LogReader`` (JSON or
text). Pure functions; the timeline, `make logs` and `make demo-numbers` read here.

    reader = LineReader(default_lane="service1")
    for line in lines:
        record = reader.read(line)   # None for anything that is not a worker event
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from common.logreader import LogReader, Record

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


class LineReader:
    """Reads the lines of one Compose or Docker log stream (see the module docstring).

    A line without a Compose prefix belongs to ``default_lane``, or to the service a
    JSON line names; a text line without Docker's timestamp is dated as
    ``common.logreader.LogReader`` says (the last date seen, else ``date``).
    """

    def __init__(
        self,
        default_lane: str = "worker",
        services: Sequence[str] = ("service1", "service2"),
        date: datetime | None = None,
    ) -> None:
        self._default_lane = default_lane
        self._services = tuple(services)
        self._reader = LogReader(default_lane, date)

    def lane_of(self, name: str) -> str:
        """A Compose prefix's container name -> the service it runs."""
        base = _REPLICA.sub("", name)
        for service in self._services:
            if base == service or base.endswith(("-" + service, "_" + service)):
                return service
        return base

    def read(self, line: str) -> Record | None:
        text = _ANSI.sub("", line).rstrip("\r\n")
        lane = None  # the default, unless a JSON line names its service
        prefixed = _PREFIX.match(text)
        if prefixed and not text.lstrip().startswith("{"):
            lane, text = self.lane_of(prefixed.group("name")), prefixed.group("rest")
        stamp = None
        stamped = _DOCKER_TIME.match(text)
        if stamped:
            stamp, text = docker_time(stamped.group("stamp")), stamped.group("rest")
        return self._reader.read(text, lane, stamp)


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
