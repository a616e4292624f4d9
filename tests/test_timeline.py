"""The timeline's data, as pure logic: lines in both formats, lanes, token runs, states,
silences and their causes; then the text and the PNG drawn from it."""

from __future__ import annotations

import io
import json
import logging
import re
import struct
from datetime import UTC, datetime

import pytest

from common.logs import Event, Reason, log_event, setup
from workshop.logs import _Merger, format_record
from workshop.records import LineReader, Record, read_lines
from workshop.timeline import (
    CONNECTED,
    CONNECTING,
    CUT,
    DOWN,
    FROZEN,
    LOST,
    SUSPENDED,
    Happening,
    build,
    main,
    parse_mark,
    png_size,
    render_png,
    render_text,
)

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC).timestamp()
A, B = 0x100000003, 0x100000005


def at(seconds: float) -> float:
    return T0 + seconds


def rec(seconds: float, lane: str, event: str, **fields) -> Record:
    return Record(at(seconds), lane, event, fields)


def ticks(lane: str, token: int, start: float, end: float) -> list[Record]:
    out, t = [], start
    while t <= end + 1e-9:
        out.append(rec(t, lane, Event.PROCESSING, fencing_token=token))
        t += 1.0
    return out


# ------------------------------------------------------------------------- parsing


def _lines(fmt: str, events: list[tuple[str, str, dict]]) -> list[str]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup("service1", fmt, "INFO", stream=stream)
        for event, message, fields in events:
            log_event(logging.getLogger("t"), event, message, **fields)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    return stream.getvalue().splitlines()


EVENTS = [
    (Event.ZK_STATE, "ZooKeeper connection CONNECTED", {"state": "CONNECTED", "session_id": "0x1"}),
    (Event.LEADER_ELECTED, "Leading", {"fencing_token": A, "node": "/e/n_0000000000"}),
    (Event.PROCESSING, "Processing... 2026-11-26T12:00:00Z", {"fencing_token": A}),
    (
        Event.LEADERSHIP_LOST,
        "Leadership lost (suspended)",
        {"fencing_token": A, "reason": Reason.SUSPENDED},
    ),
    (Event.SHUTDOWN, "stopped", {"exit_code": 0, "signal": "SIGTERM"}),
]


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_both_log_formats_read_back_to_the_same_events(fmt):
    records = read_lines(_lines(fmt, EVENTS), default_lane="service1")
    assert [r.event for r in records] == [e for e, _m, _f in EVENTS]
    assert [r.token for r in records] == [None, A, A, A, None]
    assert records[0].fields["state"] == "CONNECTED"
    assert records[3].fields["reason"] == Reason.SUSPENDED
    assert records[4].fields["signal"] == "SIGTERM"
    assert {r.service for r in records} == {"service1"}
    assert records[2].text == "Processing... token 0x100000003"


@pytest.mark.parametrize(
    "prefix",
    ["service2-1  | ", "\x1b[2Kservice2-1  | ", "service2_1  | ", "demo-service2-1 | "],
)
def test_compose_prefixes_and_docker_timestamps_name_the_lane_and_date_text_lines(prefix):
    line = f"{prefix}2026-11-26T23:59:59.999999999Z 23:59:59.998 Processing... token 0x100000005"
    (record,) = read_lines([line])
    assert record.service == "service2" and record.token == B
    assert record.time == pytest.approx(datetime(2026, 11, 26, 23, 59, 59, 998000, UTC).timestamp())


def test_text_lines_after_midnight_are_the_next_day():
    reader = LineReader(default_lane="w", date=datetime(2026, 11, 26, tzinfo=UTC))
    first = reader.read("23:59:59.500 Processing... token 0x1")
    second = reader.read("00:00:00.500 Processing... token 0x1")
    assert first and second and second.time - first.time == pytest.approx(1.0)


def test_json_lines_keep_their_service_and_foreign_lines_are_skipped():
    body = {
        "time": "2026-11-26T12:00:00.5Z",
        "level": "INFO",
        "service": "service2",
        "event": Event.PROCESSING,
        "message": "Processing...",
        "fencing_token": B,
    }
    records = read_lines(["Attaching to x", json.dumps(body), "Traceback (most recent", "{bad"])
    assert [(r.service, r.event, r.token) for r in records] == [("service2", Event.PROCESSING, B)]


