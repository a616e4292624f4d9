"""Logs: one JSON object per line on stdout, or short human lines.

The only module that installs handlers. Every line carries `time` (UTC, RFC 3339 with
microseconds), `level`, `service`, `event` (a stable snake_case name) and `message`;
values go in their own fields, never only inside the message, so a checker can judge
a run from its logs alone (fencing tokens, session ids, timings).

    log_event(logger, Event.PROCESSING, "Processing... 2026-11-26T10:00:00Z",
              fencing_token=4294967302, session_id="0x100000a3c1f0001")

Every event name is a constant of ``Event`` (``Reason``: why leadership was lost), so
this module is the one place that spells them; ``EVENTS`` lists them all.

The text format (LOG_FORMAT=text) is for people: the time of day (UTC), the level
when it is not INFO, and the event's text view, a short sentence built from its
fields, so that `service1-1  | ` plus a line fits 100 columns:

    10:00:01.234 Processing... token 0x100000003
    10:00:03.512 WARNING leadership lost (suspended), token 0x100000003

Fencing tokens are shown in hex: a czxid is the ZooKeeper epoch << 32 | a counter, so
a token that jumps from 0x100000003 to 0x200000004 says the ensemble elected a new
ZooKeeper leader in between. JSON keeps the integer. ``parse_text`` reads a text line
back into its event and fields, from the same text views, so a text log is no less
readable by a program (the timeline) than a JSON one. Reading a log back (either
format, into ``Record`` and ``Tick``, and what a silence is) is this module's other
half, ``common/logreader.py``: it builds on the names and views here, so it is a module
of its own (a re-export from here would make the two import each other), and a worker,
or a service that copied this file, never needs it.

Anything that reaches a log line from outside (an identity read from a ZooKeeper
node, which anyone allowed to write there can set) is data, never markup:
``printable`` escapes control characters and cuts to a length. Text lines escape and
cut every value; JSON lines cut every string (the encoder escapes).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

__all__ = [
    "EVENTS",
    "TEXT_VIEWS",
    "Event",
    "Reason",
    "TextLine",
    "log_event",
    "parse_text",
    "printable",
    "quiet_kazoo",
    "render_text",
    "rfc3339",
    "setup",
]


class Event:
    """The ``event`` field: a stable snake_case name per kind of line (docs/logs.md)."""

    STARTED = "started"
    RETRY = "retry"
    ZK_STATE = "zk_state"
    SESSION_TIMEOUT = "session_timeout"
    RECONNECTING = "reconnecting"
    JOINED = "joined"
    FOLLOWING = "following"
    WATCH_FIRED = "watch_fired"
    LEADER_ELECTED = "leader_elected"
    PROCESSING = "processing"
    LEADERSHIP_LOST = "leadership_lost"
    LEASE_RENEWAL_LATE = "lease_renewal_late"
    LEASE_LAPSED = "lease_lapsed"
    FOREIGN_CHILD = "foreign_child"
    NODE_GONE = "node_gone"
    DEPOSED = "deposed"
    ELECTION_OPEN = "election_open"
    ROOT_ACL_TIGHTENED = "root_acl_tightened"
    ELECTION_OK = "election_ok"
    ELECTION_ERROR = "election_error"
    CLOSE_FAILED = "close_failed"
    HEALTH_WRITE_FAILED = "health_write_failed"
    JOIN_WAIT = "join_wait"
    JOIN_WAIT_OVER = "join_wait_over"
    WORK_STARTED = "work_started"
    UNIT_REFUSED = "unit_refused"
    UNIT_UNCONFIRMED = "unit_unconfirmed"
    LEDGER_UNFENCED = "ledger_unfenced"
    METRICS_SERVING = "metrics_serving"
    METRICS_FAILED = "metrics_failed"
    SHUTDOWN = "shutdown"
    # Lines from libraries (kazoo) have no event name of their own.
    LIBRARY = "library"


class Reason:
    """``leadership_lost``'s ``reason`` field: why a candidate stopped leading."""

    SUSPENDED = "suspended"  # the connection was suspended
    SESSION_LOST = "session_lost"  # the session expired
    NODE_GONE = "node_gone"  # our node was deleted under a live session
    DEPOSED = "deposed"  # asked to resign (our node's data was set)
    NOT_LOWEST = "not_lowest"  # another candidate ranks first
    ELECTED = "elected"  # replaced by a newer leadership of our own
    RENEWED = "renewed"  # (a renewal never ends a leadership: never logged)
    SHUTDOWN = "shutdown"  # close(): the worker stops
    REFUSED = "refused"  # the ledger refused our unit: we are not the leader we were


