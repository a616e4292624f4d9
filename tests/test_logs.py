"""The log format: one JSON object per line with stable fields, or short text lines."""

import io
import json
import logging
import re
from pathlib import Path

import pytest

from common.logreader import LogReader, ticks_of
from common.logs import (
    EVENTS,
    JSON_STRING_LIMIT,
    TEXT_VIEWS,
    Event,
    log_event,
    parse_text,
    rfc3339,
    setup,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def capture():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def test_rfc3339_is_utc_with_z():
    assert rfc3339(0) == "1970-01-01T00:00:00.000000Z"
    assert rfc3339(1764151200.5, digits=3) == "2025-11-26T10:00:00.500Z"
    assert rfc3339(1764151200.9, digits=0) == "2025-11-26T10:00:00Z"


def test_json_line_has_stable_head_and_event_fields(capture):
    setup("service1", "json", "INFO", stream=capture)
    log_event(
        logging.getLogger("t"),
        "processing",
        "Processing... 2026-11-26T10:00:00Z",
        fencing_token=4294967302,
        session_id="0x10000",
    )
    lines = capture.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert list(record)[:5] == ["time", "level", "service", "event", "message"]
    assert record["service"] == "service1"
    assert record["event"] == "processing"
    assert record["message"] == "Processing... 2026-11-26T10:00:00Z"
    assert record["fencing_token"] == 4294967302
    assert record["session_id"] == "0x10000"
    assert record["time"].endswith("Z") and len(record["time"]) == 27


def test_library_lines_get_an_event_and_their_logger(capture):
    setup("service2", "json", "INFO", stream=capture)
    logging.getLogger("kazoo.client").error("boom %s", 1)
    logging.getLogger("kazoo.client").warning("hidden: kazoo is kept to errors")
    lines = [json.loads(line) for line in capture.getvalue().splitlines()]
    assert [(r["event"], r["logger"], r["message"]) for r in lines] == [
        ("library", "kazoo.client", "boom 1")
    ]


def test_text_format_is_short_and_keeps_fields(capture):
    setup("service1", "text", "INFO", stream=capture)
    log_event(logging.getLogger("t"), "leader_elected", "Leading", fencing_token=0x100000003)
    line = capture.getvalue().strip()
    assert line.endswith(" LEADING the election, token 0x100000003")
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} .*", line)


def test_level_filters_debug(capture):
    setup("service1", "json", "INFO", stream=capture)
    log_event(logging.getLogger("t"), "noise", "hidden", level=logging.DEBUG)
    assert capture.getvalue() == ""