# ------------------------------------------------------------------ lanes and runs

KILL = [
    rec(0, "service1", Event.STARTED),
    rec(0.1, "service1", Event.ZK_STATE, state="CONNECTED"),
    rec(0.2, "service2", Event.STARTED),
    rec(0.3, "service2", Event.ZK_STATE, state="CONNECTED"),
    *ticks("service1", A, 1, 5),
    rec(5.5, "service1", "container_kill", signal="SIGKILL"),
    rec(5.5, "service1", "container_die", exit_code="137"),
    rec(15.6, "service2", Event.LEADER_ELECTED, fencing_token=B),
    *ticks("service2", B, 15.6, 20.6),
]


def test_runs_are_one_per_worker_and_token():
    timeline = build(KILL)
    assert timeline.lanes == ("service1", "service2")
    assert [(r.lane, r.token, r.count) for r in timeline.runs] == [
        ("service1", A, 5),
        ("service2", B, 6),
    ]
    assert timeline.tokens == (A, B)
    assert timeline.interval == pytest.approx(1.0)


def test_a_kill_is_a_silence_with_its_length_and_cause():
    timeline = build(KILL)
    (silence,) = timeline.silences
    assert silence.gap == pytest.approx(10.6)
    assert silence.cause == "service1 got SIGKILL"
    assert silence.outcome == "service2 took over, token 0x100000003 -> 0x100000005"
    assert timeline.title == (
        "service1 got SIGKILL; service2 took over, token 0x100000003 -> 0x100000005, "
        "10.6 s after the last tick"
    )


def test_states_follow_zk_state_shutdown_and_container_events():
    timeline = build(
        [
            rec(0, "w", Event.STARTED),
            rec(0.5, "w", Event.ZK_STATE, state="CONNECTED"),
            *ticks("w", A, 1, 3),
            rec(3.5, "w", "container_pause"),
            rec(8.0, "w", "container_unpause"),
            rec(8.0, "w", Event.ZK_STATE, state="SUSPENDED"),
            rec(8.1, "w", Event.ZK_STATE, state="LOST"),
            rec(8.2, "w", Event.ZK_STATE, state="CONNECTED"),
            rec(9.0, "w", "network_disconnect"),
            rec(10.0, "w", "network_connect"),
            rec(11.0, "w", Event.SHUTDOWN, signal="SIGTERM", exit_code=0),
            rec(12.0, "w", Event.PROCESSING, fencing_token=A),  # a last line, to end the span
        ]
    )
    assert [(s.state, s.start - T0, s.end - T0) for s in timeline.spans] == [
        (CONNECTING, 0, 0.5),
        (CONNECTED, 0.5, 8.0),
        (SUSPENDED, 8.0, pytest.approx(8.1)),
        (LOST, pytest.approx(8.1), pytest.approx(8.2)),
        (CONNECTED, pytest.approx(8.2), 11.0),
        (DOWN, 11.0, 12.0),
    ]
    assert [(s.state, s.start - T0, s.end - T0) for s in timeline.overlays] == [
        (FROZEN, 3.5, 8.0),
        (CUT, 9.0, 10.0),
    ]


def test_a_sigterm_handoff_is_an_episode_but_no_silence():
    records = [
        *ticks("service1", A, 0, 3),
        rec(3.3, "service1", Event.LEADERSHIP_LOST, fencing_token=A, reason=Reason.SHUTDOWN),
        rec(3.31, "service1", Event.SHUTDOWN, signal="SIGTERM", exit_code=0),
        *ticks("service2", B, 3.32, 6.32),
    ]
    timeline = build(records)
    (handoff,) = timeline.episodes
    assert not handoff.silent and timeline.silences == ()
    assert handoff.cause == "service1 shut down (SIGTERM)"
    assert handoff.gap == pytest.approx(0.32)


