"""The ledger judge (testbed/ledger.py) and the ledger's records (common/ledger.py),
on crafted histories: each violation found where it is, and nowhere else."""

from __future__ import annotations

import pytest

from common.ledger import Head, Refusal, Unit, unit_name
from common.logreader import Record
from common.logs import Event
from testbed.ledger import Logged, judge, logged_units, main, summary, verdict

A, B = "0x1a", "0x2b"  # two sessions


def run(worker: str, token: int, session: str, first: int, count: int, start: float):
    """``count`` units of one leadership, one per second from ``start``."""
    return [Unit(first + i, token, worker, session, start + i) for i in range(count)]


def lines(units, skip=()):
    return [Logged(u.worker, u.seq, u.token) for u in units if u.seq not in skip]


def test_a_clean_handoff_has_no_violation():
    units = run("service1", 10, A, 1, 5, 100.0) + run("service2", 20, B, 6, 5, 110.0)
    assert judge(units, lines(units), tick_interval_s=1.0) == []


def test_a_stale_unit_after_a_newer_leaders_is_token_down():
    units = run("service2", 20, B, 1, 3, 100.0) + [Unit(4, 10, "service1", A, 103.5, False)]
    found = judge(units, tick_interval_s=1.0)
    assert any(f.startswith("token down: unit 4 by service1") for f in found), found


def test_interleaved_leaderships_are_returned():
    # Same tokens order can't show it; a session that comes back under its token can.
    units = [
        Unit(1, 10, "service1", A, 100.0),
        Unit(2, 10, "service2", B, 101.0),
        Unit(3, 10, "service1", A, 102.0),
    ]
    found = judge(units, tick_interval_s=1.0)
    assert any(f.startswith("returned: unit 3 by service1") for f in found), found


def test_a_missing_number_is_a_gap():
    units = run("service1", 10, A, 1, 3, 100.0) + run("service1", 10, A, 5, 2, 104.0)
    assert judge(units, tick_interval_s=1.0) == ["gap: units 4..4 are missing"]


def test_a_burst_is_too_fast_and_a_steady_pace_with_jitter_is_not():
    steady = [
        Unit(i + 1, 10, "service1", A, 100.0 + i + (0.9 if i % 2 else 0.0)) for i in range(20)
    ]
    assert judge(steady, tick_interval_s=1.0) == []
    burst = run("service1", 10, A, 1, 5, 100.0) + [
        Unit(6 + i, 10, "service1", A, 104.0 + 0.01 * (i + 1)) for i in range(4)
    ]
    found = judge(burst, tick_interval_s=1.0)
    assert len(found) == 1 and found[0].startswith("too fast: token 10"), found


def test_a_line_without_its_unit_and_a_unit_without_its_line():
    units = run("service1", 10, A, 1, 5, 100.0)
    logged = lines(units, skip={3}) + [Logged("service1", 9, 10)]
    found = judge(units, logged, tick_interval_s=1.0)
    assert "no line: unit 3 by service1 (token 10)" in found
    assert any(f.startswith("no unit: service1 logged unit 9") for f in found), found


def test_a_line_with_another_token_than_its_unit_is_no_unit():
    units = run("service1", 10, A, 1, 3, 100.0)
    logged = lines(units)[:2] + [Logged("service2", 3, 20)]
    found = judge(units, logged, tick_interval_s=1.0)
    assert any("logged unit 3 with token 20" in f for f in found), found


def test_a_crashed_workers_last_unit_may_lack_its_line_but_not_an_earlier_one():
    units = run("service1", 10, A, 1, 4, 100.0) + run("service2", 20, B, 5, 4, 110.0)
    last_missing = lines(units, skip={4})
    assert judge(units, last_missing, tick_interval_s=1.0, crashed={"service1"}) == []
    assert judge(units, last_missing, tick_interval_s=1.0) == [
        "no line: unit 4 by service1 (token 10)"
    ]
    earlier_missing = lines(units, skip={2})
    assert judge(units, earlier_missing, tick_interval_s=1.0, crashed={"service1"}) == [
        "no line: unit 2 by service1 (token 10)"
    ]


def test_an_unconfirmed_line_covers_its_unit_whichever_way_it_went():
    """A write sent, its answer lost, given up: the worker says "unconfirmed" with the
    number. If the unit landed, that line is its line; if not, nothing is missing. It
    never stands for another worker's unit, nor for another number."""
    units = run("service1", 10, A, 1, 4, 100.0) + run("service2", 20, B, 5, 3, 110.0)
    logged = lines(units, skip={4}) + [Logged("service1", 4, 10, unconfirmed=True)]
    assert judge(units, logged, tick_interval_s=1.0) == []
    did_not_land = lines(units[:3] + units[4:]) + [Logged("service1", 4, 10, unconfirmed=True)]
    assert judge(units[:3] + units[4:], did_not_land, tick_interval_s=1.0) == [
        "gap: units 4..4 are missing"
    ]
    other_number = lines(units, skip={4}) + [Logged("service1", 3, 10, unconfirmed=True)]
    assert judge(units, other_number, tick_interval_s=1.0) == [
        "no line: unit 4 by service1 (token 10)"
    ]
    other_worker = lines(units, skip={4}) + [Logged("service2", 4, 20, unconfirmed=True)]
    assert judge(units, other_worker, tick_interval_s=1.0) == [
        "no line: unit 4 by service1 (token 10)"
    ]