# Realistic fields of every event the worker logs, at their longest usual values.
_SESSION = "0x1000008b7640000"
_NODE = "/leader-election/n_0000000012"
SAMPLES = {
    "started": (
        "service1 starting; election /leader-election on zoo1:2181,zoo2:2181,zoo3:2181",
        {
            "settings": {
                "zk_hosts": "zoo1:2181,zoo2:2181,zoo3:2181",
                "election_path": "/leader-election",
            },
            "pid": 7,
        },
    ),
    "retry": (
        "ZooKeeper not reachable yet; retry 3 in 2.1 s",
        {"attempt": 3, "wait_s": 2.134, "error": "no ZooKeeper session from zoo1:2181 within 5 s"},
    ),
    "zk_state": ("ZooKeeper connection CONNECTED", {"state": "CONNECTED", "session_id": _SESSION}),
    "session_timeout": (
        "ZooKeeper granted a 4 s session",
        {"requested_s": 10.0, "granted_s": 4.0, "lease_s": 2.0},
    ),
    "joined": (
        f"Joined the election as {_NODE}",
        {"node": _NODE, "fencing_token": 0x200000014, "session_id": _SESSION},
    ),
    "following": (
        f"Following service1; watching {_NODE}",
        {"node": _NODE, "predecessor": _NODE, "leader": "service1"},
    ),
    "watch_fired": (f"Predecessor {_NODE} changed; ranking again", {"path": _NODE}),
    "leader_elected": (
        "Leading the election at /leader-election (fencing token 8589934612)",
        {"fencing_token": 0x200000014, "node": _NODE, "session_id": _SESSION},
    ),
    "processing": (
        "Processing... unit 42 recorded",
        {"unit": 42, "fencing_token": 0x200000014, "session_id": _SESSION},
    ),
    "work_started": (
        "Working on the next unit (4 s) under token 8589934612",
        {"work_s": 4.0, "fencing_token": 0x200000014},
    ),
    "unit_refused": (
        f"Unit refused by ZooKeeper: its election node {_NODE} is gone (its session expired "
        "or it was deleted); the ledger's newest is unit 57, token 8589934700, by service2; "
        "stepping down",
        {
            "unit": 43,
            "reason": "node_gone",
            "fencing_token": 0x200000014,
            "newest_unit": 57,
            "newest_token": 0x20000006C,
        },
    ),
    "unit_unconfirmed": (
        "Unit 43 unconfirmed: ZooKeeper did not answer in time; unit 43 may have been recorded",
        {"unit": 43, "reason": "unanswered", "fencing_token": 0x200000014},
    ),
    "ledger_unfenced": (
        "LEDGER_FENCING=off: units are written without checks, so a stale leader's work "
        "is accepted; for teaching only",
        {},
    ),
    "metrics_serving": (
        "Serving metrics on http://0.0.0.0:9100/metrics",
        {"host": "0.0.0.0", "port": 9100},
    ),
    "metrics_failed": (
        "Cannot serve metrics on 0.0.0.0:9100: Address already in use; going on without them",
        {"host": "0.0.0.0", "port": 9100, "error": "Address already in use"},
    ),
    "leadership_lost": (
        "Leadership lost (session_lost)",
        {"fencing_token": 0x200000014, "reason": "session_lost", "session_id": _SESSION},
    ),
    "lease_renewal_late": ("No answer to the lease renewal", {"fencing_token": 0x200000014}),
    "lease_lapsed": ("Lease ran out: ZooKeeper has not ...", {"fencing_token": 0x200000014}),
    "foreign_child": (
        "Ignoring 5 child(ren) of /leader-election, not named n_<10 digits>: lock, a, b and 2 more",
        {"count": 5, "reason": "not named n_<10 digits>", "examples": "lock, a, b and 2 more"},
    ),
    "node_gone": (f"Our node {_NODE} is gone; joining again", {"node": _NODE}),
    "deposed": (f"Asked to resign: deleting {_NODE} and joining again", {"node": _NODE}),
    "election_open": ("No ZK_AUTH: any client that reaches ZooKeeper can ...", {}),
    "root_acl_tightened": (
        "The election root let world:anyone change it",
        {"opened_to": "world:anyone"},
    ),
    "election_ok": ("Taking part in the election at /leader-election", {}),
    "reconnecting": (
        "Reconnecting to zoo2:2181 (attempt 12, 10.4 s without ZooKeeper)",
        {"server": "zoo2:2181", "attempt": 12, "without_s": 10.4},
    ),
    "election_error": (
        "ZooKeeper refuses the identity election (ZK_AUTH) at /leader-election (NoAuth): set "
        "ZK_AUTH to the election's credentials, or choose another ELECTION_PATH",
        {"error": "NoAuthError()"},
    ),
    "health_write_failed": ("Cannot write /tmp/health", {"path": "/tmp/health"}),
    "close_failed": ("Closing the session failed: ConnectionLoss()", {}),
    "join_wait": (
        "Letting service1 join the election first (up to 30 s)",
        {"candidate": "service1", "wait_s": 30.0},
    ),
    "join_wait_over": (
        "service1 did not join within 30 s; joining",
        {"candidate": "service1", "outcome": "did not join within 30 s", "found": False},
    ),
    "shutdown": (
        "service1 stopped (SIGTERM); session closed",
        {"exit_code": 0, "signal": "SIGTERM"},
    ),
}
# Compose's prefix for a worker's line: `service1-1  | ` (v2), `service1_1  | ` (v1).
_PREFIX = "service1-1  | "
COMMON = (
    "started",
    "zk_state",
    "joined",
    "leader_elected",
    "following",
    "processing",
    "leadership_lost",
    "shutdown",
    "retry",
    "session_timeout",
)


def _logged_events() -> set[str]:
    source = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "common").glob("*.py"))
    names = re.findall(r"log_event\(\s*log,\s*Event\.([A-Z_]+)", source)
    return {getattr(Event, name) for name in names}


def test_every_logged_event_has_a_sample_and_the_common_ones_a_text_view():
    assert set(SAMPLES) == _logged_events()
    assert set(COMMON) <= set(TEXT_VIEWS)


@pytest.mark.parametrize("event", sorted(SAMPLES))
def test_text_line_fits_the_projector_and_reads_back(capture, event):
    message, fields = SAMPLES[event]
    setup("service1", "text", "INFO", stream=capture)
    log_event(logging.getLogger("t"), event, message, level=logging.WARNING, **fields)
    (line,) = capture.getvalue().splitlines()
    # An error that keeps a worker out says what to do about it: that beats the width.
    limit = 100 if event in COMMON else 210 if event == "election_error" else 110
    assert len(_PREFIX + line) <= limit, line
    parsed = parse_text(line)
    assert parsed is not None and parsed.event == event, line
    assert parsed.level == "WARNING"
    for key in ("fencing_token", "state", "reason", "signal", "exit_code", "leader", "node"):
        if key in fields and key in TEXT_VIEWS.get(event, ""):
            assert parsed.fields[key] == fields[key], (key, line)


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_late_processing_line_places_its_work_when_the_unit_was_sent(capture, log_format):
    """A unit whose answer came after its lease ended (a worker frozen with the write
    out): the line says so, fits the projector, and its tick is where the work was."""
    setup("service1", log_format, "INFO", stream=capture)
    message = "Processing... unit 42 recorded (confirmed 12.3 s after it was sent, under the lease)"
    late = {"unit": 42, "fencing_token": 0x200000014, "session_id": _SESSION}
    log_event(logging.getLogger("t"), Event.PROCESSING, message, confirmed_after_s=12.3, **late)
    log_event(logging.getLogger("t"), Event.PROCESSING, "Processing... unit 43 recorded", **late)
    lines = capture.getvalue().splitlines()
    if log_format == "text":
        assert all(len(_PREFIX + line) <= 100 for line in lines), lines
        assert lines[0].endswith("confirmed 12.3 s after sending"), lines[0]
    reader = LogReader("service1")
    first, second = (reader.read(line) for line in lines)
    assert first is not None and second is not None
    (tick, plain) = ticks_of([first, second])
    assert tick.time == pytest.approx(first.time - 12.3, abs=0.001)
    assert plain.time == second.time  # an answer in time: the line's own time


