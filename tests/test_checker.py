"""The tick-log checker: every rule on a history that passes and on one that must fail.

The property codes (E1-E12) are defined in docs/properties.md.
"""

from __future__ import annotations

import pytest

from common.logs import Event
from testbed.checker import (
    Tick,
    Window,
    first_tick_after,
    longest_silence,
    parse_time,
    recovery,
    spacings,
    summary,
    ticks_after,
    ticks_from_events,
    violations,
    windows,
)

T0 = 1_800_000_000.0  # any epoch second


def run(service: str, token: int | None, start: float, count: int, every: float = 1.0):
    """``count`` ticks of ``service`` from ``T0 + start``, ``every`` seconds apart."""
    return [Tick(service, T0 + start + i * every, token) for i in range(count)]


# -- parsing ------------------------------------------------------------------------


def test_parse_time_reads_rfc3339_utc_with_microseconds() -> None:
    assert parse_time("1970-01-01T00:00:01.250000Z") == pytest.approx(1.25)
    assert parse_time("2026-11-26T10:00:00.123456Z") == pytest.approx(1795687200.123456)


def test_parse_time_honours_offsets_and_treats_naive_as_utc() -> None:
    assert parse_time("1970-01-01T01:00:00+01:00") == 0.0
    assert parse_time("1970-01-01T00:00:02") == 2.0


def test_ticks_from_events_keeps_processing_lines_only_in_time_order() -> None:
    events = [
        {
            "time": "1970-01-01T00:00:02.000000Z",
            "service": "b",
            "event": Event.PROCESSING,
            "fencing_token": 7,
        },
        {
            "time": "1970-01-01T00:00:01.000000Z",
            "service": "a",
            "event": Event.LEADER_ELECTED,
            "fencing_token": 5,
        },
        {
            "time": "1970-01-01T00:00:01.500000Z",
            "service": "a",
            "event": Event.PROCESSING,
            "fencing_token": 5,
        },
        {
            "time": "1970-01-01T00:00:03.000000Z",
            "service": "c",
            "event": Event.PROCESSING,
            "fencing_token": None,
        },
    ]
    assert ticks_from_events(events) == [Tick("a", 1.5, 5), Tick("b", 2.0, 7), Tick("c", 3.0, None)]
    assert {t.service for t in ticks_from_events(events, service="x")} == {"x"}


# -- windows ------------------------------------------------------------------------


def test_windows_split_on_token_change() -> None:
    ticks = run("a", 5, 0, 3) + run("a", 9, 10, 2)
    assert windows(ticks) == [
        Window("a", 5, T0, T0 + 2, 3),
        Window("a", 9, T0 + 10, T0 + 11, 2),
    ]


def test_windows_without_tokens_split_on_gap_only_when_gap_given() -> None:
    ticks = run("a", None, 0, 3) + run("a", None, 10, 2)
    assert len(windows(ticks)) == 1
    assert [(w.start, w.end, w.count) for w in windows(ticks, gap_s=2.5)] == [
        (T0, T0 + 2, 3),
        (T0 + 10, T0 + 11, 2),
    ]


def test_windows_keep_services_apart() -> None:
    ticks = run("a", 5, 0, 2) + run("b", 5, 0.5, 2)
    assert [(w.service, w.count) for w in windows(ticks)] == [("a", 2), ("b", 2)]


# -- rule 1: fencing tokens never go down ---------------------------------------------


def test_violations_none_for_clean_handoffs() -> None:
    ticks = run("a", 5, 0, 5) + run("b", 8, 5.3, 5) + run("a", 12, 11, 3)
    assert violations(ticks) == []


def test_violations_token_down_is_reported() -> None:
    ticks = run("a", 5, 0, 3) + run("b", 8, 3.5, 3) + [Tick("c", T0 + 7, 6)]
    found = violations(ticks)
    assert len(found) == 1
    assert "fencing token went down" in found[0]
    assert "c ticked with token 6" in found[0] and "b ticked with token 8" in found[0]


def test_violations_token_down_within_one_service_is_reported() -> None:
    # A worker that re-joined and then acted on its old term again.
    ticks = run("a", 9, 0, 2) + [Tick("a", T0 + 5, 5)]
    assert any("went down" in v for v in violations(ticks))


# -- rule 2: no two services inside one another's window --------------------------------


def test_violations_overlap_is_reported_for_a_stale_leader() -> None:
    # E5: 'a' is frozen mid-term, 'b' takes over, 'a' thaws and ticks once more.
    ticks = run("a", None, 0, 3) + run("b", None, 8, 5) + [Tick("a", T0 + 10.2, None)]
    found = violations(ticks, gap_s=2.5)
    assert len(found) == 1 and "two leaders at once" in found[0]
    assert "a token=None" in found[0] and "b token=None" in found[0]


def test_violations_overlap_with_tokens_reports_both_rules() -> None:
    ticks = run("a", 5, 0, 3) + run("b", 8, 8, 5) + [Tick("a", T0 + 10.2, 5)]
    found = violations(ticks)
    assert any("two leaders at once" in v for v in found)
    assert any("went down" in v for v in found)


def test_violations_interleaved_ticks_are_an_overlap() -> None:
    ticks = run("a", 5, 0, 4) + run("b", 6, 0.5, 4)
    assert any("two leaders at once" in v for v in violations(ticks))


