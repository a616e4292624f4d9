"""`python -m common.status` without ZooKeeper: host forms, changes, rendering, bad input."""

import subprocess
import sys

import pytest

from common.ledger import Refusal, Unit
from common.ledger_status import history_lines, ledger_json
from common.ledger_view import LedgerView, merged
from common.logs import rfc3339
from common.observer import Candidate
from common.roles import Role, Server, _split_host_port
from common.settings import Settings
from common.status import Status, changes, render, to_json
from testbed.processes import REPO_ROOT


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("zoo1:2181", ("zoo1", 2181)),
        (" zoo3 ", ("zoo3", 2181)),
        ("127.0.0.1:2182", ("127.0.0.1", 2182)),
        ("[::1]:2183", ("::1", 2183)),
        ("[::1]", ("::1", 2181)),
    ],
)
def test_status_splits_every_host_form(entry, expected):
    Settings.from_env({"ZK_HOSTS": entry})  # a form the worker accepts too
    assert _split_host_port(entry) == expected


# --- pure logic: what changed, what is shown ---------------------------------------


def _c(seq: int, name: str, token: int) -> Candidate:
    return Candidate(f"/leader-election/n_{seq:010d}", seq, name, token, 0x100 + seq)


S1, S2 = _c(0, "service1", 0x100000003), _c(1, "service2", 0x100000005)


def test_changes_name_the_takeover_with_both_tokens():
    assert changes([S1, S2], [S2]) == [
        "leader service1 -> service2 (token 0x100000003 -> 0x100000005)"
    ]


def test_changes_name_joins_and_departures_of_candidates():
    s1_back = _c(2, "service1", 0x100000007)
    assert changes([S2], [S2, s1_back]) == ["service1 joined as n_0000000002"]
    assert changes([S2, s1_back], [S2]) == ["service1 left (n_0000000002)"]
    assert changes(None, [S1, S2]) == []  # the first view is no change
    assert changes([S1], []) == ["no leader: service1 left"]
    assert changes([], [S1]) == ["service1 leads, token 0x100000003"]


def test_render_marks_fresh_lines_without_colour_and_escapes_identities():
    hostile = _c(3, "\x1b[2Jevil\n" + "A" * 100_000, 0x100000009)
    status = Status("/leader-election", (S1, hostile), (Role(Server("zoo1:2181"), "leader"),))
    lines = render(status, fresh=frozenset({hostile.node}))
    assert lines[0] == "election /leader-election"
    assert lines[1].startswith("  leader     service1")
    assert lines[2].startswith(" >candidate  \\x1b[2Jevil\\nAAA")
    assert "\x1b" not in "".join(lines) and len(lines[2]) < 160
    assert lines[-1] == "  zoo1:2181  leader"


def test_render_in_colour_highlights_the_new_leader_only():
    status = Status("/leader-election", (S2,), connection="CONNECTED")
    (head, line) = render(status, fresh=frozenset({S2.node}), color=True)
    assert line.startswith("\x1b[1;7;32m") and line.endswith("\x1b[0m")
    assert head == "election /leader-election  (ZooKeeper CONNECTED)"