# Every event name, for checks against other writers (the Java candidates).
EVENTS = frozenset(value for name, value in vars(Event).items() if name.isupper())

# Fields every line has, in this order, ahead of the event's own.
_HEAD = ("time", "level", "service", "event", "message")
_LIBRARY_EVENT = Event.LIBRARY
# Identities and other short values in a text line, and what `printable` cuts to.
VALUE_LIMIT = 64
# A whole message in a text line (events without a text view, library lines).
MESSAGE_LIMIT = 200
# Any string in a JSON line: bounded, however big the node data it came from.
JSON_STRING_LIMIT = 512
_ELLIPSIS = "…"

# What Python calls not printable is shown as an escape: controls (C0, DEL, C1),
# format characters (bidirectional overrides, zero-width joiners), lone surrogates,
# private use, unassigned code points, line and paragraph separators, and every space
# but the ASCII one (a no-break space would make "service1\xa0" pass for "service1").
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object, limit: int | None = VALUE_LIMIT) -> str:
    """`text` as one line of inert characters, at most `limit` characters long.

    Control characters, ANSI escape sequences (their ESC), bidirectional overrides,
    line separators and the like become visible escapes (``\\x1b``, ``\\n``,
    ``\\u202e``); the result is cut to `limit` with a trailing ellipsis, never inside
    an escape. Backslashes are left alone, so the function is idempotent: a value
    already passed through it (where it was read) comes out the same where it is shown.
    Reads at most about `limit` characters of `text`, however long it is.
    """
    source = text if isinstance(text, str) else str(text)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    out: list[str] = []
    length = 0
    for index, char in enumerate(source):
        piece = _escape(char)
        if limit is not None and length + len(piece) > limit - 1:
            # Room for this piece only if it is the very last character.
            if index == len(source) - 1 and length + len(piece) <= limit:
                out.append(piece)
                return "".join(out)
            out.append(_ELLIPSIS)
            return "".join(out)
        out.append(piece)
        length += len(piece)
    return "".join(out)