def test_a_zookeeper_blip_is_a_silence_under_the_same_token():
    records = [
        rec(0, "w", Event.ZK_STATE, state="CONNECTED"),
        *ticks("w", A, 0.5, 3.5),
        rec(3.7, "w", Event.LEADERSHIP_LOST, fencing_token=A, reason=Reason.SUSPENDED),
        rec(3.7, "w", Event.ZK_STATE, state="SUSPENDED"),
        rec(5.9, "w", Event.ZK_STATE, state="CONNECTED"),
        *ticks("w", A, 6.0, 8.0),
    ]
    (silence,) = build(records).silences
    assert silence.cause == "w lost leadership (suspended)"
    assert silence.outcome == "w led on, same token 0x100000003"


def test_a_mark_explains_a_silence_and_unexplained_ones_say_so():
    records = [*ticks("w", A, 0, 2), *ticks("w", A, 6, 7)]
    assert build(records).silences[0].cause.endswith("no log line or container event says why")
    mark = parse_mark("12:00:02.5 docker compose pause w", at(7))
    assert mark.time == pytest.approx(at(2.5)) and mark.kind == "mark"
    assert build(records, [mark]).silences[0].cause == "docker compose pause w"


def test_a_silence_to_the_end_is_nobody_led_again():
    records = [
        *ticks("w", A, 0, 2),
        rec(2.5, "w", Event.ZK_STATE, state="SUSPENDED"),
        rec(9, "v", Event.ZK_STATE, state="SUSPENDED"),
    ]
    (silence,) = build(records).silences
    assert silence.after is None and silence.outcome == "nobody led again"


@pytest.mark.parametrize("bad", ["noon stop", "25:00:00 x", "12:00:00", "12:61:00 x"])
def test_bad_marks_are_refused(bad):
    with pytest.raises(ValueError, match="--mark"):
        parse_mark(bad, T0)


def test_no_records_is_an_error_not_a_picture():
    with pytest.raises(ValueError, match="no worker log lines"):
        build([])


# ------------------------------------------------------------------------ drawing


def test_text_has_a_row_per_worker_a_silence_row_and_a_legend():
    lines = render_text(build(KILL), width=80)
    rows = {line.split()[0]: line for line in lines if line.startswith(("service", "silence"))}
    assert "-AAAAAAAA" in rows["service1"]  # connected, then ticks
    assert "BBBBBBBBBB" in rows["service2"]
    assert re.search(r"\[-+10\.6s-+\]", rows["silence"]), rows["silence"]
    assert all(len(line) <= 80 for line in lines), lines
    assert any("A token 0x100000003 (service1)" in line for line in lines)
    assert any(line.startswith("+5.0 s (12:00:05.000 UTC) silence:") for line in lines)


def test_text_fits_narrow_terminals_by_widening_the_buckets():
    long = [*ticks("w", A, 0, 600)]
    lines = render_text(build(long), width=60)
    assert all(len(line) <= 60 for line in lines)
    assert re.search(r"one character = 1\d s", " ".join(lines)), lines


def test_png_is_written_with_its_size(tmp_path):
    timeline = build(KILL, [Happening(at(5.4), None, "mark", "docker compose kill service1")])
    path = render_png(timeline, tmp_path / "out" / "timeline.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == png_size(timeline) == (1200, 460)


def test_command_on_files_prints_the_text_and_writes_the_png(tmp_path, capsys):
    one, two = tmp_path / "service1.log", tmp_path / "service2.log"
    one.write_text("\n".join(_lines("text", EVENTS[:3])) + "\n")
    two.write_text("\n".join(_lines("json", EVENTS[1:3])) + "\n")
    code = main([str(one), str(two), "--out", str(tmp_path / "t.png"), "--width", "90"])
    out = capsys.readouterr().out
    assert code == 0 and (tmp_path / "t.png").exists()
    assert "service1" in out and f"PNG: {tmp_path / 't.png'}" in out


@pytest.mark.parametrize(
    "args",
    [["--last", "-3"], ["--width", "10"], ["--bogus"], ["--mark", "soon stop it", "x.log"]],
)
def test_command_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys, args):
    (tmp_path / "x.log").write_text("12:00:00.000 Processing... token 0x1\n")
    with pytest.raises(SystemExit) as exit_:
        main([a.replace("x.log", str(tmp_path / "x.log")) for a in args])
    assert exit_.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_command_on_a_missing_file_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nope.log")]) == 2
    assert "nope.log" in capsys.readouterr().err