def test_json_has_stable_keys_and_cuts_identities():
    long = _c(4, "x" * 1000, 0x100000010)
    body = to_json(Status("/e", (long,), (Role(Server("zoo1:2181", "zoo1"), None, "down"),)))
    assert list(body) == [
        "time",
        "election",
        "connection",
        "leader",
        "candidates",
        "servers",
        "changes",
        "error",
        "ledger",
    ]
    assert body["ledger"] is None  # no ledger to show (LEDGER_PATH=off)
    assert len(body["leader"]) == 64 and body["leader"].endswith("…")
    assert body["candidates"][0]["fencing_token"] == 0x100000010
    assert body["servers"] == [
        {"name": "zoo1", "address": "zoo1:2181", "mode": None, "error": "down"}
    ]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--nope"], "--nope"),
        (["--json", "extra"], "extra"),
        (["--watch=3"], "--watch"),
        (["--ledger", "0"], "--ledger"),
        (["--ledger", "many"], "--ledger"),
        (["--ledger", "--watch"], "--ledger"),
    ],
)
def test_status_bad_argument_is_one_line_and_exit_2(args, named):
    result = subprocess.run(
        [sys.executable, "-m", "common.status", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert named in line and "usage: python -m common.status" in line
    assert result.stdout == ""


# --- the ledger's part: the last units, the refused count, the history -------------

NOW = 1_800_000_000.0


def _u(seq: int, worker: str = "service1", token: int = 0x100000003, ago: float = 0.0) -> Unit:
    return Unit(seq, token, worker, "0x1000000aa", NOW - ago)


def _r(seq: int, reason: str = "node_gone", ago: float = 0.0) -> Refusal:
    return Refusal(seq, 0x100000003, "service1", "0x1000000aa", NOW - ago, reason)


def test_status_shows_the_newest_units_first_and_the_newest_refusal():
    units = tuple(_u(n, ago=10 - n) for n in range(1, 9))
    refusals = (_r(3, "older_token", 30), _r(9, "node_gone", 2.5))
    view = LedgerView("/leader-election-work", True, units, refusals)
    lines = render(Status("/e", (S1,), ledger=view, time=NOW))
    at = lines.index("work, from the ledger /leader-election-work")
    shown = lines[at + 1 : at + 6]
    assert [line.split()[1] for line in shown] == ["8", "7", "6", "5", "4"]
    assert shown[0].endswith("service1  2.0 s ago") and "token 0x100000003" in shown[0]
    assert lines[at + 6] == (
        "  refused 2; the newest: unit 9 by service1, token 0x100000003, node_gone, 2.5 s ago"
    )


def test_status_says_when_there_is_no_ledger_or_no_unit_yet():
    def body(view):
        return render(Status("/e", (S1,), ledger=view, time=NOW))[2:]

    assert body(LedgerView("/w")) == [
        "work, from the ledger /w",
        "  no ledger yet: the first leader creates it",
    ]
    assert body(LedgerView("/w", True)) == [
        "work, from the ledger /w",
        "  no unit recorded yet",
        "  refused 0",
    ]
    assert body(LedgerView("/w", connection="CONNECTING")) == [
        "work, from the ledger /w  (ZooKeeper CONNECTING)",
        "  not read yet",
    ]
    error = body(LedgerView("/w", error="reading /w failed: ConnectionLoss()"))
    assert error[1] == "  unreadable: reading /w failed: ConnectionLoss()"


def test_status_json_carries_the_ledger():
    view = LedgerView("/w", True, (_u(1, ago=3), _u(2, "service2", 0x100000009, 1)), (_r(1),))
    body = to_json(Status("/e", (S1,), ledger=view, time=NOW))["ledger"]
    assert list(body) == ["path", "exists", "units", "refused", "last_refusal", "error"]
    assert [u["seq"] for u in body["units"]] == [2, 1]
    assert body["units"][0] == {
        "seq": 2,
        "fencing_token": 0x100000009,
        "fencing_token_hex": "0x100000009",
        "worker": "service2",
        "session_id": "0x1000000aa",
        "time": rfc3339(NOW - 1),
        "age_s": 1.0,
        "fenced": True,
    }
    assert body["refused"] == 1 and body["last_refusal"]["reason"] == "node_gone"
    assert ledger_json(None, NOW) is None


def test_history_is_one_line_per_unit_with_refusals_marked_in_time_order():
    units = [_u(1, ago=3), _u(2, ago=2), Unit(3, 0x100000009, "service2", "0x2", NOW - 0.5)]
    refusals = [_r(3, "node_gone", ago=1)]
    entries = merged(units, refusals)
    assert [(type(e).__name__, e.seq) for e in entries] == [
        ("Unit", 1),
        ("Unit", 2),
        ("Refusal", 3),
        ("Unit", 3),
    ]
    assert merged(units, refusals, last=2) == entries[-2:]
    lines = history_lines("/w", entries, units[-1], 1)
    assert lines[0] == "ledger /w: the newest unit is 3; 1 refusal kept; the last 4 below (UTC)"
    assert lines[3].split()[1:4] == ["REFUSED", "3", "token"] and lines[3].endswith("node_gone")
    assert lines[4].split()[1:3] == ["unit", "3"] and "service2" in lines[4]
    assert history_lines("/w", [], None, 0) == ["ledger /w: no unit recorded yet"]