def _escape(char: str) -> str:
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def rfc3339(epoch: float, digits: int = 6) -> str:
    """UTC time as 2026-11-26T10:00:00.123456Z (digits=0 drops the fraction)."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    if digits == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[: 20 + digits] + "Z"


def log_event(
    logger: logging.Logger, event: str, message: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """Log `message` as event `event`, with `fields` as separate values."""
    logger.log(level, message, extra={"event": event, **fields})


# ----------------------------------------------------------------- the text views
#
# One short sentence per event, from its fields. ``{name}`` is a field shown with
# printable(); ``{name:word}`` one without spaces (a state, a reason);
# ``{name:hex}`` an integer as 0x...; ``{name:int}`` and ``{name:num}``
# numbers; ``{[...]}`` is left out when a field inside it is None or missing. Events
# without a view show their message and, in brackets, their name. The same views
# parse a text line back (parse_text); tests/test_logs.py checks both directions for
# every event the worker logs, and the length of each line.
TEXT_VIEWS: dict[str, str] = {
    Event.STARTED: "starting: {election_path} on {zk_hosts}",
    Event.RETRY: "ZooKeeper not reachable yet; retry {attempt:int} in {wait_s:num} s",
    Event.ZK_STATE: "ZooKeeper {state:word}{[, session {session_id}]}",
    Event.SESSION_TIMEOUT: (
        "ZooKeeper granted a {granted_s:num} s session ({requested_s:num} s asked); "
        "lease {lease_s:num} s"
    ),
    Event.JOINED: "joined as {node}, token {fencing_token:hex}",
    Event.FOLLOWING: "following {leader}, watching {predecessor}",
    Event.WATCH_FIRED: "predecessor {path} changed; ranking again",
    Event.LEADER_ELECTED: "LEADING the election, token {fencing_token:hex}",
    Event.PROCESSING: (
        "Processing... {[unit {unit:int}, ]}token {fencing_token:hex}"
        "{[, confirmed {confirmed_after_s:num} s after sending]}"
    ),
    Event.LEADERSHIP_LOST: "leadership lost ({reason:word}), token {fencing_token:hex}",
    Event.LEASE_RENEWAL_LATE: (
        "lease renewal late, no work until it answers; token {fencing_token:hex}"
    ),
    Event.LEASE_LAPSED: (
        "lease ran out, no work until ZooKeeper confirms; token {fencing_token:hex}"
    ),
    Event.FOREIGN_CHILD: "ignoring {count:int} child(ren), {reason}: {examples}",
    Event.NODE_GONE: "own node {node} is gone; joining again",
    Event.DEPOSED: "asked to resign: deleting {node}, rejoining",
    Event.ELECTION_OPEN: "no ZK_AUTH: any client may change this election",
    Event.ROOT_ACL_TIGHTENED: "closed the election root to {opened_to}",
    Event.ELECTION_OK: "taking part in the election again",
    Event.RECONNECTING: (
        "reconnecting to {server} (attempt {attempt:int}, {without_s:num} s without)"
    ),
    Event.HEALTH_WRITE_FAILED: "cannot write the health file {path}",
    Event.JOIN_WAIT: "letting {candidate} join first (up to {wait_s:num} s)",
    Event.JOIN_WAIT_OVER: "{candidate} {outcome}; joining",
    Event.WORK_STARTED: "working on the next unit ({work_s:num} s), token {fencing_token:hex}",
    Event.UNIT_REFUSED: "unit {unit:int} REFUSED ({reason:word}), token {fencing_token:hex}",
    Event.UNIT_UNCONFIRMED: "unit {unit:int} UNCONFIRMED (no answer), token {fencing_token:hex}",
    Event.LEDGER_UNFENCED: "LEDGER_FENCING=off: the ledger accepts stale leaders' units",
    Event.METRICS_SERVING: "serving metrics on http://{host}:{port:int}/metrics",
    Event.METRICS_FAILED: "no metrics: cannot bind {host}:{port:int} ({error})",
    Event.SHUTDOWN: "stopped ({signal:word}), session closed, exit {exit_code:int}",
    Event.LIBRARY: "[{logger}] {message}",
}
_FALLBACK_VIEW = "{message} [{event}]"
_PLACEHOLDER = re.compile(r"\{(\w+)(?::(hex|int|num|word))?\}")
_OPTIONAL = re.compile(r"\{\[(.*?)\]\}")
_VALUE_PATTERNS = {
    "word": r"\S+",
    "hex": r"0x[0-9a-f]+",
    "int": r"-?\d+",
    "num": r"[-+0-9.eEinfa]+",
}
_LEVELS = ("DEBUG", "WARNING", "ERROR", "CRITICAL")
_CLOCK = re.compile(
    r"^(?P<clock>\d\d:\d\d:\d\d\.\d{3}) (?:(?P<level>" + "|".join(_LEVELS) + r") )?(?P<text>.*)$"
)


def _show(value: Any, kind: str | None, name: str) -> str:
    if kind == "hex":
        return f"0x{int(value):x}"
    if kind == "int":
        return str(int(value))
    if kind == "num":
        return f"{float(value):.3g}"
    return printable(value, MESSAGE_LIMIT if name == "message" else VALUE_LIMIT)


def _read(text: str, kind: str | None) -> Any:
    if kind == "hex":
        return int(text, 16)
    if kind == "int":
        return int(text)
    if kind == "num":
        return float(text)
    return text


def _fill(view: str, values: Mapping[str, Any]) -> str:
    def optional(match: re.Match[str]) -> str:
        names = [name for name, _kind in _PLACEHOLDER.findall(match.group(1))]
        return match.group(1) if all(values.get(n) is not None for n in names) else ""

    def placeholder(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        value = values.get(name)
        return "?" if value is None else _show(value, kind, name)

    return _PLACEHOLDER.sub(placeholder, _OPTIONAL.sub(optional, view))


def render_text(event: str, message: str, fields: Mapping[str, Any]) -> str:
    """The text view of one event: a short line without time or level."""
    values: dict[str, Any] = {}
    settings = fields.get("settings")
    if isinstance(settings, Mapping):
        values.update(settings)  # `started` shows two settings
    values.update(fields, message=message, event=event)
    return _fill(TEXT_VIEWS.get(event, _FALLBACK_VIEW), values)


def _pattern(view: str) -> tuple[re.Pattern[str], dict[str, str | None]]:
    kinds: dict[str, str | None] = {}
    parts: list[str] = []
    position = 0
    # Literal text, placeholders and optional segments, in order.
    token = re.compile(r"\{\[|\]\}|\{(\w+)(?::(hex|int|num|word))?\}")
    for match in token.finditer(view):
        parts.append(re.escape(view[position : match.start()]))
        position = match.end()
        if match.group(0) == "{[":
            parts.append("(?:")
        elif match.group(0) == "]}":
            parts.append(")?")
        else:
            name, kind = match.group(1), match.group(2)
            kinds[name] = kind
            parts.append(f"(?P<{name}>{_VALUE_PATTERNS.get(kind or '', '.+?')})")
    parts.append(re.escape(view[position:]))
    return re.compile("^" + "".join(parts) + "$"), kinds


# The library view starts with "[": tried before the fallback, which ends with "]".
_PARSERS = [(event, *_pattern(view)) for event, view in TEXT_VIEWS.items()]
_PARSERS.append(("", *_pattern(_FALLBACK_VIEW)))


@dataclass(frozen=True)
class TextLine:
    """One text-format line read back: its clock, level, event and the fields it shows."""

    clock: str  # "10:00:01.234", UTC
    level: str
    event: str
    fields: dict[str, Any]
    text: str  # the line without clock and level


def parse_text(line: str) -> TextLine | None:
    """A text-format line back into its event and the fields its view shows; None if
    it is not one (a traceback line, another program's output)."""
    head = _CLOCK.match(line.rstrip("\r\n"))
    if head is None:
        return None
    text = head.group("text")
    for event, pattern, kinds in _PARSERS:
        found = pattern.match(text)
        if found is None:
            continue
        values = {
            name: None if value is None or value == "?" else _read(value, kinds[name])
            for name, value in found.groupdict().items()
        }
        values = {name: value for name, value in values.items() if value is not None}
        name = event or str(values.pop("event"))
        return TextLine(head.group("clock"), head.group("level") or "INFO", name, values, text)
    return None


# ---------------------------------------------------------------------- formatters


def _event_of(record: logging.LogRecord) -> str:
    return getattr(record, "event", _LIBRARY_EVENT)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields passed with `extra=`, i.e. what a plain LogRecord does not have."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS and k != "event"}


_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}