def test_units_of_workers_whose_lines_were_not_read_need_none():
    units = run("service1", 10, A, 1, 3, 100.0) + run("other", 20, B, 4, 3, 104.0)
    assert judge(units, lines(units[:3]), tick_interval_s=1.0, workers={"service1"}) == []


def test_pruned_units_are_out_of_the_comparison():
    units = run("service1", 10, A, 50, 3, 100.0)  # 1..49 pruned
    logged = [Logged("service1", 10, 10)] + lines(units)
    assert judge(units, logged, tick_interval_s=1.0) == []


def test_lines_with_an_empty_ledger_are_no_unit():
    assert judge([], [Logged("service1", 1, 10)], tick_interval_s=1.0) == [
        "no unit: 1 processing lines, an empty ledger"
    ]


def test_logged_units_reads_processing_records_that_name_a_unit():
    records = [
        Record(1.0, "service1", Event.PROCESSING, {"unit": 7, "fencing_token": 10}),
        Record(2.0, "service1", Event.PROCESSING, {"fencing_token": 10}),  # ledger off
        Record(3.0, "service1", Event.UNIT_REFUSED, {"unit": 8, "fencing_token": 10}),
        Record(4.0, "service1", Event.UNIT_UNCONFIRMED, {"unit": 9, "fencing_token": 10}),
    ]
    assert logged_units(records) == [
        Logged("service1", 7, 10),
        Logged("service1", 9, 10, unconfirmed=True),
    ]


def test_summary_names_each_leadership_and_unfenced_units():
    units = run("service1", 10, A, 1, 2, 100.0) + [Unit(3, 5, "service2", B, 103.0, False)]
    text = summary(units, refusals=1)
    assert text.splitlines()[0] == "3 units, 1 refused"
    assert "service2     token 5 session 0x2b: units 3..3 (1) UNFENCED" in text


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"junk",
        b"[]",
        b'{"seq": 1}',
        b'{"seq":"x","token":1,"worker":"a","session":"b","time":1}',
    ],
)
def test_records_that_are_not_units_decode_to_none(data):
    assert Unit.decode(data) is None
    assert Refusal.decode(data) is None


def test_records_round_trip_and_the_head_of_an_empty_ledger_is_zero():
    unit = Unit(42, 0x200000014, "service1", A, 1.5, fenced=False)
    assert Unit.decode(unit.encode()) == unit
    refusal = Refusal(43, 10, "service1", A, 2.0, "node_gone")
    assert Refusal.decode(refusal.encode()) == refusal
    assert (Head(None, 0).seq, Head(None, 0).token) == (0, 0)
    assert unit_name(42) == "u_0000000042"


def _records(units, skip=(), started=()):
    """The processing records of ``units`` (a line each, one second after), plus a
    ``started`` record for each (worker, time) in ``started``."""
    out = [
        Record(u.time + 0.01, u.worker, Event.PROCESSING, {"unit": u.seq, "fencing_token": u.token})
        for u in units
        if u.seq not in skip
    ]
    out += [Record(t, worker, Event.STARTED, {}) for worker, t in started]
    return out


def test_verdict_judges_the_window_and_compares_only_what_the_logs_reach():
    # Units 1-5 by a container whose lines are gone (recreated), 6-10 logged.
    old = run("service1", 10, A, 1, 5, 100.0)
    new = run("service1", 20, B, 6, 5, 110.0)
    found = verdict(old + new, _records(new), tick_interval_s=1.0)
    assert found.findings == []
    assert found.both_cover() == (5, 5)
    assert [u.seq for u in found.units] == list(range(1, 11))
    windowed = verdict(old + new, _records(new), tick_interval_s=1.0, since=110.0)
    assert [u.seq for u in windowed.units] == list(range(6, 11))
    missing = verdict(old + new, _records(new, skip={8}), tick_interval_s=1.0)
    assert missing.findings == ["no line: unit 8 by service1 (token 20)"]


