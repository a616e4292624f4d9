"""workshop.demo_numbers, pure parts: the figures it takes from a demo's log window."""

from __future__ import annotations

from common.logs import Event, Reason
from workshop.demo_numbers import Sample, handoff, longest_silence, stale_ticks, summary
from workshop.records import Record

T0 = 1_800_000_000.0


def _tick(lane: str, at: float, token: int) -> Record:
    return Record(T0 + at, lane, Event.PROCESSING, {"fencing_token": token})


def _lost(lane: str, at: float, reason: str) -> Record:
    return Record(T0 + at, lane, Event.LEADERSHIP_LOST, {"reason": reason})


HISTORY = [
    _tick("service1", 0, 5),
    _tick("service1", 1, 5),
    _lost("service1", 1.5, Reason.SHUTDOWN),
    _tick("service2", 1.52, 7),
    _tick("service2", 2.52, 7),
    _tick("service2", 12.0, 7),  # a 9.5 s silence ends here
    _tick("service1", 12.5, 5),  # a stale tick: token 5 after token 7
]


def test_handoff_is_the_resignation_to_the_others_first_tick() -> None:
    assert abs(handoff(HISTORY, T0, T0 + 20) - 0.02) < 1e-6
    assert handoff(HISTORY, T0 + 5, T0 + 20) is None  # no resignation in this window
    suspended = [_lost("service1", 1.5, Reason.SUSPENDED), _tick("service2", 2, 7)]
    assert handoff(suspended, T0, T0 + 5) is None  # only a shutdown counts


def test_longest_silence_counts_gaps_ending_in_the_window() -> None:
    assert abs(longest_silence(HISTORY, T0, T0 + 20) - 9.48) < 1e-6
    assert abs(longest_silence(HISTORY, T0, T0 + 3) - 1.0) < 1e-6
    assert longest_silence(HISTORY, T0 + 30, T0 + 40) is None


def test_stale_ticks_are_ticks_under_an_older_token() -> None:
    assert stale_ticks(HISTORY, T0, T0 + 20) == 1
    assert stale_ticks(HISTORY, T0, T0 + 12.1) == 0


def test_summary_lists_each_figure_with_its_range() -> None:
    samples = [
        Sample(1, "stop", T0, T0 + 9, 1.0, handoff_s=0.02),
        Sample(2, "stop", T0, T0 + 9, 1.2, handoff_s=0.04),
        Sample(1, "pause", T0, T0 + 9, 11.0, stale_ticks=0),
    ]
    lines = summary(samples)
    assert lines[1].split()[:3] == ["stop", "handoff", "2"]
    assert lines[1].split()[3:] == ["0.02", "0.03", "0.04"]
    assert any(line.split()[:2] == ["pause", "stale_ticks"] for line in lines)