def _cap(value: Any) -> Any:
    """Every string in `value` (nested dicts and lists too) cut to JSON_STRING_LIMIT."""
    if isinstance(value, str):
        if len(value) > JSON_STRING_LIMIT:
            return value[: JSON_STRING_LIMIT - 1] + _ELLIPSIS
        return value
    if isinstance(value, Mapping):
        return {k: _cap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_cap(v) for v in value]
    return value


class _JsonLines(JsonFormatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data.update(
            time=rfc3339(record.created),
            level=record.levelname,
            service=self._service,
            event=_event_of(record),
            message=_cap(record.getMessage()),
        )
        if _event_of(record) == _LIBRARY_EVENT:
            log_data["logger"] = record.name
        log_data.update(_cap(_extras(record)))
        log_data.update(_cap(message_dict))


class _TextLines(logging.Formatter):
    """`10:00:00.123 Processing... token 0x100000006`: see the module docstring."""

    def format(self, record: logging.LogRecord) -> str:
        clock = rfc3339(record.created, digits=3)[11:-1]
        fields = _extras(record)
        if _event_of(record) == _LIBRARY_EVENT:
            fields["logger"] = record.name
        level = "" if record.levelname == "INFO" else f"{record.levelname} "
        line = f"{clock} {level}{render_text(_event_of(record), record.getMessage(), fields)}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup(
    service: str, fmt: str = "json", level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Send every log line of this process to `stream` (stdout) in `fmt`."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(_JsonLines(service) if fmt == "json" else _TextLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_kazoo("DEBUG" if level == "DEBUG" else "ERROR")


def quiet_kazoo(level: str = "ERROR") -> None:
    """kazoo narrates every refused connection and DNS miss as a warning; our own
    zk_state and retry events say the same once, so keep kazoo to real errors."""
    logging.getLogger("kazoo").setLevel(level)