def test_both_cover_counts_an_unconfirmed_write_only_if_it_landed():
    """The partition demo's cut-off leader: its write unanswered (unit_unconfirmed, 6),
    the next leader's unit 6 recorded. Still as many units as lines; and when the cut
    leader's unit did land, its unconfirmed line is that unit's line."""
    units = run("service1", 10, A, 1, 5, 100.0) + run("service2", 20, B, 6, 3, 110.0)
    unsure = Record(106.0, "service1", Event.UNIT_UNCONFIRMED, {"unit": 6, "fencing_token": 10})
    lost = verdict(units, [*_records(units), unsure], tick_interval_s=1.0)
    assert lost.findings == [] and lost.both_cover() == (8, 8)
    assert "8 processing lines and 1 unconfirmed" in lost.report()[0], lost.report()[0]
    landed = run("service1", 10, A, 1, 6, 100.0) + run("service2", 20, B, 7, 3, 110.0)
    records = [*_records(landed, skip={6}), unsure]
    found = verdict(landed, records, tick_interval_s=1.0)
    assert found.findings == [] and found.both_cover() == (9, 9)


def test_an_unconfirmed_line_is_not_the_unit_its_own_worker_wrote_later_under_a_new_token():
    """The quorum demo's leader: its write of unit 6 unanswered (the proposal lost with
    the quorum), then the same worker leads again and records unit 6 under its new
    token. The unconfirmed line is not that unit's line: 8 units, 8 lines (CI saw 8, 9),
    and a missing processing line for the new unit is still a finding."""
    units = run("service1", 10, A, 1, 5, 100.0) + run("service1", 20, B, 6, 3, 110.0)
    unsure = Record(106.0, "service1", Event.UNIT_UNCONFIRMED, {"unit": 6, "fencing_token": 10})
    found = verdict(units, [*_records(units), unsure], tick_interval_s=1.0)
    assert found.findings == [] and found.both_cover() == (8, 8)
    silent = verdict(units, [*_records(units, skip={6}), unsure], tick_interval_s=1.0)
    assert silent.findings == ["no line: unit 6 by service1 (token 20)"]


def test_an_unconfirmed_line_is_not_the_unit_the_same_leader_wrote_again_after_a_quorum_loss():
    """The quorum demo on Compose v1: service2's unit 31 unanswered (the quorum lost
    it), service2 leads again on the same session, node and token, and records unit 31
    itself. Its processing line is the unit's line; the unconfirmed one is not a
    second (the e2e test saw 13 units, 14 lines)."""
    units = run("service2", 10, A, 1, 8, 100.0)
    unsure = Record(105.5, "service2", Event.UNIT_UNCONFIRMED, {"unit": 6, "fencing_token": 10})
    found = verdict(units, [*_records(units), unsure], tick_interval_s=1.0)
    assert found.findings == [] and found.both_cover() == (8, 8)


def test_both_cover_starts_where_the_ledgers_window_does():
    """demo-stop on Compose v1: unit 3 recorded 10 ms before the window's start, its
    line 10 ms after it. The line is before what the window reads of the ledger, so
    neither side counts it (the e2e test saw 17 units, 18 lines)."""
    units = run("service1", 10, A, 1, 10, 100.0)
    found = verdict(units, _records(units), tick_interval_s=1.0, since=102.005)
    assert [u.seq for u in found.units] == list(range(4, 11))
    assert found.findings == [] and found.both_cover() == (7, 7)
    missing = verdict(units, _records(units, skip={5}), tick_interval_s=1.0, since=102.005)
    assert missing.findings == ["no line: unit 5 by service1 (token 10)"]


def test_verdict_excuses_a_killed_workers_last_unit_only():
    units = run("service1", 10, A, 1, 3, 100.0) + run("service2", 20, B, 4, 3, 115.0)
    records = _records(units, skip={3}, started=[("service1", 90.0), ("service1", 120.0)])
    assert verdict(units, records, tick_interval_s=1.0).findings == []
    not_killed = _records(units, skip={3}, started=[("service1", 90.0)])
    assert verdict(units, not_killed, tick_interval_s=1.0).findings == [
        "no line: unit 3 by service1 (token 10)"
    ]


def test_the_report_names_refusals_each_violation_and_the_verdict():
    units = run("service2", 20, B, 1, 3, 100.0) + [Unit(4, 10, "service1", A, 103.5, False)]
    refusal = Refusal(4, 10, "service1", A, 103.6, "node_gone")
    found = verdict(units, _records(units), tick_interval_s=1.0, refusals=[refusal])
    report = found.report()
    assert report[0] == (
        "ledger: 4 units (units 1..4), 1 refused; 4 processing lines (service1, service2); "
        "where both cover: 4 units, 4 lines"
    )
    assert report[1] == "refused: unit 4 by service1 with token 0xa: node_gone"
    assert any(line.startswith("VIOLATION token down: unit 4 by service1") for line in report)
    assert report[-1] == "verdict: 1 violation"
    clean = verdict(units[:3], _records(units[:3]), tick_interval_s=1.0).report()
    assert clean[-1].startswith("verdict: no violation")


def test_the_command_refuses_bad_arguments_in_one_line(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--last", "0"])
    assert exited.value.code == 2
    assert "--last must be a positive number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["--last", "5", "--since", "1"])
    assert exited.value.code == 2