# --------------------------------------------------------------------- make logs


def test_logs_merge_by_time_whatever_the_arrival_order():
    out = io.StringIO()
    merger = _Merger(out, color=False)
    merger.take(
        "service2-1  | 2026-11-26T12:00:01.5Z 12:00:01.500 LEADING the election, token 0x100000005",
        0.0,
    )
    merger.take(
        "service1-1  | 2026-11-26T12:00:01.4Z "
        "12:00:01.400 stopped (SIGTERM), session closed, exit 0",
        0.1,
    )
    merger.release(now=0.2)
    assert out.getvalue() == ""  # held back
    merger.release(now=0.5)
    assert out.getvalue().splitlines() == [
        "12:00:01.400  service1  stopped (SIGTERM), session closed, exit 0",
        "12:00:01.500  service2  LEADING the election, token 0x100000005",
    ]


def test_logs_shorten_json_lines_to_the_text_view():
    record = read_lines(_lines("json", EVENTS[2:3]), default_lane="service1")[0]
    assert format_record(record).endswith("  service1  Processing... token 0x100000003")
    coloured = format_record(record, color=True)
    assert "\x1b[36mservice1" in coloured


def test_a_freeze_whose_pause_event_docker_forgot_starts_at_the_last_line():
    records = [
        rec(0, "w", Event.ZK_STATE, state="CONNECTED"),
        *ticks("w", A, 1, 4),
        *ticks("v", B, 14.5, 18.5),
        rec(19.0, "w", "container_unpause"),
        rec(19.01, "w", Event.ZK_STATE, state="SUSPENDED"),
    ]
    timeline = build(records)
    (frozen,) = timeline.overlays
    assert (frozen.state, frozen.start, frozen.end) == (FROZEN, at(4), at(19.0))
    (silence,) = timeline.silences
    assert silence.cause == "w frozen (docker pause)"


def test_without_container_events_the_old_leaders_own_log_hole_is_the_cause():
    killed = [r for r in KILL if not r.event.startswith("container_")]
    assert build(killed).silences[0].cause == "service1 wrote nothing more (killed? gone?)"
    frozen = [*killed, rec(21.0, "service1", Event.ZK_STATE, state="SUSPENDED")]
    assert build(frozen).silences[0].cause == "service1 wrote nothing for 16.0 s (frozen?)"


def test_a_lapsed_lease_is_the_cause_of_the_silence_that_follows():
    records = [
        rec(0.0, "service1", Event.PROCESSING, fencing_token=3),
        rec(1.0, "service1", Event.PROCESSING, fencing_token=3),
        rec(1.9, "service1", Event.LEASE_LAPSED, fencing_token=3),
        rec(9.0, "service1", Event.LEADERSHIP_LOST, reason=Reason.SUSPENDED, fencing_token=3),
        rec(11.0, "service2", Event.PROCESSING, fencing_token=5),
    ]
    (silence,) = build(records).silences
    assert silence.cause == "service1's lease ran out (no word from ZooKeeper)"


# ------------------------------------------------- the ledger's units, and refusals


def units(lane: str, token: int, start: float, end: float, first: int) -> list[Record]:
    return [
        Record(r.time, r.service, r.event, {**r.fields, "unit": first + n})
        for n, r in enumerate(ticks(lane, token, start, end))
    ]


# service1 is frozen in the middle of a unit after unit 3; service2 takes over and records
# units 4-9; service1, thawed, writes its unit and ZooKeeper refuses it.
MID_WORK = [
    rec(0.0, "service1", Event.ZK_STATE, state="CONNECTED"),
    rec(0.0, "service2", Event.ZK_STATE, state="CONNECTED"),
    *units("service1", A, 0.0, 2.0, 1),
    rec(2.5, "service1", "container_pause"),
    rec(8.0, "service2", Event.LEADER_ELECTED, fencing_token=B),
    *units("service2", B, 8.0, 13.0, 4),
    rec(12.0, "service1", "container_unpause"),
    rec(12.2, "service1", Event.UNIT_REFUSED, unit=4, reason="node_gone", fencing_token=A),
]


