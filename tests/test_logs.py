"""The log format: one JSON object per line with stable fields, or short text lines."""

import io
import json
import logging

import pytest

from common.logs import log_event, rfc3339, setup


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
    log_event(logging.getLogger("t"), "leader_elected", "Leading", fencing_token=7)
    line = capture.getvalue().strip()
    assert "service1 leader_elected: Leading fencing_token=7" in line
    assert not line.startswith("{")


def test_level_filters_debug(capture):
    setup("service1", "json", "INFO", stream=capture)
    log_event(logging.getLogger("t"), "noise", "hidden", level=logging.DEBUG)
    assert capture.getvalue() == ""