def test_text_tokens_are_hex_and_json_keeps_the_integer(capture):
    setup("service1", "text", "INFO", stream=capture)
    log_event(logging.getLogger("t"), "processing", "Processing...", fencing_token=0x200000004)
    assert capture.getvalue().rstrip().endswith("Processing... token 0x200000004")
    capture.seek(0)
    capture.truncate()
    setup("service1", "json", "INFO", stream=capture)
    log_event(logging.getLogger("t"), "processing", "Processing...", fencing_token=0x200000004)
    assert json.loads(capture.getvalue())["fencing_token"] == 8589934596


def test_text_line_of_an_event_without_a_view_keeps_its_name(capture):
    setup("service1", "text", "INFO", stream=capture)
    log_event(logging.getLogger("t"), "brand_new", "Something new happened", size=3)
    line = capture.getvalue().strip()
    assert line.endswith(" Something new happened [brand_new]")
    parsed = parse_text(line)
    assert parsed is not None
    assert (parsed.event, parsed.fields) == ("brand_new", {"message": "Something new happened"})


def test_text_library_lines_name_their_logger(capture):
    setup("service1", "text", "INFO", stream=capture)
    logging.getLogger("kazoo.client").error("boom %s", 1)
    parsed = parse_text(capture.getvalue().strip())
    assert parsed is not None
    assert (parsed.event, parsed.fields) == (
        "library",
        {"logger": "kazoo.client", "message": "boom 1"},
    )


def test_parse_text_refuses_what_is_not_a_text_line():
    assert parse_text("Traceback (most recent call last):") is None
    assert parse_text('{"time": "2026-11-26T04:04:13.835677Z"}') is None
    assert parse_text("") is None


HOSTILE = "\x1b[2J\x1b]0;pwned\x07evil\nservice2 LEADING\u202e" + "A" * 1_000_000


def test_text_line_escapes_and_cuts_what_came_from_zookeeper(capture):
    """A candidate's node data is anyone's: no escape sequence, no newline, no 1 MB line."""
    setup("service1", "text", "INFO", stream=capture)
    log_event(
        logging.getLogger("t"),
        "following",
        f"Following {HOSTILE}; watching {_NODE}",
        node=_NODE,
        predecessor=_NODE,
        leader=HOSTILE,
    )
    out = capture.getvalue()
    assert out.count("\n") == 1 and "\x1b" not in out and "\u202e" not in out
    assert "following \\x1b[2J\\x1b]0;pwned\\x07evil\\nservice2" in out
    assert len(out) < 200


def test_json_line_cuts_every_string(capture):
    setup("service1", "json", "INFO", stream=capture)
    log_event(logging.getLogger("t"), "following", f"Following {HOSTILE}", leader=HOSTILE)
    out = capture.getvalue()
    assert out.count("\n") == 1 and "\x1b" not in out
    record = json.loads(out)
    assert len(record["leader"]) == JSON_STRING_LIMIT and record["leader"].endswith("…")
    assert len(record["message"]) == JSON_STRING_LIMIT
    assert len(out) < 3 * JSON_STRING_LIMIT * 2


# Events only the Java candidates log (their recipes' own moments); no checker reads them.
_JAVA_ONLY = {"crashed", "leader_seen", "interrupted", "relinquishing"}


def test_java_candidates_log_the_event_names_of_common_logs():
    """The Java candidates (the article's recipe, Curator) print the project's log
    contract themselves: every event name they share with it is spelled as EVENTS has
    it, so the checkers read their ticks as ours."""
    sources = sorted((ROOT / "testbed" / "java").glob("*.java"))
    sources += sorted((ROOT / "bench" / "java").glob("*.java"))
    logged = {
        name
        for path in sources
        for name in re.findall(r'\blog\(\s*"[a-z]+",\s*"(\w+)"', path.read_text(encoding="utf-8"))
    }
    assert {Event.PROCESSING, Event.STARTED, Event.SHUTDOWN} <= logged, "log calls not found"
    assert logged - _JAVA_ONLY <= EVENTS, sorted(logged - _JAVA_ONLY - EVENTS)