def test_units_and_refusals_come_from_the_workers_lines():
    timeline = build(MID_WORK)
    assert [(u.lane, u.seq) for u in timeline.units] == [("service1", n) for n in (1, 2, 3)] + [
        ("service2", n) for n in range(4, 10)
    ]
    (refused,) = timeline.refusals
    assert (refused.lane, refused.seq, refused.token, refused.reason) == (
        "service1",
        4,
        A,
        "node_gone",
    )
    assert timeline.legend(A) == "token 0x100000003 (service1, units 1-3)"
    assert timeline.legend(B) == "token 0x100000005 (service2, units 4-9)"
    assert timeline.title.endswith(
        "; service1's unit 4 (token 0x100000003) REFUSED by ZooKeeper: node_gone"
    )
    # Without a ledger (no unit numbers) the legend and title say what they always said.
    assert build(KILL).legend(A) == "token 0x100000003 (service1)"
    assert build(KILL).refusals == ()


def test_text_marks_the_refused_unit_on_its_lane_and_says_it_in_words():
    lines = render_text(build(MID_WORK), width=100)
    rows = {line.split()[0]: line for line in lines if line.startswith("service")}
    label = len("service1") + 2  # the lane label's width
    column = rows["service1"].index("#") - label
    assert column == int(12.2 / 0.5), rows["service1"]  # one character per half second
    assert "=" in rows["service1"][: column + label]  # frozen before it
    assert "#" not in rows["service2"]
    said = " ".join(lines)
    assert "# a unit ZooKeeper refused" in said
    assert "A token 0x100000003 (service1, units 1-3)" in said
    assert any(
        line.startswith("+12.2 s (12:00:12.200 UTC) refused: service1's unit 4") for line in lines
    )


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_refusal_reads_back_from_either_log_format(fmt):
    lines = _lines(
        fmt,
        [
            (Event.PROCESSING, "Processing... unit 7 recorded", {"unit": 7, "fencing_token": A}),
            (
                Event.UNIT_REFUSED,
                "Unit refused by ZooKeeper: gone; stepping down",
                {"unit": 8, "reason": "older_token", "fencing_token": A},
            ),
        ],
    )
    timeline = build(read_lines(lines, default_lane="service1"))
    assert [u.seq for u in timeline.units] == [7]
    assert [(m.seq, m.reason, m.token) for m in timeline.refusals] == [(8, "older_token", A)]


def test_png_crosses_out_the_refused_unit(tmp_path):
    from matplotlib import image

    def reds(records) -> int:
        path = render_png(build(records), tmp_path / "t.png")
        pixels = image.imread(path)[..., :3]
        target = (0xB7 / 255, 0x1C / 255, 0x1C / 255)
        close = (abs(pixels - target) < 0.02).all(axis=-1)
        return int(close.sum())

    assert reds(MID_WORK[:-1]) == 0
    assert reds(MID_WORK) > 50  # the cross, its label and the legend's


def test_a_refused_unit_is_a_line_of_its_own_but_no_cause():
    frozen = [
        *ticks("service1", A, 0, 4),
        rec(4.2, "service1", "container_pause"),
        *ticks("service2", B, 15, 20),
        rec(19.5, "service1", "container_unpause"),
        rec(19.6, "service1", Event.UNIT_REFUSED, unit=9, reason="node_gone", fencing_token=A),
    ]
    timeline = build(frozen)
    (refused,) = timeline.refusals
    assert (refused.lane, refused.seq, refused.reason) == ("service1", 9, "node_gone")
    (silence,) = timeline.silences
    assert silence.cause == "service1 frozen (docker pause)"
    lines = render_text(timeline, width=70)
    said = " ".join(line.strip() for line in lines if "refused:" in line or line.startswith("    "))
    assert (
        "+19.6 s (12:00:19.600 UTC) refused: service1's unit 9 (token 0x100000003) REFUSED" in said
    )
    assert all(len(line) <= 70 for line in lines), lines