def test_violations_gap_without_tokens_allows_alternating_terms() -> None:
    ticks = run("a", None, 0, 3) + run("b", None, 3.5, 3) + run("a", None, 7, 3)
    assert violations(ticks, gap_s=2.5) == []
    # Without a gap rule 'a' is one long window that contains b's: must fail.
    assert violations(ticks) != []


# -- rule 3: one token, one holder ------------------------------------------------------


def test_violations_shared_token_is_reported() -> None:
    ticks = run("a", 5, 0, 2) + run("b", 5, 4, 2)
    found = violations(ticks)
    assert found == ["fencing token 5 used by 2 services: a, b"]


def test_violations_ignore_missing_tokens_for_token_rules() -> None:
    ticks = run("a", None, 0, 2) + run("b", None, 4, 2)
    assert violations(ticks, gap_s=2.5) == []


# -- queries ----------------------------------------------------------------------------


def test_first_tick_after_filters_by_service_and_token() -> None:
    ticks = run("a", 5, 0, 3) + run("b", 8, 3.4, 2)
    assert first_tick_after(ticks, T0 + 0.5) == Tick("a", T0 + 1, 5)
    assert first_tick_after(ticks, T0 + 0.5, exclude_service="a") == Tick("b", T0 + 3.4, 8)
    assert first_tick_after(ticks, T0, other_token_than=5) == Tick("b", T0 + 3.4, 8)
    assert first_tick_after(ticks, T0 + 100) is None


def test_ticks_after_is_strict_and_per_service() -> None:
    ticks = run("a", 5, 0, 3) + run("b", 8, 3, 2)
    assert ticks_after(ticks, "a", T0 + 1) == [Tick("a", T0 + 2, 5)]
    assert ticks_after(ticks, "b", T0 + 100) == []


def test_longest_silence_counts_the_bounds() -> None:
    ticks = run("a", 5, 1, 3) + run("b", 8, 7, 2)  # a: 1,2,3  b: 7,8
    assert longest_silence(ticks, T0, T0 + 10) == pytest.approx(4.0)  # 3 -> 7
    assert longest_silence(ticks, T0 + 8, T0 + 12) == pytest.approx(4.0)  # 8 -> end
    assert longest_silence([], T0, T0 + 3) == pytest.approx(3.0)


def test_spacings_and_summary() -> None:
    ticks = run("a", 5, 0, 3, every=1.1)
    assert spacings(ticks, "a") == pytest.approx([1.1, 1.1])
    text = summary(ticks + [Tick("b", T0 + 1.5, 4)])
    assert "4 ticks by 2 services" in text and "violations" in text and "went down" in text


# -- recovery (a fault every candidate saw) -------------------------------------------


def test_recovery_leader_kept_through_a_short_fault() -> None:
    ticks = run("a", None, 0, 10) + run("a", None, 13, 10)
    got = recovery(ticks, fault=T0 + 9.5, back=T0 + 12.5, end=T0 + 22.5)
    assert (got.leader_before, got.leader_after, got.moved) == ("a", "a", "kept")
    assert got.ticks_during == 0
    assert got.resume_s == pytest.approx(0.5)
    assert got.silence_s == pytest.approx(4.0)  # the ticks at 9 and 13
    assert (got.two_leaders_s, got.two_leaders_at_end) == (0.0, False)


def test_recovery_counts_work_without_quorum_after_the_settle_time() -> None:
    # a ticks straight through: 10.0 is within the settle second, 11..14 are not.
    ticks = run("a", None, 0, 20)
    got = recovery(ticks, fault=T0 + 9.5, back=T0 + 14.5, end=T0 + 19.5)
    assert got.ticks_during == 4
    assert got.moved == "kept"


def test_recovery_moved_with_two_leaders_and_none_at_the_end() -> None:
    ticks = run("a", None, 0, 10) + run("a", None, 15, 3) + run("b", None, 14, 4)
    got = recovery(ticks, fault=T0 + 9.5, back=T0 + 12.0, end=T0 + 18.5)
    assert got.moved == "two leaders" and got.leader_after == "b"  # b ticked last
    assert got.two_leaders_s == pytest.approx(2.0)  # a's 15..17 inside b's 14..17
    assert got.two_leaders_at_end
    # b goes on alone after a's last tick at 17: moved, after two seconds of two leaders.
    longer = run("a", None, 0, 10) + run("a", None, 15, 3) + run("b", None, 14, 7)
    only_b = recovery(longer, fault=T0 + 9.5, back=T0 + 12.0, end=T0 + 20.5)
    assert (only_b.moved, only_b.two_leaders_at_end) == ("moved", False)
    assert only_b.two_leaders_s == pytest.approx(2.0)

    assert got.resume_s == pytest.approx(2.0)
    quiet = recovery(run("a", None, 0, 10), fault=T0 + 9.5, back=T0 + 12.0, end=T0 + 20.0)
    assert (quiet.moved, quiet.resume_s, quiet.leader_after) == ("none", None, None)
    assert recovery([], fault=T0, back=T0 + 1, end=T0 + 5).moved == "unknown"


def test_recovery_a_clean_move_is_not_two_leaders() -> None:
    ticks = run("a", None, 0, 10) + run("b", None, 21, 5)
    got = recovery(ticks, fault=T0 + 9.5, back=T0 + 12.0, end=T0 + 26.0)
    assert (got.moved, got.two_leaders_s, got.two_leaders_at_end) == ("moved", 0.0, False)
